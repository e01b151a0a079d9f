"""The gate every update of either platform passes (photobot.bot.core.gate), on a real Redis.

Bad input covered: a ban that lands in the middle of a flood, a flood spread over several chats
(and over both platforms' ids of one chat), an admin demoted between two commands, a banned user
who pays (let through: the Stars are taken), an admin command with crafted arguments from a user.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from photobot.bot.core.gate import Sender, may_administer
from photobot.bot.i18n import t
from photobot.config import Settings
from photobot.jobs import Platform
from tests.bot_support import ChatSide, chat_side


@pytest.fixture
async def side(make_settings: Callable[..., Settings]) -> AsyncIterator[ChatSide]:
    settings = make_settings(process_workers=1, flood_limit=3, flood_window_seconds=60, admin_ids="7")
    async with chat_side(settings) as built:
        yield built


class Told:
    """What the gate said to a sender."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, text: str) -> None:
        self.texts.append(text)


async def test_a_ban_in_the_middle_of_a_flood_stops_the_rest_and_is_said_once(side: ChatSide) -> None:
    gate, told = side.service.gate, Told()
    sender = Sender(Platform.VK, 501, "ru")
    allowed: list[bool] = []
    for index in range(20):
        if index == 5:
            await side.users.ban(sender.key)
        user = await gate.admit(sender, "ru", told)
        if user is not None:
            allowed.append(await gate.photo_allowed(user, f"9:{index}", None, "ru", told))
    assert allowed == [True, True, True, False, False]  # the limit (3) first, then the ban
    assert told.texts == [t("flood", "ru", limit=3, window=60), t("banned", "ru")]


async def test_a_flood_spread_over_chats_is_one_users_flood(side: ChatSide) -> None:
    """Photos of one VK user in five chats count together: the limit is the user's, not the chat's;
    the warning comes once, however many chats the flood goes on in."""
    gate, warned = side.service.gate, Told()
    user = await gate.admit(Sender(Platform.VK, 502), "en", Told())
    assert user is not None
    verdicts = [
        await gate.photo_allowed(user, f"{2_000_000_000 + chat}:{n}", None, "en", warned)
        for n in range(4)
        for chat in range(5)
    ]
    assert verdicts.count(True) == 3 and verdicts[:3] == [True] * 3
    assert len(warned.texts) == 1 and "3" in warned.texts[0]
    # The same event counted again (a platform's repeat) is not a new photo.
    other = await gate.admit(Sender(Platform.VK, 503), "en", Told())
    assert other is not None
    assert all([await gate.photo_allowed(other, "1:1", None, "en", warned) for _ in range(10)])


async def test_a_banned_payer_is_let_through_and_nobody_else(side: ChatSide) -> None:
    gate, told = side.service.gate, Told()
    sender = Sender(Platform.TELEGRAM, 504, "en")
    await side.users.ban(sender.key)
    assert await gate.admit(sender, "en", told) is None
    paying = await gate.admit(sender, "en", told, exempt=True)
    assert paying is not None and paying.banned
    assert not may_administer(paying)


async def test_a_demoted_admin_loses_admin_commands_at_once(side: ChatSide) -> None:
    gate, run = side.service.gate, side.commands.run
    sender = Sender(Platform.TELEGRAM, 505, "en")
    await side.users.set_tier(sender.key, "admin")
    admin = await gate.admit(sender, "en", Told())
    assert admin is not None and may_administer(admin)
    stats = await run("stats", "", admin, "en", private=True)
    assert stats is not None and not stats.text.startswith("This command is for admins")
    # Demoted by the operator between two updates: the next update's record has no rights.
    await side.users.set_tier(sender.key, "free")
    demoted = await gate.admit(sender, "en", Told())
    assert demoted is not None and not may_administer(demoted)
    for name, args in [("stats", ""), ("ban", "7"), ("tier", "506 admin"), ("forget", "506"),
                       ("grant", "506 30"), ("refund", "x"), ("requeue", "failed"), ("job", "x")]:
        reply = await run(name, args, demoted, "en", private=True)
        assert reply is not None and reply.text == admin_only(), (name, reply)
    assert (await side.users.get("tg:506")).tier != "admin"
    # About themselves, /tier and /forget still answer.
    own = await run("tier", "", demoted, "en", private=True)
    assert own is not None and own.text.startswith("Your tier: free")


async def test_a_configured_admin_cannot_be_banned_and_keeps_rights(side: ChatSide) -> None:
    gate = side.service.gate
    await side.users.set_tier("tg:508", "admin")
    rogue = await gate.admit(Sender(Platform.TELEGRAM, 508), "en", Told())
    assert rogue is not None
    reply = await side.commands.run("ban", "7", rogue, "en", private=True)
    assert reply is not None and "7" in reply.text and reply.text != admin_only()
    operator = await gate.admit(Sender(Platform.TELEGRAM, 7), "en", Told())
    assert operator is not None and may_administer(operator) and not operator.banned


def admin_only() -> str:
    return t("admin_only", "en")
