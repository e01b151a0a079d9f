"""The quick start as a newcomer meets it: a fresh clone, a .env with the bot token, `make run`, and
the bot answers /start; and every command the README shows exists, so the README's commands are the
ones the tests run."""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from photobot.bot.i18n import t
from photobot.cli import build_parser
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import free_port
from tests.process_support import children, clean_env, is_embedded_redis_event, layered_venv, start, wait_gone

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def fresh_clone(target: Path) -> Path:
    """`git clone` of the repository at HEAD (what is committed, not the work tree)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(target)], check=True, timeout=60)
    subprocess.run(["git", "checkout", "-q", head.stdout.strip()], cwd=target, check=True, timeout=60)
    return target


@pytest.mark.slow
def test_make_run_from_a_fresh_clone_answers_start(tg: FakeTelegram, tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "photobot")
    venv = layered_venv(tmp_path / "venv")
    user = 5151
    (clone / ".env").write_text(f"BOT_TOKEN={tg.token}\nTELEGRAM_API_URL={tg.base_url}\n")
    # Only the HTTP port comes from outside .env: 8080 may be taken by anything on this machine.
    env = clean_env(HTTP_PORT=str(free_port()))
    make, output = start(["make", "run", f"VENV={venv}"], clone, env)
    try:
        started = output.wait_event(is_embedded_redis_event, 90)
        assert started["directory"] == str(clone / "data" / "redis")
        (photobot,) = children(make.pid)
        assert started["pid"] in children(photobot)

        tg.inject_text(user, "/start")
        tg.wait_for_sync(lambda: any(m.text == t("start", "en") for m in tg.visible_messages(user)), 30)
        assert (venv / ".photobot-requirements").read_text() == (clone / "requirements.txt").read_text()

        os.kill(photobot, signal.SIGTERM)
        assert make.wait(timeout=45) == 0, output.text()
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    assert any(e.get("event") == "photobot stopped" for e in output.events()), output.text()
    assert wait_gone(int(started["pid"]), 5)


@pytest.mark.slow
def test_pip_install_gives_a_photobot_command(tmp_path: Path) -> None:
    """`pip install .` from a clone into a new virtualenv (its requirements come from the shared
    one, so nothing is downloaded): a `photobot` command that works from any folder, with the
    queue's Lua scripts and the sandbox's page installed beside the code."""
    clone = fresh_clone(tmp_path / "photobot")
    venv = layered_venv(tmp_path / "venv")
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         str(clone)], check=False, capture_output=True, text=True, timeout=300, env=clean_env(),
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env(LOG_FILE="none")
    env.pop("PYTHONPATH", None)
    ops = subprocess.run([str(venv / "bin" / "photobot"), "ops"], cwd=elsewhere, env=env, check=False,
                         capture_output=True, text=True, timeout=60)
    assert ops.returncode == 0 and "sepia" in ops.stdout, ops.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import photobot, pathlib; p = pathlib.Path(photobot.__file__).parent; print(p); "
         "print(len(list(p.glob('queue/lua/*.lua')))); print((p / 'sandbox/static/index.html').exists())"],
        cwd=elsewhere, env=env, check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split()
    assert where[0].startswith(str(venv)) and int(where[1]) > 5 and where[2] == "True", where


def test_make_run_without_a_token_says_so_in_one_line_before_installing(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "photobot")
    venv = tmp_path / "never-created"
    result = subprocess.run(
        ["make", "-s", "run", f"VENV={venv}"], check=False, cwd=clone, env=clean_env(),
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "BOT_TOKEN is not set" in lines[0] and ".env" in lines[0], result.stderr
    assert result.stdout == "" and not venv.exists()


@pytest.mark.slow
def test_photobot_run_without_a_token_says_so_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "photobot", "run"], check=False,
        cwd=tmp_path, env=clean_env(PYTHONPATH=str(ROOT), LOG_FILE="none"), capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "photobot: error: BOT_TOKEN: is not set; get one from @BotFather and put it in .env"
    ]


# --- The README's and the docs' commands ----------------------------------------------------------

DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_LINES = 250


def page_commands(page: Path) -> list[str]:
    """Every command line of a page's fenced `sh` blocks: prompts, comments and output dropped,
    continued lines joined."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", page.read_text(), re.M | re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for raw in joined.splitlines():
            line = re.sub(r"^\$\s+", "", raw.strip())
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if line:
                commands.append(line)
    return commands


def all_commands() -> list[tuple[str, str]]:
    return [(page.name, command) for page in PAGES for command in page_commands(page)]


# `photobot X`, `.venv/bin/photobot X` and `python -m photobot X`; not `photobot: error: ...` output.
PHOTOBOT = r"(?:(?<=[\s(=])|^)(?:[\w./]*/)?(?:(?:[\w./]*/)?python3? -m )?photobot\s+"


def photobot_argv(command: str) -> list[list[str]]:
    """The arguments of each photobot command in a line, synopsis brackets removed."""
    found = []
    for match in re.finditer(PHOTOBOT + r"([^)|;&]*)", command):
        args = re.sub(r"\[[^\[\]]*\]", " ", match.group(1)).replace("...", " ")
        found.append(shlex.split(args))
    return found


def test_the_readme_shows_the_quick_start_and_test_commands() -> None:
    commands = page_commands(README)
    for expected in ("docker compose up -d", "make run", "make test", "cp .env.example .env"):
        assert any(c.startswith(expected) for c in commands), f"the README does not show `{expected}`"


def test_the_readme_fits_on_a_page_and_links_every_docs_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)(?:#[^)]*)?\)", text))
    assert sorted(page.name for page in DOCS if page.name not in linked) == []


def inline_commands(page: Path) -> list[str]:
    """photobot commands in a page's running text (code spans)."""
    return re.findall(r"`((?:[\w./]*/)?(?:python3? -m )?photobot [^`]+)`", page.read_text())


def names_a_command(parser: argparse.ArgumentParser, words: list[str]) -> bool:
    """The leading words name a command (and sub-command) the parser has: `storage put ...`."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            if not words or words[0] not in action.choices:
                return False
            return names_a_command(action.choices[words[0]], words[1:])
    return True


def test_every_photobot_command_in_the_docs_parses() -> None:
    """Commands in code blocks parse as they stand (a synopsis's placeholders, USER or INPUT, stand
    for a value); a command named in running text may leave out arguments, or show one that is
    refused (`photobot enqueue --count 100000000`), so there the command itself must exist."""
    parser = build_parser()
    checked = 0
    shown = [(name, c, False) for name, c in all_commands()]
    shown += [(page.name, c, True) for page in PAGES for c in inline_commands(page)]
    for name, command, in_text in shown:
        for argv in photobot_argv(command):
            if not argv or argv[0].isupper() or argv[0].startswith("<"):
                continue  # the synopsis `photobot COMMAND`
            checked += 1
            if in_text:
                named = [word for word in argv if word not in ("-v", "--verbose")]
                assert names_a_command(parser, named), f"{name}: `photobot {' '.join(argv)}`: no such command"
                continue
            words = ["1" if re.fullmatch(r"[A-Z][A-Z_0-9]*", word) else word for word in argv]
            try:
                parser.parse_args(words)
            except SystemExit as exit_:
                pytest.fail(f"{name}: `photobot {' '.join(argv)}` does not parse (exit {exit_.code})")
    assert checked >= 30


def test_every_make_target_module_and_file_in_the_docs_exists() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    profiles = {p for s in compose["services"].values() for p in s.get("profiles", [])}
    for name, command in all_commands():
        words = shlex.split(command.replace("$(", " ").replace(")", " "))
        for index, word in enumerate(words):
            following = words[index + 1] if index + 1 < len(words) else ""
            if word == "make" and following and not following.startswith("-"):
                result = subprocess.run(["make", "-n", following], check=False, cwd=ROOT, text=True,
                                        capture_output=True, env=clean_env(BOT_TOKEN="1:x"), timeout=30)
                assert result.returncode == 0, f"{name}: `make {following}`: {result.stderr}"
            elif word == "-m" and re.fullmatch(r"[\w.]+", following) and "python" in words[index - 1]:
                assert importlib.util.find_spec(following) is not None, f"{name}: no module {following}"
            elif word == "--profile":
                assert following in profiles, f"{name}: no compose profile {following}"
            elif re.fullmatch(r"(\.ci|bench|tests|deploy|docs)/[\w.*/-]+", word):
                assert glob.glob(str(ROOT / word)), f"{name}: no file {word}"


def anchors(page: Path) -> set[str]:
    """GitHub's anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats."""
    text_outside_code = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text_outside_code, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchor, repeat = slug, 0
        while anchor in found:
            repeat += 1
            anchor = f"{slug}-{repeat}"
        found.add(anchor)
    return found


def test_every_link_between_the_pages_finds_its_file_and_heading() -> None:
    checked = 0
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https://, mailto:
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: link to a missing file {target}"
            if anchor:
                assert anchor in anchors(linked), f"{page.name}: no heading for {target}"
            checked += 1
    assert checked >= 40


@pytest.mark.slow
def test_the_readme_photobot_commands_run(tmp_path: Path) -> None:
    """Each `.venv/bin/photobot ...` line of the README's code blocks, run in a fresh clone as a
    newcomer would (here through this interpreter): the one that asks a running bot says in one line
    that none runs; the others work and write what they say."""
    clone = fresh_clone(tmp_path / "photobot")
    lines = [c for c in page_commands(README) if c.startswith(".venv/bin/photobot ")]
    assert len(lines) >= 3
    env = clean_env(PYTHONPATH=str(clone), LOG_FILE="none")
    for line in lines:
        argv = shlex.split(line)[1:]
        done = subprocess.run([sys.executable, "-m", "photobot", *argv], cwd=clone, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        if argv[0] == "jobs":
            assert done.returncode == 2 and "no photobot is running in DATA_DIR" in done.stderr, done.stderr
            continue
        assert done.returncode == 0, f"{line}: {done.stderr}"
        if argv[0] == "process":
            output = argv[argv.index("-o") + 1]
            assert (clone / output).stat().st_size > 0 and f"wrote {output}" in done.stdout
