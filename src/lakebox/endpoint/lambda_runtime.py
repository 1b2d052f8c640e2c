"""The bootstrap that runs a user's Lambda handler in its own process (no lakebox imports, on purpose).

    python lambda_runtime.py FILE HANDLER RESULT_PATH  < event.json

It imports FILE as a module (its folder first on ``sys.path``, as Lambda's task root), builds a context with
the attributes Lambda's Python runtime gives (``aws_request_id``, ``function_name``, ``memory_limit_in_mb``,
``invoked_function_arn``, ``log_group_name``, ``get_remaining_time_in_millis()``...), calls HANDLER with the
event read from stdin, and writes ``{"ok": true, "result": ...}`` or the error as Lambda reports it
(``errorMessage``, ``errorType``, ``stackTrace``) to RESULT_PATH. What the handler prints goes to the
parent, which keeps it as the invocation's log.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The ``context`` argument of a Python Lambda handler."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "lakebox-function")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:000000000000:function:{self.function_name}"
        self.aws_request_id = os.environ.get("LAKEBOX_REQUEST_ID", "")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def main(argv: list[str]) -> int:
    path, handler_name, result_path = argv[1], argv[2], argv[3]
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
    context = LambdaContext(time.time() + timeout)
    result: dict[str, Any]
    try:
        event = json.load(sys.stdin)
        folder = os.path.dirname(os.path.abspath(path))
        sys.path.insert(0, folder)
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"Unable to import module '{name}': cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        handler = getattr(module, handler_name, None)
        if handler is None:
            raise AttributeError(f"Handler '{handler_name}' missing on module '{name}'")
        value = handler(event, context)
        result = {"ok": True, "result": value}
    except Exception as exc:  # noqa: BLE001 - any handler error is the invocation's result, as in Lambda
        result = {"ok": False, "errorMessage": str(exc), "errorType": type(exc).__name__,
                  "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[1:]}
        print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
