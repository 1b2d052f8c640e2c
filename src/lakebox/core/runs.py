"""The run record: what one processing attempt did (the Lambda's outcome), shared by every stage."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunRecord:
    """What one processing attempt did. ``status`` is ok, rejected or error."""

    raw_key: str
    etag: str | None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    dataset: str | None = None
    status: str = "running"
    rows_read: int = 0
    rows_kept: int = 0
    rows_dropped: int = 0
    rows_quarantined: int = 0
    output_keys: list[str] = field(default_factory=list)
    #: What each published output holds, as its writer knew it: ``key``, ``size``, ``etag``, ``rows``, ``format``
    #: and ``columns`` ([name, Glue type] pairs). The catalog records new files from this without reopening them.
    output_files: list[dict[str, Any]] = field(default_factory=list)
    quarantine_key: str | None = None
    #: Outputs of the previous run of the same raw object that this run removed (partitions it no longer has).
    replaced_keys: list[str] = field(default_factory=list)
    size: int | None = None
    as_of: str | None = None
    started_at: str = ""
    finished_at: str | None = None
    duration_ms: float | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: The file's name as the user gave it, when the key had to be sanitised (see core.names).
    source_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def balanced(self) -> bool:
        """Nothing is lost: rows read = kept + dropped + quarantined."""
        return self.rows_read == self.rows_kept + self.rows_dropped + self.rows_quarantined


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
