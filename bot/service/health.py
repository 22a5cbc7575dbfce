"""The bot's HTTP face for operators: liveness, readiness and Prometheus metrics.

Contract:
    GET /healthz  200 when the process and its scheduler are alive, else 503 (restart me)
    GET /readyz   200 when config, store, last poll and Slack auth are fine, else 503 (look at me)
    GET /metrics  Prometheus text exposition of `Metrics`
Both health endpoints answer JSON: {"status": "ok" | "fail", "checks": {name: detail}}.
HEAD is answered like GET, without a body. Anything else is 404 (405 for other methods).

The probe callable decides; this module only serves its answer. It runs on every request, in the
server's thread, so it must be cheap and must not block (read state the scheduler keeps, do not
call Slack). A probe that raises is reported as a failed check, never as a crashed server.

`probe_main` is the client side, for the image's HEALTHCHECK: stdlib only, so it starts fast.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from bot.feeds.urls import is_http_url
from bot.service.metrics import Metrics

log = logging.getLogger(__name__)

# A wildcard bind address is not something to connect to: the probe asks the loopback instead.
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What the running bot says about itself at one moment."""

    alive: bool  # process and scheduler running: False means "restart me"
    ready: bool  # doing its job: config loaded, store writable, polls recent, Slack auth ok
    checks: dict[str, str] = field(default_factory=dict)  # e.g. {"last_poll": "12 s ago"}


class _Server(ThreadingHTTPServer):
    """The HTTP server, carrying what the handler needs."""

    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of scrapes would find the queue full
    # and the kernel would drop their connections. The kernel caps it at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(
        self, address: tuple[str, int], metrics: Metrics, probe: Callable[[], HealthReport]
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.metrics = metrics
        self.probe = probe
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "newsbot"
    timeout = 10  # seconds a client may take to send its request (slow-client guard)

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/healthz":
            self._health(lambda report: report.alive)
        elif path == "/readyz":
            self._health(lambda report: report.ready)
        elif path == "/metrics":
            self._send(HTTPStatus.OK, CONTENT_TYPE_LATEST, self.server.metrics.render())
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"status": "fail", "error": "not found"})

    def do_HEAD(self) -> None:
        self.do_GET()

    def _health(self, passing: Callable[[HealthReport], bool]) -> None:
        try:
            report = self.server.probe()
        except Exception as exc:  # a broken probe is a failed check, not a dead server
            log.exception("health probe failed path=%s", self.path)
            checks = {"probe": f"error: {type(exc).__name__}: {exc}"}
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "fail", "checks": checks})
            return
        ok = passing(report)
        status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
        body = {"status": "ok" if ok else "fail", "checks": dict(report.checks)}
        self._send_json(status, body)

    def _send_json(self, status: HTTPStatus, body: Mapping[str, object]) -> None:
        data = json.dumps(body, sort_keys=True).encode() + b"\n"
        self._send(status, "application/json", data)

    def _send(self, status: HTTPStatus, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        # A HEALTHCHECK every few seconds would drown the log at info level.
        log.debug("http request client=%s line=%s", self.address_string(), format % args)


class HealthServer:
    """Serves /healthz, /readyz and /metrics from a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        metrics: Metrics,
        probe: Callable[[], HealthReport],
        *,
        poll_interval: float = 0.25,  # how soon stop() is noticed; tests make it shorter
    ) -> None:
        self.host = host
        self.port = port  # the bound port once started (port 0 picks a free one)
        self._metrics = metrics
        self._probe = probe
        self._poll_interval = poll_interval
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve in the background. Raises OSError naming the address if it cannot."""
        if self._server is not None:
            raise RuntimeError("health server: already started")
        try:
            server = _Server((self.host, self.port), self._metrics, self._probe)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"health server: cannot listen on {self.host}:{self.port}: {exc.strerror}"
                " (set NEWSBOT_HTTP_HOST / NEWSBOT_HTTP_PORT)",
            ) from exc
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            args=(self._poll_interval,),
            name="newsbot-http",
            daemon=True,
        )
        self._thread.start()
        log.info("health server listening host=%s port=%d", self.host, self.port)

    def stop(self) -> None:
        """Stop serving and close the socket. Safe to call twice or before start."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)


def probe_main(url: str, timeout: float = 3.0) -> int:
    """GET `url`; 0 when it answers 200, else 1. Prints one line saying what it found.

    For `newsbot healthcheck`, the image's HEALTHCHECK: Docker keeps the output in
    `docker inspect`, so the line says why a container is unhealthy.
    """
    if not is_http_url(url):
        print(f"unhealthy: {url}: only http(s) URLs can be probed", file=sys.stderr)
        return 1
    parts = urllib.parse.urlsplit(url.strip())
    if parts.hostname in _WILDCARD_HOSTS:
        url = _to_loopback(parts)
    # No proxies: the endpoint is local, and an HTTP_PROXY in the environment must not
    # turn a healthy bot into an unhealthy container.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            status, body = response.status, response.read(512)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(512)
    except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    line = body.decode("utf-8", "replace").strip()
    if status == 200:
        print(f"healthy: {url}: {status} {line}")
        return 0
    print(f"unhealthy: {url}: {status} {line}", file=sys.stderr)
    return 1


def _to_loopback(parts: urllib.parse.SplitResult) -> str:
    loopback = _WILDCARD_HOSTS[parts.hostname or ""]
    netloc = loopback if parts.port is None else f"{loopback}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
