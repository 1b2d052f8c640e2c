"""Query results in enriched/ expire (issue 12): "Any SQL user can fill the disk. Every /api/sql call writes its
result under enriched/, and nothing removes it." Ad-hoc results now expire after result_retention_days and are
capped at result_max_mb (oldest first); named queries' latest results stay; `lakebox gc` runs it by hand."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from lakebox.config import Settings
from lakebox.core.retention import EXPIRED, OVER_CAP, ResultEntry, results_to_delete
from lakebox.lake import Lake
from lakebox.query.errors import AthenaError

from .ingest_fixtures import lakebox

pytest.register_assert_rewrite("web_fixtures")
from web_fixtures import dashboard_app  # noqa: E402

MIB = 1024 * 1024
NOW = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
#: About 100 kB of result per call (Trino's sequence() stops at 10,000 entries; this needs far fewer).
BIG_SQL = "SELECT lpad('', 10000, 'x') AS pad FROM unnest(sequence(1, 10))"


def _entry(eid: str, size: int, age_days: float, pinned: bool = False) -> ResultEntry:
    return ResultEntry(eid, size, NOW - dt.timedelta(days=age_days), pinned)


def test_policy_keeps_the_newest_under_the_cap_and_the_pinned() -> None:
    entries = [_entry(f"r{i}", 100, age_days=i) for i in range(6)] + [_entry("named", 100, 30, pinned=True)]
    removed = results_to_delete(entries, NOW, retention_days=7, max_bytes=350)
    # named (pinned, 30 days old) stays and counts: 100 + r0, r1 = 300 <= 350; r2 would make 400.
    assert [(r.entry.execution_id, r.reason) for r in removed] == [
        ("r5", OVER_CAP), ("r4", OVER_CAP), ("r3", OVER_CAP), ("r2", OVER_CAP)]


def test_policy_expires_old_results_and_zero_disables() -> None:
    entries = [_entry("old", 1, 8), _entry("new", 1, 6), _entry("named", 1, 99, pinned=True)]
    assert [(r.entry.execution_id, r.reason) for r in results_to_delete(entries, NOW, 7, 0)] == [("old", EXPIRED)]
    assert results_to_delete(entries, NOW, 0, 0) == []


def _results(lake: Path) -> dict[str, int]:
    """Execution id -> bytes of its result pair under enriched/ (CTAS tables excluded)."""
    out: dict[str, int] = {}
    for p in (lake / "enriched").iterdir():
        if p.is_file() and p.name.endswith((".csv", ".csv.metadata")):
            eid = p.name.split(".", 1)[0]
            out[eid] = out.get(eid, 0) + p.stat().st_size
    return out


def _age(lake: Path, eid: str, seconds: float) -> None:
    when = time.time() - seconds
    for suffix in (".csv", ".csv.metadata"):
        p = lake / "enriched" / f"{eid}{suffix}"
        if p.exists():
            os.utime(p, (when, when))


def _unknown(lake: Lake, eid: str) -> None:
    with pytest.raises(AthenaError) as exc:
        lake.engine.get_query_execution(eid)
    assert exc.value.code == "InvalidRequestException"
    with pytest.raises(AthenaError) as exc:
        lake.engine.get_query_results(eid)
    assert exc.value.code == "InvalidRequestException"


def test_gc_keeps_newest_under_cap_and_named_latest(orders_lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(orders_lake.settings.lake)
    named = orders_lake.run_named(orders_lake.named_queries["total_sales_by_customer"])
    _age(root, named.execution_id, 30 * 86400)  # older than the retention and than every other result
    expired = orders_lake.engine.run_query("SELECT 1 AS one")
    _age(root, expired.execution_id, 8 * 86400)
    big = [orders_lake.engine.run_query(BIG_SQL) for _ in range(14)]
    for i, r in enumerate(big):
        assert r.state == "SUCCEEDED"
        _age(root, r.execution_id, 3600 - i * 60)  # big[-1] is the newest
    before = _results(root)
    assert sum(before.values()) > 1.3 * MIB

    monkeypatch.setenv("LAKEBOX_RESULT_MAX_MB", "1")
    dry = lakebox(root, "gc", "--dry-run", check=True)
    assert _results(root) == before
    assert f"would remove {expired.execution_id} (" in dry.stdout and "expired)" in dry.stdout

    out = lakebox(root, "gc", check=True).stdout
    after = _results(root)
    gone = [expired.execution_id] + [r.execution_id for r in big if r.execution_id not in after]
    freed = sum(before[k] for k in gone)
    assert out.splitlines() == [
        *(f"removed {k} ({before[k]:,} bytes, {'expired' if k == expired.execution_id else 'over cap'})"
          for k in gone),
        f"removed {len(gone)} result(s), {freed:,} bytes; kept {len(after)} result(s), "
        f"{sum(after.values()):,} bytes"]
    assert named.execution_id in after  # the named query's latest result, though 30 days old
    assert expired.execution_id not in after
    assert f"removed {expired.execution_id} (" in out
    assert sum(after.values()) <= MIB
    kept_big = [r.execution_id for r in big if r.execution_id in after]
    assert kept_big and kept_big == [r.execution_id for r in big[-len(kept_big):]]  # the newest ones
    # and no more was removed than needed: one more of the big ones would not have fit
    assert sum(after.values()) + before[big[-len(kept_big) - 1].execution_id] > MIB
    assert set(before) - set(after) == set(gone)
    _unknown(Lake(orders_lake.settings), expired.execution_id)
    _unknown(Lake(orders_lake.settings), big[0].execution_id)
    page = Lake(orders_lake.settings).engine.get_query_results(named.execution_id)
    assert len(page["ResultSet"]["Rows"]) > 1


@pytest.fixture
def capped_lake(make_settings: Callable[..., Settings], orders_csv: Path, tmp_path: Path) -> Lake:
    lake = Lake(make_settings(result_max_mb=1))
    src = tmp_path / "orders.csv"
    src.write_bytes(orders_csv.read_bytes())
    assert lake.ingest([src])[0].run.status == "ok"
    return lake


@pytest.fixture
def capped_client(capped_lake: Lake) -> Iterator[FlaskClient]:
    with dashboard_app(capped_lake) as app:
        yield app.test_client()


def test_api_sql_cannot_fill_the_disk(capped_lake: Lake, capped_client: FlaskClient) -> None:
    root = Path(capped_lake.settings.lake)
    client = capped_client
    headers = {"X-CSRF-Token": client.get("/api/csrf").get_json()["csrf_token"]}
    download = client.get("/api/queries/total_sales_by_customer.csv")
    assert download.status_code == 200
    named = _results(root)
    assert len(named) == 1
    calls = 40
    ids = []
    for _ in range(calls):
        resp = client.post("/api/sql", json={"sql": BIG_SQL}, headers=headers)
        assert resp.status_code == 200, resp.data
        ids.append(resp.get_json()["execution_id"])
        assert sum(_results(root).values()) <= MIB  # bounded after every call, not only at the end
    after = _results(root)
    assert set(named) <= set(after)  # the named query's latest download survives
    assert ids[-1] in after
    assert ids[0] not in after
    _unknown(Lake(capped_lake.settings), ids[0])
    # the bound costs far fewer listings than calls (the sweep is amortised)
    sweeper = capped_client.application.extensions["lakebox"].services.result_sweeper
    assert sweeper.sweeps <= calls // 2
    again = client.get("/api/queries/total_sales_by_customer.csv")
    assert again.status_code == 200 and again.data == download.data


def test_one_shot_processes_share_the_estimate(capped_lake: Lake) -> None:
    """Each `lakebox query` is a new process with a new sweeper: it takes the last one's estimate from the lake
    (``_lakebox/results-sweep.json``) instead of listing all of enriched/ first, and the cap still holds."""
    root = Path(capped_lake.settings.lake)
    calls, sweeps = 30, 0
    for _ in range(calls):
        lake = Lake(capped_lake.settings)  # as a fresh process would build it
        assert lake.engine.run_query(BIG_SQL).state == "SUCCEEDED"
        sweeps += lake.result_sweeper.sweeps
        assert sum(_results(root).values()) <= MIB
    assert sweeps <= calls // 2  # without the shared estimate every process lists: `calls` sweeps
    # A collection older than the sweep interval is not trusted: the next process lists again.
    state = root / "_lakebox" / "results-sweep.json"
    doc = json.loads(state.read_text())
    state.write_text(json.dumps({**doc, "swept_at": doc["swept_at"] - 7200}))
    lake = Lake(capped_lake.settings)
    assert lake.engine.run_query("SELECT 1 AS one").state == "SUCCEEDED"
    assert lake.result_sweeper.sweeps == 1
