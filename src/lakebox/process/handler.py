"""The "Lambda": ``lambda_handler(event, context)`` and the plain ``process_object`` API behind it.

The same function runs in-process (embedded mode, called by ``lakebox ingest`` and the watcher) and deployed
on AWS Lambda, where its module-level :data:`lambda_handler` is the entry point. Unlike the original, it:
handles every record of the event (not just the first), decodes form-encoded keys, treats the s3:TestEvent
as a no-op, never reads the file into Python objects, quarantines bad rows instead of crashing, and is
idempotent: an event for an object already processed with the same ETag does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakebox.catalog.crawl import CatalogUpdater
from lakebox.config import Settings, load_settings
from lakebox.core.runs import RunRecord, now_iso
from lakebox.events import EventError, is_test_event, parse_event
from lakebox.process.keylocks import KeyLocks
from lakebox.process.rules import dataset_for_key
from lakebox.process.runs import RunLedger
from lakebox.store.base import TMP_PREFIX, NoSuchKeyError, Store
from lakebox.store.diskspace import disk_full

log = logging.getLogger("lakebox.process")

#: Called with the run after a file's outputs are published: the catalog's update path hooks in here.
AfterProcess = Callable[[RunRecord], object]


def process_object(
    settings: Settings,
    store: Store,
    key: str,
    *,
    etag: str | None = None,
    force: bool = False,
    after: AfterProcess | None = None,
    locks: KeyLocks | None = None,
    source_name: str | None = None,
) -> RunRecord:
    """Process one raw object: validate, apply the rule, publish outputs atomically, record the run.

    Returns the run record. ``status`` is ``ok``, ``rejected`` (the file as a whole cannot be processed;
    processed/ untouched), ``skipped`` (same ETag already processed; nothing written) or ``ignored`` (no
    dataset owns the key). Unexpected failures propagate, so a caller (the watcher, or AWS Lambda) retries.
    With ``locks``, the whole of it (ETag check, read, publish, record) holds the key's lock.
    ``source_name`` is the file's name as the user gave it, recorded when the key had to be sanitised.
    """
    if locks is None:
        return _process_object(settings, store, key, etag=etag, force=force, after=after, source_name=source_name)
    with locks.hold(key):
        return _process_object(settings, store, key, etag=etag, force=force, after=after, source_name=source_name)


def _process_object(
    settings: Settings, store: Store, key: str, *, etag: str | None, force: bool, after: AfterProcess | None,
    source_name: str | None,
) -> RunRecord:
    dataset = dataset_for_key(settings.datasets, key)
    if dataset is None:
        return RunRecord(raw_key=key, etag=etag, status="ignored", error=f"no dataset owns {key}")
    ledger = RunLedger(store)
    try:
        info = store.head_object(key)
    except NoSuchKeyError:
        return RunRecord(raw_key=key, etag=etag, status="ignored", error=f"{key} no longer exists")
    prev = ledger.latest(key)
    if not force and prev is not None and prev.etag == info.etag and prev.status in ("ok", "rejected"):
        prev.status = "skipped"
        return prev

    # DuckDB comes with the first file processed, not with importing the handler (`lakebox status`).
    import duckdb

    from lakebox.process.pool import POOL
    from lakebox.process.publish import publish_outputs, remove_stale
    from lakebox.process.transform import RejectedFile, transform_csv

    as_of = settings.reference_date()
    fmt = dataset.output_format or settings.output_format
    run = RunRecord(raw_key=key, etag=info.etag, dataset=dataset.name, size=info.size, as_of=as_of.isoformat(),
                    source_name=source_name)
    run.started_at = now_iso()
    t0 = time.perf_counter()
    out_key = dataset.output_key(key, fmt)
    q_key = dataset.quarantine_key(key)

    work = _work_dir(store)
    temps: list[Path] = []
    try:
        src = store.local_path(key)
        if src is None:  # S3: stream the object to local disk for DuckDB
            src = work / f"{TMP_PREFIX}{run.run_id}-input.csv"
            temps.append(src)
            with store.open_object(key) as body, open(src, "wb") as fh:
                shutil.copyfileobj(body, fh, 8 * 1024 * 1024)
        # Locally, outputs are written as hidden temp files next to their destination, so publishing is a
        # same-folder rename; a SIGKILL leaves only a temp file that no reader lists and the watcher sweeps.
        out_tmp = store.temp_path(out_key)
        q_tmp = store.temp_path(q_key)
        temps += [out_tmp, q_tmp]
        with POOL.connection(settings.memory_limit, settings.threads, spill_dir=work) as con:
            result = transform_csv(con, Path(src), dataset, as_of, out_tmp, fmt, q_tmp,
                                   row_group_mb=settings.row_group_mb)
            # Publish: each put is atomic (rename or single PUT), so readers see old or new, never half.
            publish_outputs(con, store, dataset, key, out_tmp, fmt, result.rows_kept, work, run,
                            row_group_mb=settings.row_group_mb)
        run.rows_read, run.rows_kept = result.rows_read, result.rows_kept
        run.rows_dropped, run.rows_quarantined = result.rows_dropped, result.rows_quarantined
        if result.extra_columns:
            run.warnings.append(f"ignored extra column(s): {', '.join(result.extra_columns)}")
        remove_stale(store, prev, run)
        if result.quarantine_written:
            store.upload_file(q_key, q_tmp)
            run.quarantine_key = q_key
        else:
            store.delete_object(q_key)  # a reprocessed file that is now clean has no stale quarantine
        run.status = "ok"
    except RejectedFile as exc:
        run.status = "rejected"
        run.error = f"{key}: {exc}"
    except (OSError, duckdb.IOException) as exc:
        # Checked before the finally below frees the partial outputs: a full disk is still full here.
        full = disk_full(exc, f"the outputs of {key} ({out_key})", work, info.size)
        if full is not None:
            raise full from exc
        raise
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    run.finished_at = now_iso()
    run.duration_ms = round((time.perf_counter() - t0) * 1000, 1)
    # The catalog is brought up to date before the run is recorded: a crash in between leaves the object
    # unrecorded, so it is processed again (idempotently) rather than recorded with a stale catalog.
    if run.status == "ok" and after is not None:
        after(run)
    ledger.record(run)
    log.info("%s %s read=%d kept=%d dropped=%d quarantined=%d", run.status, key, run.rows_read, run.rows_kept,
             run.rows_dropped, run.rows_quarantined)
    return run


def _work_dir(store: Store) -> Path:
    """Scratch space for DuckDB spills and S3 downloads: ``_lakebox/tmp/`` in a local lake (swept after a
    crash), the system temp folder otherwise (Lambda's /tmp)."""
    local = store.local_path("_lakebox/tmp/x")
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        return local.parent
    return Path(tempfile.gettempdir())


def handle_event(
    event: dict[str, Any], settings: Settings, store: Store, after: AfterProcess | None = None,
    locks: KeyLocks | None = None,
) -> list[RunRecord]:
    """Process every ObjectCreated record of an S3 notification; ignore removals and the test event."""
    if is_test_event(event):
        return []
    runs: list[RunRecord] = []
    for rec in parse_event(event):
        if rec.is_created:
            runs.append(process_object(settings, store, rec.key, etag=rec.etag, after=after, locks=locks))
    return runs


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry point. Settings come from ``LAKEBOX_*`` environment variables.

    Returns a summary; raises on unexpected errors so Lambda's async retries (two, by default) apply.
    Files that cannot be processed are *not* errors: they are recorded as rejected and the event succeeds.
    """
    settings = load_settings()
    if is_test_event(event):
        return {"status": "ok", "runs": [], "message": "s3:TestEvent ignored"}
    from lakebox.store import open_store

    try:
        records = list(parse_event(event))
    except EventError as exc:
        return {"status": "error", "error": str(exc), "runs": []}
    runs: list[RunRecord] = []
    for rec in records:
        if not rec.is_created:
            continue
        lake = settings.lake
        if settings.is_s3 and not lake.startswith(f"s3://{rec.bucket}"):
            lake = f"s3://{rec.bucket}"
        store = open_store(lake, endpoint_url=settings.endpoint_url, region=settings.region)
        runs.append(process_object(settings, store, rec.key, etag=rec.etag, after=_catalog_update(settings, store)))
    return {"status": "ok", "runs": [r.to_dict() for r in runs]}


def _catalog_update(settings: Settings, store: Store) -> AfterProcess:
    """The catalog's update path for runs in ``store`` (the Lambda's own wiring: it has no Lake). The catalog
    is opened only when a run needs it (rejected files never do)."""

    def after(run: RunRecord) -> object:
        return CatalogUpdater.open(settings, store).update_for_run(run)

    return after


def reference_date_from(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None
