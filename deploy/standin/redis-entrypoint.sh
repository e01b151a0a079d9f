#!/bin/sh
# The official image builds redis-server with protected mode off: inside a container network the
# other services are not on loopback. Debian's binary keeps it on, so it is turned off here.
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server "$@" --protected-mode no
fi
exec "$@"
