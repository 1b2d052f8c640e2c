"""Answers AWS would give where moto gives none, put on the wire with a botocore ``before-send`` hook: the
request still goes through botocore's whole client stack, only the HTTP answer is AWS's documented one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lakebox.deploy.trace import hook_clients


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def answer(request: Any, status: int, body: bytes, headers: dict[str, str] | None = None) -> Any:
    """An HTTP response for ``request`` as botocore receives one."""
    from botocore.awsrequest import AWSResponse

    return AWSResponse(request.url, status, headers or {}, _Raw(body))


def header(request: Any, name: str) -> str | None:
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


@contextmanager
def answering(service: str, respond: Callable[[Any], Any]) -> Iterator[None]:
    """While active, ``respond(request)`` may answer any request to ``service`` (None lets it through)."""
    def before_send(request: Any, **_: Any) -> Any:
        return respond(request)

    with hook_clients(lambda client: client.meta.events.register(f"before-send.{service}", before_send)):
        yield
