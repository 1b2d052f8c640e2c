"""The CLI's messages, word for word: SQL errors in Athena's words, "did you mean", the forms of parameters and
dates, hints for an empty lake, capped tables, a quiet closed pipe, and what `up` says it started."""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lakebox.cli import main
from lakebox.config import load_settings
from lakebox.lake import Lake
from lakebox.web.dashboard import MAX_SQL_BYTES
from lakebox.web.saved import SavedQueries, SaveRequest
from tests.conftest import AS_OF, _orders_csv
from tests.waiting import wait_until

SRC = Path(__file__).resolve().parents[1] / "src"
STATEMENT_STARTS = ("'ALTER', 'ANALYZE', 'CALL', 'COMMIT', 'CREATE', 'DEALLOCATE', 'DELETE', 'DESC', 'DESCRIBE', "
                    "'DROP', 'EXECUTE', 'EXPLAIN', 'GRANT', 'INSERT', 'PREPARE', 'RESET', 'REVOKE', 'ROLLBACK', "
                    "'SET', 'SHOW', 'START', 'UNLOAD', 'UPDATE', 'USE', <query>")


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with the original 200 orders ingested (130 kept)."""
    lake = tmp_path_factory.mktemp("messages") / "lake"
    res = CliRunner().invoke(main, ["--lake", str(lake), "--as-of", AS_OF.isoformat(), "ingest", str(_orders_csv())])
    assert res.exit_code == 0, res.output
    return lake


def lakebox(lake: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--lake", str(lake), *args])


def one_error(res: Result, code: int) -> str:
    """The single error line of a failed command (and that the exit code is ``code``)."""
    assert res.exit_code == code, (res.exit_code, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


# --- SQL errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sql,message", [
    ("SELEC * FROM orders_processed", f"SYNTAX_ERROR: line 1:1: mismatched input 'SELEC'. Expecting: {STATEMENT_STARTS}"),
    ("SELECT * FROM orders_processed WHERE",
     "SYNTAX_ERROR: line 1:37: mismatched input '<EOF>'. Expecting: <expression>"),
    ("SELECT order_id FROM orders_processed)",
     "SYNTAX_ERROR: line 1:38: mismatched input ')'. Expecting: 'EXCEPT', 'GROUP', 'HAVING', 'INTERSECT', "
     "'LIMIT', 'OFFSET', 'ORDER', 'UNION', 'WHERE', 'WINDOW', <EOF>"),
    ("SELECT count(*) FROM (SELECT 1 AS a",
     "SYNTAX_ERROR: line 1:36: mismatched input '<EOF>'. Expecting: ')'"),
    ("SELECT 'open FROM orders_processed",
     "SYNTAX_ERROR: line 1:8: token recognition error at: ''open FROM orders_processed'"),
    ("SELECT abs(1, 2)", "FUNCTION_NOT_FOUND: line 1:8: Unexpected parameters (2 arguments) for function abs"),
    ("OPTIMIZE orders_processed REWRITE DATA USING BIN_PACK",
     "NOT_SUPPORTED: OPTIMIZE is not allowed: lakebox runs read-only queries (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)"),
    ("SELECT * FROM orders",
     "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.orders_db.orders' does not exist; "
     "did you mean 'orders_processed'?"),
    ("SELECT custmer_id FROM orders_processed",
     "COLUMN_NOT_FOUND: line 1:8: Column 'custmer_id' cannot be resolved; did you mean 'customer_id'?"),
])
def test_sql_errors_are_athenas_without_internals(lake_dir: Path, sql: str, message: str) -> None:
    line = one_error(lakebox(lake_dir, "query", sql), 1)
    assert line == message
    assert "sqlglot" not in line and "<class" not in line and "Error:" not in line


def test_an_unknown_column_far_from_every_name_gets_no_guess(lake_dir: Path) -> None:
    line = one_error(lakebox(lake_dir, "query", "SELECT zzzzzz FROM orders_processed"), 1)
    assert line == "COLUMN_NOT_FOUND: line 1:8: Column 'zzzzzz' cannot be resolved"


def test_an_empty_lake_says_how_to_load_data(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()  # a lake folder with nothing in it (a missing folder is NoSuchBucket)
    line = one_error(lakebox(tmp_path / "empty", "query", "SELECT * FROM orders_processed"), 1)
    assert line == ("TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.orders_db.orders_processed' does not exist; "
                    "the catalog has no tables yet: load a CSV first (lakebox ingest FILE.csv, or the dashboard's "
                    "upload)")
    res = lakebox(tmp_path / "empty", "status")
    assert res.exit_code == 0
    assert res.stderr.strip() == ("no tables yet: `lakebox ingest FILE.csv` loads a CSV of orders, `lakebox up` "
                                  "adds sample orders")


# --- named queries, parameters, dates ----------------------------------------------------------------------


@pytest.mark.parametrize("args,message", [
    (["--name", "total_sales_by_custmer"],
     "EntityNotFoundException: unknown query 'total_sales_by_custmer'; did you mean 'total_sales_by_customer'?"),
    (["--name", "zzz"], "EntityNotFoundException: unknown query 'zzz'; `lakebox queries` lists them"),
    (["--name", "top_orders_february_2025", "--param", "2025-03"],
     "INVALID_PARAMETER: --param '2025-03': write it as name=value, e.g. --param month=2025-03"),
    (["--name", "top_orders_february_2025", "--param", "mnth=2025-03"],
     "INVALID_PARAMETER: query top_orders_february_2025: unknown parameter 'mnth'; did you mean 'month'?"),
    (["--name", "total_sales_by_customer", "--param", "month=2025-03"],
     "INVALID_PARAMETER: query total_sales_by_customer takes no parameters"),
])
def test_named_query_mistakes_say_what_was_meant(lake_dir: Path, args: list[str], message: str) -> None:
    assert one_error(lakebox(lake_dir, "query", *args), 2) == message


@pytest.mark.parametrize("args,flag", [
    (["--as-of", "01/05/2025", "status"], "--as-of"),
    (["ingest", "--as-of", "2025-5-1", str(_orders_csv())], "--as-of"),
])
def test_a_bad_date_names_the_form_expected(lake_dir: Path, args: list[str], flag: str) -> None:
    value = args[args.index(flag) + 1]
    assert one_error(lakebox(lake_dir, *args), 2) == (
        f"InvalidConfiguration: setting 'as_of' from {flag}: '{value}' is not a date in the form YYYY-MM-DD "
        "(e.g. 2025-05-01)")


@pytest.mark.parametrize("env,message", [
    ({"LAKEBOX_THREADS": "abc"}, "setting 'threads' from env LAKEBOX_THREADS: 'abc' is not a whole number"),
    ({"LAKEBOX_QUERY_TIMEOUT": "soon"}, "setting 'query_timeout' from env LAKEBOX_QUERY_TIMEOUT: 'soon' is not a number"),
    ({"LAKEBOX_RETRY_DELAYS": "1,x"}, "setting 'retry_delays' from env LAKEBOX_RETRY_DELAYS: 'x' is not a number of "
                                      "seconds >= 0"),
])
def test_a_bad_number_is_said_in_our_words_not_pythons(lake_dir: Path, env: dict[str, str], message: str) -> None:
    res = CliRunner().invoke(main, ["--lake", str(lake_dir), "status"], env=env)
    assert one_error(res, 2) == f"InvalidConfiguration: {message}"


def test_a_rejected_upload_names_its_key_once(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"OrderID,Customer,Amount,Status,OrderDate\nO1,B\xffb,1,shipped,2025-04-01\n")
    res = lakebox(tmp_path / "lake", "ingest", str(bad))
    assert res.exit_code == 1
    assert res.stderr.strip() == ("rejected raw/bad.csv: not UTF-8: invalid byte sequence at line 2; re-save the "
                                  "file as UTF-8")
    (tmp_path / "lake" / "raw" / "again.csv").write_bytes(bad.read_bytes())
    res = lakebox(tmp_path / "lake", "watch", "--once")
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[0] == (
        "rejected raw/again.csv: not UTF-8: invalid byte sequence at line 2; re-save the file as UTF-8")


# --- saved queries -------------------------------------------------------------------------------------


def test_saved_queries_are_listed_and_run_beside_the_named_ones(tmp_path: Path) -> None:
    lake_path = tmp_path / "lake"
    assert lakebox(lake_path, "--as-of", AS_OF.isoformat(), "ingest", str(_orders_csv())).exit_code == 0
    lake = Lake(load_settings({"lake": str(lake_path)}, env={}))
    SavedQueries(lake.store, max_sql_bytes=MAX_SQL_BYTES).save(
        SaveRequest(name="status_count", title="Orders of one status",
                    sql="SELECT count(*) AS n FROM orders_processed WHERE order_status = :status",
                    params={"status": "shipped"}), reserved=lake.named_queries)
    listing = lakebox(lake_path, "queries")
    assert listing.exit_code == 0
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]]
            for line in listing.stdout.splitlines() if line.startswith("│")}
    assert rows["status_count"] == ["Orders of one status", "status (default shipped)", "saved"]
    assert rows["total_sales_by_customer"][2] == "named"
    # Shipped orders are never dropped: every one in the file is kept.
    by_hand = sum(r["Status"].strip().lower() == "shipped"
                  for r in csv.DictReader(_orders_csv().read_text(encoding="utf-8").splitlines()))
    shipped = lakebox(lake_path, "query", "--name", "status_count", "--format", "csv")
    assert shipped.exit_code == 0 and shipped.stdout.splitlines()[1] == f'"{by_hand}"'
    statuses = lakebox(lake_path, "query", "--name", "status_count", "--param", "status=nope", "--format", "csv")
    assert statuses.exit_code == 0 and statuses.stdout.splitlines()[1] == '"0"'
    assert one_error(lakebox(lake_path, "query", "--name", "status_cnt"), 2) == (
        "EntityNotFoundException: unknown query 'status_cnt'; did you mean 'status_count'?")


# --- capped tables ---------------------------------------------------------------------------------------


def _data_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"│ O\d{4} ", line)]


def test_a_table_shows_fifty_rows_and_says_how_to_get_the_rest(lake_dir: Path) -> None:
    res = lakebox(lake_dir, "query", "SELECT * FROM orders_processed ORDER BY order_id")
    assert res.exit_code == 0, res.output
    assert len(_data_rows(res.stdout)) == 50
    assert res.stdout.splitlines()[-1] == (
        "80 more row(s) not shown; --max-rows 0 prints all 130, --format csv writes them as CSV")
    assert re.fullmatch(r"130 row\(s\) · \d+ ms · .*\.csv", res.stdout.splitlines()[-2])


@pytest.mark.parametrize("flag,shown", [("0", 130), ("3", 3), ("130", 130)])
def test_max_rows_sets_the_cap(lake_dir: Path, flag: str, shown: int) -> None:
    res = lakebox(lake_dir, "query", "SELECT * FROM orders_processed ORDER BY order_id", "--max-rows", flag)
    assert res.exit_code == 0, res.output
    assert len(_data_rows(res.stdout)) == shown
    assert ("more row(s) not shown" in res.stdout) == (shown < 130)


def test_csv_is_never_capped(lake_dir: Path) -> None:
    res = lakebox(lake_dir, "query", "SELECT * FROM orders_processed", "--format", "csv")
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 131


# --- a closed pipe ---------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC)}


@pytest.fixture(scope="module")
def big_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake whose full table output (about 300 KB) is far beyond a pipe's buffer (64 KB)."""
    root = tmp_path_factory.mktemp("pipe")
    sample = root / "orders.csv"
    base = ["--lake", str(root / "lake"), "--as-of", AS_OF.isoformat()]
    assert CliRunner().invoke(main, [*base, "sample", "--rows", "3000", "--out", str(sample)]).exit_code == 0
    assert CliRunner().invoke(main, [*base, "ingest", str(sample)]).exit_code == 0
    return root / "lake"


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_a_reader_that_stops_early_is_not_an_error(big_lake: Path, fmt: str) -> None:
    cmd = [sys.executable, "-m", "lakebox", "--lake", str(big_lake), "query", "SELECT * FROM orders_processed",
           "--format", fmt, "--max-rows", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does: the rest of the output has nowhere to go
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert first and stderr == b""


def test_head_of_a_named_query(big_lake: Path) -> None:
    shell = (f"{sys.executable} -m lakebox --lake {big_lake} query --name total_sales_by_customer | head -1; "
             "echo \"exit=${PIPESTATUS[0]}\"")
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=_env(), timeout=60)
    assert out.stdout.splitlines()[-1] == "exit=0" and out.stderr == ""


# --- up --------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_up_says_what_it_started_and_how_to_stop(tmp_path: Path) -> None:
    port = _free_port()
    lake = tmp_path / "lake"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakebox", "--lake", str(lake), "--as-of", AS_OF.isoformat(), "up", "--port",
         str(port), "--sample-rows", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**_env(), "LAKEBOX_ENDPOINT_PORT": "0"})
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        def said_how_to_stop() -> bool:
            lines.append(proc.stdout.readline().rstrip("\n"))  # type: ignore[union-attr]
            return lines[-1] == "Press Ctrl+C to stop." or proc.poll() is not None
        wait_until(said_how_to_stop, timeout=60, what="`up` to announce itself")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    said = [line for line in lines if line]
    assert said[0] == f"dashboard:    http://127.0.0.1:{port}/"
    assert re.fullmatch(r"AWS endpoint: (http://127\.0\.0\.1:\d+)  \(export AWS_ENDPOINT_URL=\1\)", said[1])
    assert said[2] == f"watcher:      processing every CSV that lands in {lake}/raw/"
    assert said[3:] == ["Press Ctrl+C to stop."]
