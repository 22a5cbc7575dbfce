"""Guards on one HTTP exchange that httpx's own timeouts cannot give: a deadline on the whole
exchange, cancellation at shutdown, and the rule against redirects into private networks.

Contract:
- `Guard.exchange(deadline)` (a context manager, entered on the fetching thread) opens an
  `Exchange`. Until it closes, every socket that thread connects, reads or writes through
  `GuardedBackend` belongs to it.
- Deadline: httpx's timeouts are per read, so a server that sends one header byte every few
  seconds never trips them. A watchdog thread shuts the exchange's sockets down when the deadline
  passes; the blocked read returns at once and `Exchange.expired` says why it failed (a body
  delimited by the connection's end may even look complete: callers must check `expired`).
- `Guard.cancel()` does the same to every exchange in flight and to every later one, so a
  stopping service never waits for a stuck server (`Exchange.cancelled`).
- Address rule (`AddressPolicy`): once an exchange has talked to a public address, it may not
  talk to a non-public one (loopback, private, link-local and cloud metadata, shared,
  reserved): a public feed cannot redirect us into the network we run in. The check is on the
  peer address of the socket itself, at connect and before every read and write, so a host name
  resolving to a private address, DNS rebinding and a kept-alive pooled connection are all
  caught before a byte of the request is sent. Feeds configured on a private address stay
  allowed: the rule is about the hop from public to private. `AddressRefused` is raised.

`guard_client()` routes every connection of an httpx client through this, proxied ones too
(through a proxy the peer is the proxy, so the address rule sees the proxy's address, not the
feed's: it cannot apply there; the deadline does).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_current = threading.local()  # .exchange: the Exchange open on this thread, if any


def is_public_address(ip: IPAddress) -> bool:
    """True for a unicast address on the public internet (IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def address_kind(ip: IPAddress) -> str:
    """What a non-public address is, in words for an error message."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip == ipaddress.IPv4Address("169.254.169.254"):
        return "cloud metadata"
    for test, kind in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
    ):
        if test:
            return kind
    return "non-public"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which peer addresses an exchange may use. `is_public` is injectable for tests, which
    cannot reach a public address and so declare one of their loopback addresses public."""

    allow_private: bool = False  # defaults.allow_private_networks
    is_public: Callable[[IPAddress], bool] = is_public_address


class AddressRefused(Exception):
    """A hop from a public address into a non-public one; the message says where and how to
    allow it."""


class Exchange:
    """One fetch (all its redirect hops) as the guard sees it."""

    def __init__(self, deadline: float, policy: AddressPolicy) -> None:
        self.deadline = deadline
        self.expired = False  # the deadline passed, or the exchange was cancelled
        self.cancelled = False
        self._policy = policy
        self._public_seen = False
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def attach(self, sock: socket.socket) -> None:
        """Called before each use of `sock` on the exchange's thread."""
        self._check_address(sock)
        with self._lock:
            if self.expired:
                _shutdown(sock)  # the watchdog came first: fail this read at once
            else:
                self._sockets.add(sock)

    def expire(self, *, cancelled: bool = False) -> None:
        with self._lock:
            self.expired = True
            self.cancelled = self.cancelled or cancelled
            for sock in self._sockets:
                _shutdown(sock)

    def release(self) -> None:
        with self._lock:
            self._sockets.clear()  # a kept-alive socket now belongs to the pool, not to us

    def _check_address(self, sock: socket.socket) -> None:
        if self._policy.allow_private:
            return
        peer = _peer(sock)
        if peer is None:
            return  # not connected (any more): the read or write itself will fail
        if self._policy.is_public(peer):
            self._public_seen = True
        elif self._public_seen:
            raise AddressRefused(
                f"redirect from a public address into {peer} ({address_kind(peer)}) refused;"
                " set defaults.allow_private_networks: true if your feeds live there"
            )


class Guard:
    """The exchanges in flight, and the one watchdog thread that ends them at their deadline."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._cond = threading.Condition()
        self._active: set[Exchange] = set()
        self._cancelled = False
        self._watchdog: threading.Thread | None = None
        self._wakes_at = float("inf")  # when the watchdog wakes next (monotonic)

    @contextlib.contextmanager
    def exchange(self, deadline: float) -> Iterator[Exchange]:
        exchange = Exchange(deadline, self.policy)
        with self._cond:
            if self._cancelled:
                exchange.expire(cancelled=True)
            self._active.add(exchange)
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name="fetch-watchdog", daemon=True
                )
                self._wakes_at = deadline
                self._watchdog.start()
            elif deadline < self._wakes_at:
                # Woken only for a deadline sooner than the one it waits for: not for every
                # exchange, nor when one ends (it finds it gone when it wakes). Each wake-up is
                # a thread switch the poll workers pay for.
                self._wakes_at = deadline
                self._cond.notify()
        _current.exchange = exchange
        try:
            yield exchange
        finally:
            _current.exchange = None
            with self._cond:
                self._active.discard(exchange)
            exchange.release()

    def cancel(self) -> None:
        """End every exchange in flight now, and every later one as soon as it starts."""
        with self._cond:
            self._cancelled = True
            for exchange in self._active:
                exchange.expire(cancelled=True)

    def _watch(self) -> None:
        with self._cond:
            while self._active:
                now = time.monotonic()
                waiting = [e for e in self._active if not e.expired]
                for exchange in waiting:
                    if exchange.deadline <= now:
                        exchange.expire()
                left = [e.deadline for e in waiting if e.deadline > now]
                self._wakes_at = min(left, default=float("inf"))
                self._cond.wait(timeout=self._wakes_at - now if left else None)
            self._watchdog = None  # the next exchange starts a new one


def current_exchange() -> Exchange | None:
    exchange: Exchange | None = getattr(_current, "exchange", None)
    return exchange


class GuardedStream(httpcore.NetworkStream):
    """A socket stream that reports itself to the exchange of the thread using it."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")

    def watch(self) -> None:
        exchange = current_exchange()
        if exchange is not None and self._sock is not None:
            exchange.attach(self._sock)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.watch()
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.watch()
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self.watch()
        return GuardedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, with every stream guarded."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = GuardedStream(
            self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )
        try:
            stream.watch()  # refuse a private peer before even the TLS handshake
        except BaseException:
            stream.close()
            raise
        return stream

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guard_client(client: httpx.Client) -> None:
    """Route every connection `client` makes through `GuardedBackend`: the direct one and those
    through a proxy from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY).

    httpx has no public way to choose httpcore's network backend, so it is set on the connection
    pools httpx built. Connections are made lazily, so every connection uses it. A transport
    given by the caller (a test's `httpx.MockTransport`) is left alone.
    """
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        if isinstance(transport, httpx.HTTPTransport):
            transport._pool._network_backend = GuardedBackend()


def _peer(sock: socket.socket) -> IPAddress | None:
    try:
        address = sock.getpeername()[0]
    except OSError:
        return None
    try:
        return ipaddress.ip_address(str(address).split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None


def _shutdown(sock: socket.socket) -> None:
    # shutdown(), not close(): it wakes a thread blocked in recv() on this socket at once.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
