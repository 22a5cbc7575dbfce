"""bot.service.health: HTTP endpoints on a real socket, and the HEALTHCHECK client against them."""

from __future__ import annotations

import collections
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from bot.service.health import HealthReport, HealthServer, probe_main
from bot.service.metrics import Metrics

OK = HealthReport(
    alive=True,
    ready=True,
    checks={"scheduler": "ok", "config": "ok", "store": "ok", "last_poll": "12 s ago"},
)
NOT_READY = HealthReport(
    alive=True, ready=False, checks={"scheduler": "ok", "slack_auth": "invalid_auth"}
)
DEAD = HealthReport(alive=False, ready=False, checks={"scheduler": "stopped"})


class Probe:
    """A probe whose answer the test sets."""

    def __init__(self, report: HealthReport = OK) -> None:
        self.report = report
        self.calls = 0

    def __call__(self) -> HealthReport:
        self.calls += 1
        return self.report


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def server(metrics: Metrics, probe: Probe) -> Iterator[HealthServer]:
    server = HealthServer("127.0.0.1", 0, metrics, probe, poll_interval=0.01)
    server.start()
    yield server
    server.stop()


def get(server: HealthServer, path: str, method: str = "GET") -> tuple[int, str, bytes]:
    """(status, content type, body) of one request."""
    url = f"http://127.0.0.1:{server.port}{path}"
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read()


def test_port_zero_binds_a_free_port(server: HealthServer) -> None:
    assert server.port > 0


@pytest.mark.parametrize(
    ("report", "path", "status", "word"),
    [
        pytest.param(OK, "/healthz", 200, "ok", id="alive"),
        pytest.param(NOT_READY, "/healthz", 200, "ok", id="alive-but-not-ready"),
        pytest.param(DEAD, "/healthz", 503, "fail", id="dead"),
        pytest.param(OK, "/readyz", 200, "ok", id="ready"),
        pytest.param(NOT_READY, "/readyz", 503, "fail", id="not-ready"),
        pytest.param(OK, "/healthz?verbose=1", 200, "ok", id="query-string-ignored"),
    ],
)
def test_health_endpoints_follow_the_probe(
    server: HealthServer, probe: Probe, report: HealthReport, path: str, status: int, word: str
) -> None:
    probe.report = report
    got_status, content_type, body = get(server, path)
    assert (got_status, content_type) == (status, "application/json")
    assert json.loads(body) == {"status": word, "checks": report.checks}


def test_probe_is_asked_on_every_request(server: HealthServer, probe: Probe) -> None:
    get(server, "/readyz")
    probe.report = NOT_READY
    assert get(server, "/readyz")[0] == 503
    assert probe.calls == 2


def test_a_probe_that_raises_is_a_failed_check(metrics: Metrics) -> None:
    def broken() -> HealthReport:
        raise RuntimeError("store closed")

    server = HealthServer("127.0.0.1", 0, metrics, broken, poll_interval=0.01)
    server.start()
    try:
        status, _, body = get(server, "/healthz")
        assert status == 503
        assert json.loads(body)["checks"] == {"probe": "error: RuntimeError: store closed"}
        assert get(server, "/readyz")[0] == 503  # still serving
    finally:
        server.stop()


def test_metrics_endpoint_shows_counts_moving(server: HealthServer, metrics: Metrics) -> None:
    status, content_type, body = get(server, "/metrics")
    assert (status, content_type) == (200, CONTENT_TYPE_LATEST)
    assert b"newsbot_feeds_polled_total{" not in body  # no feed polled yet: no series
    assert b"newsbot_stories_seen_total 0.0" in body

    metrics.feeds_polled.labels(feed="http://127.0.0.1/a.xml").inc()
    metrics.stories_seen.inc(3)
    body = get(server, "/metrics")[2]
    assert b'newsbot_feeds_polled_total{feed="http://127.0.0.1/a.xml"} 1.0' in body
    assert b"newsbot_stories_seen_total 3.0" in body


def test_head_answers_without_a_body(server: HealthServer) -> None:
    status, content_type, body = get(server, "/healthz", method="HEAD")
    assert (status, content_type, body) == (200, "application/json", b"")


@pytest.mark.parametrize("path", ["/", "/health", "/metrics/x"])
def test_unknown_paths_are_404(server: HealthServer, path: str) -> None:
    assert get(server, path)[0] == 404


def test_stop_closes_the_port_and_is_idempotent(metrics: Metrics, probe: Probe) -> None:
    server = HealthServer("127.0.0.1", 0, metrics, probe, poll_interval=0.01)
    server.stop()  # before start: nothing to do
    server.start()
    port = server.port
    server.stop()
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_start_twice_is_an_error(server: HealthServer) -> None:
    with pytest.raises(RuntimeError, match="already started"):
        server.start()


def test_a_taken_port_names_the_address(server: HealthServer, metrics: Metrics) -> None:
    other = HealthServer("127.0.0.1", server.port, metrics, Probe())
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        other.start()


def test_probe_main_healthy(server: HealthServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert probe_main(f"http://127.0.0.1:{server.port}/healthz") == 0
    assert capsys.readouterr().out.startswith("healthy: ")


def test_probe_main_wildcard_host_asks_loopback(server: HealthServer) -> None:
    # The image sets NEWSBOT_HTTP_HOST=0.0.0.0; the HEALTHCHECK probes the same settings.
    assert probe_main(f"http://0.0.0.0:{server.port}/healthz") == 0


def test_probe_main_unhealthy(
    server: HealthServer, probe: Probe, capsys: pytest.CaptureFixture[str]
) -> None:
    probe.report = DEAD
    assert probe_main(f"http://127.0.0.1:{server.port}/healthz") == 1
    assert "503" in capsys.readouterr().err


def test_probe_main_nothing_listening(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert probe_main(f"http://127.0.0.1:{port}/healthz", timeout=2) == 1
    assert capsys.readouterr().err.startswith("unhealthy: ")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "not a url"])
def test_probe_main_refuses_other_schemes(url: str) -> None:
    assert probe_main(url) == 1


def test_probe_main_ignores_proxy_settings(
    server: HealthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # discard port: would fail
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert probe_main(f"http://127.0.0.1:{server.port}/healthz") == 0


def test_health_backlog_many_concurrent_metrics_requests_all_succeed(server: HealthServer) -> None:
    # A scrape storm (or a load balancer's burst) must not find the listen queue full: with a
    # backlog of 5 the kernel dropped most of 300 simultaneous connections.
    clients = 300
    start = threading.Barrier(clients)
    answers: list[object] = []

    def scrape() -> None:
        start.wait()
        try:
            answers.append(get(server, "/metrics")[0])
        except OSError as exc:
            answers.append(type(exc).__name__)

    threads = [threading.Thread(target=scrape) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert collections.Counter(answers) == {200: clients}
