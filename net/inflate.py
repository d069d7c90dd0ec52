"""Undo a gzip or deflate Content-Encoding in bounded steps, so a decompression bomb is stopped before it inflates.

httpx's own decoders inflate each network chunk whole: 64 KiB of a bomb can become hundreds of megabytes at once.
"""

from __future__ import annotations

import zlib
from typing import Iterator

STEP = 256 * 1024  # at most this much decompressed output per zlib call
ENCODINGS = ("gzip", "x-gzip", "deflate")


class Truncated(Exception):
    """The body ended before its compressed stream did: what came is only the start of the page."""


class Inflater:
    """A streaming decoder for one Content-Encoding; `feed` raw chunks, then `flush`.

    Raises zlib.error on corrupt data and `Truncated` (from `flush`) on a compressed stream cut short.
    """

    def __init__(self, content_encoding: str):
        encoding = content_encoding.strip().lower()
        if encoding not in ("", "identity", *ENCODINGS):
            raise ValueError(f"unsupported Content-Encoding {content_encoding!r}")
        self._deflate = encoding == "deflate"
        self._started = False
        # MAX_WBITS | 32: zlib detects the gzip or zlib header itself.
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding in ENCODINGS else None

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield the decoded bytes of `data`, at most STEP at a time."""
        if self._zlib is None:
            yield data
            return
        while data:
            out = self._inflate(data)
            data = self._zlib.unconsumed_tail
            yield out

    def flush(self) -> bytes:
        """Whatever the decompressor still holds at the end of the body; raises `Truncated` if its stream never ended.

        A server that dies mid-response, or compresses to a buffer it then sends cut, can still send a
        Content-Length that matches what arrived: only the missing end of the stream (the gzip trailer
        with its checksum, deflate's final block) shows that the page is incomplete.
        """
        # No bytes at all is an empty body, not a cut one (an empty 200 that still names its encoding).
        if self._zlib is None or not self._started:
            return b""
        out = self._zlib.flush()
        if not self._zlib.eof:
            raise Truncated("the compressed stream stops before its end")
        return out

    def _inflate(self, data: bytes) -> bytes:
        """One bounded decompression step."""
        try:
            out = self._zlib.decompress(data, STEP)
        except zlib.error:
            if self._started or not self._deflate:
                raise
            # Some servers send raw deflate without the zlib header RFC 9110 asks for.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, STEP)
        self._started = True
        return out
