"""The AWS backends against moto running as a real HTTP server (boto3 over HTTP, no in-process mocks).

Where moto cannot produce a behaviour, the test says so and how it stands in:

- moto's GetQueryResults returns every queued row in one response (no MaxResults/NextToken), so the
  pagination test wraps the real client in :class:`AwsPaging`, which slices moto's rows into pages exactly as
  Athena does (1000 rows, header on page 1 only). Every call still goes over HTTP to moto.
- moto never fails a query, so the failure test overlays FAILED with a StateChangeReason and an AthenaError
  block (the shape from Athena's API reference) on moto's GetQueryExecution answer.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest_aws import AwsEnv, aws_fixture, moto_server_fixture  # noqa: F401 - fixtures aws, moto_server

from lakebox.catalog.crawler import ColumnDef, PartitionDef, TableDef
from lakebox.catalog.glue import GlueCatalog
from lakebox.config import Settings
from lakebox.events import build_event, build_record
from lakebox.query.athena import AthenaEngine, Backoff, athena_error, parse_value
from lakebox.store import open_store
from lakebox.store.base import InvalidKeyError, NoSuchKeyError
from lakebox.store.s3 import S3Store

pytestmark = pytest.mark.aws

CSV = (b"OrderID,Customer,Amount,Status,OrderDate\n"
       b"1,alice,10.50,shipped,2025-01-05\n"
       b"2,bob,abc,shipped,2025-01-06\n"       # bad amount: quarantined
       b"3,carol,7.25,pending,2024-01-01\n"    # pending and old: dropped by the rule
       b"4,dave,3.00,Shipped,2025-01-20\n")


def make_store(aws: AwsEnv, prefix: str = "", **kw: Any) -> S3Store:
    store = S3Store(aws.bucket, prefix, endpoint_url=aws.endpoint_url, region=aws.region, **kw)
    store.create_bucket()
    return store


# --- S3Store ---------------------------------------------------------------------------------------------

def test_s3store_is_lazy_and_parses_urls() -> None:
    store = open_store("s3://my-bucket/some/prefix/", endpoint_url="http://127.0.0.1:1", region="eu-west-1")
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.url) == ("my-bucket", "some/prefix/", "s3://my-bucket/some/prefix")
    assert store._client is None  # no client (and no credentials) needed until the first call
    assert S3Store.from_url("s3://b").url == "s3://b"
    assert store.local_path("raw/a.csv") is None


def test_s3store_round_trip(aws: AwsEnv) -> None:
    store = make_store(aws)
    info = store.put_object("raw/a.csv", b"x,y\n1,2\n")
    assert info.size == 8 and '"' not in info.etag and len(info.etag) == 32
    assert store.get_object("raw/a.csv") == b"x,y\n1,2\n"
    head = store.head_object("raw/a.csv")
    assert (head.size, head.etag) == (8, info.etag)
    assert head.modified.tzinfo is not None
    with store.open_object("raw/a.csv") as body:  # streaming: read in pieces
        assert body.read(3) == b"x,y" and body.read() == b"\n1,2\n"
    assert store.exists("raw/a.csv") and not store.exists("raw/b.csv")
    with pytest.raises(NoSuchKeyError):
        store.get_object("raw/b.csv")
    with pytest.raises(NoSuchKeyError):
        store.head_object("raw/b.csv")
    store.delete_object("raw/a.csv")
    store.delete_object("raw/a.csv")  # deleting twice is fine, as on S3 and locally
    assert not store.exists("raw/a.csv")


def test_s3store_listing_sorted_paginated_and_hides_temp_names(aws: AwsEnv) -> None:
    store = make_store(aws)
    keys = [f"processed/part-{i:04d}.parquet" for i in range(1005)]  # > 1000: ListObjectsV2 pages
    client = aws.client("s3")
    for k in reversed(keys):
        client.put_object(Bucket=aws.bucket, Key=k, Body=b"p")
    client.put_object(Bucket=aws.bucket, Key="processed/.lakebox-tmp-abc-x.parquet.tmp", Body=b"half")
    client.put_object(Bucket=aws.bucket, Key="raw/x.csv", Body=b"r")
    listed = [o.key for o in store.list_objects("processed/")]
    assert listed == keys
    assert [o.key for o in store.list_objects()][-1] == "raw/x.csv"
    assert [o.key for o in store.list_objects("raw/")] == ["raw/x.csv"]


def test_s3store_prefix_is_transparent(aws: AwsEnv) -> None:
    store = make_store(aws, "lakes/one")
    store.put_object("raw/a.csv", b"1")
    raw = aws.client("s3").list_objects_v2(Bucket=aws.bucket)["Contents"]
    assert [o["Key"] for o in raw] == ["lakes/one/raw/a.csv"]
    assert [o.key for o in store.list_objects()] == ["raw/a.csv"]
    other = S3Store(aws.bucket, "lakes/two", endpoint_url=aws.endpoint_url, region=aws.region)
    assert list(other.list_objects()) == []


@pytest.mark.parametrize("key", ["", "/abs/key", "a/../b", "a//b", "a\\b", "./a", "nul\x00key", "x" * 1100])
def test_s3store_key_rules_match_local(aws: AwsEnv, key: str) -> None:
    store = make_store(aws)
    with pytest.raises(InvalidKeyError):
        store.put_object(key, b"1")
    with pytest.raises(InvalidKeyError):
        store.get_object(key)


def test_s3store_multipart_upload_for_large_files(aws: AwsEnv, tmp_path: Path) -> None:
    mib = 1024 * 1024
    store = make_store(aws, multipart_threshold=5 * mib, multipart_chunksize=5 * mib)
    src = tmp_path / "big.parquet"
    payload = bytes(range(256)) * (11 * mib // 256)  # 11 MiB -> 3 parts of at most 5 MiB
    src.write_bytes(payload)
    info = store.put_file("processed/big.parquet", src)
    assert info.etag.endswith("-3"), info.etag  # S3's multipart ETag: <md5 of part md5s>-<parts>
    assert info.size == len(payload)
    assert store.get_object("processed/big.parquet") == payload
    assert src.exists()  # the caller owns its file, as with LocalStore's copy


def test_s3store_readers_never_see_half_an_object(aws: AwsEnv) -> None:
    """Writers replace an object while readers read it: every read is entirely the old or the new body."""
    store = make_store(aws)
    size = 256 * 1024
    bodies = [b"a" * size, b"b" * size]
    store.put_object("processed/x.parquet", bodies[0])
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(30):
                store.put_object("processed/x.parquet", bodies[i % 2])
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
            raise
        finally:
            stop.set()

    t = threading.Thread(target=writer)
    t.start()
    reads = 0
    while not stop.is_set() or reads < 5:
        data = store.get_object("processed/x.parquet")
        assert data in bodies, f"torn read: {len(data)} bytes, {set(data)}"
        reads += 1
        if reads > 500:
            break
    t.join(timeout=60)
    assert not errors


# --- the handler on S3 ----------------------------------------------------------------------------------

def glue_settings(aws: AwsEnv, **kw: Any) -> Settings:
    return Settings(lake=aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region, catalog="glue",
                    engine="athena", as_of=dt.date(2025, 2, 1), **kw)


def test_handler_processes_an_s3_object_and_updates_glue(aws: AwsEnv) -> None:
    from lakebox.catalog.glue import update_catalog_for_run
    from lakebox.process.handler import process_object

    store = make_store(aws)
    settings = glue_settings(aws)
    GlueCatalog.from_settings(settings).create_database("orders_db")  # the stack creates it on AWS
    store.put_object("raw/orders.csv", CSV)
    run = process_object(settings, store, "raw/orders.csv", after=update_catalog_for_run)
    assert run.status == "ok", run.error
    assert (run.rows_read, run.rows_kept, run.rows_dropped, run.rows_quarantined) == (4, 2, 1, 1)
    assert run.balanced
    s3 = aws.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket)["Contents"]}
    assert {"processed/orders.parquet", "quarantine/orders.csv"} <= keys
    assert s3.get_object(Bucket=aws.bucket, Key="processed/orders.parquet")["Body"].read(4) == b"PAR1"
    quarantine = store.get_object("quarantine/orders.csv").decode()
    assert "bob" in quarantine and "decimal" in quarantine
    assert any(k.startswith("_lakebox/state/") for k in keys)

    table = GlueCatalog.from_settings(settings).get_table("orders_db", "orders_processed")
    assert table is not None
    assert [c.name for c in table.columns][:2] == ["order_id", "customer_id"]
    assert table.location == "processed/" and table.row_count == 2 and table.format == "parquet"
    glue_raw = aws.client("glue").get_table(DatabaseName="orders_db", Name="orders_processed")["Table"]
    assert glue_raw["StorageDescriptor"]["Location"] == f"s3://{aws.bucket}/processed/"
    assert glue_raw["TableType"] == "EXTERNAL_TABLE"

    # Same ETag again: idempotent, nothing written.
    again = process_object(settings, store, "raw/orders.csv", after=update_catalog_for_run)
    assert again.status == "skipped"


def test_lambda_handler_entry_point_on_s3(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakebox.process.handler import lambda_handler

    store = make_store(aws)
    store.put_object("raw/2025/orders one.csv", CSV)
    monkeypatch.setenv("LAKEBOX_LAKE", aws.lake())
    monkeypatch.setenv("LAKEBOX_ENDPOINT_URL", aws.endpoint_url)
    monkeypatch.setenv("LAKEBOX_CATALOG", "glue")
    monkeypatch.setenv("LAKEBOX_AS_OF", "2025-02-01")
    GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region).create_database("orders_db")
    event = build_event(build_record("raw/2025/orders one.csv", bucket=aws.bucket, size=len(CSV)))
    out = lambda_handler(event, None)
    assert out["status"] == "ok"
    assert [r["status"] for r in out["runs"]] == ["ok"]
    assert store.exists("processed/2025/orders one.parquet")
    assert store.exists("quarantine/2025/orders one.csv")
    assert lambda_handler({"Event": "s3:TestEvent", "Service": "Amazon S3"}, None)["runs"] == []


# --- GlueCatalog ----------------------------------------------------------------------------------------

def orders_table(columns: list[ColumnDef], rows: int = 10, **kw: Any) -> TableDef:
    return TableDef(database="orders_db", name="orders_processed", location="processed/", format="parquet",
                    columns=columns, file_count=1, row_count=rows, size_bytes=1234, **kw)


BASE_COLS = [ColumnDef("order_id", "string"), ColumnDef("order_amount", "decimal(12,2)")]


def test_glue_catalog_tables_and_versions(aws: AwsEnv) -> None:
    cat = GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region)
    cat.create_database("orders_db")
    cat.create_database("orders_db")  # idempotent, like LocalCatalog
    assert "orders_db" in cat.get_databases()
    assert cat.get_table("orders_db", "orders_processed") is None

    t1 = cat.put_table(orders_table(BASE_COLS))
    assert t1.version == 1 and [c.name for c in t1.columns] == ["order_id", "order_amount"]
    assert t1.location == "processed/" and t1.row_count == 10
    raw = aws.client("glue").get_table(DatabaseName="orders_db", Name="orders_processed")["Table"]
    sd = raw["StorageDescriptor"]
    assert sd["Location"] == f"s3://{aws.bucket}/processed/"
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert raw["Parameters"]["classification"] == "parquet" and raw["Parameters"]["recordCount"] == "10"
    assert raw["PartitionKeys"] == []

    # A schema change archives the old definition: a new version that keeps the old columns readable.
    t2 = cat.put_table(orders_table([*BASE_COLS, ColumnDef("order_date", "date")], rows=20))
    assert t2.version == 2 and t2.row_count == 20
    versions = cat.get_table_versions("orders_db", "orders_processed")
    assert [v.version for v in versions] == [1, 2]
    assert [c.name for c in versions[0].columns] == ["order_id", "order_amount"]
    assert [c.name for c in versions[1].columns][-1] == "order_date"

    assert [t.name for t in cat.get_tables("orders_db")] == ["orders_processed"]
    assert [t.name for t in cat.get_tables()] == ["orders_processed"]
    v1 = cat.data_version()
    cat.put_table(orders_table([*BASE_COLS, ColumnDef("order_date", "date")], rows=30))
    assert cat.data_version() != v1  # the dashboard's cache key moves with every change
    assert cat.check() == "ok"
    cat.delete_table("orders_db", "orders_processed")
    assert cat.get_table("orders_db", "orders_processed") is None


def test_glue_catalog_partitions(aws: AwsEnv) -> None:
    cat = GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region)
    cat.create_database("orders_db")
    parts = [PartitionDef((str(y),), f"processed/year={y}/", 1, 5, 100) for y in range(2000, 2130)]  # > 100
    table = orders_table(BASE_COLS, partition_keys=[ColumnDef("year", "string")], partitions=parts)
    stored = cat.put_table(table)
    assert [c.name for c in stored.partition_keys] == ["year"]
    got = cat.get_partitions("orders_db", "orders_processed")
    assert len(got) == 130 and got[0].values == ("2000",) and got[0].location == "processed/year=2000/"
    assert got[0].row_count == 5
    raw = aws.client("glue").get_partition(DatabaseName="orders_db", TableName="orders_processed",
                                           PartitionValues=["2001"])["Partition"]
    assert raw["StorageDescriptor"]["Location"] == f"s3://{aws.bucket}/processed/year=2001/"
    # A folder that is gone loses its partition; a new one is added.
    table.partitions = [*parts[1:], PartitionDef(("2200",), "processed/year=2200/", 1, 1, 1)]
    cat.put_table(table)
    values = {p.values for p in cat.get_partitions("orders_db", "orders_processed")}
    assert ("2000",) not in values and ("2200",) in values and len(values) == 130


def test_glue_catalog_crawler_mode(aws: AwsEnv) -> None:
    from lakebox.process.runs import RunRecord

    glue = aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "orders_db"})
    glue.create_crawler(Name="lakebox-processed", Role="arn:aws:iam::123456789012:role/crawler",
                        DatabaseName="orders_db", TablePrefix="orders_",
                        Targets={"S3Targets": [{"Path": f"s3://{aws.bucket}/processed/"}]})
    cat = GlueCatalog(aws.lake(), endpoint_url=aws.endpoint_url, region=aws.region,
                      crawler_name="lakebox-processed")
    run = RunRecord(raw_key="raw/orders.csv", etag="x", dataset="orders", status="ok")
    assert cat.update_for_run(glue_settings(aws), make_store(aws), run) is None
    assert cat.get_crawler_state() == "RUNNING"
    assert cat.start_crawler() is False  # already running: not an error, its run covers our object


# --- AthenaEngine ---------------------------------------------------------------------------------------

COLUMN_INFO = [
    {"Name": "customer", "Label": "Customer", "Type": "varchar"},
    {"Name": "n", "Label": "n", "Type": "bigint"},
    {"Name": "total", "Label": "total", "Type": "double"},
    {"Name": "amount", "Label": "amount", "Type": "decimal", "Precision": 12, "Scale": 2},
    {"Name": "day", "Label": "day", "Type": "date"},
    {"Name": "ok", "Label": "ok", "Type": "boolean"},
]


def athena_rows(n: int) -> list[dict[str, Any]]:
    header = {"Data": [{"VarCharValue": c["Label"]} for c in COLUMN_INFO]}
    rows = [header]
    for i in range(n):
        name = 'Smith, "Jr", ' + str(i) if i % 2 else ""  # commas and quotes inside; "" is not NULL
        rows.append({"Data": [{"VarCharValue": name}, {"VarCharValue": str(i)},
                              {"VarCharValue": "5793.700000000001"} if i % 3 else {},  # {} is NULL
                              {"VarCharValue": "10.50"}, {"VarCharValue": "2025-02-01"},
                              {"VarCharValue": "true" if i % 2 else "false"}]})
    return rows


class AwsPaging:
    """A client that passes every call to moto over HTTP and pages GetQueryResults the way Athena does."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.result_calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_query_results(self, **kw: Any) -> dict[str, Any]:
        self.result_calls.append(dict(kw))
        full = self._client.get_query_results(QueryExecutionId=kw["QueryExecutionId"])
        rows = full["ResultSet"]["Rows"]
        start = int(kw.get("NextToken") or 0)
        size = min(int(kw.get("MaxResults", 1000)), 1000)
        page = dict(full)
        page["ResultSet"] = {**full["ResultSet"], "Rows": rows[start:start + size]}
        if start + size < len(rows):
            page["NextToken"] = str(start + size)
        return page


class VirtualTime:
    """A clock that moves only when the engine sleeps: timeouts and backoff without real waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: Any = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


def athena_engine(aws: AwsEnv, vt: VirtualTime, **kw: Any) -> tuple[AthenaEngine, AwsPaging]:
    store = make_store(aws)
    aws.client("athena").create_work_group(
        Name="lakebox", Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{aws.bucket}/enriched/"},
                                       "EnforceWorkGroupConfiguration": True})
    client = AwsPaging(aws.client("athena"))
    settings = glue_settings(aws, workgroup="lakebox", query_timeout=30.0)
    engine = AthenaEngine(settings, store, None, client=client, sleep=vt.sleep, clock=vt.clock, **kw)
    return engine, client


def test_athena_lifecycle_polling_and_pagination(aws: AwsEnv) -> None:
    aws.set_athena_transition({"progression": "manual", "times": 3})  # QUEUED 3 polls, RUNNING 3 polls
    aws.queue_athena_results([{"rows": athena_rows(2500), "column_info": COLUMN_INFO}])
    vt = VirtualTime()
    engine, client = athena_engine(aws, vt)
    result = engine.start_query_execution('SELECT customer AS "Customer", n FROM orders_processed')
    assert result.state == "SUCCEEDED", result.error
    assert result.row_count == 2500 and not result.truncated
    # Three pages: 1 header + 999 rows, 1000, 501. The header is dropped on page 1 only.
    assert [c.get("NextToken") for c in client.result_calls] == [None, "1000", "2000"]
    assert all(c["MaxResults"] == 1000 for c in client.result_calls)
    assert [r[1] for r in result.rows] == list(range(2500))
    assert result.columns[0] == {"name": "Customer", "type": "varchar"}
    assert result.columns[3] == {"name": "amount", "type": "decimal(12,2)"}
    first, second = result.rows[0], result.rows[1]
    assert first[0] == "" and first[2] is None  # empty string vs NULL
    assert second[0] == 'Smith, "Jr", 1'  # commas and quotes intact: values are never split
    assert second[2] == 5793.700000000001 and str(second[3]) == "10.50"
    assert second[4] == dt.date(2025, 2, 1) and second[5] is True
    # Polled with growing, jittered delays, not a fixed 1 s.
    assert engine.polls >= 6 and result.stats["Polls"] == engine.polls
    assert len(vt.sleeps) >= 5 and vt.sleeps[0] < 0.11 and max(vt.sleeps) <= 2.0
    assert vt.sleeps[4] > vt.sleeps[0] and len(set(vt.sleeps)) == len(vt.sleeps)
    # Results land in enriched/ of the lake.
    assert result.result_location == f"s3://{aws.bucket}/enriched/{result.execution_id}.csv"
    assert S3Store(aws.bucket, endpoint_url=aws.endpoint_url).exists(f"enriched/{result.execution_id}.csv")
    qe = engine.get_query_execution(result.execution_id)
    assert qe["WorkGroup"] == "lakebox" and qe["QueryExecutionContext"]["Database"] == "orders_db"


def test_athena_max_rows_truncates_without_reading_every_page(aws: AwsEnv) -> None:
    aws.queue_athena_results([{"rows": athena_rows(2500), "column_info": COLUMN_INFO}])
    engine, client = athena_engine(aws, VirtualTime())
    result = engine.start_query_execution("SELECT * FROM orders_processed", max_rows=10)
    assert result.row_count == 10 and result.truncated and len(client.result_calls) == 1


def test_athena_failure_surfaces_reason_and_type(aws: AwsEnv) -> None:
    vt = VirtualTime()
    engine, client = athena_engine(aws, vt)
    real = client._client

    class Failing(AwsPaging):
        def get_query_execution(self, **kw: Any) -> dict[str, Any]:
            out = real.get_query_execution(**kw)
            out["QueryExecution"]["Status"].update({
                "State": "FAILED",
                "StateChangeReason": "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.orders_db.nope' "
                                     "does not exist",
                "AthenaError": {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False,
                                "ErrorMessage": "TABLE_NOT_FOUND: line 1:15: Table ... does not exist"}})
            return out

    engine._client = Failing(real)
    result = engine.start_query_execution("SELECT * FROM nope")
    assert result.state == "FAILED" and result.rows == []
    assert result.error is not None and result.error.error_type == "TABLE_NOT_FOUND"
    assert (result.error.line, result.error.column) == (1, 15)
    assert "does not exist" in result.error.message
    # Without a "NAME:" prefix the numeric AthenaError.ErrorType is named.
    err = athena_error({"StateChangeReason": "Query exhausted resources",
                        "AthenaError": {"ErrorCategory": 1, "ErrorType": 1101}})
    assert (err.error_type, err.category) == ("RESOURCE_EXHAUSTED", 1)


def test_athena_rejected_start_is_a_failed_result(aws: AwsEnv) -> None:
    engine, _ = athena_engine(aws, VirtualTime(), workgroup="no-such-workgroup")
    result = engine.start_query_execution("SELECT 1")
    assert result.state == "FAILED" and result.error is not None
    assert result.error.error_type == "InvalidRequestException"


def test_athena_read_only_guard_before_any_cost(aws: AwsEnv) -> None:
    engine, _ = athena_engine(aws, VirtualTime())
    result = engine.start_query_execution("DROP TABLE orders_processed")
    assert result.state == "FAILED" and result.error is not None
    assert result.error.error_type == "NOT_SUPPORTED" and result.execution_id == ""
    assert aws.client("athena").list_query_executions()["QueryExecutionIds"] == []


def test_athena_cancellation(aws: AwsEnv) -> None:
    aws.set_athena_transition({"progression": "manual", "times": 1_000_000})  # stays QUEUED
    vt = VirtualTime()
    engine, _ = athena_engine(aws, vt)
    athena = aws.client("athena")

    def someone_cancels(n: int) -> None:
        if n == 2:  # another user stops the query while we wait for it
            for eid in athena.list_query_executions(WorkGroup="lakebox")["QueryExecutionIds"]:
                athena.stop_query_execution(QueryExecutionId=eid)

    vt.on_sleep = someone_cancels
    result = engine.start_query_execution("SELECT count(*) FROM orders_processed")
    assert result.state == "CANCELLED"
    assert result.error is not None and result.error.error_type == "QUERY_CANCELLED"
    assert len(vt.sleeps) == 2


def test_athena_timeout_stops_the_query(aws: AwsEnv) -> None:
    aws.set_athena_transition({"progression": "manual", "times": 1_000_000})  # never finishes
    vt = VirtualTime()
    engine, _ = athena_engine(aws, vt)
    result = engine.start_query_execution("SELECT count(*) FROM orders_processed", timeout=5.0)
    assert result.state == "FAILED" and result.error is not None
    assert result.error.error_type == "QUERY_TIMEOUT"
    assert vt.now == pytest.approx(5.0)  # waited exactly the budget: the last sleep is trimmed to it
    eid = aws.client("athena").list_query_executions(WorkGroup="lakebox")["QueryExecutionIds"][0]
    state = aws.client("athena").get_query_execution(QueryExecutionId=eid)["QueryExecution"]["Status"]["State"]
    assert state == "CANCELLED"  # stopped on Athena, not just abandoned


def test_backoff_and_value_parsing() -> None:
    import random

    b = Backoff(0.1, 2.0, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(12)]
    assert all(0.05 <= d <= 2.0 for d in delays) and delays[-1] >= 1.0
    assert parse_value(None, "varchar") is None and parse_value("", "varchar") == ""
    assert parse_value("2025-01-01 10:00:00.123", "timestamp(3)") == dt.datetime(2025, 1, 1, 10, 0, 0, 123000)
    assert parse_value("12", "integer") == 12 and parse_value("1.0E7", "double") == 1e7
    assert parse_value("[1, 2]", "array(integer)") == "[1, 2]"
    assert parse_value("not a date", "date") == "not a date"


# --- deploy up / status / down against moto's CloudFormation --------------------------------------------

def test_deploy_up_status_down_in_moto(aws: AwsEnv, tmp_path: Path) -> None:
    """The stack through the real CLI. moto's CloudFormation lacks Glue, Athena, Lambda EventInvokeConfig
    and Secrets Manager resources, so this deploys ``for_moto``'s reduced template (the same resources
    minus those, and minus the optional EC2 host); the full template is covered by cfn-lint."""
    import json
    import warnings
    import zipfile

    from click.testing import CliRunner

    from lakebox.deploy.cli import deploy
    from lakebox.deploy.template import build_template, for_moto

    small_zip = tmp_path / "lambda.zip"
    with zipfile.ZipFile(small_zip, "w") as zf:  # moto stores the code; it never runs it here
        zf.writestr("lakebox/__init__.py", "")
    template_file = tmp_path / "moto.json"
    template_file.write_text(json.dumps(for_moto(build_template())))
    settings = glue_settings(aws)
    runner = CliRunner()
    base = ["--stack", "lakebox-test", "--endpoint-url", aws.endpoint_url, "--region", aws.region]
    up = ["up", *base, "--zip", str(small_zip), "--template-file", str(template_file)]
    cfn = aws.client("cloudformation")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns about resource types it skips (the bucket policy)
        dry = runner.invoke(deploy, [*up, "--dry-run"], obj={"settings": settings})
        assert dry.exit_code == 0, dry.output
        assert "dry run" in dry.output and "ProcessFunction" in dry.output
        assert [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]
                if s["StackStatus"] != "DELETE_COMPLETE"] == []  # a dry run leaves nothing behind

        result = runner.invoke(deploy, up, obj={"settings": settings})
        assert result.exit_code == 0, result.output
        assert "CREATE_COMPLETE" in result.output

    bucket = "lakebox-test-123456789012"
    s3 = aws.client("s3")
    # moto's CloudFormation creates the bucket but applies none of its configuration blocks (versioning,
    # encryption, notification); those are asserted on the template in test_deploy_template.py.
    assert bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    fn = aws.client("lambda").get_function(FunctionName="lakebox-test-process")["Configuration"]
    assert fn["Runtime"] == "python3.12" and fn["Handler"] == "lakebox.process.handler.lambda_handler"
    assert fn["Environment"]["Variables"]["LAKEBOX_LAKE"] == f"s3://{bucket}"
    types = {r.get("ResourceType") for r in cfn.describe_stack_resources(StackName="lakebox-test")["StackResources"]}
    assert {"AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::SQS::Queue",
            "AWS::IAM::Role"} <= types

    status = runner.invoke(deploy, ["status", *base, "--json"], obj={"settings": settings})
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["status"] == "CREATE_COMPLETE"

    s3.put_object(Bucket=bucket, Key="processed/orders.parquet", Body=b"PAR1")
    refused = runner.invoke(deploy, ["down", *base], obj={"settings": settings})
    assert refused.exit_code != 0 and "--delete-data" in refused.output
    assert cfn.describe_stacks(StackName="lakebox-test")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    down = runner.invoke(deploy, ["down", *base, "--delete-data", "--yes"], obj={"settings": settings})
    assert down.exit_code == 0, down.output
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


# --- the dashboard over S3Store, GlueCatalog and AthenaEngine -------------------------------------------

def test_dashboard_serves_over_s3_glue_and_athena(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unchanged web app, with a lake on moto's S3, the Glue catalog and the Athena engine."""
    from lakebox.catalog.glue import update_catalog_for_run
    from lakebox.lake import Lake
    from lakebox.process.handler import process_object
    from lakebox.web.app import create_app

    store = make_store(aws)
    aws.client("athena").create_work_group(
        Name="lakebox", Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{aws.bucket}/enriched/"}})
    settings = glue_settings(aws, workgroup="lakebox")
    GlueCatalog.from_settings(settings).create_database("orders_db")
    store.put_object("raw/orders.csv", CSV)
    assert process_object(settings, store, "raw/orders.csv", after=update_catalog_for_run).status == "ok"

    lake = Lake(settings)
    assert isinstance(lake.store, S3Store) and isinstance(lake.catalog, GlueCatalog)
    assert isinstance(lake.engine, AthenaEngine)
    app = create_app(lake)
    client = app.test_client()
    tables = client.get("/api/tables")
    assert tables.status_code == 200, tables.data[:500]
    assert "orders_processed" in tables.get_data(as_text=True)
    runs = client.get("/api/runs")
    assert runs.status_code == 200 and "raw/orders.csv" in runs.get_data(as_text=True)
    page = client.get("/")
    assert page.status_code == 200
    app.extensions["lakebox"].close()  # stop background refreshes before the moto server goes away
