"""The network layer under httpx: which addresses a fetch may reach, and a deadline every socket call obeys.

`GuardedBackend` is an httpcore network backend: it checks the peer address of every new connection (so a
DNS answer that changed since `check_host` ran cannot smuggle a request to an internal service), and clamps
each connect, read and write to the deadline `get` set for the fetch in progress. `LinearPool` is httpcore's
connection pool without its quadratic bookkeeping.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import ssl
import time
from contextvars import ContextVar
from typing import Any, Iterable

import httpcore

LOGGER = logging.getLogger(__name__)

# Monotonic time by which the fetch running in this thread must be done; None outside `get`.
DEADLINE: ContextVar[float | None] = ContextVar("wiredesk_fetch_deadline", default=None)

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """A host resolved to an address a fetch must not reach (loopback, private, metadata...)."""

    def __init__(self, host: str, address: str):
        super().__init__(f"{host} resolves to non-public address {address}")
        self.host = host
        self.address = address


def is_public_address(ip: IPAddress) -> bool:
    """True when `ip` is a globally routable unicast address that is not a cloud metadata endpoint."""
    if ip in _METADATA:
        return False
    if ip.version == 6:
        if ip.ipv4_mapped is not None or ip.teredo is not None:
            return False
        embedded = ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None:
            return is_public_address(embedded)
    elif ip in _CGNAT:
        return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def _parse_ip(address: str) -> IPAddress:
    """An IP address from a sockaddr string, without an IPv6 zone suffix."""
    return ipaddress.ip_address(address.split("%", 1)[0])


def check_host(host: str, port: int) -> None:
    """Resolve `host` and raise AddressRefused if any of its addresses is not public (OSError if it does not resolve)."""
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if not is_public_address(_parse_ip(sockaddr[0])):
            raise AddressRefused(host, sockaddr[0])


def _remaining(timeout: float | None) -> float | None:
    """`timeout` clamped to the current fetch deadline; raises a timeout once the deadline has passed."""
    deadline = DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("total fetch deadline exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read and write ends by the fetch deadline."""

    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, refusing non-public peers (unless allowed) and obeying the fetch deadline."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = super().connect_tcp(host, port, _remaining(timeout), local_address, socket_options)
        if not self.allow_private:
            # The address actually connected to, not the one an earlier lookup saw: closes the DNS-rebinding gap.
            peer = stream.get_extra_info("server_addr")[0]
            if not is_public_address(_parse_ip(peer)):
                stream.close()
                LOGGER.warning("refused connection to %s (%s)", host, peer)
                raise AddressRefused(host, peer)
        return _DeadlineStream(stream)


class LinearPool(httpcore.ConnectionPool):
    """httpcore's connection pool, its bookkeeping pass done in one walk, its expiry sweep once a second.

    httpcore 1.0.9 counts every pooled connection again for each idle one, in a pass it runs twice a request
    (encode/httpcore#1035; httpcore2 rewrote it, pydantic/httpx2#974), and asks each idle socket whether the
    server closed it (a poll() each): with 20 kept-alive connections, as a worker holds once it has fetched from
    20 hosts, a pass cost 131 µs, 30% of a page fetch's CPU. The decisions are httpcore's: drop closed
    connections, close expired ones, close idle ones (oldest first) while more than `max_keepalive_connections`
    remain, then give each queued request an available connection to its origin, else a new one while under
    `max_connections`, else a new one in place of an idle one. Only when is moved: the pool is swept for
    expired connections at most every SWEEP_INTERVAL (so a keep-alive ends up to that much late), and the
    connection a request is about to reuse is always checked first.
    """

    SWEEP_INTERVAL = 1.0  # seconds
    _swept = -math.inf  # monotonic time of the last sweep

    def _assign_requests_to_connections(self) -> list[httpcore.ConnectionInterface]:
        now = time.monotonic()
        sweep = now - self._swept >= self.SWEEP_INTERVAL
        if sweep:
            self._swept = now
        closing = []
        kept = []
        for connection in self._connections:
            if connection.is_closed():
                continue
            if sweep and connection.has_expired():
                closing.append(connection)
            else:
                kept.append(connection)
        surplus = len(kept) - self._max_keepalive_connections
        if surplus > 0:
            idle = [connection for connection in kept if connection.is_idle()][:surplus]
            closing += idle
            kept = [connection for connection in kept if connection not in idle]
        self._connections = kept
        for pool_request in [request for request in self._requests if request.is_queued()]:
            connection = self._reusable(pool_request.request.url.origin, closing)
            if connection is None and len(kept) >= self._max_connections:
                idle = next((c for c in kept if c.is_idle()), None)
                if idle is None:
                    continue  # the request waits for a connection to come free
                kept.remove(idle)
                closing.append(idle)
            if connection is None:
                connection = self.create_connection(pool_request.request.url.origin)
                kept.append(connection)
            pool_request.assign_to_connection(connection)
        return closing

    def _reusable(self, origin: httpcore.Origin, closing: list) -> httpcore.ConnectionInterface | None:
        """The first available connection to `origin` that has not expired; expired ones met on the way close."""
        for connection in [c for c in self._connections if c.can_handle_request(origin) and c.is_available()]:
            if not connection.has_expired():
                return connection
            self._connections.remove(connection)
            closing.append(connection)
        return None
