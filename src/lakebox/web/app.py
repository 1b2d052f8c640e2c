"""The dashboard's Flask app factory: pages, the JSON API, security, static assets (plotly.js from its package).

``create_app(services)`` wires a :class:`~lakebox.web.dashboard.Dashboard` (cache, data version, warmer)
over a lake's :class:`~lakebox.web.dashboard.LakeServices` into Flask. Config keys (keyword arguments): ``TOKEN`` (defaults to ``settings.token``), ``ALLOWED_HOSTS``
(defaults to loopback names when ``settings.host`` is loopback, else any), ``SECRET`` (bytes for the CSRF
token; random per process by default), ``MAX_CONTENT_LENGTH`` (defaults to ``settings.max_upload_mb``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, redirect, render_template, request, send_file
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from lakebox.core.admission import TooManyQueries
from lakebox.core.errors import LakeboxError
from lakebox.web import api, assets, workbench
from lakebox.web.dashboard import Dashboard, LakeServices
from lakebox.web.security import LOOPBACK_HOSTS, Denied, Guard, safe_next, security_headers

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


@lru_cache(maxsize=1)
def plotly_js_path() -> Path:
    """plotly.js as shipped inside the plotly package (never a CDN)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if path.is_file():
        return path
    from plotly.offline import get_plotlyjs  # pragma: no cover - older layouts

    cache = Path(__file__).parent / "static" / "plotly.min.js"
    cache.write_text(get_plotlyjs(), encoding="utf-8")
    return cache


@lru_cache(maxsize=8)
def asset_version(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def is_loopback(host: str) -> bool:
    """True for names and addresses of this machine only (localhost, 127.0.0.0/8, ::1)."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def create_app(services: LakeServices, **config: Any) -> Flask:
    """The dashboard app over a lake's ``services`` (one Dashboard per app: cache, data version, warmer)."""
    s = services.settings
    app = Flask(__name__, static_folder=str(HERE / "static"), template_folder=str(HERE / "templates"))
    app.config.update(
        MAX_CONTENT_LENGTH=int(s.max_upload_mb) * 1024 * 1024,
        JSON_SORT_KEYS=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    token = app.config.get("TOKEN", s.token)
    # On loopback the Host header must name this machine (DNS-rebinding defence), including the exact
    # address served on (127.0.0.2 is loopback too).
    loopback = frozenset(LOOPBACK_HOSTS) | {s.host.lower().strip("[]")}
    hosts = app.config.get("ALLOWED_HOSTS", loopback if is_loopback(s.host) else None)
    guard = Guard(token=token, allowed_hosts=frozenset(hosts) if hosts is not None else None)
    if app.config.get("SECRET"):
        guard.secret = bytes(app.config["SECRET"])
    dash = Dashboard(services)
    app.extensions["lakebox"] = dash
    app.extensions["lakebox_guard"] = guard
    app.register_blueprint(assets.bp)
    app.register_blueprint(workbench.bp)
    app.register_blueprint(api.bp)

    @app.before_request
    def _guard() -> Response | WerkzeugResponse | None:
        try:
            via = guard.check(request)
        except Denied as exc:
            if exc.status == 401 and not _wants_json() and request.method == "GET":
                return redirect("/login?next=" + _quote(request.full_path.rstrip("?")))
            return api.error_response(exc.status, exc.kind, exc.message)
        if via == "query" and not _wants_json():
            # a login link (?token=...): remember it in a cookie and drop it from the address bar
            args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            target = request.path + ("?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in args) if args else "")
            resp = redirect(target)
            guard.login_cookie(resp, secure=request.is_secure)
            return resp
        return None

    app.after_request(security_headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if _wants_json() or request.method != "GET":
            kind = {413: "PAYLOAD_TOO_LARGE", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.code or 0, "HTTP_ERROR")
            msg = exc.description or exc.name
            if exc.code == 413:
                msg = f"the request is larger than the limit of {s.max_upload_mb} MiB"
            return api.error_response(exc.code or 500, kind, msg)
        return render_template("error.html", code=exc.code, name=exc.name, message=exc.description), exc.code

    @app.errorhandler(LakeboxError)
    def _lakebox_error(exc: LakeboxError) -> Any:
        # The one mapping of lakebox's errors to HTTP: the error's own status and code, and its message.
        if _wants_json() or request.method != "GET":
            resp: Any = api.error_response(exc.http_status, exc.code, str(exc))
        else:
            resp = app.make_response((render_template("error.html", code=exc.http_status, name=exc.code,
                                                      message=str(exc)), exc.http_status))
        if isinstance(exc, TooManyQueries):
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json() or request.method != "GET":
            return api.error_response(500, "INTERNAL_ERROR", "the server failed to answer; see its log")
        return render_template("error.html", code=500, name="Internal error",
                               message="The server failed to answer; see its log."), 500

    @app.get("/")
    def index() -> str:
        return render_template(
            "index.html",
            boot_json=dash.boot_json(wait=False),
            queries=list(dash.queries.values()),
            lake_url=services.store.url,
            database=s.database,
            databases=dash.databases(),
            csrf_token=guard.csrf_token,
            token_required=bool(token),
            max_upload_mb=s.max_upload_mb,
            max_rows=s.max_result_rows,
            query_timeout=s.query_timeout,
            app_js=asset_version(HERE / "static" / "app.js"),
            css=asset_version(HERE / "static" / "style.css"),
        )

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        nxt = safe_next(request.values.get("next"))
        if not token:
            return redirect(nxt)
        if request.method == "POST":
            if guard.token_ok(request.form.get("token")):
                resp = redirect(nxt)
                guard.login_cookie(resp, secure=request.is_secure)
                return resp
            return render_template("login.html", next=nxt, csrf_token=guard.csrf_token,
                                   error="That token is not right."), 401
        return render_template("login.html", next=nxt, csrf_token=guard.csrf_token, error=None)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", version=dash.version.current())

    @app.get("/vendor/plotly.min.js")
    def plotly_js() -> Response:
        resp = send_file(plotly_js_path(), mimetype="text/javascript", conditional=True, max_age=86400)
        return resp

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return send_file(HERE / "static" / "favicon.svg", mimetype="image/svg+xml", max_age=86400)

    return app


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")
