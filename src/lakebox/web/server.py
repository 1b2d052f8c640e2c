"""Run the dashboard under waitress (a production WSGI server), safely by default.

Binding to anything but loopback requires a token: the original served its page on 0.0.0.0 to anyone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from lakebox.lake import Lake


class ServeError(Exception):
    """The server refuses to start; the message says why and how to fix it."""


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind address without a token."""
    if not is_loopback(host) and not token:
        raise ServeError(
            f"refusing to listen on {host} without a token: set --token or LAKEBOX_TOKEN "
            "(or bind to 127.0.0.1)"
        )


def serve_dashboard(lake: Lake, *, watch: bool = False, announce: Callable[[str], None] | None = None) -> None:
    """Start the watcher (optionally) and serve the app until interrupted."""
    import waitress

    from lakebox.web.app import create_app

    s = lake.settings
    check_bind(s.host, s.token)
    app = create_app(lake)
    watcher = None
    if watch:
        from lakebox.trigger.watcher import Watcher

        watcher = Watcher(lake)
        watcher.start()
    server = waitress.create_server(app, host=s.host, port=s.port, threads=8, ident="lakebox")
    host = s.host if ":" not in s.host else f"[{s.host}]"
    if announce:
        announce(f"http://{host}:{server.effective_port}/")  # type: ignore[attr-defined]
    try:
        server.run()
    except KeyboardInterrupt:
        return
    finally:
        if watcher is not None:
            watcher.stop()
