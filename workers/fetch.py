"""Fetch an article page: safe GET, HTML only, decoded to text the way a browser would."""

from __future__ import annotations

import codecs
import logging
import re
from datetime import datetime, timezone
from functools import cache

import charset_normalizer
import httpx

from config import Settings
from net.http import EmptyBody, NotHTML, get
from workers.records import FetchedPage

LOGGER = logging.getLogger(__name__)

ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
HTML_TYPES = ("text/html", "application/xhtml+xml")

# Labels browsers decode differently from Python's codec of the same name (WHATWG Encoding Standard).
_WHATWG_ALIASES = {
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "big5": "big5hkscs",
    # A document that reached us as bytes and names UTF-16 in a <meta> is really ASCII-compatible.
    "utf-16": "utf-8",
    "utf-16le": "utf-8",
    "utf-16be": "utf-8",
}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.I)
_HTML_START = re.compile(rb"\s*<(?:!doctype\s+html|html|head|body|title|meta|!--)", re.I)
_BINARY_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"RIFF", b"\x00\x00\x01\x00")
_PRESCAN_BYTES = 4096
# The bytes a legacy code page reads as one character each and a multi-byte codec partly as lead bytes of pairs.
_HIGH_BYTES = bytes(range(0x80, 0x100))


def fetch_page(client: httpx.Client, url: str, settings: Settings) -> FetchedPage:
    """Fetch `url` and return it as a FetchedPage with its text decoded.

    Raises:
        NotHTML: the content type (or, without one, the bytes) is not HTML.
        EmptyBody: the answer has no content.
        any other net.http.FetchError from `get`.
    """
    response = get(client, url, settings, headers={"Accept": ACCEPT_HTML})
    if not response.body.strip():
        raise EmptyBody(url)
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not is_html(media_type, response.body):
        raise NotHTML(url, media_type or "no content type, and the bytes are not HTML")
    text, encoding = decode_html(response.body, content_type)
    return FetchedPage(
        url=url,
        final_url=response.final_url,
        status=response.status,
        content_type=media_type or "text/html",
        headers=response.headers,
        body=response.body,
        text=text,
        encoding=encoding,
        fetched_at=datetime.now(timezone.utc),
        redirects=response.redirects,
    )


def is_html(media_type: str, body: bytes) -> bool:
    """True for an HTML media type whose bytes are not an obvious binary, or no type and bytes that look like HTML."""
    if body.startswith(_BINARY_MAGIC):
        return False
    if media_type:
        return media_type in HTML_TYPES
    head = body[:1024].removeprefix(codecs.BOM_UTF8)
    return b"\x00" not in head and _HTML_START.match(head) is not None


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode an HTML body: BOM, then the HTTP charset, then <meta charset>, then detection; return (text, codec).

    A declared single-byte charset yields to UTF-8 when the bytes are UTF-8 with multi-byte sequences: such a
    code page decodes any bytes, so it would "fit" UTF-8 and turn "kilómetros" into "kilÃ³metros".
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace"), encoding
    header = _HEADER_CHARSET.search(content_type)
    meta = _META_CHARSET.search(body[:_PRESCAN_BYTES])
    declared = (header and _codec(header.group(1)), meta and _codec(meta.group(1).decode("ascii")))
    for encoding in filter(None, declared):
        # Genuine windows-1252 or ISO-8859 text is almost never valid UTF-8 once it has a non-ASCII byte.
        if _is_single_byte(encoding) and _is_multibyte_utf8(body):
            LOGGER.debug("declared charset %s on UTF-8 bytes; decoding them as UTF-8", encoding)
            return body.decode("utf-8"), "utf-8"
        try:
            return body.decode(encoding), encoding
        except UnicodeDecodeError:
            LOGGER.debug("declared charset %s does not fit the bytes; trying the next source", encoding)
    # No declaration, or one the bytes contradict (a server default of UTF-8 on a windows-1252 page).
    encoding = detect_encoding(body)
    return body.decode(encoding, errors="replace"), encoding


def detect_encoding(body: bytes) -> str:
    """Guess the codec of undeclared bytes: UTF-8 if they are valid UTF-8, windows-1252 when it fits as well as any."""
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    matches = charset_normalizer.from_bytes(body)
    best = matches.best()
    if best is None:
        return "cp1252"
    # charset_normalizer ranks Latin code pages by a thin margin (French cp1252 text often comes out as
    # cp1250, turning "œ" into "ś"); browsers default to windows-1252 for undeclared Western pages.
    if any("cp1252" in match.could_be_from_charset for match in matches if match.chaos <= best.chaos):
        return "cp1252"
    return _codec(best.encoding) or "cp1252"


@cache
def _is_single_byte(codec: str) -> bool:
    """True for a legacy code page (windows-1252, ISO-8859-x, KOI8-R...) that maps each byte to one character."""
    decoded = _HIGH_BYTES.decode(codec, errors="replace")
    # UTF-8 and the 7-bit codecs give one character per high byte too, but only ever U+FFFD.
    return len(decoded) == len(_HIGH_BYTES) and decoded.count("\ufffd") < len(decoded)


def _is_multibyte_utf8(body: bytes) -> bool:
    """True when the bytes are valid UTF-8 and not plain ASCII, so they hold multi-byte sequences."""
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _codec(label: str) -> str | None:
    """The Python codec for a charset label, browser aliases applied; None for a label nobody knows."""
    label = label.strip().strip("\"'").lower()
    try:
        return codecs.lookup(_WHATWG_ALIASES.get(label, label)).name
    except LookupError:
        return None
