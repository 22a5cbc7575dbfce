# newsbot as a container service.
#   docker build -t newsbot .
#   docker run -d --name newsbot -v newsbot-data:/data -e SLACK_BOT_TOKEN=xoxb-... newsbot
#   docker run --rm newsbot check          # validate the shipped (or a mounted) config
# Another base image with Python 3.11+ and its venv module (Debian's python3 + python3-venv):
#   docker build --build-arg BASE_IMAGE=debian-bookworm-python3 -t newsbot .
# Both stages use the same base: the virtual environment's interpreter is a link to the base's.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# python3, not python: Debian's own python3 package installs no `python` command.
RUN python3 -m venv /opt/venv
# The locked dependencies first, in their own layer: code changes do not reinstall them.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot/ ./bot/
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip check

FROM ${BASE_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="newsbot" \
      org.opencontainers.image.description="News-monitoring bot: polls news feeds, matches topics, posts Slack alerts." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
# A user and group of its own, by number so `USER` needs no lookup and volume ownership is
# predictable: chown 10001:10001 whatever you bind-mount at /data.
RUN groupadd --system --gid 10001 newsbot \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin newsbot \
    && mkdir -p /data \
    && chown 10001:10001 /data
COPY --from=build /opt/venv /opt/venv
# The shipped configuration; mount your own over it read-only: -v ./config:/app/config:ro
COPY config/ /app/config/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSBOT_CONFIG=/app/config/newsbot.yaml \
    NEWSBOT_DB=/data/newsbot.db \
    NEWSBOT_LOG_FORMAT=json \
    NEWSBOT_HTTP_HOST=0.0.0.0 \
    NEWSBOT_HTTP_PORT=8080
WORKDIR /app
VOLUME ["/data"]
EXPOSE 8080
USER 10001:10001
# `newsbot run` finishes in-flight deliveries on SIGTERM and exits 0; give it `docker stop -t`.
STOPSIGNAL SIGTERM
# Asks the running process (GET /healthz: process and scheduler alive), not just "is python there".
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["newsbot", "healthcheck"]
ENTRYPOINT ["newsbot"]
CMD ["run"]
