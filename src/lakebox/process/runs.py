"""The run ledger under ``_lakebox/``: one record per processing attempt, and the latest state per raw key.

Stored as JSON objects through the Store interface, so the same ledger works in a folder and in S3:

- ``_lakebox/state/<raw key>.json``: the latest run for that raw key (used for the same-ETag no-op);
- ``_lakebox/runs/<started>-<run id>.json``: every run, newest listed last, for ``status`` and the dashboard.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from lakebox.core.runs import RunRecord, now_iso
from lakebox.store.base import NoSuchKeyError, Store

STATE_PREFIX = "_lakebox/state/"
RUNS_PREFIX = "_lakebox/runs/"


class RunLedger:
    """Reads and writes run records in a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def state_key(self, raw_key: str) -> str:
        return f"{STATE_PREFIX}{raw_key}.json"

    def latest(self, raw_key: str) -> RunRecord | None:
        try:
            return RunRecord.from_dict(json.loads(self.store.get_object(self.state_key(raw_key))))
        except NoSuchKeyError:
            return None
        except (ValueError, TypeError):
            return None  # a corrupt state record means "not processed": reprocessing is safe

    def record(self, run: RunRecord) -> None:
        self.record_many([run])

    def record_many(self, runs: list[RunRecord]) -> None:
        """Record several runs in one write (a batch processed together): each run's record, then each
        raw key's state, the same objects :meth:`record` writes one run at a time."""
        items: list[tuple[str, bytes]] = []
        states: list[tuple[str, bytes]] = []
        for run in runs:
            body = json.dumps(run.to_dict(), indent=1, default=str).encode()
            stamp = (run.started_at or now_iso()).replace(":", "").replace("-", "")
            items.append((f"{RUNS_PREFIX}{stamp}-{run.run_id}.json", body))
            states.append((self.state_key(run.raw_key), body))
        if len(items) == 1:
            for key, body in (*items, *states):
                self.store.put_object(key, body)
            return
        # The states last: a state says "this version is done", so it never precedes its run record.
        self.store.put_objects([*items, *states])

    def forget(self, raw_key: str) -> None:
        self.store.delete_object(self.state_key(raw_key))

    def recent(self, limit: int = 50) -> list[RunRecord]:
        keys = [o.key for o in self.store.list_objects_v2(RUNS_PREFIX)]
        out: list[RunRecord] = []
        for key in reversed(keys[-limit:] if limit else keys):
            try:
                out.append(RunRecord.from_dict(json.loads(self.store.get_object(key))))
            except (NoSuchKeyError, ValueError, TypeError):
                continue
        return out

    def states(self) -> Iterator[RunRecord]:
        for obj in self.store.list_objects_v2(STATE_PREFIX):
            try:
                yield RunRecord.from_dict(json.loads(self.store.get_object(obj.key)))
            except (NoSuchKeyError, ValueError, TypeError):
                continue

    def pending(self, prefix: str = "raw/") -> list[str]:
        """Raw CSV keys whose current version has not been processed (or whose last attempt errored)."""
        states = {s.raw_key: s for s in self.states()}
        out = []
        for obj in self.store.list_objects_v2(prefix):
            if not obj.key.endswith(".csv"):
                continue
            s = states.get(obj.key)
            if s is None or s.etag != obj.etag or s.status not in ("ok", "rejected"):
                out.append(obj.key)
        return out

    def totals(self) -> dict[str, int]:
        """Row totals over the latest run of every raw object (what the lake holds now)."""
        t = {"files": 0, "rows_read": 0, "rows_kept": 0, "rows_dropped": 0, "rows_quarantined": 0, "rejected": 0}
        for s in self.states():
            t["files"] += 1
            if s.status == "rejected":
                t["rejected"] += 1
            for k in ("rows_read", "rows_kept", "rows_dropped", "rows_quarantined"):
                t[k] += int(getattr(s, k) or 0)
        return t
