"""S3 event notifications delivered to a function, as S3 invokes Lambda: asynchronously, with retries.

An object created under ``raw/`` (PUT, copy, completed multipart upload) becomes the S3 event the watcher
builds, and is delivered on background threads (S3 invokes Lambda asynchronously; `workers` events run at
once, as concurrent invocations do) to:

- lakebox's own handler (the default), exactly as the watcher runs it; or
- the user's handler, ``path/to/lambda_function.py:lambda_handler`` (``--function``), in a subprocess with
  the event, a context object, the function timeout, the user's environment plus ``AWS_ENDPOINT_URL``
  pointing back at this endpoint, so its ``boto3.client("s3")`` calls land in the lake.

A failure (an exception, a timeout, a crash) is retried twice with the configured delays (Lambda waits 60 s
and 120 s); then the event goes to the dead letters (``_lakebox/failed/``). Each invocation's log, shaped as
CloudWatch Logs holds it (START / output / END / REPORT), is printed and kept in the run record under
``_lakebox/runs/``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakebox.core.errors import LakeboxError
from lakebox.endpoint.backend import Backend

log = logging.getLogger("lakebox.endpoint.functions")
RUNTIME = Path(__file__).with_name("lambda_runtime.py")
#: Lines of an invocation's log kept in its run record (the first and last halves of longer logs).
MAX_LOG_LINES = 2000


class FunctionError(LakeboxError, code="Unhandled"):
    """One invocation failed; the message is what Lambda would report."""

    def __init__(self, message: str, error_type: str = "Error") -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class FunctionSpec:
    """``path/to/file.py:handler``."""

    path: Path
    handler: str

    @classmethod
    def parse(cls, text: str) -> FunctionSpec:
        file, sep, handler = text.rpartition(":")
        if not sep or not file or not handler:
            file, handler = text, "lambda_handler"
        path = Path(file).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"function file {path} does not exist (expected path/to/file.py:handler)")
        if not handler.isidentifier():
            raise ValueError(f"handler {handler!r} is not a Python name")
        return cls(path, handler)

    @property
    def name(self) -> str:
        return self.path.stem


def _kept(lines: list[str]) -> list[str]:
    """A log as the run record keeps it: whole, or its first and last ``MAX_LOG_LINES / 2`` lines."""
    if len(lines) <= MAX_LOG_LINES:
        return lines
    half = MAX_LOG_LINES // 2
    return [*lines[:half], f"... {len(lines) - MAX_LOG_LINES} lines left out ...", *lines[-half:]]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventDelivery:
    """A queue of S3 events and the worker that invokes the function for each, with retries."""

    def __init__(self, backend: Backend, *, function: FunctionSpec | None, endpoint_url: Callable[[], str],
                 timeout: float, retry_delays: tuple[float, ...], env: dict[str, str] | None = None,
                 credentials: tuple[str, str] | None = None, echo: Callable[[str], None] | None = None,
                 concurrency: int = 1) -> None:
        self.backend = backend
        self.function = function
        self.endpoint_url = endpoint_url
        self.timeout = timeout
        self.retry_delays = retry_delays[:2] if len(retry_delays) >= 2 else (*retry_delays, 0.0, 0.0)[:2]
        self.env = env or {}
        self.credentials = credentials
        self.echo = echo
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self.concurrency = max(1, concurrency)
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start the invokers: ``concurrency`` events run at once, as Lambda runs concurrent invocations."""
        for i in range(self.concurrency):
            th = threading.Thread(target=self._loop, name=f"lakebox-events-{i}", daemon=True)
            th.start()
            self._threads.append(th)

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for th in self._threads:
            th.join(max(0.0, deadline - time.monotonic()))

    def object_created(self, bucket: str, key: str, event_name: str, size: int, etag: str) -> None:
        """Queue the S3 notification for a new object (called by the S3 service)."""
        self._queue.put((bucket, self.backend.s3_event(bucket, key, event_name, size, etag)))

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            bucket, event = item
            try:
                self.deliver(bucket, event)
            except Exception:  # noqa: BLE001 - the delivery thread must survive any one event
                log.exception("delivering an S3 event failed")

    def deliver(self, bucket: str, event: dict[str, Any]) -> bool:
        """Invoke the function with ``event``; retry twice; dead-letter the event if every attempt fails."""
        attempts = 1 + len(self.retry_delays)
        last: FunctionError | None = None
        for attempt in range(1, attempts + 1):
            try:
                self._invoke(bucket, event, attempt)
                return True
            except FunctionError as exc:
                last = exc
                if attempt < attempts and not self._stopping.wait(self.retry_delays[attempt - 1]):
                    continue
                break
        self.backend.dead_letter(bucket, event, f"{last.error_type}: {last}" if last else "failed", attempts)
        return False

    def _invoke(self, bucket: str, event: dict[str, Any], attempt: int) -> None:
        key = event["Records"][0]["s3"]["object"]["key"]
        etag = event["Records"][0]["s3"]["object"].get("eTag")
        if self.function is None:
            try:
                runs = self.backend.run_builtin(bucket, event)
            except Exception as exc:  # noqa: BLE001 - a failing run is retried, as Lambda retries the handler
                raise FunctionError(str(exc) or type(exc).__name__, type(exc).__name__) from exc
            for r in runs:
                if r.get("status") == "error":
                    raise FunctionError(r.get("error") or "processing failed")
                if self.echo:
                    self.echo(f"{r.get('status')} s3://{bucket}/{r.get('raw_key')}: read {r.get('rows_read', 0)}, "
                              f"kept {r.get('rows_kept', 0)}, dropped {r.get('rows_dropped', 0)}, quarantined "
                              f"{r.get('rows_quarantined', 0)}" + (f" ({r['error']})" if r.get("error") else ""))
            return
        self._invoke_user(bucket, key, etag, event, attempt)

    def _environment(self, request_id: str) -> dict[str, str]:
        assert self.function is not None
        region = self.backend.region
        env = dict(os.environ)
        access, secret = self.credentials or ("test", "test")
        env.setdefault("AWS_ACCESS_KEY_ID", access)
        env.setdefault("AWS_SECRET_ACCESS_KEY", secret)
        if self.credentials:
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = access, secret
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint_url(), "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": self.function.name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": dt.datetime.now(dt.UTC).strftime("%Y/%m/%d/[$LATEST]") + request_id[:8],
            "LAMBDA_TASK_ROOT": str(self.function.path.parent), "_HANDLER": f"{self.function.name}."
            f"{self.function.handler}", "LAKEBOX_REQUEST_ID": request_id, "PYTHONUNBUFFERED": "1",
        })
        env.pop("AWS_PROFILE", None)
        env.update(self.env)
        return env

    def _invoke_user(self, bucket: str, key: str, etag: str | None, event: dict[str, Any], attempt: int) -> None:
        assert self.function is not None
        request_id = str(uuid.uuid4())
        started = _now()
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="lakebox-fn-") as tmp:
            result_path = Path(tmp) / "result.json"
            lines = [f"START RequestId: {request_id} Version: $LATEST"]
            error: FunctionError | None = None
            try:
                proc = subprocess.run(  # noqa: S603 - runs the user's own handler file, by design
                    [sys.executable, "-P", str(RUNTIME), str(self.function.path), self.function.handler, str(result_path)],
                    input=json.dumps(event).encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    env=self._environment(request_id), cwd=str(self.function.path.parent), timeout=self.timeout,
                    check=False)
                output = proc.stdout.decode("utf-8", "replace")
                lines += output.splitlines()
                if result_path.exists():
                    result = json.loads(result_path.read_text(encoding="utf-8"))
                    if not result.get("ok"):
                        error = FunctionError(result.get("errorMessage", ""), result.get("errorType", "Error"))
                else:
                    error = FunctionError(f"Runtime exited with error: exit status {proc.returncode}",
                                          "Runtime.ExitError")
            except subprocess.TimeoutExpired as exc:
                lines += (exc.stdout or b"").decode("utf-8", "replace").splitlines()
                error = FunctionError(f"Task timed out after {self.timeout:.2f} seconds", "Sandbox.Timedout")
                lines.append(f"{_now()} {request_id} Task timed out after {self.timeout:.2f} seconds")
        ms = (time.perf_counter() - t0) * 1000
        lines.append(f"END RequestId: {request_id}")
        lines.append(f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms\tBilled Duration: {int(ms) + 1} ms\t"
                     f"Memory Size: 128 MB")
        for line in lines:
            if self.echo:
                self.echo(line)
            log.info("%s", line)
        self.backend.record_run(
            bucket, key, etag, "error" if error else "ok", f"{error.error_type}: {error}" if error else None,
            started, _now(), ms,
            {"function": f"{self.function.path}:{self.function.handler}", "request_id": request_id,
             "attempt": attempt, "logs": _kept(lines), "log_group": f"/aws/lambda/{self.function.name}"})
        if error is not None:
            raise error
