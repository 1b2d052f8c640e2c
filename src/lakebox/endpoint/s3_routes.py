"""S3 request routing from botocore's model: which operation, bucket and key a request is.

Every S3 operation's HTTP binding (method, URI shape, literal query keys such as ``?uploads`` or
``?list-type=2``, required query and header members such as ``uploadId`` or ``x-amz-copy-source``) is read
from the model; a request goes to the most specific binding it satisfies. Buckets come from the path
(path-style) or from the Host header (``<bucket>.localhost``, virtual-hosted style).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from lakebox.endpoint.protocol import AwsError, service_model
from lakebox.endpoint.transport import Request


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    kind: str  # root, bucket, object
    literals: tuple[tuple[str, str | None], ...]
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]

    def score(self, req: Request, kind: str) -> int | None:
        if req.method != self.method or kind != self.kind:
            return None
        for k, v in self.literals:
            if k not in req.query or (v is not None and req.query[k] != v):
                return None
        if any(q not in req.query for q in self.required_query):
            return None
        if any(h not in req.headers for h in self.required_headers):
            return None
        return len(self.literals) + len(self.required_query) + len(self.required_headers)


def _routes() -> list[Route]:
    model = service_model("s3")
    out = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri = op.http.get("requestUri", "/")
        path, _, lits = uri.partition("?")
        kind = "object" if "{Key+}" in path else "bucket" if "{Bucket}" in path else "root"
        literals = []
        for part in filter(None, lits.split("&")):
            k, eq, v = part.partition("=")
            if k != "x-id":
                literals.append((k, v if eq else None))
        rq: list[str] = []
        rh: list[str] = []
        shape = op.input_shape
        if shape is not None:
            for m in shape.required_members:
                ser = shape.members[m].serialization
                if ser.get("location") == "querystring":
                    rq.append(ser.get("name", m))
                elif ser.get("location") == "header":
                    rh.append(ser.get("name", m).lower())
        out.append(Route(name, op.http.get("method", "GET"), kind, tuple(literals), tuple(rq), tuple(rh)))
    return out


class S3Router:
    """Maps a request to (operation, bucket, key)."""

    def __init__(self, virtual_host_suffixes: tuple[str, ...] = (".localhost",)) -> None:
        self.suffixes = virtual_host_suffixes
        self.routes = _routes()

    def _split(self, req: Request) -> tuple[str | None, str | None]:
        host = req.host.rsplit(":", 1)[0] if not req.host.startswith("[") else req.host
        for suffix in self.suffixes:
            if host.endswith(suffix) and len(host) > len(suffix):
                bucket = host[: -len(suffix)].removesuffix(".s3")
                key = urllib.parse.unquote(req.raw_path[1:]) if len(req.raw_path) > 1 else None
                return bucket, key
        path = req.raw_path[1:]
        if not path:
            return None, None
        bucket, sep, key = path.partition("/")
        bucket = urllib.parse.unquote(bucket)
        return bucket, (urllib.parse.unquote(key) if sep and key else None)

    def __call__(self, req: Request) -> tuple[str, str | None, str | None]:
        bucket, key = self._split(req)
        kind = "object" if key is not None else "bucket" if bucket else "root"
        best: tuple[int, str] | None = None
        for r in self.routes:
            s = r.score(req, kind)
            if s is not None and (best is None or s > best[0]):
                best = (s, r.name)
        if best is None:
            raise AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405,
                           Method=req.method, ResourceType="OBJECT" if key else "BUCKET")
        self._check_incomplete(req, kind, best[0])
        return best[1], bucket, key

    def _check_incomplete(self, req: Request, kind: str, best_score: int) -> None:
        """A request that names some of an operation's required query parameters but not all (``?partNumber=1``
        without ``uploadId``) is that operation with a parameter missing, not the plainer operation it would
        otherwise fall back to (PutObject)."""
        for r in self.routes:
            if r.method != req.method or r.kind != kind or not r.required_query:
                continue
            given = [q for q in r.required_query if q in req.query]
            if given and len(given) < len(r.required_query) and len(given) >= best_score:
                missing = [q for q in r.required_query if q not in req.query]
                raise AwsError("InvalidRequest", f"{r.name} needs the query parameter(s) {', '.join(missing)}; "
                               f"the request has {', '.join(given)} only")
