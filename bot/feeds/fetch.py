"""Fetch one feed over HTTP, politely and defensively.

Contract: `Fetcher.fetch(url, etag=..., last_modified=...)` returns a `FetchResult` for a 2xx
(body = the decompressed bytes) or a 304 (body = None), and raises `FetchError` otherwise, with
`kind` one of:

    scheme      the URL (or a redirect target) is not http(s)
    dns         the host name does not resolve
    connect     the connection was refused, reset or failed
    timeout     connect or read timeout, or the overall deadline passed (a trickling server)
    private     a redirect from a public address into a private network (see bot.feeds.guard)
    cancelled   `cancel()` was called (the service is stopping): not the feed's fault
    http        an HTTP error status; `status` set, `retry_after` set on 429/503 when given
    too_large   the DECOMPRESSED body exceeds `FetchLimits.max_bytes`
    redirects   more than `FetchLimits.max_redirects` hops (a loop, or a chain too long)
    protocol    the server broke HTTP (bad framing, bad compression, redirect without Location)

`FeedGone` (a `FetchError`) is raised on 410 Gone.

How the limits hold:
- Redirects are followed here, not by httpx, so every hop is checked (http(s) only), counted,
  and shares one deadline.
- Bodies are streamed raw and decompressed here with zlib's `max_length`, so neither a 200 MB
  body nor a gzip bomb is ever held in memory beyond `max_bytes` + one chunk.
- The overall deadline covers the whole exchange: connect, headers, body and every redirect
  hop. httpx's timeouts are per read, so a server trickling its headers one byte at a time never
  trips them; `bot.feeds.guard`'s watchdog shuts the socket down from outside the blocking read when
  the deadline passes. Each hop's connect/read timeouts are also capped by the time left.
- Redirects from a public address into loopback, private, link-local or metadata addresses are
  refused (the address connected to is checked, not the name), unless the operator allows
  private networks; see `bot.feeds.guard`.
- Error messages show the feed URL redacted (`bot.feeds.urls.redact_url`), and at most a short,
  escaped excerpt of anything the server sent.

One `Fetcher` holds one `httpx.Client` (connection pool, cookie jar) and may be shared by the
threads of a worker pool; `close()` it on shutdown.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import ssl
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urljoin

import httpx

from bot import __version__
from bot.config import Defaults
from bot.errors import FeedGone, FetchError, excerpt
from bot.feeds.guard import AddressPolicy, AddressRefused, Exchange, Guard, guard_client
from bot.feeds.http_headers import parse_retry_after
from bot.feeds.urls import is_http_url, redact_url
from bot.models import FetchResult

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


_DEFAULTS = Defaults()  # the admin's `defaults:` section is where these values are written


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How long and how much one fetch may take."""

    connect_timeout: float = _DEFAULTS.connect_timeout  # seconds to establish a connection
    read_timeout: float = _DEFAULTS.read_timeout  # seconds of silence between two reads
    total_timeout: float = _DEFAULTS.fetch_deadline  # the whole fetch: connect to last byte
    max_bytes: int = _DEFAULTS.max_feed_bytes  # decompressed body size cap
    max_redirects: int = 5
    user_agent: str = f"newsbot/{__version__} (+https://github.com/newsbot/newsbot; news alert bot)"


class Fetcher:
    """Fetches feeds with one reusable, thread-safe HTTP client."""

    def __init__(
        self,
        limits: FetchLimits = FetchLimits(),
        transport: httpx.BaseTransport | None = None,
        *,
        policy: AddressPolicy | None = None,
    ) -> None:
        self._limits = limits
        self._guard = Guard(policy or AddressPolicy())
        self._client = httpx.Client(
            transport=transport,
            verify=_tls_context(),
            follow_redirects=False,  # followed by hand: see the module docstring
            timeout=httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout),
            headers={
                "User-Agent": limits.user_agent,
                "Accept": _ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
        )
        guard_client(self._client)  # the deadline watchdog and the address rule: bot.feeds.guard

    def close(self) -> None:
        self._guard.cancel()
        self._client.close()

    def cancel(self) -> None:
        """Fail every fetch in flight at once, and every later one (kind `cancelled`)."""
        self._guard.cancel()

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url`, conditionally when a validator is given; see the module docstring."""
        start = time.monotonic()
        shown = redact_url(url)
        try:
            result = self._guarded(url, _conditional_headers(etag, last_modified), start)
        except FetchError as exc:
            # Debug only: the caller logs the failure once, with the feed's failure count.
            log.debug(
                "fetch failed: %s",
                exc,
                extra={"feed_url": shown, "status": exc.status, "elapsed_ms": _ms_since(start)},
            )
            raise
        log.debug(  # the pipeline logs the poll once, with what it found
            "fetched %s: HTTP %d, %d bytes",
            shown,
            result.status,
            len(result.body or b""),
            extra={"feed_url": shown, "status": result.status, "elapsed_ms": result.elapsed_ms},
        )
        return result

    def _guarded(self, url: str, headers: dict[str, str], start: float) -> FetchResult:
        """`_follow` under the guard's watchdog: whatever it returned or raised, an exchange the
        watchdog cut off is a timeout (or a cancellation)."""
        with self._guard.exchange(start + self._limits.total_timeout) as exchange:
            try:
                result = self._follow(url, headers, start)
            except FetchError as exc:
                cut = self._cut_off(url, exchange)
                if cut is None:
                    raise
                raise cut from exc
            cut = self._cut_off(url, exchange)
            if cut is not None:
                raise cut
            return result

    def _cut_off(self, feed_url: str, exchange: Exchange) -> FetchError | None:
        if exchange.cancelled:
            return FetchError(feed_url, "cancelled", "fetch cancelled: newsbot is stopping")
        if exchange.expired:
            deadline = self._limits.total_timeout
            return FetchError(
                feed_url, "timeout", f"no complete response within the {deadline:g} s deadline"
            )
        return None

    def _follow(self, url: str, headers: dict[str, str], start: float) -> FetchResult:
        deadline = start + self._limits.total_timeout
        chain = [url]
        for _ in range(self._limits.max_redirects + 1):
            _require_http(url, chain)
            with (
                self._translated(url, deadline),
                self._open(url, chain[-1], headers, deadline) as resp,
            ):
                target = _redirect_target(url, resp)
                if target is None:
                    return self._result(url, resp, deadline, start)
            chain.append(target)
        raise _redirect_error(url, chain, self._limits.max_redirects)

    @contextlib.contextmanager
    def _open(
        self, feed_url: str, url: str, headers: dict[str, str], deadline: float
    ) -> Iterator[httpx.Response]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise httpx.ReadTimeout("overall deadline passed")
        timeout = httpx.Timeout(
            min(self._limits.read_timeout, left), connect=min(self._limits.connect_timeout, left)
        )
        request = self._client.build_request("GET", url, headers=headers, timeout=timeout)
        try:
            response = self._client.send(request, stream=True)
        except httpx.InvalidURL as exc:
            # `url` itself was valid (build_request accepted it), so httpx failed on parsing
            # the Location of a redirect response, which it does even when not following.
            message = f"redirect to an unusable URL: {exc}"
            raise FetchError(feed_url, "scheme", message) from exc
        try:
            yield response
        finally:
            response.close()

    @contextlib.contextmanager
    def _translated(self, feed_url: str, deadline: float) -> Iterator[None]:
        """Turn httpx's transport exceptions into FetchError with a precise kind and message."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise self._timeout_error(feed_url, exc, deadline) from exc
        except httpx.ConnectError as exc:
            raise _connect_error(feed_url, exc) from exc
        except httpx.UnsupportedProtocol as exc:
            raise FetchError(feed_url, "scheme", f"unsupported URL: {exc}") from exc
        except httpx.InvalidURL as exc:
            raise FetchError(feed_url, "scheme", f"invalid URL: {exc}") from exc
        except (httpx.ProtocolError, httpx.DecodingError) as exc:
            raise FetchError(feed_url, "protocol", f"HTTP protocol error: {exc}") from exc
        except httpx.TransportError as exc:
            raise FetchError(feed_url, "connect", f"connection failed: {exc}") from exc
        except AddressRefused as exc:
            raise FetchError(feed_url, "private", str(exc)) from exc

    def _timeout_error(
        self, feed_url: str, exc: httpx.TimeoutException, deadline: float
    ) -> FetchError:
        limits = self._limits
        if time.monotonic() >= deadline - 0.01:
            message = f"no complete response within the {limits.total_timeout:g} s deadline"
        elif isinstance(exc, httpx.ConnectTimeout):
            message = f"connect timeout: no connection within {limits.connect_timeout:g} s"
        elif isinstance(exc, httpx.ReadTimeout):
            message = f"read timeout: server sent nothing for {limits.read_timeout:g} s"
        else:
            message = f"timeout: {exc}"
        return FetchError(feed_url, "timeout", message)

    def _result(
        self, feed_url: str, response: httpx.Response, deadline: float, start: float
    ) -> FetchResult:
        status = response.status_code
        if status == 304:
            body = None
            response.read()  # no body by definition: reading ends the exchange, so the
            # connection goes back to the keep-alive pool instead of being closed
        elif 200 <= status < 300:
            body = _read_body(feed_url, response, self._limits, deadline)
        else:
            raise _status_error(feed_url, response, datetime.now(UTC))
        return FetchResult(
            url=str(response.url),
            status=status,
            body=body,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            content_type=response.headers.get("content-type"),
            elapsed_ms=_ms_since(start),
        )


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    # RFC 9111 §4.3.1: validate a stored response with its validators. RFC 9110 §13.1.1 and
    # §13.1.3: If-None-Match takes the ETag as given (quotes and W/ included);
    # If-Modified-Since the Last-Modified exactly as the server sent it.
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _require_http(feed_url: str, chain: list[str]) -> None:
    current = chain[-1]
    if is_http_url(current):
        return
    if len(chain) == 1:
        raise FetchError(feed_url, "scheme", f"not an http(s) URL: {redact_url(current)!r}")
    raise FetchError(feed_url, "scheme", f"redirect to a non-http(s) URL: {redact_url(current)!r}")


def _redirect_target(feed_url: str, response: httpx.Response) -> str | None:
    if response.status_code not in _REDIRECTS:
        return None
    location = response.headers.get("location")
    if not location:
        raise FetchError(
            feed_url,
            "protocol",
            f"HTTP {response.status_code} redirect without a Location header",
            status=response.status_code,
        )
    return urljoin(str(response.url), str(location))  # RFC 9110 §10.2.2: may be relative


def _redirect_error(feed_url: str, chain: list[str], max_redirects: int) -> FetchError:
    if len(set(chain)) < len(chain):
        return FetchError(feed_url, "redirects", f"redirect loop after {max_redirects} hops")
    return FetchError(feed_url, "redirects", f"too many redirects: more than {max_redirects} hops")


def _status_error(feed_url: str, response: httpx.Response, now: datetime) -> FetchError:
    status = response.status_code
    text = f"HTTP {status} {_reason(response)}"
    if status == 410:
        return FeedGone(feed_url, "http", f"{text}: the publisher removed the feed", status=status)
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        if retry_after is not None:
            text = f"{text}, retry after {retry_after:.0f} s"
    return FetchError(feed_url, "http", text, status=status, retry_after=retry_after)


def _reason(response: httpx.Response) -> str:
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return excerpt(response.reason_phrase) if response.reason_phrase else "(unknown status)"


def _connect_error(feed_url: str, exc: httpx.ConnectError) -> FetchError:
    host = exc.request.url.host if _has_request(exc) else "the host"
    causes = list(_causes(exc))
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return FetchError(feed_url, "dns", f"DNS lookup failed for {host}: {exc}")
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return FetchError(feed_url, "connect", f"connection refused by {host}")
    return FetchError(feed_url, "connect", f"cannot connect to {host}: {exc}")


def _has_request(exc: httpx.RequestError) -> bool:
    try:
        exc.request  # noqa: B018  (raises RuntimeError when the transport set none)
    except RuntimeError:
        return False
    return True


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _read_body(
    feed_url: str, response: httpx.Response, limits: FetchLimits, deadline: float
) -> bytes:
    max_bytes = limits.max_bytes
    if response.is_stream_consumed:  # a transport (httpx.MockTransport) that already read it
        if len(response.content) > max_bytes:
            raise _too_large(feed_url, max_bytes, "")
        return response.content
    decoder = _Decoder(feed_url, response.headers.get("content-encoding", ""))
    declared = response.headers.get("content-length", "")
    if decoder.identity and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(feed_url, max_bytes, f" (Content-Length: {declared})")
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        if time.monotonic() > deadline:
            raise FetchError(
                feed_url,
                "timeout",
                f"body still arriving after the {limits.total_timeout:g} s deadline"
                f" (server trickling; {size} bytes read)",
            )
        piece = decoder.decode(chunk, max_bytes - size)
        size += len(piece)
        if size > max_bytes:
            raise _too_large(feed_url, max_bytes, "")
        parts.append(piece)
    decoder.finish()
    return b"".join(parts)


def _too_large(feed_url: str, max_bytes: int, detail: str) -> FetchError:
    return FetchError(feed_url, "too_large", f"body exceeds {max_bytes} bytes{detail}")


class _Decoder:
    """Content-Encoding (RFC 9110 §8.4.1) decoding that never inflates more than asked for."""

    def __init__(self, feed_url: str, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(
                feed_url, "protocol", f"unsupported Content-Encoding {content_encoding!r}"
            )
        self._feed_url = feed_url
        self._coding = codings[0] if codings else ""
        self._zlib: zlib._Decompress | None = None

    @property
    def identity(self) -> bool:
        return not self._coding

    def decode(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of `data`; at most `room` + 1 of them, so the caller sees an overflow."""
        if self.identity:
            return data
        if self._zlib is None:
            self._zlib = zlib.decompressobj(self._wbits(data))
        try:
            return self._zlib.decompress(data, room + 1)
        except zlib.error as exc:
            raise FetchError(self._feed_url, "protocol", f"cannot decompress body: {exc}") from exc

    def finish(self) -> None:
        if self._zlib is not None and not self._zlib.eof:
            raise FetchError(self._feed_url, "protocol", "compressed body is truncated")

    def _wbits(self, first: bytes) -> int:
        if self._coding in ("gzip", "x-gzip"):
            return 16 + zlib.MAX_WBITS
        # "deflate" is a zlib stream (RFC 9110 §8.4.1.2), but some servers send raw deflate.
        zlib_header = (
            len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        )
        return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One certificate-verifying TLS context for every Fetcher: loading the CA bundle is slow,
    and an SSLContext may be shared between threads."""
    return httpx.create_ssl_context()


def _ms_since(start: float) -> int:
    return int((time.monotonic() - start) * 1000)
