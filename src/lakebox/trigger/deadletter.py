"""The watcher's on-failure destination: ``_lakebox/failed/<raw key>.json``.

Each record has the shape of AWS Lambda's asynchronous-invocation *on-failure invocation record*
(version, timestamp, requestContext{condition "RetriesExhausted", approximateInvokeCount}, requestPayload =
the S3 event, responseContext, responsePayload{errorMessage, errorType}), plus a ``lakebox`` section with
the decoded raw key and the ETag that failed, so a rescan can tell "this version already failed" from
"a new version arrived".

There is one record per raw key: the latest failure. It is removed when a later version of the key is
processed (ok or rejected), so ``lakebox status`` and the dashboard list what is broken *now*. Records are
written with the store's atomic put, so a crash never leaves half a record.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import traceback
import uuid
from typing import Any

from lakebox.events import EventError, parse_event
from lakebox.store.base import NoSuchKeyError, Store

FAILED_PREFIX = "_lakebox/failed/"
FUNCTION_ARN = "arn:aws:lambda:local:000000000000:function:lakebox-process:$LATEST"


def failed_key(raw_key: str) -> str:
    """Where the dead letter for ``raw_key`` lives (derived from the key, so a new failure replaces the old)."""
    return f"{FAILED_PREFIX}{raw_key}.json"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _first_object(event: dict[str, Any]) -> tuple[str | None, str | None]:
    try:
        for rec in parse_event(event):
            return rec.key, rec.etag
    except EventError:
        return None, None  # a malformed event is still worth recording, under a generated name
    return None, None


def record_failure(
    store: Store, event: dict[str, Any], error: BaseException | str, attempts: int, *, key: str | None = None
) -> dict[str, Any]:
    """Write the invocation record for an event whose every attempt failed; return it.

    ``error`` is the last exception (or its message); ``attempts`` is how many times the handler ran.
    """
    raw_key, etag = _first_object(event)
    raw_key = key or raw_key or f"unknown/{uuid.uuid4().hex}"
    if isinstance(error, BaseException):
        message, etype = str(error) or type(error).__name__, type(error).__name__
        trace = traceback.format_exception(type(error), error, error.__traceback__)[-8:]
    else:
        message, etype, trace = str(error), "Error", []
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _now(),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": FUNCTION_ARN,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": int(attempts),
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": message, "errorType": etype, "stackTrace": trace},
        "lakebox": {"key": raw_key, "etag": etag},
    }
    store.put_object(failed_key(raw_key), json.dumps(record, indent=1, default=str).encode())
    return record


def _summary(record_key: str, record: dict[str, Any]) -> dict[str, Any]:
    lb = record.get("lakebox") or {}
    ctx = record.get("requestContext") or {}
    resp = record.get("responsePayload") or {}
    return {
        "key": lb.get("key") or record_key[len(FAILED_PREFIX):].removesuffix(".json"),
        "etag": lb.get("etag"),
        "error": resp.get("errorMessage", ""),
        "error_type": resp.get("errorType", ""),
        "attempts": ctx.get("approximateInvokeCount", 0),
        "condition": ctx.get("condition", ""),
        "failed_at": record.get("timestamp", ""),
        "event": record.get("requestPayload"),
        "record_key": record_key,
    }


def get_failure(store: Store, raw_key: str) -> dict[str, Any] | None:
    """The dead-letter summary for one raw key, or None."""
    try:
        record = json.loads(store.get_object(failed_key(raw_key)))
    except NoSuchKeyError:
        return None
    except ValueError:
        return None  # unreadable record: treat as absent so the key is retried rather than stuck
    return _summary(failed_key(raw_key), record)


def list_failed(store: Store) -> list[dict[str, Any]]:
    """Every dead letter, newest first: dicts with key, etag, error, error_type, attempts, failed_at, event."""
    out: list[dict[str, Any]] = []
    for obj in store.list_objects_v2(FAILED_PREFIX):
        if not obj.key.endswith(".json"):
            continue
        try:
            record = json.loads(store.get_object(obj.key))
        except (NoSuchKeyError, ValueError):
            continue  # removed while listing, or not a record: nothing to show
        if isinstance(record, dict):
            out.append(_summary(obj.key, record))
    out.sort(key=lambda r: r["failed_at"], reverse=True)
    return out


def clear_failure(store: Store, raw_key: str) -> None:
    """Remove the dead letter of ``raw_key`` (a later version was processed)."""
    store.delete_object(failed_key(raw_key))


class FailedVersions:
    """Which version (ETag) of each raw key is dead-lettered, shared by the workers and the rescan.

    Loaded from the dead letters at start-up; a key is marked when its retries run out and cleared (with
    its record) when a later version is processed.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._etags: dict[str, str | None] = {}

    def load(self) -> None:
        etags = {f["key"]: f.get("etag") for f in list_failed(self._store)}
        with self._lock:
            self._etags = etags

    def is_failed(self, key: str, etag: str | None) -> bool:
        """True when ``etag`` is the dead-lettered version of ``key``."""
        with self._lock:
            return key in self._etags and self._etags[key] == etag

    def has(self, key: str) -> bool:
        with self._lock:
            return key in self._etags

    def fail(self, key: str, etag: str | None, event: dict[str, Any], error: BaseException, attempts: int) -> None:
        """Record the dead letter for ``key`` and remember its version."""
        record_failure(self._store, event, error, attempts)
        with self._lock:
            self._etags[key] = etag

    def clear(self, key: str) -> None:
        """Forget a dead-lettered key and remove its record (a later version was processed, or it is gone)."""
        with self._lock:
            was_failed = self._etags.pop(key, False) is not False
        if was_failed:
            clear_failure(self._store, key)
