"""A real HTTP feed server on 127.0.0.1 for tests and demos, with switchable faults.

In tests, use the `feed_server` fixture (function scope)::

    def test_x(feed_server):
        feed_server.set_feed("/a.xml", b"<rss>...</rss>")
        url = feed_server.url("/a.xml")

Routes (the path is matched without its query string; unknown paths give 404):

    set_feed(path, body, content_type=..., etag=True, last_modified=<auto>, gzip=False)
        200 with ETag (derived from the body) and Last-Modified; 304 when the request's
        If-None-Match matches, or, without If-None-Match, when If-Modified-Since is not older
        than Last-Modified (RFC 9110 §13.1.1-13.1.3, §13.2.2). Setting a new body changes the
        ETag and moves the automatic Last-Modified forward by at least one second.
        gzip=True compresses the body when the request accepts gzip.
    set_status(path, status, headers=None, body=b"")      any status, e.g. 429 + Retry-After
    set_redirect(path, target, status=302)               target: a path or an absolute URL
    set_trickle(path, chunk, interval)                   200, then `chunk` every `interval` s
    set_header_trickle(path, interval)                   status line, then one header byte
                                                         every `interval` s: headers never end
    set_hang(path, seconds)                              accepts, then says nothing
    set_huge(path, nbytes)                               200 with nbytes generated on the fly
    set_gzip_bomb(path, nbytes)                          gzip body inflating to nbytes
    set_raw(path, handler)                               handler(BaseHTTPRequestHandler)
    serve_directory(directory)                           every file under it (CLI mode)

`requests` lists every request seen as (path, headers); `count(path)` counts them per path;
`max_in_flight(path)` is the most requests for one path ever served at the same time.

Command line (demos, container test): ``python -m tests.feedserver DIR [--host H] [--port N]``
serves every file in DIR, re-read on each request, and prints its base URL.

Standard library only, so the command line works where pytest is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import functools
import hashlib
import itertools
import mimetypes
import socketserver
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

try:
    import pytest
except ImportError:  # the command line runs without pytest
    pytest = None  # type: ignore[assignment]

RawHandler = Callable[[BaseHTTPRequestHandler], None]

_CHUNK = 64 * 1024
_CONTENT_TYPES = {
    ".rss": "application/rss+xml",
    ".xml": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".opml": "text/x-opml",
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


class SeenRequest(NamedTuple):
    path: str  # with its query string
    headers: Message[str, str]  # case-insensitive: headers["if-none-match"]


@dataclass
class _Feed:
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None
    gzip: bool


@dataclass
class _Status:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Route = _Feed | _Status | RawHandler


class FeedServer:
    """A threaded HTTP/1.1 server on `host`, port 0 by default; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._directory: Path | None = None
        self._modified: dict[str, float] = {}
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}
        self.requests: list[SeenRequest] = []
        self._connections = 0
        self._httpd = _HTTPServer((host, port), _make_handler(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases trickling, hanging and huge responses
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    # -- routes -----------------------------------------------------------------------------
    def set_feed(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml",
        etag: bool = True,
        last_modified: str | bool | None = True,
        gzip: bool = False,
    ) -> None:
        """Serve `body` with validators. last_modified: True = automatic, None/False = none."""
        tag = f'"{hashlib.sha256(body).hexdigest()[:20]}"' if etag else None
        if last_modified is True:
            last_modified = self._next_modified(path, body)
        self._set(path, _Feed(body, content_type, tag, last_modified or None, gzip))

    def set_status(
        self, path: str, status: int, *, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        self._set(path, _Status(status, dict(headers or {}), body))

    def set_redirect(self, path: str, target: str, *, status: int = 302) -> None:
        location = target if "://" in target else self.url(target)
        self.set_status(path, status, headers={"Location": location})

    def set_trickle(self, path: str, chunk: bytes, interval: float) -> None:
        self._set(path, functools.partial(_trickle, self._stopping, chunk, interval))

    def set_header_trickle(self, path: str, interval: float) -> None:
        self._set(path, functools.partial(_header_trickle, self._stopping, interval))

    def set_hang(self, path: str, seconds: float = 60.0) -> None:
        self._set(path, functools.partial(_hang, self._stopping, seconds))

    def set_huge(self, path: str, nbytes: int, *, content_length: bool = True) -> None:
        """Without Content-Length the body ends at connection close, so only counting stops it."""
        self._set(path, functools.partial(_huge, self._stopping, nbytes, content_length))

    def set_gzip_bomb(self, path: str, nbytes: int) -> None:
        _bomb(nbytes)  # build it now, so the first request is not slowed by compressing
        self._set(path, functools.partial(_gzip_bomb, self._stopping, nbytes))

    def set_raw(self, path: str, handler: RawHandler) -> None:
        self._set(path, handler)

    def serve_directory(self, directory: str | Path) -> None:
        self._directory = Path(directory).resolve()

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for seen in self.requests if _route_key(seen.path) == path)

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (keep-alive reuses one for many requests)."""
        with self._lock:
            return self._connections

    def _connected(self) -> None:
        with self._lock:
            self._connections += 1

    def max_in_flight(self, path: str) -> int:
        with self._lock:
            return self._max_in_flight.get(path, 0)

    @contextlib.contextmanager
    def _serving(self, path: str) -> Iterator[None]:
        with self._lock:
            now = self._in_flight[path] = self._in_flight.get(path, 0) + 1
            self._max_in_flight[path] = max(now, self._max_in_flight.get(path, 0))
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[path] -= 1

    def _set(self, path: str, route: Route) -> None:
        with self._lock:
            self._routes[path] = route

    def _next_modified(self, path: str, body: bytes) -> str:
        # Strictly increasing per path, so a new body is never hidden by If-Modified-Since's
        # one-second resolution.
        with self._lock:
            previous = self._routes.get(path)
            stamp = max(time.time(), self._modified.get(path, 0.0) + 1.0)
            if isinstance(previous, _Feed) and previous.body == body:
                stamp = self._modified[path]
            self._modified[path] = stamp
        return email.utils.formatdate(stamp, usegmt=True)

    # -- dispatch (called from handler threads) ---------------------------------------------
    def _route(self, path: str) -> Route | None:
        with self._lock:
            route = self._routes.get(path)
        if route is None and self._directory is not None:
            return self._file_route(path)
        return route

    def _file_route(self, path: str) -> Route | None:
        assert self._directory is not None
        target = (self._directory / path.lstrip("/")).resolve()
        if not target.is_file() or not target.is_relative_to(self._directory):
            return None
        body = target.read_bytes()  # re-read every time: edits show up at once
        mtime = email.utils.formatdate(target.stat().st_mtime, usegmt=True)
        tag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
        content_type = _CONTENT_TYPES.get(target.suffix.lower()) or (
            mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        return _Feed(body, content_type, tag, mtime, gzip=True)

    def _record(self, path: str, headers: Message[str, str]) -> None:
        with self._lock:
            self.requests.append(SeenRequest(path, headers))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck on a slow client never blocks shutdown

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can take
        # seconds offline; the name is only used for CGI variables.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


def _route_key(path: str) -> str:
    return urlsplit(path).path


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do
        # Headers and body go out in separate writes: without TCP_NODELAY each response on a
        # reused connection waits ~40 ms for the client's delayed ACK (Nagle).
        disable_nagle_algorithm = True
        server_version = "newsbot-feedserver/1"
        timeout = 10  # an idle keep-alive connection is dropped after this

        def setup(self) -> None:
            server._connected()
            super().setup()

        def do_GET(self) -> None:
            server._record(self.path, self.headers)
            with server._serving(_route_key(self.path)):
                self._dispatch(server._route(_route_key(self.path)))

        def _dispatch(self, route: Route | None) -> None:
            if route is None:
                _send(self, 404, {"Content-Type": "text/plain"}, b"not found\n")
            elif isinstance(route, _Feed):
                _serve_feed(self, route)
            elif isinstance(route, _Status):
                _send(self, route.status, route.headers, route.body)
            else:
                route(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: pytest shows failures, not access logs

    return Handler


def _send(
    handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
) -> None:
    handler.send_response(status)
    sent = {name.lower() for name in headers}
    for name, value in headers.items():
        handler.send_header(name, value)
    if "content-length" not in sent and status != 304 and status >= 200:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if status != 304:
        handler.wfile.write(body)


def _serve_feed(handler: BaseHTTPRequestHandler, feed: _Feed) -> None:
    headers: dict[str, str] = {}
    if feed.etag:
        headers["ETag"] = feed.etag
    if feed.last_modified:
        headers["Last-Modified"] = feed.last_modified
    if _not_modified(handler.headers, feed):
        _send(handler, 304, headers, b"")
        return
    body = feed.body
    headers["Content-Type"] = feed.content_type
    if feed.gzip and "gzip" in handler.headers.get("Accept-Encoding", ""):
        body = _gzip(body)
        headers["Content-Encoding"] = "gzip"
    headers["Vary"] = "Accept-Encoding"
    _send(handler, 200, headers, body)


def _not_modified(request: Message[str, str], feed: _Feed) -> bool:
    # RFC 9110 §13.2.2: If-None-Match is evaluated first; If-Modified-Since only without it.
    if_none_match = request.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return feed.etag is not None and ("*" in tags or feed.etag in tags)
    since = request.get("If-Modified-Since")
    if since is None or feed.last_modified is None:
        return False
    try:
        since_at = email.utils.parsedate_to_datetime(since)
        modified_at = email.utils.parsedate_to_datetime(feed.last_modified)
    except (TypeError, ValueError):
        return False  # RFC 9110 §13.1.3: an invalid date is ignored
    return modified_at <= since_at


def _gzip(body: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


def _streaming_headers(handler: BaseHTTPRequestHandler, extra: dict[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    for name, value in extra.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.close_connection = True


def _write_until(
    handler: BaseHTTPRequestHandler, stopping: threading.Event, pieces: Iterator[bytes]
) -> None:
    """Write pieces until done, the client hangs up, or the server stops."""
    try:
        for piece in pieces:
            if stopping.is_set():
                return
            handler.wfile.write(piece)
            handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
        pass  # the client gave up, as it should


def _trickle(
    stopping: threading.Event, chunk: bytes, interval: float, handler: BaseHTTPRequestHandler
) -> None:
    # No Content-Length: the body ends when the connection closes (RFC 9112 §6.3), i.e. never.
    _streaming_headers(handler, {"Connection": "close"})

    def pieces() -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>slow</title>'
        while not stopping.wait(interval):
            yield chunk

    _write_until(handler, stopping, pieces())


def _header_trickle(
    stopping: threading.Event, interval: float, handler: BaseHTTPRequestHandler
) -> None:
    # A status line, then a header whose value never ends: every read gets a byte before any
    # read timeout, so only a deadline on the whole exchange stops it.
    handler.close_connection = True
    pieces = itertools.chain([b"HTTP/1.1 200 OK\r\nX-Slow: "], _every(stopping, interval, b"a"))
    _write_until(handler, stopping, pieces)


def _every(stopping: threading.Event, interval: float, piece: bytes) -> Iterator[bytes]:
    while not stopping.wait(interval):
        yield piece


def _hang(stopping: threading.Event, seconds: float, handler: BaseHTTPRequestHandler) -> None:
    stopping.wait(seconds)
    handler.close_connection = True


def _huge(
    stopping: threading.Event, nbytes: int, content_length: bool, handler: BaseHTTPRequestHandler
) -> None:
    headers = {"Content-Length": str(nbytes)} if content_length else {"Connection": "close"}
    _streaming_headers(handler, headers)
    _write_until(handler, stopping, _generated(nbytes))


def _gzip_bomb(stopping: threading.Event, nbytes: int, handler: BaseHTTPRequestHandler) -> None:
    body = _bomb(nbytes)
    _streaming_headers(handler, {"Content-Length": str(len(body)), "Content-Encoding": "gzip"})
    _write_until(
        handler, stopping, iter([body[i : i + _CHUNK] for i in range(0, len(body), _CHUNK)])
    )


def _generated(nbytes: int) -> Iterator[bytes]:
    """nbytes of a plausible-looking feed prefix then padding, generated chunk by chunk."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>huge</title>'[:nbytes]
    yield head
    left = nbytes - len(head)
    filler = b" " * _CHUNK
    while left > 0:
        yield filler[: min(left, _CHUNK)]
        left -= _CHUNK


@functools.lru_cache(maxsize=4)
def _bomb(nbytes: int) -> bytes:
    """A gzip member inflating to nbytes of spaces, built without holding nbytes in memory."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # level 1: fastest
    block = b" " * (1024 * 1024)
    parts = []
    left = nbytes
    while left > 0:
        parts.append(compressor.compress(block[: min(left, len(block))]))
        left -= len(block)
    parts.append(compressor.flush())
    return b"".join(parts)


if pytest is not None:

    @pytest.fixture
    def feed_server() -> Iterator[FeedServer]:
        """A started FeedServer on 127.0.0.1, stopped after the test."""
        with FeedServer() as server:
            yield server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.feedserver", description="Serve the feed files in DIR over HTTP."
    )
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if not Path(args.directory).is_dir():
        parser.error(f"{args.directory}: not a directory")
    server = FeedServer(args.host, args.port)
    server.serve_directory(args.directory)
    with server:
        print(server.url("/"), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
