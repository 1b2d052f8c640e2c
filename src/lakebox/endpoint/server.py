"""The endpoint's one HTTP port: a WSGI app that routes each request to S3, Glue or Athena.

Routing follows what AWS clients send: the SigV4 credential scope names the service (``.../s3/aws4_request``),
and JSON protocols also carry ``X-Amz-Target: AWSGlue.*`` / ``AmazonAthena.*``. Unsigned requests without a
target are S3 (anonymous access, e.g. curl). Every failure is answered in the service's own error format
(S3's XML ``<Error>``, JSON's ``__type``); an unexpected exception is logged here and answered as
``InternalError``/``InternalFailure`` without a traceback.

Security: loopback by default. Binding elsewhere needs ``endpoint_access_key``/``endpoint_secret_key``, and
then every request must carry a valid SigV4 signature made with them. On loopback the Host header must name a
loopback host, so a web page cannot reach the endpoint through DNS rebinding.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from lakebox.config import Settings
from lakebox.core.errors import InvalidInputError, LakeboxError
from lakebox.endpoint.athena import AthenaService
from lakebox.endpoint.backend import Backend
from lakebox.endpoint.functions import EventDelivery, FunctionSpec
from lakebox.endpoint.glue import GlueService
from lakebox.endpoint.protocol import AwsError, json_error_body, request_id, xml_error_body
from lakebox.endpoint.s3 import S3Service, check_bucket_name
from lakebox.endpoint.sigv4 import read_signature, verify
from lakebox.endpoint.transport import REASONS, Request, Response

log = logging.getLogger("lakebox.endpoint")

#: Host names accepted on a loopback bind (plus ``*.localhost`` for virtual-hosted-style buckets).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")


class EndpointError(InvalidInputError, code="InvalidConfiguration"):
    """The endpoint refuses to start; the message says why and how to fix it."""


def is_loopback(host: str) -> bool:
    import ipaddress

    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class EndpointApp:
    """The WSGI application."""

    def __init__(self, settings: Settings, *, backend: Backend | None = None, loopback: bool = True,
                 echo: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.backend = backend or Backend(settings)
        self.loopback = loopback
        self.credentials = (settings.endpoint_access_key, settings.endpoint_secret_key) \
            if settings.endpoint_access_key and settings.endpoint_secret_key else None
        self.base_url = f"http://{settings.endpoint_host}:{settings.endpoint_port}"
        function = FunctionSpec.parse(settings.endpoint_function) if settings.endpoint_function else None
        env = dict(p.split("=", 1) for p in (settings.endpoint_function_env or "").split(",") if "=" in p)
        self.events = EventDelivery(self.backend, function=function, endpoint_url=lambda: self.base_url,
                                    timeout=settings.endpoint_function_timeout,
                                    retry_delays=settings.retry_delay_seconds, env=env,
                                    credentials=self.credentials, echo=echo, concurrency=settings.workers)
        #: False when lakebox's watcher already processes the main lake's raw/ (``lakebox up``).
        self.main_bucket_events = True
        self.s3 = S3Service(self.backend, on_created=self._created)
        self.glue = GlueService(self.backend)
        self.athena = AthenaService(self.backend, workers=settings.workers)
        self._started = threading.Event()

    def _created(self, bucket: str, key: str, event: str, size: int, etag: str) -> None:
        if self.main_bucket_events or bucket != self.backend.main_bucket or self.events.function is not None:
            self.events.object_created(bucket, key, event, size, etag)

    def start(self) -> None:
        if not self._started.is_set():
            self._started.set()
            self.events.start()

    def close(self) -> None:
        self.events.stop()
        self.glue.wait_idle()
        self.athena.close()
        self.backend.close()

    # --- WSGI ----------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        rid = request_id()
        req = Request(environ)
        service = "s3"
        try:
            service = self._service(req)
            self._check_host(req)
            self._check_auth(req, service)
            _name, resp = self._dispatch(req, service)
        except AwsError as err:
            resp = self._error(err, service, rid, req.method == "HEAD")
        except LakeboxError as exc:  # lakebox's own errors carry an AWS-style code and status
            resp = self._error(AwsError(exc.code, exc.message, exc.http_status), service, rid, req.method == "HEAD")
        except Exception:  # noqa: BLE001 - the endpoint answers every request, never with a traceback
            log.exception("unexpected error serving %s %s", req.method, req.raw_path)
            code = "InternalError" if service == "s3" else "InternalFailure"
            resp = self._error(AwsError(code, "We encountered an internal error. Please try again.", 500),
                               service, rid, req.method == "HEAD")
        req.drain()
        headers = {"x-amz-request-id": rid, "x-amz-id-2": rid, "Server": "lakebox", **resp.headers}
        if service != "s3":
            headers["x-amzn-RequestId"] = rid
        body = resp.body
        if isinstance(body, bytes):
            if not (req.method == "HEAD" and "Content-Length" in headers):
                headers["Content-Length"] = str(len(body))
            if req.method == "HEAD":
                body = b""
        start_response(f"{resp.status} {REASONS.get(resp.status, 'OK')}", list(headers.items()))
        return [body] if isinstance(body, bytes) else body

    def _service(self, req: Request) -> str:
        target = req.headers.get("x-amz-target", "")
        if target:
            prefix = target.split(".", 1)[0]
            if prefix == self.glue.target_prefix:
                return "glue"
            if prefix == self.athena.target_prefix:
                return "athena"
        sig = read_signature(req.headers, req.query)
        if sig is not None:
            if sig.service in ("s3", "glue", "athena"):
                return sig.service
            raise AwsError("UnknownOperationException" if target else "NotImplemented",
                           f"lakebox's endpoint serves s3, glue and athena, not {sig.service!r}",
                           400 if target else 501)
        if target:
            raise AwsError("UnknownOperationException", f"Unknown operation {target!r}")
        return "s3"

    def _check_host(self, req: Request) -> None:
        # Browsers add Origin (and Sec-Fetch-Site) to cross-site requests; AWS SDKs and CLIs never do. A web
        # page must not be able to POST a DeleteObjects to the lake (cross-site request forgery).
        site = req.headers.get("sec-fetch-site")
        if "origin" in req.headers or site not in (None, "none", "same-origin"):
            raise AwsError("AccessDenied", "Requests from web pages are refused: the endpoint serves AWS SDKs and "
                           "CLIs", 403)
        if not self.loopback:
            return
        host = req.host
        name = host[: host.rindex("]") + 1] if host.startswith("[") else host.rsplit(":", 1)[0]
        if name in LOOPBACK_NAMES or name.endswith(".localhost") or not name:
            return
        raise AwsError("AccessDenied", f"Host {name!r} is not a loopback name; the endpoint on a loopback address "
                       "answers only to 127.0.0.1, localhost and *.localhost", 403)

    def _check_auth(self, req: Request, service: str) -> None:
        if self.credentials is None:
            return
        sig = read_signature(req.headers, req.query)
        if sig is None:
            if service == "s3":
                raise AwsError("AccessDenied", "Access Denied: this endpoint requires signed requests", 403)
            raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        body_sha = None
        if service != "s3":
            body = req.read_small()
            body_sha = hashlib.sha256(body).hexdigest()
        verify(sig, method=req.method, url=req.url, headers=req.headers, body_sha256=body_sha,
               access_key=self.credentials[0], secret_key=self.credentials[1])

    def _dispatch(self, req: Request, service: str) -> tuple[str, Response]:
        if service == "glue":
            return self.glue.handle(req)
        if service == "athena":
            return self.athena.handle(req)
        return self.s3.handle(req)

    def _error(self, err: AwsError, service: str, rid: str, head: bool) -> Response:
        if service == "s3":
            if err.status == 304:
                return Response(304, {}, b"")
            return Response(err.status, {"Content-Type": "application/xml"}, b"" if head else xml_error_body(err, rid))
        return Response(err.status if err.status != 501 else 400,
                        {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": err.code},
                        json_error_body(err))


def _channel_class() -> Any:
    """waitress's HTTP channel, adjusted for AWS clients in two ways.

    - waitress capitalizes every response header name (``X-Amz-Meta-Source``); S3 sends user metadata names
      as stored, and botocore hands them to the caller verbatim, so ``Metadata["source"]`` must stay
      lower-case.
    - botocore sends ``Expect: 100-continue`` on every PutObject, also with an empty body, and waitress then
      answers "100 Continue" but never runs the (already complete) request.
    """
    from waitress.channel import HTTPChannel
    from waitress.task import WSGITask

    class Task(WSGITask):
        def build_response_header(self) -> bytes:
            names = [h for h, _ in self.response_headers if h.lower().startswith("x-amz-meta-")]
            raw: bytes = super().build_response_header()
            for name in names:
                shown = "-".join(x.capitalize() for x in name.split("-"))
                raw = raw.replace(f"\r\n{shown}:".encode("latin-1"), f"\r\n{name}:".encode("latin-1"))
            return raw

    class Channel(HTTPChannel):
        task_class = Task

        def send_continue(self) -> None:
            # A request without a body (boto3's PutObject of b"" sends Expect: 100-continue with
            # Content-Length: 0) is complete already: waitress would send "100 Continue" and then never run
            # it. Such a request is answered directly.
            if self.request is not None and self.request.completed:
                self.request.expect_continue = False
                return
            super().send_continue()

    return Channel


def stop_server(server: Any, timeout: float = 5.0) -> None:
    """Stop a running endpoint server: the listening socket, open keep-alive connections, the worker
    threads, then the app (queued events, crawls and queries finish first)."""
    server.close()
    for channel in list(server._map.values()):
        try:
            channel.close()
        except OSError as exc:  # the connection went away on its own meanwhile
            log.debug("closing a connection at shutdown: %s", exc)
    server.task_dispatcher.shutdown(timeout=timeout)
    server.endpoint_app.close()


def make_server(settings: Settings, host: str | None = None, port: int | None = None, *,
                echo: Callable[[str], None] | None = None, threads: int = 8) -> Any:
    """A waitress server for the endpoint, bound but not yet running (``port=0`` picks a free port).

    The caller runs ``server.run()`` and stops it with ``server.close()`` then ``server.endpoint_app.close()``.
    """
    import waitress

    host = settings.endpoint_host if host is None else host
    port = settings.endpoint_port if port is None else port
    loopback = is_loopback(host)
    if not loopback and not (settings.endpoint_access_key and settings.endpoint_secret_key):
        raise EndpointError(f"refusing to serve AWS APIs on {host} without credentials: set "
                            "endpoint_access_key and endpoint_secret_key (LAKEBOX_ENDPOINT_ACCESS_KEY/"
                            "LAKEBOX_ENDPOINT_SECRET_KEY), or bind to 127.0.0.1")
    for name in [settings.endpoint_bucket, *(p.split("=", 1)[0].strip() for p in
                                              (settings.endpoint_buckets or "").split(",") if p.strip())]:
        try:
            check_bucket_name(name)
        except AwsError:
            raise EndpointError(f"bucket name {name!r} (endpoint_bucket/endpoint_buckets) breaks S3's naming rules: "
                                "3-63 lower-case letters, digits, dots and hyphens") from None
    try:
        app = EndpointApp(settings, loopback=loopback, echo=echo)
    except ValueError as exc:
        raise EndpointError(str(exc)) from None
    try:
        server = waitress.create_server(app, host=host, port=port, threads=threads, ident="lakebox",
                                        channel_timeout=120, connection_limit=200,
                                        max_request_body_size=6 * 1024**3)
    except OSError as exc:
        app.close()
        raise EndpointError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another "
                            "--port") from None
    server.channel_class = _channel_class()
    shown = host if ":" not in host else f"[{host}]"
    app.base_url = f"http://{shown}:{server.effective_port}"
    app.start()
    server.endpoint_app = app
    return server


def serve_endpoint(settings: Settings, *, announce: Callable[[str], None] | None = None,
                   echo: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted."""
    server = make_server(settings, echo=echo)
    if announce:
        announce(server.endpoint_app.base_url)
    try:
        server.run()
    except KeyboardInterrupt:
        return
    finally:
        stop_server(server)


def start_background(settings: Settings, *, main_bucket_events: bool = True,
                     echo: Callable[[str], None] | None = None) -> str:
    """Serve on a daemon thread (``lakebox up``); returns the endpoint's URL.

    ``main_bucket_events=False`` leaves the lake's own raw/ to a running watcher, unless a function is set.
    """
    server = make_server(settings, echo=echo)
    server.endpoint_app.main_bucket_events = main_bucket_events
    threading.Thread(target=server.run, name="lakebox-endpoint", daemon=True).start()
    return str(server.endpoint_app.base_url)
