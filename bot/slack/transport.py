"""Keep-alive HTTP for slack_sdk's WebClient: one connection per thread and host, reused.

slack_sdk's sync WebClient sends each call with `urllib.request.urlopen`, which opens a new
connection (TCP and, against Slack, TLS) for every post and closes it after: most of a post's
CPU on the client side (issue 13). `KeepAliveWebClient` replaces only the method that sends one
prepared request (`_perform_urllib_http_request_internal`); slack_sdk still builds the request,
runs its retry handlers (our 429 waits), parses the answer and raises `SlackApiError`.

Contract, the same as urlopen's as slack_sdk uses it:
- a 2xx answer returns {"status", "headers", "body"} (body decoded with the answer's charset,
  bytes for application/gzip);
- any other status raises `urllib.error.HTTPError` carrying status, headers and body (slack_sdk
  reads 429's Retry-After from it);
- transport failures raise the socket / http.client error (`TimeoutError`, `ConnectionError`,
  `http.client.HTTPException`), which `deliver.delivery_error` maps to "timeout"/"connection".
A connection that failed in any way is closed, never reused: a late answer to a timed-out post
must not be read as the answer to the next one. A POST is never sent twice here: when a reused
connection turns out to be dead after the request went out, Slack may have the message, and only
the outbox's history check may send it again. Read-only calls (history, auth.test, ...) are
retried once on a fresh connection in that case. A connection the server has closed while idle
is noticed before use (it reads as ready: end of file) and replaced.
Proxies (the client's `proxy`, or *_PROXY in the environment) go through urllib as before.
"""

from __future__ import annotations

import http.client
import io
import select
import threading
import urllib.request
import weakref
from typing import Any
from urllib.error import HTTPError
from urllib.parse import SplitResult, urlsplit

from slack_sdk import WebClient

# Calls that change nothing in Slack: safe to send again when a reused connection was dead.
_READ_ONLY = (
    "auth.test",
    "conversations.history",
    "conversations.replies",
    "conversations.list",
    "conversations.info",
    "users.info",
    "team.info",
)
_Key = tuple[str, str, int]


class KeepAliveWebClient(WebClient):
    """slack_sdk's WebClient over kept-alive connections; see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []  # for close(), from any thread
        self._all_lock = threading.Lock()
        # Closed when the client is collected too (a command that never calls close()).
        weakref.finalize(self, _close_all, self._all, self._all_lock)
        self._proxies = urllib.request.getproxies()  # the environment's, read once

    def _perform_urllib_http_request_internal(
        self, url: str, req: urllib.request.Request
    ) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https") or self._proxied(parts):
            return super()._perform_urllib_http_request_internal(url, req)
        key = (parts.scheme, parts.hostname or "", parts.port or _default_port(parts.scheme))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn, reused = self._connection(key)
        try:
            response = _exchange(conn, req, path)
        except (OSError, http.client.HTTPException):
            self._discard(key, conn)
            if not (reused and parts.path.rsplit("/", 1)[-1] in _READ_ONLY):
                raise
            conn, _ = self._connection(key)  # a fresh one: a second failure is real
            try:
                response = _exchange(conn, req, path)
            except (OSError, http.client.HTTPException):
                self._discard(key, conn)
                raise
        status, headers, body = response
        if not 200 <= status < 300:
            reason = http.client.responses.get(status, "")
            raise HTTPError(url, status, reason, headers, io.BytesIO(body))
        if headers.get_content_type() == "application/gzip":
            return {"status": status, "headers": headers, "body": body}
        charset = headers.get_content_charset() or "utf-8"
        return {"status": status, "headers": headers, "body": body.decode(charset)}

    def close(self) -> None:
        """Close every connection this client opened (the sender's close at shutdown)."""
        _close_all(self._all, self._all_lock)

    def _proxied(self, parts: SplitResult) -> bool:
        return parts.scheme in self._proxies and not urllib.request.proxy_bypass(
            parts.hostname or ""
        )

    def _connection(self, key: _Key) -> tuple[http.client.HTTPConnection, bool]:
        held: dict[_Key, http.client.HTTPConnection] = self._local.__dict__.setdefault("conns", {})
        conn = held.get(key)
        if conn is not None and conn.sock is not None and not _closed_by_peer(conn):
            return conn, True
        if conn is not None:
            self._discard(key, conn)
        scheme, host, port = key
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self.ssl)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        held[key] = conn
        with self._all_lock:
            self._all.append(conn)
        return conn, False

    def _discard(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        conn.close()
        held: dict[_Key, http.client.HTTPConnection] = self._local.__dict__.get("conns", {})
        if held.get(key) is conn:
            del held[key]
        with self._all_lock:
            if conn in self._all:
                self._all.remove(conn)


def _close_all(conns: list[http.client.HTTPConnection], lock: threading.Lock) -> None:
    with lock:
        closing = list(conns)
        conns.clear()
    for conn in closing:
        conn.close()


def _exchange(
    conn: http.client.HTTPConnection, req: urllib.request.Request, path: str
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send one request and read its whole answer (so the connection can carry the next)."""
    headers = dict(req.header_items())
    conn.request(req.get_method(), path, body=req.data, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.will_close:
        conn.close()  # the server said so: the next call opens a new one
    return response.status, response.headers, body


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle kept-alive socket that reads as ready has hit end of file (or holds bytes nobody
    asked for): either way it cannot carry a request."""
    assert conn.sock is not None
    poller = select.poll()  # not select.select: it fails for descriptors above 1023
    poller.register(conn.sock, select.POLLIN)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
