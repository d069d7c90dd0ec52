"""net.transport.LinearPool: httpcore's pooling decisions, kept by the pool make_client builds."""

from __future__ import annotations

import time

import pytest

from net.http import get, make_client
from net.transport import LinearPool
from tests.conftest import LoopbackServer

PAGE = b"<html><body><p>pooled</p></body></html>"


@pytest.fixture
def sites():
    """Four loopback servers (four origins), each recording the client port of every request to /p."""
    servers = []
    for _ in range(4):
        server = LoopbackServer()
        server.ports = []

        def handler(req, server=server):
            server.ports.append(req.client_address[1])
            req.send_response(200)
            req.send_header("Content-Type", "text/html")
            req.send_header("Content-Length", str(len(PAGE)))
            if req.path.endswith("close"):
                req.send_header("Connection", "close")
            if req.path.endswith("drop"):
                req.close_connection = True  # hangs up after the answer without saying so, as servers time out
            req.end_headers()
            req.wfile.write(PAGE)

        server.add("/p", handler=handler)
        server.add("/close", handler=handler)
        server.add("/drop", handler=handler)
        servers.append(server.start())
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def client(settings):
    client = make_client(settings)
    yield client
    client.close()


def _origins(client) -> list[int]:
    return [connection._origin.port for connection in client.transport._pool.connections]


def test_the_client_pools_its_connections_with_linear_pool(client):
    assert isinstance(client.transport._pool, LinearPool)


def test_requests_to_one_host_share_one_kept_alive_connection(sites, client, settings):
    for _ in range(5):
        assert get(client, sites[0].url("/p"), settings).body == PAGE
    assert len(set(sites[0].ports)) == 1
    assert len(client.transport._pool.connections) == 1


def test_idle_connections_over_the_keepalive_limit_are_closed_oldest_first(sites, client, settings):
    client.transport._pool._max_keepalive_connections = 2
    for site in sites:
        get(client, site.url("/p"), settings)
    ports = [int(site.base.rsplit(":", 1)[1]) for site in sites]
    assert _origins(client) == ports[2:]
    get(client, sites[3].url("/p"), settings)
    assert len(set(sites[3].ports)) == 1  # the kept connection was used again


def test_a_connection_the_server_closed_is_dropped_and_the_next_request_opens_another(sites, client, settings):
    get(client, sites[0].url("/close"), settings)
    assert get(client, sites[0].url("/p"), settings).body == PAGE
    assert len(set(sites[0].ports)) == 2
    assert len(client.transport._pool.connections) == 1


def test_a_kept_alive_connection_the_server_hung_up_is_not_reused(sites, client, settings, monkeypatch):
    monkeypatch.setattr(LinearPool, "SWEEP_INTERVAL", 3600.0)
    get(client, sites[0].url("/drop"), settings)
    time.sleep(0.1)
    assert get(client, sites[0].url("/p"), settings).body == PAGE
    assert len(set(sites[0].ports)) == 2


def test_a_full_pool_closes_an_idle_connection_to_make_room(sites, client, settings):
    pool = client.transport._pool
    pool._max_connections = pool._max_keepalive_connections = 2
    for site in sites:
        assert get(client, site.url("/p"), settings).body == PAGE
    assert len(pool.connections) == 2


def _outlive_keepalive(client, settings, site, monkeypatch, sweep_interval: float) -> None:
    """Fetch from `site`, then wait past the connection's keep-alive (50 ms) with sweeps `sweep_interval` apart."""
    monkeypatch.setattr(LinearPool, "SWEEP_INTERVAL", sweep_interval)
    client.transport._pool._keepalive_expiry = 0.05
    get(client, site.url("/p"), settings)
    time.sleep(0.2)


def test_a_connection_past_its_keepalive_is_not_reused_even_between_sweeps(sites, client, settings, monkeypatch):
    _outlive_keepalive(client, settings, sites[0], monkeypatch, sweep_interval=3600.0)
    get(client, sites[0].url("/p"), settings)
    assert len(set(sites[0].ports)) == 2
    assert len(client.transport._pool.connections) == 1


def test_the_sweep_closes_expired_connections_to_other_hosts(sites, client, settings, monkeypatch):
    _outlive_keepalive(client, settings, sites[0], monkeypatch, sweep_interval=0.1)
    get(client, sites[1].url("/p"), settings)
    assert _origins(client) == [int(sites[1].base.rsplit(":", 1)[1])]
