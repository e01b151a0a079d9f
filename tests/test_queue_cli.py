"""The queue's commands. Bad flags and unknown ids give one line on stderr and exit code 2.

Bad inputs covered: an unknown status, --limit 0, --offset -1, --limit not a number, counts,
offsets, limits, priorities, chat and message ids, batch sizes and durations out of bounds (20-digit
offsets, --count 100000000, nan and inf seconds), a missing
--user, --params that is not a JSON object, an unknown tier, --count with --dedup-key, show /
cancel / requeue of an unknown id, requeue of a job that is not failed, requeue with no target,
cancel of a running job, an unreachable Redis, and `worker` without --noop while the photo
worker is not installed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from photobot.config import load_settings
from photobot.jobs import PermanentJobError
from photobot.queue import JobQueue
from tests.conftest import Cli
from tests.queue_support import check_invariants

ROOT = Path(__file__).resolve().parent.parent


def one_line_error(code: int, err: str) -> str:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_enqueue_show_jobs_stats_cancel(cli: Cli, redis_url: str) -> None:
    code, out, _ = cli("enqueue", "--user", "5", "--operation", "blur", "--photo", "p1",
                       "--tier", "premium", "--metadata", '{"caption": "hi"}')
    assert code == 0
    job_id = out.strip()
    code, out, _ = cli("show", job_id)
    shown = json.loads(out)
    assert code == 0 and shown["job_id"] == job_id and shown["priority"] == 10
    assert shown["position"] == 0 and shown["metadata"] == {"caption": "hi"}
    code, out, err = cli("jobs", "--status", "pending", "--user", "cli:5")
    assert code == 0 and job_id in out and err.strip() == "1 of 1"
    code, out, _ = cli("stats", "--json")
    assert code == 0 and json.loads(out)["counts"]["pending"] == 1
    code, out, _ = cli("stats")
    assert code == 0 and "pending" in out and "workers alive" in out
    code, out, _ = cli("cancel", job_id)
    assert code == 0 and "cancelled" in out
    check_invariants(redis_url)


def test_requeue_one_and_all_failed(cli: Cli, redis_url: str) -> None:
    code, out, _ = cli("enqueue", "--user", "1", "--operation", "blur", "--photo", "p", "--count", "3")
    ids = out.split()
    assert code == 0 and len(ids) == 3

    async def fail_all() -> None:
        queue = JobQueue.from_settings(load_settings())
        for lease in await queue.lease("w", count=3):
            await queue.fail(lease, PermanentJobError())
        await queue.close()

    asyncio.run(fail_all())
    code, out, _ = cli("requeue", ids[0])
    assert code == 0 and "pending" in out
    code, out, _ = cli("requeue", "--all-failed")
    assert code == 0 and out.strip() == "2"
    code, out, _ = cli("jobs", "--status", "pending", "--json")
    assert code == 0 and {json.loads(line)["job_id"] for line in out.splitlines()} == set(ids)
    check_invariants(redis_url)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["jobs", "--status", "lost"], "invalid choice"),
        (["jobs", "--limit", "0"], "between 1 and"),
        (["jobs", "--limit", "ten"], "not a whole number"),
        (["jobs", "--offset", "-1"], "between 0 and"),
        (["jobs", "--offset", "99999999999999999999"], "between 0 and"),
        (["jobs", "--limit", "99999999999999999999"], "between 1 and"),
        (["enqueue", "--user", "1", "--operation", "blur", "--photo", "p", "--count", "100000000"],
         "between 1 and 100000"),
        (["enqueue", "--user", "1", "--operation", "blur", "--photo", "p", "--priority", "9" * 30],
         "between"),
        (["enqueue", "--user", "1", "--operation", "blur", "--photo", "p", "--chat", "9" * 30], "between"),
        (["enqueue", "--user", "1", "--operation", "blur", "--photo", "p", "--message", "0"], "between"),
        (["worker", "--noop", "--batch", "10000000"], "between 1 and"),
        (["worker", "--noop", "--exit-when-idle", "nan"], "seconds"),
        (["worker", "--noop", "--exit-when-idle", "inf"], "seconds"),
        (["token", "issue", "tg:1", "--ttl", "9" * 30], "between"),
        (["enqueue", "--operation", "blur", "--photo", "p"], "--user"),
        (["enqueue", "--user", "1", "--operation", "blur", "--photo", "p", "--params", "[1]"], "JSON object"),
        (["enqueue", "--user", "1", "--operation", "blur", "--photo", "p", "--tier", "gold"], "unknown tier"),
        (["enqueue", "--user", "1", "--operation", "blur", "--photo", "p", "--count", "2",
          "--dedup-key", "k"], "--count"),
        (["show", "0123456789abcdef"], "no job"),
        (["cancel", "0123456789abcdef"], "No job"),
        (["requeue", "0123456789abcdef"], "No job"),
        (["requeue"], "required"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_flags_and_unknown_ids_are_one_line_exit_2(cli: Cli, argv: list[str], needle: str) -> None:
    code, out, err = cli(*argv)
    assert needle in one_line_error(code, err)
    assert out == ""


def test_refused_state_changes(cli: Cli) -> None:
    _, out, _ = cli("enqueue", "--user", "1", "--operation", "blur", "--photo", "p")
    job_id = out.strip()
    code, _, err = cli("requeue", job_id)
    assert "only failed jobs" in one_line_error(code, err)

    async def lease() -> None:
        queue = JobQueue.from_settings(load_settings())
        await queue.lease("w")
        await queue.close()

    asyncio.run(lease())
    code, _, err = cli("cancel", job_id)
    assert "cannot be cancelled" in one_line_error(code, err)


def test_unreachable_redis_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fixtures.redis_server import free_port

    monkeypatch.setenv("REDIS_URL", f"redis://:secret-password@127.0.0.1:{free_port()}/0")
    code, _, err = cli("stats")
    line = one_line_error(code, err)
    assert "cannot reach Redis" in line and "secret-password" not in line


@pytest.mark.slow
def test_as_a_real_process_exit_code_and_stderr(redis_url: str, tmp_path: Path) -> None:
    env = {"REDIS_URL": redis_url, "LOG_FILE": "none", "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(ROOT)}
    bad = subprocess.run([sys.executable, "-m", "photobot", "show", "nope"], cwd=tmp_path, env=env,
                         check=False, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == "photobot: error: no job nope"
    drained = subprocess.run(
        [sys.executable, "-m", "photobot", "worker", "--noop", "--exit-when-idle", "0.3"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert drained.returncode == 0 and drained.stdout.strip() == "0"
