"""fetch_page: HTML only, non-empty, decoded to the right text whatever the server declared."""

from __future__ import annotations

import codecs
import encodings.aliases
import gzip

import pytest

from net.http import EmptyBody, HTTPStatusError, NotHTML
from net.http import make_client
from workers.fetch import decode_html, fetch_page

FRENCH = "« L’armée a frappé “fort” à Kharkiv », a déclaré le général — une œuvre de café naïve."
SPANISH = "Izaskun Lesaka pasó a la cúpula de ETA; la detuvieron a 30 kilómetros de la frontera."
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def _page(text: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><p>{text}</p></body></html>"


@pytest.fixture
def client(settings):
    with make_client(settings) as client:
        yield client


def test_html_page_is_fetched_and_decoded(http_server, client, settings):
    url = http_server.add("/a", _page(FRENCH))
    page = fetch_page(client, url, settings)
    assert FRENCH in page.text
    assert (page.status, page.content_type, page.encoding, page.final_url) == (200, "text/html", "utf-8", url)
    assert "text/html" in http_server.requests[0][1]["Accept"]


def test_windows_1252_without_any_charset_comes_out_right(http_server, client, settings):
    body = _page(FRENCH).encode("cp1252")
    url = http_server.add("/cp", body, headers={"Content-Type": "text/html"})
    page = fetch_page(client, url, settings)
    assert FRENCH in page.text and page.encoding == "cp1252"


def test_latin1_label_is_decoded_as_windows_1252(http_server, client, settings):
    url = http_server.add("/l1", _page(FRENCH).encode("cp1252"), headers={"Content-Type": "text/html; charset=ISO-8859-1"})
    assert FRENCH in fetch_page(client, url, settings).text


def test_header_charset_wins_over_meta(http_server, client, settings):
    body = _page("Привет, Харьков", head='<meta charset="windows-1252">').encode("koi8-r")
    url = http_server.add("/koi", body, headers={"Content-Type": "text/html; charset=KOI8-R"})
    page = fetch_page(client, url, settings)
    assert "Привет, Харьков" in page.text and page.encoding == "koi8-r"


def test_meta_charset_is_used_without_header_charset(http_server, client, settings):
    head = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
    url = http_server.add("/m", _page("Привет, Харьков", head=head).encode("cp1251"), headers={"Content-Type": "text/html"})
    page = fetch_page(client, url, settings)
    assert "Привет, Харьков" in page.text and page.encoding == "cp1251"


def test_header_utf8_contradicted_by_the_bytes_falls_back_to_detection():
    text, encoding = decode_html(_page(FRENCH).encode("cp1252"), "text/html; charset=utf-8")
    assert FRENCH in text and encoding == "cp1252"


@pytest.mark.parametrize(("content_type", "head"), [
    ("text/html", '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">'),
    ("text/html; charset=ISO-8859-1", ""),
    ("text/html; charset=windows-1252", '<meta charset="windows-1252">'),
])
def test_utf8_bytes_declared_as_a_single_byte_charset_are_decoded_as_utf8(content_type, head):
    text, encoding = decode_html(_page(SPANISH, head=head).encode(), content_type)
    assert SPANISH in text and encoding == "utf-8"


def test_real_utf8_page_whose_meta_says_latin9_keeps_its_accents(corpus):
    text, _ = decode_html((corpus / "goose3" / "test_elmondo1.html").read_bytes(), "text/html")
    assert "kilómetros" in text and "Ã" not in text


def test_bom_decides_the_encoding():
    text, encoding = decode_html(codecs.BOM_UTF8 + _page(FRENCH).encode(), "text/html; charset=iso-8859-1")
    assert text.startswith("<html>") and FRENCH in text and encoding == "utf-8"


# Python codec names no browser knows as a charset: bytes-to-bytes codecs, and EBCDIC, which reads
# ASCII-compatible bytes as garbage.
NOT_BROWSER_CHARSETS = ["hex", "base64", "rot13", "zlib", "bz2", "uu", "quopri", "idna", "punycode", "cp037"]


@pytest.mark.parametrize("label", NOT_BROWSER_CHARSETS)
def test_header_charset_browsers_do_not_know_is_ignored_for_the_meta_one(label):
    body = _page(FRENCH, head='<meta charset="windows-1252">').encode("cp1252")
    text, encoding = decode_html(body, f"text/html; charset={label}")
    assert FRENCH in text and encoding == "cp1252"


@pytest.mark.parametrize("label", NOT_BROWSER_CHARSETS)
def test_meta_charset_browsers_do_not_know_is_ignored_for_detection(label):
    text, encoding = decode_html(_page(FRENCH, head=f'<meta charset="{label}">').encode("cp1252"), "text/html")
    assert FRENCH in text and encoding == "cp1252"


def test_a_later_meta_charset_counts_when_an_earlier_one_is_unknown():
    # Detection would read these ISO-8859-15 bytes as windows-1252 ("c½ur", "5 ¤"): only the second meta gets it right.
    head = '<meta charset="rot13"><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">'
    text, encoding = decode_html(_page("Le cœur coûte 5 €", head=head).encode("iso-8859-15"), "text/html")
    assert "Le cœur coûte 5 €" in text and encoding == "iso8859-15"


def test_no_python_codec_named_as_charset_makes_decoding_fail():
    body = _page(FRENCH).encode("cp1252")
    for label in sorted(set(encodings.aliases.aliases.values())):
        decode_html(body, f"text/html; charset={label}")
        decode_html(_page(FRENCH, head=f'<meta charset="{label}">').encode("cp1252"))


def test_gzip_encoded_page_is_decoded(http_server, client, settings):
    url = http_server.add("/gz", gzip.compress(_page(FRENCH).encode()), headers={"Content-Encoding": "gzip"})
    assert FRENCH in fetch_page(client, url, settings).text


def test_binary_body_is_not_html(http_server, client, settings):
    url = http_server.add("/img", PNG, headers={"Content-Type": "image/png"})
    with pytest.raises(NotHTML) as caught:
        fetch_page(client, url, settings)
    assert caught.value.reason == "not-html" and not caught.value.transient


def test_png_mislabelled_as_html_is_not_html(http_server, client, settings):
    url = http_server.add("/fake", PNG, headers={"Content-Type": "text/html"})
    with pytest.raises(NotHTML):
        fetch_page(client, url, settings)


@pytest.mark.parametrize("content_type", ["application/pdf", "application/json", "text/plain"])
def test_other_types_are_not_html(http_server, client, settings, content_type):
    url = http_server.add("/x", b"<html>not really</html>", headers={"Content-Type": content_type})
    with pytest.raises(NotHTML):
        fetch_page(client, url, settings)


def test_page_without_content_type_is_sniffed(http_server, client, settings):
    def no_type(body):
        def handler(req):
            req.send_response(200)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)

        return handler

    html = http_server.add("/html", handler=no_type(b"  <!DOCTYPE html>" + _page(FRENCH).encode()))
    binary = http_server.add("/bin", handler=no_type(b"\x00\x01binary stuff"))
    assert FRENCH in fetch_page(client, html, settings).text
    with pytest.raises(NotHTML):
        fetch_page(client, binary, settings)


@pytest.mark.parametrize("body", [b"", b"  \r\n "])
def test_empty_body_is_reported(http_server, client, settings, body):
    url = http_server.add("/empty", body)
    with pytest.raises(EmptyBody) as caught:
        fetch_page(client, url, settings)
    assert caught.value.reason == "empty-body" and not caught.value.transient


def test_http_errors_pass_through(http_server, client, settings):
    url = http_server.add("/gone", b"", status=410)
    with pytest.raises(HTTPStatusError):
        fetch_page(client, url, settings)


def test_xhtml_is_html(http_server, client, settings):
    url = http_server.add("/x", _page(FRENCH), headers={"Content-Type": "application/xhtml+xml; charset=utf-8"})
    assert fetch_page(client, url, settings).content_type == "application/xhtml+xml"
