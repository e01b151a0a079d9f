"""Which waiting commands in a chat's backlog a later one stands for (see ChatLanes' backlog key):
one rule for Telegram and VK."""

from __future__ import annotations

# Each of these moves money or premium, so every one sent is run, even in a backlog in which a
# later use of the same command would stand for the earlier ones.
EACH_ONE_RUNS = frozenset({"grant", "refund"})


# Each of these acts on what its arguments name, so a waiting one is superseded only by the same
# command with the same arguments: /ban 5 then /ban 6 are two acts, and both run.
ACTS_ON_ARGUMENTS = frozenset({"ban", "unban", "tier", "requeue", "cancel", "forget"})


def backlog_command_key(name: str, args: str) -> tuple[str, ...] | None:
    """What a waiting command may be superseded by in a chat's backlog. A question (/jobs 3,
    /status X, /help) is answered once for the latest one asked; an act waits for its identical
    twin only; a command that moves money is never superseded."""
    if name in EACH_ONE_RUNS:
        return None
    if name in ACTS_ON_ARGUMENTS:
        return ("command", name, " ".join(args.split()))
    return ("command", name)
