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

# The charset labels browsers know: every label of the WHATWG Encoding Standard
# (https://encoding.spec.whatwg.org/#names-and-labels), by the Python codec that decodes it as a browser does.
# A label not here is one a browser ignores, so we do too: Python's codec registry also answers to "hex",
# "base64", "rot13" or "cp037", which turn a readable page into an error or into garbage.
_BROWSER_ENCODINGS = (
    ("utf-8", "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8"),
    ("cp866", "866 cp866 csibm866 ibm866"),
    ("iso8859-2", "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2"),
    ("iso8859-3", "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3"),
    ("iso8859-4", "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4"),
    ("iso8859-5", "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988"),
    ("iso8859-6", "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e "
                  "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987"),
    ("iso8859-7", "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 "
                  "iso_8859-7 iso_8859-7:1987 sun_eu_greek"),
    # ISO-8859-8-I differs from ISO-8859-8 only in the direction text is laid out, not in its characters.
    ("iso8859-8", "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 "
                  "iso_8859-8 iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical"),
    ("iso8859-10", "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6"),
    ("iso8859-13", "iso-8859-13 iso8859-13 iso885913"),
    ("iso8859-14", "iso-8859-14 iso8859-14 iso885914"),
    ("iso8859-15", "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9"),
    ("iso8859-16", "iso-8859-16"),
    ("koi8-r", "cskoi8r koi koi8 koi8-r koi8_r"),
    ("koi8-u", "koi8-ru koi8-u"),
    ("mac-roman", "csmacintosh mac macintosh x-mac-roman"),
    ("cp874", "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874"),
    ("cp1250", "cp1250 windows-1250 x-cp1250"),
    ("cp1251", "cp1251 windows-1251 x-cp1251"),
    # Browsers read ASCII and ISO-8859-1 as windows-1252, which gives 0x80-0x9F its curly quotes and dashes.
    ("cp1252", "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591 "
               "iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252"),
    ("cp1253", "cp1253 windows-1253 x-cp1253"),
    ("cp1254", "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 latin5 "
               "windows-1254 x-cp1254"),
    ("cp1255", "cp1255 windows-1255 x-cp1255"),
    ("cp1256", "cp1256 windows-1256 x-cp1256"),
    ("cp1257", "cp1257 windows-1257 x-cp1257"),
    ("cp1258", "cp1258 windows-1258 x-cp1258"),
    ("mac-cyrillic", "x-mac-cyrillic x-mac-ukrainian"),
    # A browser's GBK decoder is its gb18030 one; its Big5, Shift_JIS and EUC-KR are the vendors' supersets.
    ("gb18030", "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk gb18030"),
    ("big5hkscs", "big5 big5-hkscs cn-big5 csbig5 x-x-big5"),
    ("euc-jp", "cseucpkdfmtjapanese euc-jp x-euc-jp"),
    ("iso2022-jp", "csiso2022jp iso-2022-jp"),
    ("cp932", "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis"),
    ("cp949", "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 "
              "windows-949"),
    # A document that reached us as bytes and names UTF-16 (or, below, x-user-defined) is read as a browser
    # reads such a <meta>: UTF-16 bytes would have had a BOM, so the page is really ASCII-compatible.
    ("utf-8", "unicodefffe utf-16be csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le"),
    ("cp1252", "x-user-defined"),
    # The "replacement" labels (iso-2022-kr, iso-2022-cn, hz-gb-2312...) are left out: a browser shows such a
    # page as a single U+FFFD, no reading worth copying; detection reads the bytes instead.
)
_BROWSER_LABELS = {label: codecs.lookup(codec).name for codec, labels in _BROWSER_ENCODINGS for label in labels.split()}
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

    Only charsets a browser knows count; any other label is ignored as if absent, as a browser ignores it.

    A declared single-byte charset yields to UTF-8 when the bytes are UTF-8 with multi-byte sequences: such a
    code page decodes any bytes, so it would "fit" UTF-8 and turn "kilómetros" into "kilÃ³metros".
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace"), encoding
    for encoding in filter(None, (_header_codec(content_type), _meta_codec(body))):
        # Genuine windows-1252 or ISO-8859 text is almost never valid UTF-8 once it has a non-ASCII byte.
        if _is_single_byte(encoding) and (text := _multibyte_utf8(body)) is not None:
            LOGGER.debug("declared charset %s on UTF-8 bytes; decoding them as UTF-8", encoding)
            return text, "utf-8"
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
    # The detector names a Python codec, not a label: browser aliases apply (big5 -> big5hkscs), else it stands.
    return _codec(best.encoding) or codecs.lookup(best.encoding).name


@cache
def _is_single_byte(codec: str) -> bool:
    """True for a legacy code page (windows-1252, ISO-8859-x, KOI8-R...) that maps each byte to one character."""
    decoded = _HIGH_BYTES.decode(codec, errors="replace")
    # UTF-8 and the 7-bit codecs give one character per high byte too, but only ever U+FFFD.
    return len(decoded) == len(_HIGH_BYTES) and decoded.count("\ufffd") < len(decoded)


def _multibyte_utf8(body: bytes) -> str | None:
    """The bytes decoded, when they are valid UTF-8 and not plain ASCII (so hold multi-byte sequences); else None."""
    if body.isascii():
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _header_codec(content_type: str) -> str | None:
    """The codec of the Content-Type's charset parameter; None without one or for a label browsers do not know."""
    header = _HEADER_CHARSET.search(content_type)
    return _codec(header.group(1)) if header else None


def _meta_codec(body: bytes) -> str | None:
    """The codec of the first <meta> charset a browser knows in the head of the page, else None.

    A browser's prescan skips a <meta> whose label it does not know and reads on, so a later one still counts.
    """
    for meta in _META_CHARSET.finditer(body[:_PRESCAN_BYTES]):
        if encoding := _codec(meta.group(1).decode("ascii")):
            return encoding
    return None


def _codec(label: str) -> str | None:
    """The Python codec a browser decodes a charset label with; None for a label browsers do not know."""
    return _BROWSER_LABELS.get(label.strip().strip("\"'").lower())
