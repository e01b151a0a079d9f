# ruff: noqa: S603, S607  (it runs docker from PATH, with its own arguments)
"""Docker and Compose as the container test drives them: `docker compose` in a copy of the checkout
under a project of its own, a relay from the Docker bridge to a fake on loopback, and the few
`docker` queries the test reads (volumes, image size, a container's JSON log events)."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


def json_events(text: str) -> list[dict[str, Any]]:
    """The JSON object lines of a log (photobot logs JSON in a container)."""
    found = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                found.append(event)
    return found


class Compose:
    """`docker compose` in the copy of the checkout, under this test's project name."""

    def __init__(self, workdir: Path, project: str, http_port: int) -> None:
        self.workdir = workdir
        self.env = {**os.environ, "COMPOSE_PROJECT_NAME": project, "PHOTOBOT_HTTP_PORT": str(http_port)}

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["docker", "compose", *args], cwd=self.workdir, env=self.env, capture_output=True,
            text=True, timeout=timeout, check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)}: exit {result.returncode}\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def containers(self, service: str) -> list[str]:
        return self.run("ps", "-a", "-q", service).stdout.split()

    def inspect(self, container: str) -> dict[str, Any]:
        out = subprocess.run(["docker", "inspect", container], capture_output=True, text=True, check=True)
        return dict(json.loads(out.stdout)[0])

    def exec(self, service: str, *command: str) -> str:
        return self.run("exec", "-T", service, *command).stdout

    def logs(self, service: str) -> str:
        return self.run("logs", "--no-color", "--no-log-prefix", service).stdout

    def events(self, service: str) -> list[dict[str, Any]]:
        return json_events(self.logs(service))

    def wait_healthy(self, service: str, timeout: float = 120) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            states = [self.inspect(c)["State"] for c in self.containers(service)]
            if states and all(s.get("Health", {}).get("Status") == "healthy" for s in states):
                return time.monotonic() - started
            if any(s["Status"] in ("exited", "dead") for s in states):
                raise AssertionError(f"{service} exited:\n{self.logs(service)[-3000:]}")
            time.sleep(0.5)
        raise AssertionError(f"{service} not healthy in {timeout} s:\n{self.logs(service)[-3000:]}")


class Relay:
    """Forwards TCP from the Docker bridge's gateway address to the fake on 127.0.0.1: the fake
    listens on loopback only, which a container cannot reach."""

    def __init__(self, host: str, target_port: int) -> None:
        self.server = socket.create_server((host, 0))
        self.port = self.server.getsockname()[1]
        self.target_port = target_port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # the fake is gone: the test is ending
                client.close()
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.server.close()


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge."""
    out = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"],
        capture_output=True, text=True, check=True,
    ).stdout
    return gateway_of(out)


def gateway_of(ipam_config: str) -> str:
    """The IPv4 gateway in a network's IPAM config (JSON). An engine's first start on an empty data
    root reports the default bridge's subnet without its gateway (seen with 20.10; a restart then
    shows both): the gateway is then the subnet's first address, where Docker puts it."""
    configs = [config for config in json.loads(ipam_config) or [] if config.get("Subnet")]
    for config in configs:
        gateway = config.get("Gateway", "")
        if gateway and ipaddress.ip_address(gateway).version == 4:
            return str(gateway)
    for config in configs:
        network = ipaddress.ip_network(config["Subnet"], strict=False)
        if network.version == 4:
            return str(next(network.hosts()))
    raise AssertionError(f"Docker's bridge network has no IPv4 gateway or subnet: {ipam_config.strip()}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def container_events(container: str) -> list[dict[str, Any]]:
    out = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=True)
    return json_events(out.stdout + out.stderr)


def volumes() -> set[str]:
    out = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def image_size() -> str:
    out = subprocess.run(["docker", "images", "photobot:latest", "--format", "{{.Size}}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()
