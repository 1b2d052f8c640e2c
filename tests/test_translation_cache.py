"""The embedded engine's cached translations (query/translation_cache.py), the Trino macros it creates as
statements need them (query/trino_install.py) and its fetch (query/fetching.py)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lakebox.config import Settings
from lakebox.lake import Lake
from lakebox.query.dialect import translate
from lakebox.query.fetching import collector_paused
from lakebox.query.statement import Translation
from lakebox.query.translation_cache import TranslationCache, catalog_key
from lakebox.query.trino_install import _declared, needed

QUERIES = [
    "SELECT customer_id, sum(order_amount) AS total FROM orders_processed GROUP BY customer_id ORDER BY 1",
    "SELECT count(*) AS n FROM orders_processed WHERE order_status = 'shipped'",
    "SELECT date_diff('day', order_date, DATE '2025-05-01') AS age, order_id FROM orders_processed "
    "ORDER BY order_id LIMIT 3",
]


def _cache_files(lake: Lake) -> list[Path]:
    folder = Path(lake.settings.lake) / "_lakebox" / "cache" / "translations"
    return sorted(folder.glob("*.json")) if folder.exists() else []


@pytest.mark.parametrize("sql", QUERIES)
def test_a_cached_translation_gives_the_same_answer_in_a_new_process(orders_lake: Lake, settings: Settings,
                                                                     sql: str) -> None:
    first = orders_lake.engine.run_query(sql, write_result=False)
    assert first.state == "SUCCEEDED", first.error
    assert len(_cache_files(orders_lake)) == 1
    again = Lake(settings).engine.run_query(sql, write_result=False)  # a new engine reads the file
    assert (again.columns, again.rows) == (first.columns, first.rows)


def test_the_file_round_trips_the_translation(tmp_path: Path) -> None:
    cols = {("db", "t"): [("a", "bigint"), ("d", "date")]}
    tr = translate("SELECT a, count(*) AS n FROM t GROUP BY a LIMIT 7", lambda d, n: ("db", n), "db", cols)
    key = catalog_key(cols, {})
    TranslationCache(tmp_path).put("q", "db", key, tr)
    assert TranslationCache(tmp_path).get("q", "db", key) == tr
    assert TranslationCache(tmp_path).get("q", "db", catalog_key({("db", "t"): [("a", "varchar")]}, {})) is None
    assert TranslationCache(tmp_path).get("q", "other_db", key) is None


def test_a_dropped_table_is_not_found_although_its_query_was_cached(orders_lake: Lake) -> None:
    sql = "SELECT count(*) AS n FROM orders_copy"
    made = orders_lake.engine.run_query("CREATE TABLE orders_copy AS SELECT * FROM orders_processed",
                                        allow_ddl=True)
    assert made.state == "SUCCEEDED", made.error
    assert orders_lake.engine.run_query(sql).state == "SUCCEEDED"
    assert orders_lake.engine.run_query("DROP TABLE orders_copy", allow_ddl=True).state == "SUCCEEDED"
    r = orders_lake.engine.run_query(sql)
    assert r.state == "FAILED" and r.error is not None and r.error.error_type == "TABLE_NOT_FOUND", r.error


def test_a_file_that_does_not_match_its_key_is_ignored(orders_lake: Lake, settings: Settings) -> None:
    sql = "SELECT count(*) AS n FROM orders_processed"
    expected = orders_lake.engine.run_query(sql, write_result=False).rows
    (path,) = _cache_files(orders_lake)
    doc = json.loads(path.read_text())
    doc["key"][0] = "SELECT 42 AS n"
    doc["translation"]["sql"] = "SELECT 42 AS n"
    path.write_text(json.dumps(doc))
    assert Lake(settings).engine.run_query(sql, write_result=False).rows == expected
    path.write_text("{not json")
    assert Lake(settings).engine.run_query(sql, write_result=False).rows == expected


def test_a_failed_translation_is_not_kept(orders_lake: Lake) -> None:
    r = orders_lake.engine.run_query("SELECT nope FROM orders_processed", write_result=False)
    assert r.state == "FAILED"
    assert _cache_files(orders_lake) == []


def test_a_repeated_cli_query_imports_no_translator(orders_lake: Lake, settings: Settings) -> None:
    """`lakebox query --name` a second time: the same output, and sqlglot is never imported."""
    code = ("import sys\nfrom lakebox.cli import main\ntry:\n"
            f"    main(['--lake', {settings.lake!r}, '--as-of', '2025-05-01', 'query', '--name', "
            "'order_status_summary', '--format', 'json'])\nexcept SystemExit:\n    pass\n"
            "print('SQLGLOT' if 'sqlglot' in sys.modules else 'NO-SQLGLOT')\n")

    def run() -> tuple[list[object], str]:
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        lines = out.strip().splitlines()
        doc = json.loads("\n".join(lines[:-1]))
        return [doc["columns"], doc["rows"]], lines[-1]

    first, marker = run()
    assert marker == "SQLGLOT"
    second, marker = run()
    assert marker == "NO-SQLGLOT"
    assert second == first


def test_macros_are_declared_after_the_macros_they_call() -> None:
    seen: set[str] = set()
    for name, _, calls in _declared():
        assert calls <= seen, f"{name} calls {sorted(calls - seen)} declared after it"
        seen.add(name)


def test_needed_macros_include_what_they_call() -> None:
    calls = {name: deps for name, _, deps in _declared()}
    caller = next(name for name, deps in calls.items() if deps)
    found = needed(f"SELECT {caller.upper()}(x) FROM t")
    assert caller in found and calls[caller] <= found
    assert needed("SELECT '__trino_no_such_macro', 1") == set()


def test_a_fresh_engine_creates_the_macros_a_query_calls(orders_lake: Lake, settings: Settings) -> None:
    """date_diff is a Trino macro: a new engine, whose connection has none yet, creates it for the query."""
    r = Lake(settings).engine.run_query("SELECT date_diff('day', DATE '2025-01-01', DATE '2025-03-01') AS d",
                                        write_result=False)
    assert r.state == "SUCCEEDED", r.error
    assert r.rows == [[59]]


def test_the_collector_pause_is_counted_across_threads() -> None:
    assert gc.isenabled()
    inside = threading.Barrier(2)
    leave = threading.Event()

    def hold() -> None:
        with collector_paused():
            inside.wait()
            leave.wait()

    t = threading.Thread(target=hold)
    t.start()
    with collector_paused():
        inside.wait()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other block is still inside
    leave.set()
    t.join()
    assert gc.isenabled()


def test_the_collector_stays_off_when_it_was_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_small_results_write_the_same_file_as_large_ones(orders_lake: Lake) -> None:
    """A result of at most 100 rows is written from the fetched rows, a larger one by DuckDB from a temp
    table; the files hold the same text."""
    cols = ("customer_id, order_amount, order_date, order_amount > 400 AS big, NULL AS n, "
            "CAST(order_date AS TIMESTAMP) AS ts, CAST(order_amount AS DOUBLE) AS d")
    small = orders_lake.engine.run_query(f"SELECT {cols} FROM orders_processed ORDER BY order_id LIMIT 100")
    big = orders_lake.engine.run_query(f"SELECT {cols} FROM orders_processed ORDER BY order_id")
    assert small.state == big.state == "SUCCEEDED", (small.error, big.error)
    assert small.rows == big.rows[:100] and not small.csv_written
    files = [orders_lake.store.get_object(f"enriched/{r.execution_id}.csv").decode().splitlines()
             for r in (small, big)]
    assert files[0] == files[1][:101]


def test_translation_is_a_plain_record() -> None:
    tr = Translation("select", "SELECT 1", [("db", "t")], ["a"], "SELECT 1", 1)
    assert tr.row_bound == 1 and tr.tables == [("db", "t")]


def test_the_folder_is_pruned_to_the_most_recent(tmp_path: Path) -> None:
    cache = TranslationCache(tmp_path, disk_entries=8)
    for i in range(9):
        cache.put(f"SELECT {i}", "db", "k", Translation("select", f"SELECT {i}"))
    left = sorted(tmp_path.glob("*.json"))
    assert len(left) == 6
    fresh = TranslationCache(tmp_path)
    assert fresh.get("SELECT 8", "db", "k") == Translation("select", "SELECT 8")
