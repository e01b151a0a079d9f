# ruff: noqa: S105, S603, S607  (a test driver: it runs docker and git from PATH, with its own arguments)
"""The container test: the image built from this checkout, started by the compose file exactly as
the quick start says (`cp .env.example .env`, BOT_TOKEN in it, `docker compose up -d`), against the
fake Bot API of tests/fakes/telegram.

deploy/container-test.sh (`make container-test`) provides the Docker engine, compose and the base
images, then runs this file with the project's Python. Everything runs in a copy of the checkout
under a compose project of its own, removed at the end with its containers, volumes and network.

Checks, in order: a .env without BOT_TOKEN stops the deployment with one line; healthy; /start
answered; a photo captioned "sepia" comes back as docs/images/after-sepia.jpg, byte for byte; two
faces side by side captioned "faces_detect" are both found by the image's face detector;
non-root under tini; `docker compose stop` with jobs in flight exits 0 within the grace period, and
after `down` and `up` those jobs finish and jobs, photos and logs are all still there; the `scale`
profile with two workers does every job exactly once. Bad input tried: an empty BOT_TOKEN, a Redis
that never becomes healthy, a stop while photos are being processed, a stop and removal of every
container.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.compose_driver import (  # noqa: E402
    Compose,
    Relay,
    bridge_gateway,
    container_events,
    free_port,
    image_size,
    volumes,
)
from photobot.bot.i18n import t  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.telegram_support import results, sent_photos, small_image  # noqa: E402

USER_UID = "10001"
BOT_TOKEN_MISSING = "BOT_TOKEN: is not set; get one from @BotFather and put it in .env"
STOP_GRACE_SECONDS = 30.0  # docker-compose.yml's stop_grace_period


def say(message: str) -> None:
    print(f"== container-test: {message}", flush=True)


def copy_checkout(target: Path) -> None:
    """The tracked and new files of the work tree (what `git clone` would give, plus edits)."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.split(b"\0")
    for name in filter(None, names):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())


def write_env(workdir: Path, token: str, api_url: str) -> None:
    """The quick start's `cp .env.example .env` and the edit of BOT_TOKEN; TELEGRAM_API_URL points
    photobot at the fake."""
    text = (workdir / ".env.example").read_text()
    text = re.sub(r"^BOT_TOKEN=.*$", f"BOT_TOKEN={token}", text, count=1, flags=re.M)
    text = re.sub(r"^# TELEGRAM_API_URL=.*$", f"TELEGRAM_API_URL={api_url}", text, count=1, flags=re.M)
    (workdir / ".env").write_text(text)


def wait(tg: FakeTelegram, what: str, predicate: Any, timeout: float = 90) -> None:
    try:
        tg.wait_for_sync(predicate, timeout)
    except TimeoutError:
        raise AssertionError(f"not seen within {timeout} s: {what}") from None


def check_missing_token(compose: Compose, workdir: Path) -> None:
    write_env(workdir, "", "http://127.0.0.1:9")
    started = time.monotonic()
    up = compose.run("up", "-d", check=False)
    assert up.returncode != 0, up.stdout + up.stderr
    lines = compose.logs("config-check").strip().splitlines()
    assert lines == [f"photobot: error: {BOT_TOKEN_MISSING}"], lines
    states = [compose.inspect(c)["State"]["Status"] for c in compose.containers("photobot")]
    assert set(states) <= {"created"}, f"photobot was started without a token: {states}"
    refusal = (up.stdout + up.stderr).strip().splitlines()[-1]
    say(f"no BOT_TOKEN: `up` refused in {time.monotonic() - started:.1f} s ({refusal}); "
        "`docker compose logs config-check` has the one line")
    compose.run("down")


def check_redis_never_healthy(compose: Compose, workdir: Path) -> None:
    """A Redis whose health check never passes (here: a check that always fails, put over the
    compose file's by an override file): `up` waits, then stops with one line naming the unhealthy
    container, and photobot is never started against it."""
    (workdir / "redis-never-healthy.yml").write_text(
        "services:\n  redis:\n    healthcheck:\n"
        '      test: ["CMD", "false"]\n      interval: 1s\n      timeout: 1s\n      retries: 3\n'
    )
    write_env(workdir, "123:never-used", "http://127.0.0.1:9")
    files = ("-f", "docker-compose.yml", "-f", "redis-never-healthy.yml")
    started = time.monotonic()
    up = compose.run(*files, "up", "-d", check=False)
    output = (up.stdout + up.stderr).strip()
    assert up.returncode != 0, output
    refusal = output.splitlines()[-1]
    assert "redis" in refusal and "unhealthy" in refusal, output
    states = [compose.inspect(c)["State"]["Status"] for c in compose.containers("photobot")]
    assert set(states) <= {"created"}, f"photobot was started beside an unhealthy Redis: {states}"
    say(f"a Redis never healthy: `up` waited and stopped in {time.monotonic() - started:.1f} s "
        f"({refusal.strip()}); photobot not started")
    compose.run(*files, "down")
    (workdir / "redis-never-healthy.yml").unlink()


def check_first_start(compose: Compose, tg: FakeTelegram, user: int) -> None:
    started = time.monotonic()
    compose.run("up", "-d")
    say(f"up -d returned in {time.monotonic() - started:.1f} s")
    healthy = compose.wait_healthy("photobot")
    say(f"photobot healthy {healthy:.1f} s after `up` returned")
    tg.inject_text(user, "/start")
    answered = t("start", "en")
    wait(tg, "the answer to /start", lambda: any(m.text == answered for m in tg.visible_messages(user)))
    before = (ROOT / "docs/images/before.jpg").read_bytes()
    tg.inject_photo(user, before, caption="sepia")
    wait(tg, "the sepia result", lambda: len(results(tg, user)) == 1)
    assert results(tg, user)[0].data == (ROOT / "docs/images/after-sepia.jpg").read_bytes()
    say("/start answered; the sepia photo is docs/images/after-sepia.jpg byte for byte")
    tg.inject_photo(user, two_astronauts(), caption="faces_detect")
    wait(tg, "the faces_detect result", lambda: len(results(tg, user)) == 2)
    found = results(tg, user)[1].text or ""
    assert found.endswith(": 2"), f"the image's face detector found other than 2 faces: {found!r}"
    say(f"faces_detect with the image's detector: {found}")
    assert compose.exec("photobot", "id", "-u").strip() == USER_UID
    assert compose.exec("photobot", "cat", "/proc/1/cmdline").split("\0")[0].endswith("tini")
    say(f"runs as uid {USER_UID} under tini")


def two_astronauts() -> bytes:
    """tests/data/astronaut.png twice, side by side: two faces, where the old Haar detector saw one,
    so the answer shows that the image carries and loads the CNN detector's model."""
    from PIL import Image

    one = Image.open(ROOT / "tests/data/astronaut.png").convert("RGB")
    pair = Image.new("RGB", (one.width * 2, one.height))
    pair.paste(one, (0, 0))
    pair.paste(one, (one.width, 0))
    out = io.BytesIO()
    pair.save(out, "JPEG", quality=90)
    return out.getvalue()


def small_photo(seed: int) -> bytes:
    return small_image(seed, size=640)


def check_stop_then_down_and_up(compose: Compose, tg: FakeTelegram, users: list[int]) -> None:
    """`stop` with photos in flight exits 0 within the grace period; after `down` and `up` every
    one of them is delivered once, and the jobs, photos and log from before are all still there."""
    for user in users:
        tg.inject_photo(user, small_photo(user), caption="sepia")
    wait(tg, "every photo queued", lambda: all(tg.visible_messages(u) for u in users), 60)
    jobs_before, stored_before = jobs(compose), stored_files(compose)
    first_log_line = compose.exec("photobot", "head", "-n", "1", "/data/logs/photobot.log")
    started = time.monotonic()
    compose.run("stop")
    took = time.monotonic() - started
    [container] = compose.containers("photobot")
    state = compose.inspect(container)["State"]
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    assert took < STOP_GRACE_SECONDS, took
    say(f"stop with {len(users)} photos in flight: exit 0 in {took:.1f} s")
    compose.run("down")
    compose.run("up", "-d")
    compose.wait_healthy("photobot")
    wait(tg, "every result after down and up", lambda: all(len(results(tg, u)) == 1 for u in users))
    assert all(sent_photos(tg, u) == 1 for u in users)
    after = jobs(compose)
    assert set(jobs_before) <= set(after), set(jobs_before) - set(after)
    assert stored_before and stored_before <= stored_files(compose)
    assert compose.exec("photobot", "head", "-n", "1", "/data/logs/photobot.log") == first_log_line
    say(f"down and up: the {len(users)} photos in flight delivered once each; {len(jobs_before)} jobs, "
        f"{len(stored_before)} stored photos and the log kept")


def jobs(compose: Compose) -> dict[str, dict[str, Any]]:
    out = compose.exec("photobot", "python", "-m", "photobot", "jobs", "--json", "--limit", "1000")
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {r["job_id"]: {k: r[k] for k in ("status", "attempts", "delivered")} for r in records}


def stored_files(compose: Compose) -> set[str]:
    return set(compose.exec("photobot", "find", "/data/storage", "-type", "f").split())


def check_scale(compose: Compose, tg: FakeTelegram, users: list[int]) -> None:
    compose.run("--profile", "scale", "up", "-d", "--scale", "worker=2")
    workers = compose.containers("worker")
    assert len(workers) == 2, workers
    for container in workers:
        deadline = time.monotonic() + 60
        while not any(e.get("event") == "worker started" for e in container_events(container)):
            assert time.monotonic() < deadline, f"worker {container} did not start"
            time.sleep(0.5)
    known = set(jobs(compose))
    for round_ in range(3):
        for user in users:
            tg.inject_photo(user, small_photo(user * 10 + round_), caption="sepia")
    wait(tg, "every result with two workers", lambda: all(len(results(tg, u)) == 3 for u in users), 120)
    new = {job_id: job for job_id, job in jobs(compose).items() if job_id not in known}
    assert len(new) == 3 * len(users), new
    assert all(j == {"status": "completed", "attempts": 1, "delivered": True} for j in new.values()), new
    assert all(sent_photos(tg, u) == 3 for u in users)
    by_workers = sum(
        1 for c in workers for e in container_events(c)
        if e.get("event") == "result delivered" and e.get("job_id") in new
    )
    say(f"scale: {len(new)} jobs done once each, {by_workers} of them by the two workers")
    assert by_workers > 0, "the workers did no job"
    say(f"memory in use: {memory_in_use(compose)}")


def memory_in_use(compose: Compose) -> str:
    """What `docker stats` reports per container now (the compose file's limits come from it)."""
    ids = [c for service in ("redis", "photobot", "worker") for c in compose.containers(service)]
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}}={{.MemUsage}}", *ids],
                         capture_output=True, text=True, check=False)
    return ", ".join(out.stdout.splitlines()) if out.returncode == 0 else out.stderr.strip()


@contextlib.contextmanager
def deployment() -> Iterator[tuple[Compose, Path]]:
    workdir = Path(tempfile.mkdtemp(prefix="photobot-container-test."))
    compose = Compose(workdir, f"photobot-ct-{secrets.token_hex(3)}", free_port())
    volumes_before = volumes()
    try:
        copy_checkout(workdir)
        yield compose, workdir
    finally:
        compose.run("--profile", "scale", "down", "--volumes", "--remove-orphans", check=False)
        shutil.rmtree(workdir, ignore_errors=True)
    left = volumes() - volumes_before
    assert not left, f"volumes left behind: {sorted(left)}"
    say("containers, volumes and network removed")


def main() -> int:
    started = time.monotonic()
    with deployment() as (compose, workdir):
        # The quick start's first `up` builds the image; here it is built for sure, from this checkout,
        # even when an older photobot:latest is there.
        built = time.monotonic()
        compose.run("build")
        say(f"image built in {time.monotonic() - built:.0f} s: {image_size()}")
        check_missing_token(compose, workdir)
        check_redis_never_healthy(compose, workdir)
        with FakeTelegram.run_in_thread() as tg:
            gateway = bridge_gateway()
            relay = Relay(gateway, tg.port)
            try:
                write_env(workdir, tg.token, f"http://{gateway}:{relay.port}")
                check_first_start(compose, tg, 7001)
                check_stop_then_down_and_up(compose, tg, [7101, 7102, 7103, 7104])
                check_scale(compose, tg, [7201, 7202, 7203, 7204])
            except AssertionError:
                for service in ("photobot", "worker"):
                    print(compose.run("logs", "--no-color", "--tail", "40", service, check=False).stdout)
                raise
            finally:
                relay.close()
    say(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
