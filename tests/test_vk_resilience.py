"""The VK bot under VK's limits and failures, end to end: error 6 storms and a rate cap, a user who
does not allow messages (901), long-poll failures, and a restart with messages sent meanwhile."""

from __future__ import annotations

import itertools
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.vk import FakeVK
from tests.vk_support import PhotobotProcess, photo, results, sends_to, wait_results

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def user_job_statuses(bot: PhotobotProcess, user_key: str) -> list[str]:
    listing = subprocess.run(
        [sys.executable, "-m", "photobot", "jobs", "--user", user_key, "--json"],
        env=bot.env, capture_output=True, text=True, timeout=30, check=True,
    )
    return [json.loads(line)["status"] for line in listing.stdout.splitlines() if line.strip()]


def successful_sends(vk: FakeVK, peer_id: int) -> int:
    return sum(1 for c in vk.calls("messages.send") if c.peer_id == peer_id and c.error_code is None)


def test_error_6_storm_still_delivers_each_result_once(vk: FakeVK, redis_url: str, tmp_path: Path) -> None:
    bot = PhotobotProcess(vk, redis_url, tmp_path / "bot").start(vk)
    try:
        vk.fail_next("messages.send", 6, code=6)
        vk.fail_next("messages.edit", 6, code=6)
        vk.fail_next("photos.saveMessagesPhoto", 4, code=6)
        vk.fail_next("photos.getMessagesUploadServer", 4, code=9)
        for user in (301, 302):
            vk.inject_photo(user, photo(user), "sepia")
        for user in (301, 302):
            [result] = wait_results(vk, user, bot=bot)
            assert result.text.startswith("✅")
            assert len(vk.visible_messages(user)) == 1
            assert successful_sends(vk, user) == 1
        refused = [c for c in vk.calls() if c.error_code == 6]
        assert len(refused) >= 6  # the storm happened, and was waited out
    finally:
        assert bot.stop() == 0


def test_requests_are_paced_under_the_rate(vk: FakeVK, redis_url: str, tmp_path: Path) -> None:
    bot = PhotobotProcess(vk, redis_url, tmp_path / "bot", VK_RATE="5").start(vk)
    try:
        started = time.monotonic()
        users = list(range(311, 317))
        for user in users:
            vk.inject_photo(user, photo(user), "invert")
        for user in users:
            wait_results(vk, user, bot=bot)
        moments = sorted(c.at for c in vk.calls() if "." in c.method and c.at >= started)
        assert len(moments) >= 6 * 5
        # The fake logs a call when it has answered it: while its thread waits for a core (a loaded
        # machine), calls sent apart are logged together, and any window that holds such a cluster
        # counts more than was sent in it. Photobot's pace (0.9 * VK_RATE, no burst) shows in the
        # typical gap between calls and in the pace of the whole run instead.
        gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
        assert statistics.median(gaps) >= 0.7 / 5, sorted(gaps)
        assert (len(moments) - 1) / (moments[-1] - moments[0]) <= 5
        assert all(c.error_code != 6 for c in vk.calls())
    finally:
        assert bot.stop() == 0


def test_a_rate_capped_vk_gets_every_result_once(vk: FakeVK, redis_url: str, tmp_path: Path) -> None:
    vk.set_rate_limit(4)  # VK answers error 6 past 4 calls a second; photobot thinks it has 20
    bot = PhotobotProcess(vk, redis_url, tmp_path / "bot").start(vk)
    try:
        users = list(range(321, 326))
        for user in users:
            vk.inject_photo(user, photo(user), "grayscale")
        for user in users:
            wait_results(vk, user, timeout=120, bot=bot)
            assert successful_sends(vk, user) == 1
        assert any(c.error_code == 6 for c in vk.calls())
    finally:
        assert bot.stop() == 0


def test_901_ends_the_delivery_without_a_retry_storm(vk: FakeVK, redis_url: str, tmp_path: Path) -> None:
    bot = PhotobotProcess(vk, redis_url, tmp_path / "bot").start(vk)
    try:
        vk.deny_messages(331)
        vk.inject_photo(331, photo(1), "sepia")  # a job, whose status message VK refuses
        vk.inject_photo(331, photo(2))  # a keyboard VK refuses
        vk.inject_photo(332, photo(3), "sepia")  # someone else meanwhile
        # peer_ids sends: VK reports the 901 inside the answer's item for that peer.
        vk.wait_for_sync(lambda: sends_to(vk, 331) >= 2, 30)
        wait_results(vk, 332, bot=bot)
        time.sleep(3)  # time for retries to show, were there any: there must not be
        assert sends_to(vk, 331) == 2  # one try each, no retries
        assert vk.visible_messages(331) == []
        assert bot.log_text().count("the user does not allow messages") == 2
        # The refused user's photo is never queued: its status message goes out before the enqueue,
        # and VK refused it; nothing lingers in retries for it.
        assert user_job_statuses(bot, "vk:331") == []
    finally:
        assert bot.stop() == 0


def polls_again(vk: FakeVK) -> bool:
    """Photobot was told of the long poll's failure and polls again with its current key: after a
    failure 3 it took a new ts too, so a message sent from now on is one it will read (one sent
    before would be lost, as on VK)."""
    key = vk.state.longpoll_key
    return not vk.state.longpoll_failures and any(c.params.get("key") == key for c in vk.calls("longpoll"))


def test_long_poll_failures_do_not_stop_the_bot(vk: FakeVK, redis_url: str, tmp_path: Path) -> None:
    bot = PhotobotProcess(vk, redis_url, tmp_path / "bot").start(vk)
    try:
        for index, code in enumerate((2, 1, 3, 2)):
            vk.fail_long_poll(code)
            vk.wait_for_sync(lambda: polls_again(vk), 30)
            user = 341 + index
            vk.inject_photo(user, photo(user), "invert")
            wait_results(vk, user, bot=bot)
        assert not bot.exited()
    finally:
        assert bot.stop() == 0


def test_messages_sent_while_down_are_answered_after_a_restart(
    vk: FakeVK, redis_url: str, tmp_path: Path
) -> None:
    bot = PhotobotProcess(vk, redis_url, tmp_path / "bot")
    bot.start(vk)
    vk.inject_photo(351, photo(1), "sepia")
    wait_results(vk, 351, bot=bot)
    assert bot.stop() == 0
    vk.set_user(352, lang_id=3)
    vk.inject_photo(352, photo(2), "sepia")  # nobody listens now
    vk.inject_text(352, "/tier")
    bot.start(vk)
    try:
        wait_results(vk, 352, bot=bot)
        vk.wait_for_sync(lambda: any(m.text.startswith("Your tier") for m in vk.visible_messages(352)), 30)
        assert len(results(vk, 351)) == 1 and sends_to(vk, 351) == 1  # nothing handled twice
    finally:
        assert bot.stop() == 0
