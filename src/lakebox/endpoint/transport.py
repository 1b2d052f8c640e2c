"""The HTTP request and response of the endpoint's WSGI app, independent of any AWS service.

Bodies are read once: small JSON bodies into memory, object uploads spooled to disk while their MD5 and
SHA-256 are computed (an upload is never held whole in memory). ``aws-chunked`` bodies, which botocore
sends for streamed uploads with trailing checksums, are decoded on the way.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakebox.endpoint.protocol import AwsError

#: Bodies of JSON (Glue, Athena) and XML (S3 control) requests: AWS's own limits are a few MB.
MAX_SMALL_BODY = 10 * 1024 * 1024
#: S3's single PUT limit.
MAX_OBJECT = 5 * 1024**3
_CHUNK = 1024 * 1024


@dataclass
class Spooled:
    """An uploaded body written to a file, with the digests S3 needs."""

    path: Path
    size: int
    md5: str
    sha256: str | None


class Request:
    """One HTTP request: method, raw and decoded path, query, lower-cased headers, and its body."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method = environ["REQUEST_METHOD"].upper()
        raw_uri: str = environ.get("REQUEST_URI") or (
            urllib.parse.quote(environ.get("PATH_INFO", "/")) +
            ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""))
        if raw_uri.startswith(("http://", "https://")):
            raw_uri = "/" + raw_uri.split("/", 3)[-1] if raw_uri.count("/") >= 3 else "/"
        path, _, query = raw_uri.partition("?")
        self.raw_path: str = path
        self.raw_query: str = query
        self.query: dict[str, str] = {}
        for k, v in urllib.parse.parse_qsl(self.raw_query, keep_blank_values=True):
            self.query.setdefault(k, v)
        self.headers: dict[str, str] = {}
        for k, v in environ.items():
            if k.startswith("HTTP_"):
                self.headers[k[5:].replace("_", "-").lower()] = v
        if environ.get("CONTENT_TYPE"):
            self.headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            self.headers["content-length"] = environ["CONTENT_LENGTH"]
        self._consumed = False
        self._small: bytes | None = None

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    @property
    def url(self) -> str:
        """The URL as the client signed it."""
        q = f"?{self.raw_query}" if self.raw_query else ""
        return f"http://{self.host}{self.raw_path}{q}"

    def _length(self) -> int:
        try:
            return int(self.headers.get("content-length") or 0)
        except ValueError:
            raise AwsError("InvalidArgument", "Content-Length is not a number") from None

    def drain(self) -> None:
        """Read what is left of the body, so the connection can be reused after an early answer."""
        for _ in self._chunks():
            pass

    def _chunks(self) -> Iterator[bytes]:
        if self._consumed:
            return
        self._consumed = True
        stream = self.environ["wsgi.input"]
        remaining = self._length()
        chunked = self.environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
        while chunked or remaining > 0:
            block = stream.read(_CHUNK if chunked else min(_CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block

    @property
    def aws_chunked(self) -> bool:
        enc = self.headers.get("content-encoding", "")
        return "aws-chunked" in enc or self.headers.get("x-amz-content-sha256", "").startswith("STREAMING-")

    def body_chunks(self) -> Iterator[bytes]:
        """The payload, with ``aws-chunked`` framing removed."""
        return _dechunk(self._chunks()) if self.aws_chunked else self._chunks()

    def read_small(self) -> bytes:
        """The whole body (read once, then remembered), refusing anything larger than a control request."""
        if self._small is not None:
            return self._small
        out = bytearray()
        for block in self.body_chunks():
            out += block
            if len(out) > MAX_SMALL_BODY:
                raise AwsError("MaxMessageLengthExceeded", "Your request was too big.")
        self._small = bytes(out)
        return self._small

    def spool(self, path: Path) -> Spooled:
        """Stream the body into ``path`` (a temp file next to the object's destination, so publishing it is
        a rename), computing the MD5 and, when the client declared one, the SHA-256 as it goes."""
        md5 = hashlib.md5(usedforsecurity=False)
        declared = self.headers.get("x-amz-content-sha256", "")
        sha = hashlib.sha256() if declared and not declared.startswith(("UNSIGNED", "STREAMING")) else None
        size = 0
        try:
            with open(path, "wb") as fh:
                for block in self.body_chunks():
                    size += len(block)
                    if size > MAX_OBJECT:
                        raise AwsError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                                       MaxSizeAllowed=str(MAX_OBJECT))
                    md5.update(block)
                    if sha is not None:
                        sha.update(block)
                    fh.write(block)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Spooled(path, size, md5.hexdigest(), sha.hexdigest() if sha is not None else None)


def _dechunk(raw: Iterable[bytes]) -> Iterator[bytes]:
    """Decode ``aws-chunked``: ``<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n`` ... ``0\\r\\n`` trailers."""
    buf = bytearray()
    it = iter(raw)

    def fill(n: int) -> bool:
        while len(buf) < n:
            block = next(it, None)
            if block is None:
                return False
            buf.extend(block)
        return True

    while True:
        while b"\r\n" not in buf:
            if not fill(len(buf) + 1):
                raise AwsError("IncompleteBody", "The aws-chunked body ended before its final chunk")
        line, _, rest = bytes(buf).partition(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise AwsError("InvalidRequest", "Malformed aws-chunked body: bad chunk size line") from None
        buf[:] = rest
        if size == 0:
            return  # trailers (x-amz-checksum-*) follow; the digests are recomputed here anyway
        if not fill(size + 2):
            raise AwsError("IncompleteBody", "The aws-chunked body ended inside a chunk")
        yield bytes(buf[:size])
        del buf[: size + 2]


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""


REASONS = {200: "OK", 204: "No Content", 206: "Partial Content", 304: "Not Modified", 400: "Bad Request",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
           416: "Requested Range Not Satisfiable", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable"}
