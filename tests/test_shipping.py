"""What can be checked of the container set-up without a Docker engine: the files parse, every
variable they set exists in Settings, the generated .env.example is current, and every install
comes from the hashed lock. The image itself is tested by deploy/container-test.sh."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from photobot.cli import build_parser
from photobot.config import Settings
from photobot.settings_doc import env_example

ROOT = Path(__file__).parent.parent
SETTINGS_ENV = {name.upper() for name in Settings.model_fields}


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose


def test_compose_parses_and_wires_photobot_to_a_healthy_redis() -> None:
    compose = _compose()
    redis = compose["services"]["redis"]
    bot = compose["services"]["photobot"]
    assert redis["image"].startswith("redis:7")
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert "everysec" in redis["command"]
    assert "healthcheck" in redis
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert bot["env_file"] == ".env"
    assert any(str(v).startswith("redis-data:") for v in redis["volumes"])
    assert {"monitoring"} == set(compose["services"]["prometheus"]["profiles"])
    assert {"monitoring"} == set(compose["services"]["grafana"]["profiles"])


def _photobot_services() -> dict[str, dict[str, Any]]:
    """The services that run the photobot image."""
    return {name: service for name, service in _compose()["services"].items()
            if str(service.get("image", "")).startswith("photobot") or "build" in service}


def _parses(argv: list[str], where: str) -> None:
    assert argv[:3] == ["python", "-m", "photobot"], f"{where}: {argv} does not run photobot"
    try:
        args = build_parser().parse_args(argv[3:])
    except SystemExit:
        pytest.fail(f"{where}: `{shlex.join(argv)}` is not a photobot command")
    assert args.command in {"run", "bot", "worker"}, f"{where}: {args.command} is not a long-running command"


def test_compose_sets_only_known_variables() -> None:
    assert {"photobot", "worker"} <= set(_photobot_services())
    for name, service in _photobot_services().items():
        for variable in service.get("environment", {}):
            assert variable in SETTINGS_ENV, f"{name}: {variable} is not a setting"


def _long_running() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in _photobot_services().items() if name != "config-check"}


def test_every_photobot_container_shares_one_redis() -> None:
    """Without REDIS_URL each container would start its own embedded Redis: no shared queue."""
    urls = {service["environment"].get("REDIS_URL") for service in _photobot_services().values()}
    assert urls == {"redis://redis:6379/0"}
    for name, service in _photobot_services().items():
        assert service["env_file"] == ".env", name
    for name, service in _long_running().items():
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_a_bad_configuration_stops_the_deployment_instead_of_a_restart_loop() -> None:
    """photobot and the workers restart unless stopped; a missing BOT_TOKEN is caught by the
    one-shot config-check first, which they wait for (tried for real by the container test)."""
    check = _compose()["services"]["config-check"]
    assert check["command"][3:] == ["run", "--check-config"] and check["restart"] == "no"
    assert check["environment"] | {"LOG_FILE": "none"} == check["environment"]
    for name, service in _long_running().items():
        assert service["depends_on"]["config-check"]["condition"] == "service_completed_successfully", name
        assert service["restart"] == "unless-stopped", name


def test_every_volume_under_data_is_a_folder_of_the_image_owned_by_photobot() -> None:
    """A named volume is filled from the image's folder on first use, owner included: a folder the
    image lacks would be root's, and photobot (uid 10001) could not write its logs there."""
    final = (ROOT / "Dockerfile").read_text().split("\nFROM ")[-1]
    made = set(re.findall(r"(/data/\w+)", final.split("chown")[0]))
    assert re.search(r"chown -R photobot:photobot /data\b", final)
    mounted = {volume.split(":")[1] for service in _photobot_services().values()
               for volume in service.get("volumes", [])}
    assert mounted and mounted <= made, mounted - made
    assert {"/data/logs", "/data/storage", "/data/redis"} <= made


def test_compose_sets_memory_limits() -> None:
    compose = _compose()["services"]
    for name in ("redis", "photobot", "worker"):
        assert compose[name]["deploy"]["resources"]["limits"]["memory"], name


def test_every_command_names_a_photobot_sub_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.findall(r"^CMD\s+(\[.*\])\s*$", dockerfile, re.M)
    assert len(cmd) == 1
    _parses(json.loads(cmd[0]), "Dockerfile CMD")
    for name, service in _photobot_services().items():
        if "command" in service:
            command = service["command"]
            _parses(command if isinstance(command, list) else shlex.split(command), f"compose {name}")
    worker = _compose()["services"]["worker"]
    assert worker["profiles"] == ["scale"] and "worker" in worker["command"]


def test_stop_grace_exceeds_the_worker_drain() -> None:
    for name, service in _photobot_services().items():
        grace = service["stop_grace_period"]
        assert grace.endswith("s"), name
        assert float(grace[:-1]) > Settings.model_fields["shutdown_grace_seconds"].default, name


def test_dockerfile_is_multi_stage_non_root_with_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) >= 2 and all(f.startswith(f"python:{_locked_python()}-slim") for f in froms)
    final = text.split("\nFROM ")[-1]
    assert re.search(r"^USER\s+(?!root)\w+", final, re.M)
    assert "HEALTHCHECK" in final and "/healthz" in final
    assert 'CMD ["python", "-m", "photobot", "run"]' in final
    assert 'ENTRYPOINT ["tini", "--"]' in final and re.search(r"apt-get install .*\btini\b", final)
    # A VOLUME would leave an anonymous volume behind at every `docker compose down`.
    assert not re.search(r"^VOLUME\b", text, re.M)
    assert not re.search(r"build-essential|gcc|g\+\+", final)
    for name in re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=", final, re.M):
        if name not in {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}:
            assert name in SETTINGS_ENV, f"{name} is not a setting"


def test_env_example_is_generated_from_settings() -> None:
    assert (ROOT / ".env.example").read_text() == env_example(), (
        "run: python -m photobot.settings_doc --env-example .env.example"
    )
    names = re.findall(r"^#? ?([A-Z_]+)=", env_example(), re.M)
    assert set(names) == SETTINGS_ENV


def test_dashboard_and_prometheus_config_parse() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/photobot.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in (
        "photobot_queue_depth",
        "photobot_jobs_finished_total",
        "photobot_job_duration_seconds_bucket",
        "photobot_chat_api_calls_total",
    ):
        assert metric in exprs
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["metrics_path"] == "/metrics"


# --- The lock ----------------------------------------------------------------------------------

def _locked_python() -> str:
    lock = (ROOT / "requirements.txt").read_text()
    match = re.search(r"autogenerated by pip-compile with Python (3\.\d+)", lock)
    assert match, "requirements.txt is not a pip-compile lock: run `make lock`"
    return match.group(1)


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    pinned = r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)"
    entries = re.findall(pinned, text, re.M)
    requirement_lines = re.findall(r"^[A-Za-z0-9]", text, re.M)
    assert len(entries) == len(requirement_lines), f"{lock}: a requirement without a pin or hashes"
    return {name.lower().replace("_", "-"): version for name, version, _ in entries}


def _sources(name: str) -> set[str]:
    names = set()
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[\[<>=!~; ]", line)[0].lower().replace("_", "-"))
    return names


def test_the_locks_pin_every_requirement_with_hashes() -> None:
    """A new line in an .in file without `make lock` fails here, not in a build next month."""
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert _sources("requirements.in") <= set(runtime), _sources("requirements.in") - set(runtime)
    assert _sources("requirements-dev.in") <= set(dev), _sources("requirements-dev.in") - set(dev)
    assert {name: dev[name] for name in runtime} == runtime, "the dev lock differs from the runtime lock"


def test_every_install_uses_the_lock_with_hashes() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install [^\n]*--require-hashes -r /tmp/requirements.txt", dockerfile)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install (-q )?--require-hashes -r requirements\.txt", makefile)
    assert re.search(r"pip install (-q )?--require-hashes -r requirements-dev\.txt", makefile)
    assert re.search(r"^lock:", makefile, re.M) and "--generate-hashes" in makefile
    ci = (ROOT / ".ci/run").read_text()
    assert re.search(r"pip install (-q )?--require-hashes -r requirements-dev\.txt", ci)
    assert "deploy/container-test.sh" in ci


@pytest.mark.parametrize(
    ("ipam_config", "gateway"),
    [
        ('[{"Subnet":"172.17.0.0/16","Gateway":"172.17.0.1"}]', "172.17.0.1"),
        # An engine's first start on an empty data root: the subnet alone (Docker 20.10).
        ('[{"Subnet":"172.17.0.0/16"}]', "172.17.0.1"),
        ('[{"Subnet":"fd00::/64","Gateway":"fd00::1"},{"Subnet":"10.9.0.0/24"}]', "10.9.0.1"),
    ],
)
def test_the_container_test_finds_the_bridge_gateway(ipam_config: str, gateway: str) -> None:
    """The container test tells photobot's container to reach the fake Bot API there."""
    from deploy.compose_driver import gateway_of

    assert gateway_of(ipam_config) == gateway


@pytest.mark.parametrize("ipam_config", ["[]", "null", '[{"Subnet":"fd00::/64"}]'])
def test_a_bridge_without_an_ipv4_gateway_stops_the_container_test(ipam_config: str) -> None:
    from deploy.compose_driver import gateway_of

    with pytest.raises(AssertionError, match="no IPv4 gateway"):
        gateway_of(ipam_config)
