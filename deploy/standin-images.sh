#!/usr/bin/env bash
# Local stand-ins for the base images that the Dockerfile and docker-compose.yml name, for machines
# that reach Debian's mirror and a Python package index but no container registry. An image that can
# be pulled, or is already there, is left alone; otherwise it is built under the same name from
# Debian bookworm's packages, so the Dockerfile and the compose file are used unchanged:
#   python:3.11-slim  Debian's Python 3.11 with venv (not the official image's own CPython build)
#   redis:7           Debian's redis-server 7.0, run as the official image runs it
# Both start from a minimal Debian made by debootstrap from the mirror apt uses here (as root, Debian's
# debootstrap is installed when missing). The stand-in Python trusts the host's certificate
# authorities, so pip inside a build verifies the same index.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/standin"

quiet_build() {
  # docker build, its output shown only when it fails.
  local log
  log=$(mktemp)
  docker build -q "$@" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
}

present_or_pulled() {
  docker image inspect "$1" >/dev/null 2>&1 || docker pull -q "$1" >/dev/null 2>&1
}

apt_mirror() {
  # The first Debian mirror in apt's sources (deb822 or one-line format).
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list | grep -E '/debian/?( |$)' | head -n1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//')
  echo "${uri:-http://deb.debian.org/debian}"
}

base_image() {
  local image=photobot-standin/debian:bookworm
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  if ! command -v debootstrap >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "== standin: installing Debian's debootstrap"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; } >/dev/null 2>&1 || true
  fi
  command -v debootstrap >/dev/null || { echo "standin: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  local root
  root=$(mktemp -d /tmp/photobot-standin.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  echo "== standin: debootstrap bookworm from $(apt_mirror)"
  debootstrap --variant=minbase bookworm "$root/rootfs" "$(apt_mirror)" >"$root/debootstrap.log" 2>&1 \
    || { tail -n 20 "$root/debootstrap.log" >&2; exit 1; }
  # What Debian's own slim images leave out: documentation, manuals, translations, apt's caches.
  mkdir -p "$root/rootfs/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
    'path-exclude /usr/share/lintian/*' >"$root/rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
  # As in Debian's images: apt keeps no package lists' caches or downloaded packages in a layer.
  cat >"$root/rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  find "$root/rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$root/rootfs/usr/share/man/"* "$root/rootfs/usr/share/info/"* "$root/rootfs/var/lib/apt/lists/"* \
    "$root/rootfs/var/cache/apt/"*.bin "$root/rootfs/var/cache/apt/archives/"*.deb
  find "$root/rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  tar -C "$root/rootfs" -c . | docker import - "$image" >/dev/null
}

if ! present_or_pulled python:3.11-slim; then
  base_image
  echo "== standin: python:3.11-slim from Debian's python3.11"
  cp /etc/ssl/certs/ca-certificates.crt ca-certificates.crt
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >pip.conf
  quiet_build -t python:3.11-slim -f python.Dockerfile .
  rm -f ca-certificates.crt pip.conf
fi
if ! present_or_pulled redis:7; then
  base_image
  echo "== standin: redis:7 from Debian's redis-server"
  quiet_build -t redis:7 -f redis.Dockerfile .
fi
