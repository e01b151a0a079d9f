"""What can be checked of the container set-up without a Docker engine: the files parse, every
variable they set exists in Settings, and the generated .env.example is current."""

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


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


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


def test_every_photobot_container_shares_one_redis() -> None:
    """Without REDIS_URL each container would start its own embedded Redis: no shared queue."""
    urls = {service["environment"].get("REDIS_URL") for service in _photobot_services().values()}
    assert urls == {"redis://redis:6379/0"}
    for name, service in _photobot_services().items():
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert service["env_file"] == ".env", name


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
    assert len(froms) >= 2 and all(f.startswith("python:3.12-slim") for f in froms)
    final = text.split("\nFROM ")[-1]
    assert re.search(r"^USER\s+(?!root)\w+", final, re.M)
    assert "HEALTHCHECK" in final and "/healthz" in final
    assert 'CMD ["python", "-m", "photobot", "run"]' in final
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
