"""Record every AWS call a piece of lakebox makes, through botocore's event hooks.

:func:`record_calls` hooks every botocore client created while it is active (lakebox builds its clients
lazily, per backend object, so they are all created inside the block) and appends one :class:`Call` per API
operation: the service, the operation, the caller's parameters, the client's region, and the HTTP status and
error code of the answer. The least-privilege test replays these calls through
:func:`lakebox.deploy.authz.needs` and the stack's role policies; the docs' roles table is generated from them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    """One API operation as the caller made it."""

    service: str  # the signing name: s3, glue, athena, cloudformation, sts, ssm ...
    operation: str  # the API name: GetObject, UpdateTable ...
    params: dict[str, Any]
    region: str
    status: int | None = None
    error: str | None = None
    #: A few response fields later calls need to be authorised (an Athena execution's workgroup).
    response: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.service}:{self.operation}"


class CallLog:
    """The calls recorded so far, appended from any thread."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        """Hook one botocore client: parameters before the call, status and error after it."""
        service = client.meta.service_model.signing_name
        region = client.meta.region_name or ""

        def before(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            call = Call(service, model.name, _plain(params), region)
            context["lakebox_call"] = call
            with self._lock:
                self.calls.append(call)

        def after(http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any],
                  **_: Any) -> None:
            call = context.get("lakebox_call")
            if call is None:  # pragma: no cover - every call passes through `before`
                return
            call.status = getattr(http_response, "status_code", None)
            call.error = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
            if isinstance(parsed, dict):
                if "QueryExecution" in parsed:
                    call.response["WorkGroup"] = parsed["QueryExecution"].get("WorkGroup")
                if "QueryExecutionId" in parsed:
                    call.response["QueryExecutionId"] = parsed["QueryExecutionId"]

        client.meta.events.register("before-parameter-build", before)
        client.meta.events.register("after-call", after)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters without file bodies (only their presence matters for authorisation)."""
    return {k: ("<body>" if k == "Body" else v) for k, v in params.items()}


@contextmanager
def hook_clients(attach: Callable[[Any], None]) -> Iterator[None]:
    """Call ``attach(client)`` on every botocore client created inside the block (in any thread): the one
    place lakebox reaches into botocore's client creation, for tracing and for tests that answer a call
    the way AWS would where moto does not."""
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        attach(client)
        return client

    botocore.session.Session.create_client = create_client
    try:
        yield
    finally:
        botocore.session.Session.create_client = original


@contextmanager
def record_calls() -> Iterator[CallLog]:
    """Record the calls of every botocore client created inside the block (in any thread)."""
    log = CallLog()
    with hook_clients(log.attach):
        yield log
