"""The command line's edges: every flag explains itself, `--user` takes the same ids in every
command, `enqueue` refuses what the bot would refuse before anything is queued, and a result sent
as a file has a readable name.

Bad input tried: `--user bob`, `--user tg:`, `--user tg:5 --platform vk`, an operation misspelt
(`sepai`), a parameter out of range, an unknown parameter, a parameter of the wrong type."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import photobot.cli
from photobot.bot.pipeline import result_name
from photobot.cli import build_parser, main
from photobot.config import Settings
from photobot.jobs import Job
from photobot.queue import JobQueue


def actions(parser: argparse.ArgumentParser, path: str = "photobot") -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            found.append((path, action))
    return found


def test_every_flag_and_argument_has_help() -> None:
    missing = [f"{path} {'/'.join(action.option_strings) or action.dest}"
               for path, action in actions(build_parser()) if not action.help]
    assert missing == []


@pytest.mark.parametrize(("given", "key"), [("2002", "tg:2002"), ("tg:2002", "tg:2002"), ("vk:7", "vk:7")])
def test_user_takes_the_same_ids_in_every_command(given: str, key: str) -> None:
    parser = build_parser()
    assert parser.parse_args(["jobs", "--user", given]).user == key
    assert parser.parse_args(["token", "issue", given]).user_key == key
    assert parser.parse_args(["token", "revoke", given]).user_key == key
    assert parser.parse_args(["ban", given]).user_key == key
    assert parser.parse_args(["tier", given, "premium"]).user_key == key
    assert parser.parse_args(["storage", "gc", "--forget", given]).forget == key


@pytest.mark.parametrize("bad", ["bob", "tg:", "tg:abc", "xx:5", ""])
def test_a_user_that_is_no_user_is_one_line(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["jobs", "--user", bad])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a user" in err and "tg:2002" in err


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str) -> str:
    monkeypatch.setattr(photobot.cli, "COMMAND_MODULES", ("photobot.cli.queue_commands",))
    monkeypatch.setenv("LOG_FILE", "none")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.chdir(tmp_path)
    return redis_url


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--operation", "sepai"], "unknown_operation: Unknown operation “sepai”. See `photobot ops`."),
        (["--operation", "blur", "--params", '{"radius": 500}'], "bad_params: Invalid parameter “radius”"),
        (["--operation", "blur", "--params", '{"sigma": 2}'], "bad_params: Invalid parameter “sigma”"),
        (["--operation", "posterize", "--params", '{"bits": "x"}'], "bad_params: Invalid parameter “bits”"),
        (["--operation", "sepia", "--user", "tg:5", "--platform", "vk"], "a telegram user, but --platform"),
        (["--operation", "sepia", "--user", "bob"], "--user: not a user: 'bob'"),
    ],
)
def test_enqueue_refuses_what_the_bot_refuses(
    cli_env: str, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    base = ["enqueue", "--photo", "p1"] + ([] if "--user" in args else ["--user", "2002"])
    assert main([*base, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and expected in captured.err, captured.err


async def test_enqueue_and_jobs_agree_on_the_user(
    cli_env: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    args = ["enqueue", "--user", "tg:2002", "--operation", "blur", "--params", '{"radius": 5}',
            "--photo", "p"]
    assert await asyncio.to_thread(main, args) == 0
    job_id = capsys.readouterr().out.strip()
    queue = JobQueue.from_settings(settings)
    try:
        job = await queue.get(job_id)
        assert job is not None and job.user_key == "tg:2002" and job.platform.value == "telegram"
    finally:
        await queue.close()
    assert await asyncio.to_thread(main, ["jobs", "--user", "2002"]) == 0
    assert job_id in capsys.readouterr().out


def test_a_result_sent_as_a_file_has_a_readable_name() -> None:
    job = Job(job_id="80995297d9944a939e94f683eab83095", user_id="1", operation="sepia", photo_id="x",
              metadata={"filename": "../Holiday photo.JPG"})
    assert result_name(job, 0, 1, ".jpg") == "Holiday_photo-sepia-80995297.jpg"
    crops = job.model_copy(update={"operation": "faces_crop", "metadata": {}})
    assert [result_name(crops, i, 2, ".jpg") for i in range(2)] == [
        "photo-faces_crop-1-80995297.jpg", "photo-faces_crop-2-80995297.jpg"]
