"""The JSON 1.1 protocol (Glue, Athena): ``X-Amz-Target: <prefix>.<Operation>``, a JSON body in, a JSON body out.

Each service subclasses :class:`JsonService` and defines ``op_<snake_name>(params) -> dict`` methods; the
request is checked against the operation's input shape and the answer filtered through its output shape.
"""

from __future__ import annotations

import json
import re

from lakebox.endpoint.protocol import AwsError, json_input, json_output, service_model
from lakebox.endpoint.transport import Request, Response

CONTENT_TYPE = "application/x-amz-json-1.1"


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class JsonService:
    """Dispatch by X-Amz-Target over a botocore service model."""

    service: str = ""

    @property
    def target_prefix(self) -> str:
        return str(service_model(self.service).metadata["targetPrefix"])

    @classmethod
    def supported(cls) -> list[str]:
        """The model's operations this service implements (an ``op_<name>`` method each)."""
        model = service_model(cls.service)
        return [n for n in model.operation_names if hasattr(cls, "op_" + snake(n))]

    def handle(self, req: Request) -> tuple[str, Response]:
        target = req.headers.get("x-amz-target", "")
        prefix, _, name = target.partition(".")
        model = service_model(self.service)
        if req.method != "POST":
            raise AwsError("UnknownOperationException", f"{self.service} takes POST requests with X-Amz-Target")
        if prefix != self.target_prefix or name not in model.operation_names:
            raise AwsError("UnknownOperationException",
                           f"Unknown operation {target!r} for {model.metadata['serviceFullName']}")
        handler = getattr(self, "op_" + snake(name), None)
        if handler is None:
            raise AwsError("UnknownOperationException",
                           f"lakebox's endpoint does not implement {model.metadata['serviceId']}'s {name}; "
                           f"supported: {', '.join(self.supported())}")
        raw = req.read_small()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise AwsError("SerializationException", "The request body is not valid JSON") from None
        op = model.operation_model(name)
        params = json_input(op.input_shape, body)
        result = handler(params)
        out = json_output(op.output_shape, result) if op.output_shape is not None else {}
        return name, Response(200, {"Content-Type": CONTENT_TYPE}, json.dumps(out).encode())
