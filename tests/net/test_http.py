"""net.http.get against a real loopback server with misbehaving routes."""

from __future__ import annotations

import base64
import email.utils
import gzip
import threading
import time
import tracemalloc
import zlib

import pytest

from net.http import (
    BadEncoding,
    BadURL,
    ConnectError,
    HTTPStatusError,
    PrivateAddress,
    Timeout,
    TooLarge,
    TooManyRedirects,
    TruncatedBody,
    get,
    make_client,
    parse_retry_after,
    redact_url,
)
from net.transport import AddressRefused
from tests.conftest import LoopbackServer

PAGE = b"<html><head><title>t</title></head><body><p>Hello</p></body></html>"


@pytest.fixture
def fetch(settings):
    """get() with a fresh client; keyword arguments override settings."""
    clients = []

    def _fetch(url, **overrides):
        conf = settings.model_copy(update=overrides)
        client = make_client(conf)
        clients.append(client)
        return get(client, url, conf)

    yield _fetch
    for client in clients:
        client.close()


def _quietly(write):
    """Run a server-side write loop, stopping when the client hangs up."""
    try:
        write()
    except (BrokenPipeError, ConnectionResetError):
        pass


def _streaming_handler(chunks, headers, written=None):
    """A handler that sends `headers` then each chunk of the `chunks` iterable, without Content-Length."""

    def handler(req):
        req.close_connection = True
        req.send_response(200)
        for key, value in headers.items():
            req.send_header(key, value)
        req.send_header("Connection", "close")
        req.end_headers()

        def write():
            for chunk in chunks:
                req.wfile.write(chunk)
                req.wfile.flush()
                if written is not None:
                    written.append(len(chunk))

        _quietly(write)

    return handler


def test_plain_page_is_fetched_with_headers_and_user_agent(http_server, fetch, settings):
    url = http_server.add("/p", PAGE, headers={"ETag": '"x1"'})
    response = fetch(url)
    assert (response.status, response.body, response.final_url) == (200, PAGE, url)
    assert response.headers["etag"] == '"x1"'
    assert http_server.requests[0][1]["User-Agent"] == settings.user_agent


def test_slow_response_times_out(http_server, fetch):
    def slow(req):
        _quietly(lambda: (time.sleep(2), req.send_response(200), req.end_headers()))

    url = http_server.add("/slow", handler=slow)
    started = time.monotonic()
    with pytest.raises(Timeout) as caught:
        fetch(url, fetch_read_timeout=0.5)
    assert caught.value.transient and time.monotonic() - started < 1.5


def test_body_drip_ends_at_total_deadline_though_each_byte_beats_read_timeout(http_server, fetch):
    def drip():
        for _ in range(40):
            time.sleep(0.25)
            yield b"x"

    url = http_server.add("/drip", handler=_streaming_handler(drip(), {"Content-Type": "text/html"}))
    started = time.monotonic()
    with pytest.raises(Timeout, match="total deadline"):
        fetch(url, fetch_read_timeout=5, fetch_total_timeout=1.0)
    assert time.monotonic() - started < 1.6


def test_header_drip_ends_at_total_deadline(http_server, fetch):
    def handler(req):
        def write():
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: " + b"a" * 40:
                req.wfile.write(bytes([byte]))
                req.wfile.flush()
                time.sleep(0.05)

        _quietly(write)

    url = http_server.add("/hdrip", handler=handler)
    started = time.monotonic()
    with pytest.raises(Timeout):
        fetch(url, fetch_read_timeout=5, fetch_total_timeout=1.0)
    assert time.monotonic() - started < 1.6


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_is_transient(http_server, fetch, status):
    url = http_server.add("/e", b"oops", status=status)
    with pytest.raises(HTTPStatusError) as caught:
        fetch(url)
    assert (caught.value.status, caught.value.transient, caught.value.reason) == (status, True, f"http-{status}")


@pytest.mark.parametrize("status", [404, 410, 403])
def test_client_error_is_permanent(http_server, fetch, status):
    url = http_server.add("/gone", b"", status=status)
    with pytest.raises(HTTPStatusError) as caught:
        fetch(url)
    assert caught.value.status == status and not caught.value.transient


def test_429_carries_retry_after_seconds(http_server, fetch):
    url = http_server.add("/busy", b"", status=429, headers={"Retry-After": "120"})
    with pytest.raises(HTTPStatusError) as caught:
        fetch(url)
    assert caught.value.transient and caught.value.retry_after == 120.0


def test_503_carries_retry_after_http_date(http_server, fetch):
    when = email.utils.formatdate(time.time() + 90, usegmt=True)
    url = http_server.add("/down", b"", status=503, headers={"Retry-After": when})
    with pytest.raises(HTTPStatusError) as caught:
        fetch(url)
    assert 85 <= caught.value.retry_after <= 91


def test_retry_after_garbage_and_past_dates():
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retry_after_of_digits_float_cannot_read_is_unreadable_not_an_error():
    # "²" is a digit to str.isdigit, not to float(); httpx reads header bytes as UTF-8 or Latin-1, so it can come.
    assert parse_retry_after("²") is None and parse_retry_after("1²") is None


def test_304_is_returned_not_raised(http_server, fetch):
    url = http_server.add("/same", b"", status=304)
    assert fetch(url).status == 304


def test_60mb_stream_is_cut_off_early_without_holding_it(http_server, fetch):
    written = []
    chunks = (b"a" * 65536 for _ in range(960))  # 60 MB, produced lazily
    url = http_server.add("/huge", handler=_streaming_handler(chunks, {"Content-Type": "text/html"}, written))
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            fetch(url, fetch_max_bytes=1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000
    assert sum(written) < 10_000_000  # the client hung up long before 60 MB


def test_content_length_over_cap_is_refused_before_reading(http_server, fetch):
    def handler(req):
        req.send_response(200)
        req.send_header("Content-Length", "60000000")
        req.end_headers()
        _quietly(lambda: req.wfile.write(b"a" * 1000))

    url = http_server.add("/declared", handler=handler)
    with pytest.raises(TooLarge, match="Content-Length"):
        fetch(url, fetch_max_bytes=1_000_000)


def _gzip_bomb(decompressed_mb: int) -> bytes:
    """A gzip stream of `decompressed_mb` megabytes of zeros, built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(decompressed_mb)) + packer.flush()


def test_gzip_bomb_is_cut_off_while_inflating(http_server, fetch):
    bomb = _gzip_bomb(200)
    assert len(bomb) < 300_000
    url = http_server.add("/bomb", bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            fetch(url, fetch_max_bytes=2_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000


def test_gzip_and_raw_deflate_bodies_are_decoded(http_server, fetch):
    gz = http_server.add("/gz", gzip.compress(PAGE), headers={"Content-Encoding": "gzip"})
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = http_server.add("/raw", packer.compress(PAGE) + packer.flush(), headers={"Content-Encoding": "deflate"})
    assert fetch(gz).body == PAGE
    assert fetch(raw).body == PAGE


def _deflate(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(("encoding", "wbits"), [("gzip", zlib.MAX_WBITS | 16), ("deflate", zlib.MAX_WBITS),
                                                 ("deflate", -zlib.MAX_WBITS)])
def test_compressed_body_cut_short_is_reported_not_returned(http_server, fetch, encoding, wbits):
    whole = _deflate(PAGE * 50, wbits)
    # Content-Length matches the bytes sent: only the compressed stream shows the rest is missing.
    url = http_server.add("/cut", whole[: len(whole) // 2], headers={"Content-Encoding": encoding})
    with pytest.raises(TruncatedBody) as caught:
        fetch(url)
    assert caught.value.reason == "truncated-body" and caught.value.transient


@pytest.mark.parametrize("encoding, body", [("gzip", b"\x1f\x8bnot gzip at all"), ("br", b"\x0b\x02\x80")])
def test_corrupt_or_unsupported_encoding_is_reported(http_server, fetch, encoding, body):
    url = http_server.add("/enc", body, headers={"Content-Encoding": encoding})
    with pytest.raises(BadEncoding) as caught:
        fetch(url)
    assert caught.value.reason == "bad-encoding" and not caught.value.transient


def test_redirect_loop_is_detected(http_server, fetch):
    http_server.add("/a", status=302, headers={"Location": "/b"})
    url = http_server.add("/b", status=301, headers={"Location": http_server.url("/a")})
    with pytest.raises(TooManyRedirects) as caught:
        fetch(url)
    assert caught.value.reason == "redirect-loop" and not caught.value.transient


def test_redirect_chain_longer_than_cap_is_refused(http_server, fetch):
    for hop in range(6):
        http_server.add(f"/r{hop}", status=302, headers={"Location": f"/r{hop + 1}"})
    http_server.add("/r6", PAGE)
    with pytest.raises(TooManyRedirects, match="more than 5"):
        fetch(http_server.url("/r0"), fetch_max_redirects=5)
    assert fetch(http_server.url("/r1"), fetch_max_redirects=5).body == PAGE


def test_relative_redirect_is_resolved_and_recorded(http_server, fetch):
    start = http_server.add("/news/old/story", status=301, headers={"Location": "../new/story#top"})
    final = http_server.add("/news/new/story", PAGE)
    response = fetch(start)
    assert (response.final_url, response.redirects, response.permanent_redirect) == (final, [start], True)


def test_redirect_that_sets_a_cookie_and_comes_back_is_followed(http_server, fetch):
    def gate(req):
        req.send_response(200 if "seen=1" in req.headers.get("Cookie", "") else 302)
        req.send_header("Set-Cookie", "seen=1; Path=/")
        req.send_header("Location", "/gate")
        req.send_header("Content-Length", str(len(PAGE)))
        req.end_headers()
        req.wfile.write(PAGE)

    url = http_server.add("/gate", handler=gate)
    assert fetch(url).body == PAGE


def test_redirect_to_another_scheme_is_refused(http_server, fetch):
    url = http_server.add("/ftp", status=302, headers={"Location": "ftp://example.org/file"})
    with pytest.raises(BadURL):
        fetch(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "http:///nohost", "javascript:alert(1)"])
def test_non_http_urls_are_refused(fetch, url):
    with pytest.raises(BadURL):
        fetch(url)


def test_loopback_is_refused_with_guard_on_and_fetched_with_it_off(http_server, fetch):
    url = http_server.add("/p", PAGE)
    with pytest.raises(PrivateAddress) as caught:
        fetch(url, allow_private_hosts=False)
    assert caught.value.reason == "private-address" and not caught.value.transient
    assert http_server.hits == {}
    assert fetch(url, allow_private_hosts=True).body == PAGE


@pytest.mark.parametrize(
    "host", ["localhost", "10.1.2.3", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0.0.0.0"]
)
def test_private_and_metadata_hosts_are_refused(fetch, host):
    with pytest.raises(PrivateAddress):
        fetch(f"http://{host}/latest/meta-data/", allow_private_hosts=False)


def test_connect_time_check_refuses_loopback_even_without_the_precheck(http_server, settings):
    url = http_server.add("/p", PAGE)
    with make_client(settings.model_copy(update={"allow_private_hosts": False})) as client:
        with pytest.raises(AddressRefused):
            client.get(url)  # bypasses get()'s DNS pre-check: the network backend must still refuse
    assert http_server.hits == {}


def test_connect_time_refusal_surfaces_from_get_as_private_address(http_server, settings):
    url = http_server.add("/p", PAGE)
    with make_client(settings.model_copy(update={"allow_private_hosts": False})) as guarded:
        with pytest.raises(PrivateAddress):
            get(guarded, url, settings)  # settings skip the DNS pre-check; the socket layer still refuses


def test_unreachable_port_is_a_transient_connect_error(fetch):
    with pytest.raises(ConnectError) as caught:
        fetch("http://127.0.0.1:9/")
    assert caught.value.transient


def test_concurrent_gets_on_one_client_from_threads(http_server, settings):
    urls = [http_server.add(f"/t{i}", PAGE + str(i).encode()) for i in range(16)]
    results = {}
    with make_client(settings) as client:
        threads = [
            threading.Thread(target=lambda u=u: results.__setitem__(u, get(client, u, settings).body)) for u in urls
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == {u: PAGE + str(i).encode() for i, u in enumerate(urls)}


def _auth_recorder(seen):
    """A handler that records each request's Authorization header and answers 401 without one."""

    def handler(req):
        auth = req.headers.get("Authorization")
        seen.append(auth)
        req.send_response(200 if auth else 401)
        req.send_header("Content-Length", str(len(PAGE)))
        req.end_headers()
        req.wfile.write(PAGE)

    return handler


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(http_server, fetch):
    seen = []
    http_server.add("/private", handler=_auth_recorder(seen))
    url = http_server.url("/private").replace("http://", "http://alice:p%40ss@")
    assert fetch(url).body == PAGE
    assert seen == ["Basic " + base64.b64encode(b"alice:p@ss").decode()]
    with pytest.raises(HTTPStatusError) as raised:
        fetch(http_server.url("/gone").replace("http://", "http://alice:s3cret@"))
    assert "s3cret" not in str(raised.value) and "alice:***@" in str(raised.value)


def test_credentials_follow_a_redirect_within_their_origin_only(http_server, fetch):
    other = LoopbackServer().start()
    try:
        here, there = [], []
        http_server.add("/private", handler=_auth_recorder(here))
        other.add("/elsewhere", handler=_auth_recorder(there))
        http_server.add("/same", status=302, headers={"Location": "/private"})
        http_server.add("/away", status=302, headers={"Location": other.url("/elsewhere")})
        with_credentials = http_server.url("/").replace("http://", "http://alice:s3cret@")
        assert fetch(with_credentials + "same").status == 200
        with pytest.raises(HTTPStatusError):
            fetch(with_credentials + "away")
        assert here == [here[0]] and here[0].startswith("Basic ") and there == [None]
    finally:
        other.stop()


def test_redact_url_hides_only_the_password():
    assert redact_url("https://alice:s3cret@example.org:8443/feed?x=1") == "https://alice:***@example.org:8443/feed?x=1"
    assert redact_url("https://alice@example.org/feed") == "https://alice@example.org/feed"
    assert redact_url("https://example.org/feed") == "https://example.org/feed"
