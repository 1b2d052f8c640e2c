"""Access control for the dashboard: token login, CSRF, host checks and security headers.

- **Token.** When a token is configured, every request but ``/healthz``, ``/login`` and static assets must
  carry it: ``Authorization: Bearer <token>`` or ``X-Lakebox-Token`` (scripts), the ``lakebox_session``
  cookie set by ``/login`` or by opening any page with ``?token=<token>`` once (browsers).
- **CSRF.** Every state-changing request (POST, ...) made with ambient credentials (cookie, or none at all on
  loopback) must echo the page's CSRF token in ``X-CSRF-Token`` or a ``csrf_token`` form field. Requests
  that carry the token in a header are not forgeable cross-site and need no CSRF token.
- **Host.** On loopback the ``Host`` header must name a loopback host, which defeats DNS rebinding; a
  cross-origin ``Origin`` on a POST is refused.
- **Headers.** A strict Content-Security-Policy (scripts only from this server), no framing, no sniffing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Request, Response
from werkzeug.wrappers import Response as WerkzeugResponse

from lakebox.core.errors import LakeboxError

SESSION_COOKIE = "lakebox_session"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "ip6-localhost"})
PUBLIC_PATHS = ("/healthz", "/login", "/static/", "/vendor/", "/favicon.ico")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")


class Denied(LakeboxError, code="FORBIDDEN", http_status=403):
    """A request the guard refuses: ``status`` and an error ``kind`` for the JSON body."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


@dataclass
class Guard:
    """Decides whether a request may proceed. ``allowed_hosts`` is None to accept any Host header."""

    token: str | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    allowed_hosts: frozenset[str] | None = LOOPBACK_HOSTS

    @property
    def csrf_token(self) -> str:
        return hmac.new(self.secret, b"lakebox-csrf", hashlib.sha256).hexdigest()

    def session_value(self) -> str:
        """The cookie value that proves a login: derived from the token, never the token itself."""
        assert self.token
        return hashlib.sha256(b"lakebox-session:" + self.token.encode()).hexdigest()

    def token_ok(self, candidate: str | None) -> bool:
        return bool(self.token and candidate and hmac.compare_digest(candidate.encode(), self.token.encode()))

    def header_token(self, request: Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.headers.get("X-Lakebox-Token")

    def is_public(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC_PATHS)

    def check(self, request: Request) -> str:
        """Raise :class:`Denied` or return how the request authenticated: none, header, cookie or query."""
        self._check_host(request)
        via = "none"
        header_ok = self.token_ok(self.header_token(request)) if self.token else False
        if self.token and not self.is_public(request.path):
            cookie = request.cookies.get(SESSION_COOKIE, "")
            if header_ok:
                via = "header"
            elif cookie and hmac.compare_digest(cookie.encode(), self.session_value().encode()):
                via = "cookie"
            elif request.method in SAFE_METHODS and self.token_ok(request.args.get("token")):
                via = "query"
            else:
                raise Denied(401, "UNAUTHORIZED", "a valid token is required (Authorization: Bearer <token>, "
                                                  "or log in at /login)")
        if request.method not in SAFE_METHODS and not header_ok:
            self._check_origin(request)
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
            if not sent or not hmac.compare_digest(sent.encode(), self.csrf_token.encode()):
                raise Denied(403, "CSRF_FAILED", "missing or invalid CSRF token: send the page's token in the "
                                                 "X-CSRF-Token header (GET /api/csrf gives it to scripts)")
        return via

    def _check_host(self, request: Request) -> None:
        if self.allowed_hosts is None:
            return
        host = (request.host or "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if host.startswith("[") and "]" in host:
            name = host[: host.index("]") + 1]
        if name not in self.allowed_hosts:
            raise Denied(403, "BAD_HOST", f"host {host!r} is not served here; use http://127.0.0.1")

    def _check_origin(self, request: Request) -> None:
        origin = request.headers.get("Origin")
        if origin and origin != "null":
            if urlsplit(origin).netloc.lower() != (request.host or "").lower():
                raise Denied(403, "CSRF_FAILED", "cross-origin request refused")

    def login_cookie(self, response: WerkzeugResponse, secure: bool) -> None:
        response.set_cookie(SESSION_COOKIE, self.session_value(), httponly=True, samesite="Strict",
                            secure=secure, path="/")


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


def safe_next(target: Any) -> str:
    """A local redirect target (``/path?query``), never another site."""
    text = str(target or "/")
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    return text
