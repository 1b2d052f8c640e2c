"""Other people's clients against the endpoint, configured only by ``AWS_ENDPOINT_URL``: the AWS CLI (as a
subprocess), PyAthena's DB-API cursor and awswrangler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_until

from .conftest import Endpoint
from .test_athena import finish

B = "lakebox"


@pytest.fixture
def aws_env(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> Endpoint:
    """The process environment a user would set: the endpoint URL and dummy credentials, nothing else."""
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(k)
    for k, v in endpoint.env().items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    return endpoint


def aws(endpoint: Endpoint, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "awscli", *args], env=endpoint.env(), capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_aws_cli(endpoint: Endpoint, orders_csv: Path, tmp_path: Path) -> None:
    out = aws(endpoint, "s3", "cp", str(orders_csv), f"s3://{B}/raw/orders.csv")
    assert "upload:" in out and f"to s3://{B}/raw/orders.csv" in out
    assert "orders.csv" in aws(endpoint, "s3", "ls", f"s3://{B}/raw/")
    glue = endpoint.client("glue")
    wait_until(lambda: any(t["Name"] == "orders_processed" for t in glue.get_tables(DatabaseName="orders_db")[
        "TableList"]), what="the processed table")
    tables = json.loads(aws(endpoint, "glue", "get-tables", "--database-name", "orders_db"))
    assert [t["Name"] for t in tables["TableList"]] == ["orders_processed"]
    started = json.loads(aws(endpoint, "athena", "start-query-execution", "--query-string",
                             "SELECT order_status, count(*) AS n FROM orders_processed GROUP BY 1 ORDER BY 1",
                             "--query-execution-context", "Database=orders_db",
                             "--result-configuration", f"OutputLocation=s3://{B}/cli-results/"))
    qid = started["QueryExecutionId"]
    finish(endpoint.client("athena"), qid)
    results = json.loads(aws(endpoint, "athena", "get-query-results", "--query-execution-id", qid))
    rows = [[d.get("VarCharValue") for d in r["Data"]] for r in results["ResultSet"]["Rows"]]
    assert rows[0] == ["order_status", "n"]
    assert [r[0] for r in rows[1:]] == ["cancelled", "confirmed", "pending", "shipped"]
    assert sum(int(r[1]) for r in rows[1:]) == int(tables["TableList"][0]["Parameters"]["recordCount"])
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # above the CLI's 8 MB multipart threshold
    aws(endpoint, "s3", "cp", str(big), f"s3://{B}/big/big.bin")
    assert endpoint.client("s3").head_object(Bucket=B, Key="big/big.bin")["ETag"].endswith('-2"')
    aws(endpoint, "s3", "cp", f"s3://{B}/big/big.bin", str(tmp_path / "big.back"))
    assert (tmp_path / "big.back").read_bytes() == big.read_bytes()
    synced = tmp_path / "sync"
    (synced / "sub").mkdir(parents=True)
    for name in ("a.txt", "sub/b.txt"):
        (synced / name).write_text(name)
    aws(endpoint, "s3", "sync", str(synced), f"s3://{B}/synced/")
    top = aws(endpoint, "s3", "ls", f"s3://{B}/")
    assert "PRE raw/" in top and "PRE synced/" in top and "_lakebox" not in top
    assert "sub/b.txt" in aws(endpoint, "s3", "ls", "--recursive", f"s3://{B}/synced/")
    aws(endpoint, "s3", "rm", "--recursive", f"s3://{B}/synced/")
    assert endpoint.client("s3").list_objects_v2(Bucket=B, Prefix="synced/")["KeyCount"] == 0
    back = tmp_path / "result.csv"
    aws(endpoint, "s3", "cp", f"s3://{B}/cli-results/{qid}.csv", str(back))
    assert back.read_text().splitlines()[0] == '"order_status","n"'


@pytest.fixture
def orders(aws_env: Endpoint, orders_csv: Path) -> Endpoint:
    aws_env.app.backend.lake.ingest([orders_csv])
    return aws_env


def test_pyathena_cursor_with_parameters(orders: Endpoint) -> None:
    from pyathena import connect

    conn = connect(s3_staging_dir=f"s3://{B}/pyathena/", region_name="us-east-1", schema_name="orders_db",
                   poll_interval=0.05)
    cur = conn.cursor()
    cur.execute("SELECT customer_id, count(*) AS n FROM orders_processed WHERE order_amount > %(low)s "
                "AND customer_id <> %(skip)s GROUP BY customer_id ORDER BY customer_id", {"low": 100, "skip": "Bob"})
    rows = cur.fetchall()
    assert [d[0] for d in cur.description] == ["customer_id", "n"]
    assert rows and all(r[0] != "Bob" and isinstance(r[1], int) for r in rows)
    assert cur.output_location.startswith(f"s3://{B}/pyathena/")
    qmark = conn.cursor()  # server-side parameters: Athena's ExecutionParameters, literal SQL text
    qmark.execute("SELECT count(*) FROM orders_processed WHERE customer_id = ?", ["'Bob'"], paramstyle="qmark")
    direct = conn.cursor()
    direct.execute("SELECT count(*) FROM orders_processed WHERE customer_id = 'Bob'")
    assert qmark.fetchall() == direct.fetchall()


def test_awswrangler(orders: Endpoint, s3: Any) -> None:
    import awswrangler as wr

    wr.config.athena_query_wait_polling_delay = 0.05
    df = wr.athena.read_sql_query("SELECT customer_id, sum(order_amount) AS total FROM orders_processed "
                                  "GROUP BY 1 ORDER BY 1", database="orders_db", ctas_approach=False)
    assert list(df.columns) == ["customer_id", "total"]
    assert len(df) > 0 and df["total"].sum() > 0
    s3.put_object(Bucket=B, Key="landing/orders.csv", Body=b"OrderID,Amount\nO1,1.5\nO2,2.5\n")
    frame = wr.s3.read_csv(path=f"s3://{B}/landing/orders.csv")
    assert frame["Amount"].sum() == 4.0
    tables = wr.catalog.tables(database="orders_db")
    assert list(tables["Table"]) == ["orders_processed"]
