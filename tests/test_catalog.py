"""The local "Glue": crawling processed/ into the SQLite catalog, partitions, versions and change tracking."""

from __future__ import annotations

from pathlib import Path

from lakebox.lake import Lake

H = b"OrderID,Customer,Amount,Status,OrderDate\n"


def test_processed_file_updates_its_table_without_a_crawl(orders_lake: Lake) -> None:
    t = orders_lake.catalog.get_table("orders_db", "orders_processed")
    assert t is not None and t.location == "processed/" and t.format == "parquet"
    assert [(c.name, c.type) for c in t.columns] == [
        ("order_id", "string"), ("customer_id", "string"), ("order_amount", "decimal(12,2)"),
        ("order_status", "string"), ("order_date", "date")]
    assert (t.file_count, t.row_count, t.version) == (1, 130, 1)
    assert t.parameters["classification"] == "parquet" and t.last_crawl


def test_hive_partitions_and_versions(lake: Lake) -> None:
    st = lake.store
    st.put_object("raw/year=2025/month=02/a.csv", H + b"O1,Bob,1,shipped,2025-02-01\n")
    st.put_object("raw/year=2025/month=03/b.csv", H + b"O2,Al,2,shipped,2025-03-01\nO3,Al,2,shipped,2025-03-02\n")
    lake.process_pending()
    t = lake.catalog.get_table("orders_db", "orders_processed")
    assert [c.name for c in t.partition_keys] == ["year", "month"]
    assert [(p.values, p.row_count) for p in t.partitions] == [(("2025", "02"), 1), (("2025", "03"), 2)]
    res = lake.engine.run_query(
        "SELECT month, count(*) AS n FROM orders_processed GROUP BY month ORDER BY month")
    assert res.rows == [["02", 1], ["03", 2]]
    assert res.columns[0]["type"] == "varchar"


def test_schema_change_writes_a_new_version(make_settings, tmp_path: Path) -> None:
    lake = Lake(make_settings())
    src = tmp_path / "a.csv"
    src.write_bytes(H + b"O1,Bob,1,shipped,2025-02-01\n")
    lake.ingest([src])
    v0 = lake.catalog.data_version()
    # The same lake crawled under a mapping that keeps source names: a different schema.
    lake2 = Lake(make_settings(output_format="csv"))
    lake2.ingest([src])
    tables = lake2.crawl()
    t = tables[0]
    assert t.version == 2
    versions = lake2.catalog.get_table_versions("orders_db", "orders_processed")
    assert [v.version for v in versions] == [1, 2]
    assert lake2.catalog.data_version() > v0


def test_recrawl_without_changes_keeps_the_version(orders_lake: Lake) -> None:
    v = orders_lake.catalog.data_version()
    t = orders_lake.crawl()[0]
    assert t.version == 1 and orders_lake.catalog.data_version() > v  # the crawl itself is recorded
    assert orders_lake.catalog.check() == "ok"


def test_deleting_every_file_removes_the_table(orders_lake: Lake) -> None:
    orders_lake.store.delete_object("processed/orders.parquet")
    assert orders_lake.crawl() == []
    assert orders_lake.catalog.get_table("orders_db", "orders_processed") is None


def test_catalog_from_an_older_version_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    from lakebox.catalog.local import LocalCatalog

    path = tmp_path / "catalog.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE files (database TEXT, name TEXT, key TEXT, etag TEXT, size INTEGER, rows INTEGER, "
                "columns TEXT, format TEXT, PRIMARY KEY (database, name, key))")
    con.commit()
    con.close()
    cat = LocalCatalog(path)
    cat.put_files("orders_db", "t", [])
    assert cat.get_files("orders_db", "t") == {}


def test_explicit_table_name(tmp_path: Path) -> None:
    from lakebox.config import load_settings

    cfg = tmp_path / "lakebox.toml"
    cfg.write_text('[datasets.orders]\ntable_name = "Orders Clean"\n')
    lake = Lake(load_settings({"lake": str(tmp_path / "lake"), "as_of": "2025-05-01"}, env={}, config_file=cfg))
    src = tmp_path / "a.csv"
    src.write_bytes(H + b"O1,Bob,1,shipped,2025-02-01\n")
    lake.ingest([src])
    assert [t.name for t in lake.catalog.get_tables()] == ["orders_clean"]
    assert lake.engine.run_query("SELECT count(*) FROM orders_clean").rows == [[1]]


def test_plain_subfolders_and_mixed_depths_still_query(lake: Lake) -> None:
    """A file in a plain folder becomes partition_0 = folder name; files above the partition depth get ''."""
    st = lake.store
    st.put_object("raw/top.csv", H + b"O1,Bob,1,shipped,2025-02-01\n")
    st.put_object("raw/sub/x.csv", H + b"O2,Al,2,shipped,2025-03-01\n")
    st.put_object("raw/year=2025/y.csv", H + b"O3,Al,3,shipped,2025-03-02\n")
    lake.process_pending()
    t = lake.catalog.get_table("orders_db", "orders_processed")
    assert [c.name for c in t.partition_keys] == ["partition_0"]
    r = lake.engine.run_query(
        "SELECT order_id, partition_0 FROM orders_processed ORDER BY order_id")
    assert r.state == "SUCCEEDED", r.error
    assert r.rows == [["O1", ""], ["O2", "sub"], ["O3", "2025"]]
    assert [p.values for p in t.partitions] == [("",), ("2025",), ("sub",)]
    assert lake.engine.run_query("DESCRIBE orders_processed").state == "SUCCEEDED"


def test_an_unreadable_table_fails_alone(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_bytes(H + b"O1,Bob,1,shipped,2025-02-01\n")
    lake.ingest([src])
    # A second table whose only file is not Parquet at all, registered by hand.
    from lakebox.catalog.crawler import ColumnDef, TableDef

    lake.store.put_object("broken/x.parquet", b"not parquet")
    lake.catalog.put_table(TableDef("orders_db", "broken", "broken/", "parquet", [ColumnDef("a", "string")],
                                    files=["broken/x.parquet"], file_count=1))
    bad = lake.engine.run_query("SELECT * FROM broken")
    assert bad.state == "FAILED" and "cannot be read" in bad.error.message
    assert lake.engine.run_query("SELECT count(*) FROM orders_processed").rows == [[1]]
    assert lake.engine.run_query("SHOW TABLES").state == "SUCCEEDED"


def test_partition_values_come_from_paths_and_hidden_files_are_skipped(lake: Lake) -> None:
    st = lake.store
    st.put_object("raw/order_status=shipped/a.csv", H + b"O1,Bob,1,confirmed,2025-02-01\n")
    lake.process_pending()
    # A hidden file and a file in a hidden folder: Athena and the crawler skip both; so does the engine.
    out = st.local_path("processed/order_status=shipped/a.parquet")
    (out.parent / "_hidden.parquet").write_bytes(out.read_bytes())
    (out.parent / ".spark" ).mkdir()
    (out.parent / ".spark" / "b.parquet").write_bytes(out.read_bytes())
    lake.crawl()
    r = lake.engine.run_query("SELECT * FROM orders_processed")
    assert [c["name"] for c in r.columns] == ["order_id", "customer_id", "order_amount", "order_date", "order_status"]
    assert r.row_count == 1 and r.rows[0][-1] == "shipped"


def test_opening_the_lake_again_keeps_the_data_version(orders_lake: Lake) -> None:
    """Every command opens the catalog and makes sure its database exists; when it does, nothing changes
    (a bumped version would throw away the dashboard's cache and every cache keyed by it)."""
    before = orders_lake.catalog.data_version()
    again = Lake(orders_lake.settings, create=False)
    assert again.catalog.data_version() == before
    again.catalog.create_database("another_db")
    assert again.catalog.data_version() == before + 1
    assert "another_db" in again.catalog.get_databases()
