"""VK fairness benchmark: a calm user's answer time, idle and beside a flooding chat. Prints JSON.

`python -m photobot run` runs as a subprocess against the fake VK (the real vkbottle, Bots Long
Poll) with a real redis-server and local storage in a temporary folder. The calm user sends /tier;
its latency is from the moment the message is put into the fake to the moment photobot's
messages.send for it reaches the fake (the fake's own clock for both). First `--samples` times on
an idle bot; then one user presses `--flood` buttons of photos that do not exist, in a burst (each
is answered, at one conversation's share of VK_RATE; texts would collapse to the latest one) and
the calm user's latency is measured again the same number of times while the flood is answered.
The figure of merit is the ratio of the medians (flooded / idle).

Usage: python bench/vk_fairness.py [--flood N] [--samples N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.vk import ApiCall, FakeVK  # noqa: E402
from tests.fixtures.redis_server import RedisServer  # noqa: E402
from tests.vk_support import PhotobotProcess  # noqa: E402

CALM, FLOOD = 9001, 9002


def calm_latency(vk: FakeVK) -> float:
    """Seconds from the calm user's /tier to photobot's answer."""
    sends_before = len(calm_sends(vk))
    start = time.monotonic()
    vk.inject_text(CALM, "/tier")
    vk.wait_for_sync(lambda: len(calm_sends(vk)) > sends_before, 60)
    return calm_sends(vk)[-1].at - start


def calm_sends(vk: FakeVK) -> list[ApiCall]:
    return [c for c in vk.calls("messages.send") if c.peer_id == CALM]


def flood_answered(vk: FakeVK) -> int:
    return len(vk.visible_messages(FLOOD))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=600)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeVK.run_in_thread() as vk:
        redis_server = RedisServer(Path(tmp) / "redis").start()
        bot = PhotobotProcess(vk, redis_server.url, Path(tmp) / "bot")
        try:
            bot.start(vk)
            vk.set_user(CALM, lang_id=3)
            vk.set_user(FLOOD, lang_id=3)
            calm_latency(vk)  # warm-up: first imports and connections
            idle = []
            for _ in range(args.samples):
                idle.append(calm_latency(vk))
                time.sleep(0.2)
            for index in range(args.flood):
                vk.inject_payload(FLOOD, {"op": "sepia", "m": 10_000 + index}, "Sepia")
            vk.wait_for_sync(lambda: flood_answered(vk) >= 3, 60)
            flooded, answered_during = [], []
            for _ in range(args.samples):
                flooded.append(calm_latency(vk))
                answered_during.append(flood_answered(vk))
                time.sleep(0.2)
            started = time.monotonic()
            vk.wait_for_sync(lambda: flood_answered(vk) >= args.flood, 600)
            drained_after = time.monotonic() - started
        finally:
            if bot.process is not None:
                bot.stop()
            redis_server.stop()
    idle_p50, flooded_p50 = statistics.median(idle), statistics.median(flooded)
    print(
        json.dumps(
            {
                "flood_messages": args.flood,
                "samples": args.samples,
                "idle_latency_s": {"p50": round(idle_p50, 4), "max": round(max(idle), 4)},
                "flooded_latency_s": {"p50": round(flooded_p50, 4), "max": round(max(flooded), 4)},
                "ratio_p50": round(flooded_p50 / idle_p50, 2),
                "ratio_max": round(max(flooded) / max(idle), 2),
                "flood_answered_while_measuring": [min(answered_during), max(answered_during)],
                "flood_left_to_answer_after_measuring_s": round(drained_after, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
