# Stand-in for python:3.11-slim when no container registry is reachable: Debian bookworm's own
# Python 3.11 with venv (the official image builds CPython 3.11 from source under /usr/local).
FROM photobot-standin/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python-is-python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# The host's certificate authorities, so pip inside a build trusts the same package index as the host.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY pip.conf /etc/pip.conf
ENV LANG=C.UTF-8
CMD ["python3"]
