"""Run the dashboard under waitress (a production WSGI server), safely by default.

Binding to anything but loopback requires a token: the original served its page on 0.0.0.0 to anyone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from lakebox.core.errors import LakeboxError
from lakebox.trigger.locks import LockedError
from lakebox.trigger.watcher import Watcher, WatchError
from lakebox.web.app import create_app, is_loopback
from lakebox.web.dashboard import LakeServices
from lakebox.web.security import LOOPBACK_HOSTS


class ServeError(LakeboxError, code="ServeRefused", exit_code=2):
    """The server refuses to start; the message says why and how to fix it."""


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind address without a token."""
    if not is_loopback(host) and not token:
        raise ServeError(
            f"refusing to listen on {host} without a token: set --token or LAKEBOX_TOKEN "
            "(or bind to 127.0.0.1)"
        )


#: Worker threads of the WSGI server (requests are short: results are cached per data version).
THREADS = 16
#: Threads kept free of users' queries (running or queued) for pages and /healthz.
SPARE_THREADS = 8


def make_server(services: LakeServices, host: str | None = None, port: int | None = None, *,
                threads: int = THREADS, **app_config: Any) -> Any:
    """A waitress server for the dashboard app, bound but not yet running (``port=0`` picks a free port).

    The caller runs ``server.run()`` (it blocks) and stops it with ``server.close()``; tests and the
    benchmark use this, ``serve_dashboard`` too.
    """
    import waitress

    s = services.settings
    host = s.host if host is None else host
    port = s.port if port is None else port
    check_bind(host, app_config.get("TOKEN", s.token))
    if "ALLOWED_HOSTS" not in app_config:
        app_config["ALLOWED_HOSTS"] = LOOPBACK_HOSTS if is_loopback(host) else None
    app = create_app(services, **app_config)
    # Queries holding a slot or waiting for one hold a thread each: leave threads for pages and /healthz.
    threads = max(threads, s.query_workers + s.query_queue + SPARE_THREADS)
    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="lakebox",
                                    channel_timeout=60, connection_limit=1000, backlog=2048,
                                    _dispatcher=_health_lane_dispatcher(threads))
    server.lakebox_app = app
    return server


#: Paths answered on their own threads, never queued behind other requests.
HEALTH_PATHS = frozenset({"/healthz"})
#: Threads of the health lane.
HEALTH_THREADS = 2


def _health_lane_dispatcher(threads: int) -> Any:
    """waitress's thread pool with a second, small pool for ``/healthz``.

    waitress serves requests first come, first served from one pool: with every thread busy (50 clients, or
    queries holding a thread while they wait for a slot) a health check waited behind them for seconds. Here
    a request for a path in :data:`HEALTH_PATHS` goes to its own two threads; everything else is queued as
    before. (``create_server``'s ``_dispatcher`` argument, present in waitress 2 and 3, takes the pool.)
    """
    from waitress.task import ThreadedTaskDispatcher

    class Lanes(ThreadedTaskDispatcher):
        def __init__(self) -> None:
            super().__init__()
            self.health = ThreadedTaskDispatcher()

        def add_task(self, task: Any) -> None:
            requests = getattr(task, "requests", None) or [None]
            if getattr(requests[0], "path", None) in HEALTH_PATHS:
                self.health.add_task(task)
            else:
                super().add_task(task)

        def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool:
            self.health.shutdown(cancel_pending, timeout)
            return bool(super().shutdown(cancel_pending, timeout))

    lanes = Lanes()
    lanes.set_thread_count(threads)
    lanes.health.set_thread_count(HEALTH_THREADS)
    return lanes


#: The GIL's switch interval in a serving process (Python's default is 5 ms). With a dozen busy request
#: threads a thread waiting for the GIL waits about this long per thread ahead of it, several times per
#: request; 1 ms keeps a /healthz answer within milliseconds under load for a few percent of throughput.
SWITCH_INTERVAL = 0.001


def tune_serving_process() -> None:
    """Settings of a process whose job is to serve the dashboard (``serve_dashboard``, the benchmarks)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


def serve_dashboard(services: LakeServices, *, watcher: Callable[[], Watcher] | None = None,
                    announce: Callable[[str], None] | None = None) -> None:
    """Serve the app until interrupted; with ``watcher`` (a factory, e.g. ``Lake.watcher``), watch too."""
    s = services.settings
    check_bind(s.host, s.token)
    tune_serving_process()
    try:
        server = make_server(services)
    except OSError as exc:
        raise ServeError(f"cannot listen on {s.host}:{s.port}: {exc.strerror or exc}; choose another --port") from None
    running: Watcher | None = None
    if watcher is not None:
        try:
            running = watcher()
            running.start()
        except (LockedError, WatchError) as exc:
            server.close()
            raise ServeError(str(exc)) from None
    host = s.host if ":" not in s.host else f"[{s.host}]"
    if announce:
        announce(f"http://{host}:{server.effective_port}/")
    workers = server.lakebox_app.extensions["lakebox"].workers
    if workers is not None:
        workers.start()  # the query workers import DuckDB while the server starts answering
    try:
        server.run()
    except KeyboardInterrupt:
        return
    finally:
        if running is not None:
            running.stop()
        server.lakebox_app.extensions["lakebox"].close()
