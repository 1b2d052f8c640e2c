"""The S3 event notification model, shared by the watcher (which builds events) and the handler (which reads them).

Shapes follow the S3 user guide's "Event message structure": ``eventName`` without the ``s3:`` prefix, keys
form-encoded (``red flower.jpg`` -> ``red+flower.jpg``), ``eTag`` without quotes, no ``versionId`` on an
unversioned bucket, and the ``s3:TestEvent`` message that has no ``Records`` at all.
"""

from __future__ import annotations

import datetime as dt
import itertools
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lakebox.core.errors import InvalidInputError

_seq = itertools.count(1)


class EventError(InvalidInputError, code="InvalidEvent"):
    """The event is not an S3 notification lakebox can act on."""


@dataclass(frozen=True)
class ObjectEvent:
    """One record of an S3 notification, decoded."""

    event_name: str
    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    sequencer: str | None = None
    event_time: str | None = None

    @property
    def is_created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")

    @property
    def is_removed(self) -> bool:
        return self.event_name.startswith("ObjectRemoved:")


def is_test_event(event: Mapping[str, Any]) -> bool:
    """True for the ``s3:TestEvent`` S3 sends when a notification configuration is saved."""
    return event.get("Event") == "s3:TestEvent" and "Records" not in event


def parse_event(event: Mapping[str, Any]) -> Iterator[ObjectEvent]:
    """Yield every record of an S3 notification (not just the first, as the original handler did).

    Keys are decoded with ``unquote_plus`` as AWS's own examples do. Non-S3 records raise :class:`EventError`.
    """
    if not isinstance(event, Mapping):
        raise EventError(f"event must be a JSON object, got {type(event).__name__}")
    if is_test_event(event):
        return
    records = event.get("Records")
    if records is None:
        raise EventError("event has no 'Records' and is not an s3:TestEvent")
    for i, rec in enumerate(records):
        try:
            if rec.get("eventSource") != "aws:s3":
                raise EventError(f"record {i}: eventSource is {rec.get('eventSource')!r}, not 'aws:s3'")
            version = str(rec.get("eventVersion", "2.1"))
            if not version.startswith("2."):
                raise EventError(f"record {i}: unsupported eventVersion {version}")
            s3 = rec["s3"]
            obj = s3["object"]
            yield ObjectEvent(
                event_name=rec["eventName"],
                bucket=s3["bucket"]["name"],
                key=urllib.parse.unquote_plus(obj["key"]),
                size=obj.get("size"),
                etag=obj.get("eTag"),
                sequencer=obj.get("sequencer"),
                event_time=rec.get("eventTime"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise EventError(f"record {i} is not an S3 event record: missing {exc}") from exc


def build_record(
    key: str,
    *,
    bucket: str = "lakebox",
    event_name: str = "ObjectCreated:Put",
    size: int | None = None,
    etag: str | None = None,
    region: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Build one S3 event record as S3 would send it (version 2.1, form-encoded key).

    ``region`` is the record's ``awsRegion``; a lake with no region (a local folder) reports us-east-1, S3's
    default region."""
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    obj: dict[str, Any] = {"key": urllib.parse.quote_plus(key, safe="/"), "sequencer": f"{next(_seq):016X}"}
    if event_name.startswith("ObjectCreated"):
        obj["size"] = size if size is not None else 0
        if etag:
            obj["eTag"] = etag.strip('"')
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region or "us-east-1",
        "eventTime": when,
        "eventName": event_name,
        "userIdentity": {"principalId": "lakebox"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "LAKEBOX", "x-amz-id-2": "LAKEBOX"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "lakebox-raw-csv",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "lakebox"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def build_event(*records: dict[str, Any]) -> dict[str, Any]:
    """Wrap records into a notification message."""
    return {"Records": list(records)}


def matches_trigger(key: str, prefix: str = "raw/", suffix: str = ".csv") -> bool:
    """The original trigger's filter: prefix ``raw/`` and suffix ``.csv`` (S3 filters are case-sensitive)."""
    return key.startswith(prefix) and key.endswith(suffix)
