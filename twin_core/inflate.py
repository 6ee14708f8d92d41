"""Content decoding with a cap on the *decoded* size, checked as it inflates.

httpx inflates each raw chunk whole before anyone can count it, and 64 KB of gzip can hold
64 MB of zeros: a size cap checked afterwards lets a "decompression bomb" allocate gigabytes.
Here zlib is asked for at most ``STEP`` bytes per call, and the running total is checked
after every call, so memory stays within the cap plus one step.
"""

from __future__ import annotations

import zlib

STEP = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"


class TooLarge(Exception):
    """The decoded body passed the byte limit."""


class BadEncoding(Exception):
    """The body is not what its Content-Encoding says, or the encoding is not one we accept."""


class BoundedDecoder:
    """Feed raw body bytes; get decoded bytes, never more than ``limit`` in total."""

    def __init__(self, content_encoding: str | None, limit: int):
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in {"gzip", "x-gzip", "deflate"}):
            raise BadEncoding(f"unsupported Content-Encoding {content_encoding!r}")
        self.coding = codings[0] if codings else None
        self.limit = limit
        self.size = 0
        self._zlib: zlib._Decompress | None = None
        if self.coding in {"gzip", "x-gzip"}:
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.limit:
            raise TooLarge(self.limit)
        return piece

    def feed(self, data: bytes) -> bytes:
        if self.coding is None:
            return self._count(data)
        if self._zlib is None:  # deflate: zlib-wrapped as the RFC says, or raw as some servers send
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        out: list[bytes] = []
        pending = data
        try:
            while True:
                piece = self._zlib.decompress(pending, STEP)
                out.append(self._count(piece))
                pending = self._zlib.unconsumed_tail
                if self._zlib.eof:
                    rest = self._zlib.unused_data
                    if self.coding == "deflate" or not rest.startswith(GZIP_MAGIC):
                        break
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)  # another gzip member
                    pending = rest
                    continue
                if not pending and len(piece) < STEP:
                    break
        except zlib.error:
            raise BadEncoding(f"the body is not valid {self.coding} data") from None
        return b"".join(out)

    def finish(self) -> bytes:
        if self._zlib is None or self._zlib.eof:
            return b""
        try:
            return self._count(self._zlib.flush(STEP))
        except zlib.error:
            raise BadEncoding(f"the body is not valid {self.coding} data") from None
