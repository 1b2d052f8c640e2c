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
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakebox.catalog.crawl import CatalogUpdater
from lakebox.config import Settings, load_settings
from lakebox.core.dataset import Dataset
from lakebox.core.runs import RunRecord, now_iso
from lakebox.events import EventError, is_test_event, parse_event
from lakebox.process.keylocks import KeyLocks
from lakebox.process.rules import dataset_for_key
from lakebox.process.runs import RunLedger
from lakebox.store.base import TMP_PREFIX, NoSuchKeyError, ObjectInfo, Store
from lakebox.store.diskspace import disk_full

if TYPE_CHECKING:
    from lakebox.process.transform import TransformResult

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
    got = _prepare(settings, store, key, etag=etag, force=force, source_name=source_name)
    if isinstance(got, RunRecord):
        return got
    _transform_one(settings, store, got)
    run = got.finish()
    # The catalog is brought up to date before the run is recorded: a crash in between leaves the object
    # unrecorded, so it is processed again (idempotently) rather than recorded with a stale catalog.
    if run.status == "ok" and after is not None:
        after(run)
    RunLedger(store).record(run)
    _log(run)
    return run


@dataclass
class _Pending:
    """A raw object about to be processed: what the checks before the transform found."""

    key: str
    dataset: Dataset
    info: ObjectInfo
    prev: RunRecord | None
    run: RunRecord
    fmt: str
    as_of: dt.date
    t0: float = field(default_factory=time.perf_counter)

    def finish(self, share: int = 1) -> RunRecord:
        """Stamp the run's end; a batch of ``share`` files splits its time evenly between them."""
        self.run.finished_at = now_iso()
        self.run.duration_ms = round((time.perf_counter() - self.t0) * 1000 / max(1, share), 1)
        return self.run


def _prepare(settings: Settings, store: Store, key: str, *, etag: str | None, force: bool,
             source_name: str | None) -> RunRecord | _Pending:
    """The run's answer when there is nothing to do (ignored, skipped), else what processing needs."""
    dataset = dataset_for_key(settings.datasets, key)
    if dataset is None:
        return RunRecord(raw_key=key, etag=etag, status="ignored", error=f"no dataset owns {key}")
    try:
        info = store.head_object(key)
    except NoSuchKeyError:
        return RunRecord(raw_key=key, etag=etag, status="ignored", error=f"{key} no longer exists")
    prev = RunLedger(store).latest(key)
    if not force and prev is not None and prev.etag == info.etag and prev.status in ("ok", "rejected"):
        prev.status = "skipped"
        return prev
    as_of = settings.reference_date()
    fmt = dataset.output_format or settings.output_format
    run = RunRecord(raw_key=key, etag=info.etag, dataset=dataset.name, size=info.size, as_of=as_of.isoformat(),
                    source_name=source_name)
    run.started_at = now_iso()
    return _Pending(key, dataset, info, prev, run, fmt, as_of)


def _transform_one(settings: Settings, store: Store, p: _Pending) -> None:
    """Transform and publish one raw object; sets ``p.run``'s status (ok or rejected). Unexpected failures
    propagate (a full disk as :class:`StorageFullError`)."""
    # DuckDB comes with the first file processed, not with importing the handler (`lakebox status`).
    import duckdb

    from lakebox.process.pool import POOL
    from lakebox.process.publish import publish_outputs
    from lakebox.process.transform import RejectedFile, transform_csv

    key, dataset, run = p.key, p.dataset, p.run
    out_key = dataset.output_key(key, p.fmt)
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
            result = transform_csv(con, Path(src), dataset, p.as_of, out_tmp, p.fmt, q_tmp,
                                   row_group_mb=settings.row_group_mb)
            # Publish: each put is atomic (rename or single PUT), so readers see old or new, never half.
            publish_outputs(con, store, dataset, key, out_tmp, p.fmt, result.rows_kept, work, run,
                            row_group_mb=settings.row_group_mb)
        _took(store, p, result, q_tmp)
    except RejectedFile as exc:
        run.status = "rejected"
        run.error = f"{key}: {exc}"
    except (OSError, duckdb.IOException) as exc:
        # Checked before the finally below frees the partial outputs: a full disk is still full here.
        full = disk_full(exc, f"the outputs of {key} ({out_key})", work, p.info.size)
        if full is not None:
            raise full from exc
        raise
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def _took(store: Store, p: _Pending, result: TransformResult, q_tmp: Path | None) -> None:
    """The run's counts from the transform; stale outputs removed, the quarantine published (or a stale
    one removed); the run is then ok."""
    from lakebox.process.publish import remove_stale

    run = p.run
    run.rows_read, run.rows_kept = result.rows_read, result.rows_kept
    run.rows_dropped, run.rows_quarantined = result.rows_dropped, result.rows_quarantined
    if result.extra_columns:
        run.warnings.append(f"ignored extra column(s): {', '.join(result.extra_columns)}")
    remove_stale(store, p.prev, run)
    q_key = p.dataset.quarantine_key(p.key)
    if result.quarantine_written and q_tmp is not None:
        store.upload_file(q_key, q_tmp)
        run.quarantine_key = q_key
    else:
        store.delete_object(q_key)  # a reprocessed file that is now clean has no stale quarantine
    run.status = "ok"


def _log(run: RunRecord) -> None:
    log.info("%s %s read=%d kept=%d dropped=%d quarantined=%d", run.status, run.raw_key, run.rows_read,
             run.rows_kept, run.rows_dropped, run.rows_quarantined)


#: The most raw files processed together (``process_objects``), and the most bytes of them: enough to spread
#: DuckDB's per-statement cost and the catalog and ledger writes thin, small enough that one batch's rows are
#: staged in memory and that no file waits long behind the others.
BATCH_FILES = 64
BATCH_BYTES = 64 * 1024 * 1024

#: Called once with the ok runs of a batch: the catalog's update path for many runs.
AfterProcessMany = Callable[[list[RunRecord]], object]


def process_objects(settings: Settings, store: Store, keys: Sequence[str], *,
                    after_many: AfterProcessMany | None = None,
                    locks: KeyLocks | None = None) -> list[RunRecord | Exception]:
    """Process several raw objects together; per key, in order, its run or the exception it failed with.

    Each object gets the run, outputs and counts :func:`process_object` would give it (outputs per source
    object, so reprocessing one replaces exactly its rows). What is shared: clean files of one dataset are
    read in one DuckDB pass (``process.batch``; any other file goes through the one-file path on its own), the
    catalog is updated once for all the ok runs (``after_many``) and the runs are recorded in one ledger
    write. One file's failure is its own: it is answered with its exception, and the others go on. With
    ``locks``, every key's lock is held (taken in sorted order) from the ETag checks to the ledger write.
    """
    with ExitStack() as stack:
        if locks is not None:
            for key in sorted(set(keys)):
                stack.enter_context(locks.hold(key))
        return _process_objects(settings, store, list(keys), after_many)


def _process_objects(settings: Settings, store: Store, keys: list[str],
                     after_many: AfterProcessMany | None) -> list[RunRecord | Exception]:
    out: list[RunRecord | Exception | None] = [None] * len(keys)
    pending: list[tuple[int, _Pending]] = []
    for i, key in enumerate(keys):
        try:
            got = _prepare(settings, store, key, etag=None, force=False, source_name=None)
        except Exception as exc:  # noqa: BLE001 - one file's failure is its own (the caller retries it)
            out[i] = exc
            continue
        if isinstance(got, RunRecord):
            out[i] = got
        else:
            pending.append((i, got))
    done: list[_Pending] = []
    alone: list[tuple[int, _Pending]] = []
    for chunk in _chunks(store, pending):
        finished = _transform_batch(settings, store, [p for _, p in chunk]) if len(chunk) > 1 else []
        for (i, p), published in zip(chunk, finished or [False] * len(chunk), strict=True):
            if published:
                out[i] = p.run
                done.append(p)
            else:
                alone.append((i, p))
    runs = [p.finish(len(done)) for p in done]  # stamped now: the batch's time, shared evenly
    for i, p in alone:
        p.t0 = time.perf_counter()
        try:
            _transform_one(settings, store, p)
        except Exception as exc:  # noqa: BLE001 - one file's failure is its own (the caller retries it)
            out[i] = exc
            continue
        out[i] = p.finish()
        runs.append(p.run)
    if runs:
        ok = [r for r in runs if r.status == "ok"]
        if ok and after_many is not None:
            after_many(ok)  # the catalog before the ledger, as for one file
        RunLedger(store).record_many(runs)
        for run in runs:
            _log(run)
    answers = [x for x in out if x is not None]
    assert len(answers) == len(keys)  # every key was answered above: a run, or its exception
    return answers


def _chunks(store: Store, pending: list[tuple[int, _Pending]]) -> list[list[tuple[int, _Pending]]]:
    """Batches of objects one DuckDB pass can take: local Parquet output without partitions, one dataset,
    at most :data:`BATCH_FILES` files and :data:`BATCH_BYTES` bytes; everything else one by one."""
    groups: dict[str, list[tuple[int, _Pending]]] = {}
    chunks: list[list[tuple[int, _Pending]]] = []
    for item in pending:
        p = item[1]
        if p.fmt != "parquet" or p.dataset.partition is not None or store.local_path(p.key) is None:
            chunks.append([item])
            continue
        groups.setdefault(p.dataset.name, []).append(item)
    for items in groups.values():
        chunk: list[tuple[int, _Pending]] = []
        size = 0
        for item in items:
            n = item[1].info.size or 0
            if chunk and (len(chunk) >= BATCH_FILES or size + n > BATCH_BYTES):
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append(item)
            size += n
        if chunk:
            chunks.append(chunk)
    return chunks


def _transform_batch(settings: Settings, store: Store, batch: list[_Pending]) -> list[bool]:
    """One DuckDB pass over ``batch`` (one dataset); per object, whether it was finished (published, ok). An
    unexpected error leaves every object to the one-file path, which reports it against the file it hits."""
    import duckdb

    from lakebox.process.batch import transform_batch
    from lakebox.process.pool import POOL
    from lakebox.process.publish import publish_outputs

    work = _work_dir(store)
    temps = [store.temp_path(p.dataset.output_key(p.key, p.fmt)) for p in batch]
    finished = [False] * len(batch)
    try:
        with POOL.connection(settings.memory_limit, settings.threads, spill_dir=work) as con:
            try:
                results = transform_batch(con, [(Path(str(store.local_path(p.key))), t) for p, t in
                                                zip(batch, temps, strict=True)], batch[0].dataset, batch[0].as_of,
                                          work, row_group_mb=settings.row_group_mb)
            except (OSError, duckdb.Error):
                log.warning("a batch of %d files failed; processing them one by one", len(batch), exc_info=True)
                return finished
            for j, (p, tmp, result) in enumerate(zip(batch, temps, results, strict=True)):
                if result is None:
                    continue
                try:
                    publish_outputs(con, store, p.dataset, p.key, tmp, p.fmt, result.rows_kept, work, p.run)
                    _took(store, p, result, None)
                except Exception:  # noqa: BLE001 - one file's failure is its own: it goes alone, and says why
                    log.warning("%s could not be published with its batch; processing it alone", p.key,
                                exc_info=True)
                    p.run.output_keys, p.run.output_files, p.run.replaced_keys = [], [], []
                    p.run.warnings = []
                    continue
                finished[j] = True
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return finished


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
