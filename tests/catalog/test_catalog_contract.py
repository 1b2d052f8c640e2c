"""The Catalog contract: every action of :class:`lakebox.catalog.base.Catalog`, run against LocalCatalog and
GlueCatalog (on moto's server) with the same calls and the same expected answers."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.backends import CatalogBackend
from lakebox.catalog.base import (
    AlreadyExistsError,
    Catalog,
    CatalogError,
    EntityNotFoundError,
)
from lakebox.catalog.crawler import ColumnDef, FileInfo, PartitionDef, TableDef
from lakebox.core.errors import LakeboxError, NotFoundError

BASE = [ColumnDef("order_id", "string"), ColumnDef("order_amount", "decimal(12,2)")]
YEAR = [ColumnDef("year", "string")]


def table(columns: list[ColumnDef] = BASE, rows: int = 10, name: str = "orders_processed", **kw: Any) -> TableDef:
    return TableDef(database="orders_db", name=name, location="processed/", format="parquet", columns=columns,
                    file_count=1, row_count=rows, size_bytes=1234, **kw)


def part(year: int, rows: int = 5) -> PartitionDef:
    return PartitionDef((str(year),), f"processed/year={year}/", 1, rows, 100)


def skip_on_moto(backend: CatalogBackend, gap: str) -> None:
    """Skip on the Glue backend where moto lacks what real Glue does (``gap`` names it)."""
    if backend.name == "glue":
        pytest.skip(gap)


def test_the_backend_implements_the_protocol(backend: CatalogBackend) -> None:
    assert isinstance(backend.catalog, Catalog)


def test_databases(backend: CatalogBackend) -> None:
    cat = backend.catalog
    cat.create_database("Orders_DB")
    cat.create_database("orders_db")  # CreateDatabase on an existing name is not an error
    cat.create_database("another")
    assert cat.get_database("ORDERS_db") == "orders_db"
    assert cat.get_databases() == sorted(cat.get_databases())
    assert {"orders_db", "another"} <= set(cat.get_databases())
    with pytest.raises(EntityNotFoundError) as err:
        cat.get_database("missing_db")
    assert isinstance(err.value, NotFoundError) and isinstance(err.value, LakeboxError)
    assert err.value.code == "EntityNotFoundException" and err.value.http_status == 404


def test_create_get_update_delete_table(backend: CatalogBackend) -> None:
    cat = backend.catalog
    cat.create_database("orders_db")
    assert cat.get_table("orders_db", "orders_processed") is None
    cat.create_table(table())
    got = cat.get_table("ORDERS_DB", "Orders_Processed")
    assert got is not None
    assert (got.database, got.name, got.location, got.format) == ("orders_db", "orders_processed", "processed/",
                                                                  "parquet")
    assert got.columns == BASE and got.partition_keys == []
    assert (got.file_count, got.row_count, got.size_bytes, got.version) == (1, 10, 1234, 1)
    assert got.updated_at and got.last_crawl

    with pytest.raises(AlreadyExistsError) as err:
        cat.create_table(table())
    assert err.value.code == "AlreadyExistsException" and err.value.http_status == 409

    cat.update_table(table([*BASE, ColumnDef("order_date", "date")], rows=30))  # archived: a new version
    got = cat.get_table("orders_db", "orders_processed")
    assert got is not None and got.version == 2 and got.columns[-1] == ColumnDef("order_date", "date")
    versions = cat.get_table_versions("orders_db", "orders_processed")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].columns == BASE

    with pytest.raises(EntityNotFoundError):
        cat.update_table(table(name="nope"))

    cat.delete_table("orders_db", "orders_processed")
    assert cat.get_table("orders_db", "orders_processed") is None
    cat.delete_table("orders_db", "orders_processed")  # deleting a missing table is not an error
    assert cat.get_table_versions("orders_db", "orders_processed") == []


def test_update_table_skip_archive_keeps_the_version(backend: CatalogBackend) -> None:
    skip_on_moto(backend, "moto's UpdateTable ignores SkipArchive (every update archives a version)")
    cat = backend.catalog
    cat.create_table(table())
    cat.update_table(table(rows=20), skip_archive=True)
    got = cat.get_table("orders_db", "orders_processed")
    assert got is not None and (got.row_count, got.version) == (20, 1)
    assert [v.version for v in cat.get_table_versions("orders_db", "orders_processed")] == [1]


def test_create_table_creates_its_database(backend: CatalogBackend) -> None:
    backend.catalog.create_table(table())
    assert "orders_db" in backend.catalog.get_databases()


def test_get_tables(backend: CatalogBackend) -> None:
    cat = backend.catalog
    cat.create_database("orders_db")
    cat.create_database("other_db")
    for name in ("zeta", "alpha", "mid"):
        cat.create_table(table(name=name))
    cat.create_table(TableDef("other_db", "t", "other/", "parquet", BASE))
    assert [t.name for t in cat.get_tables("orders_db")] == ["alpha", "mid", "zeta"]
    assert [(t.database, t.name) for t in cat.get_tables()] == [
        ("orders_db", "alpha"), ("orders_db", "mid"), ("orders_db", "zeta"), ("other_db", "t")]
    assert cat.get_tables("missing_db") == []


def test_put_table_versions_only_on_schema_change(backend: CatalogBackend) -> None:
    skip_on_moto(backend, "moto's UpdateTable ignores SkipArchive (every update archives a version)")
    cat = backend.catalog
    cat.create_database("orders_db")
    t1 = cat.put_table(table())
    assert t1.version == 1 and t1.row_count == 10 and t1.last_crawl
    t2 = cat.put_table(table(rows=11))
    assert t2.version == 1 and t2.row_count == 11
    t3 = cat.put_table(table([*BASE, ColumnDef("order_date", "date")], rows=12))
    assert t3.version == 2
    assert [v.version for v in cat.get_table_versions("orders_db", "orders_processed")] == [1, 2]


def test_partitions(backend: CatalogBackend) -> None:
    cat = backend.catalog
    cat.create_database("orders_db")
    parts = [part(y) for y in range(2000, 2130)]  # more than one BatchCreatePartition call (100)
    stored = cat.put_table(table(partition_keys=YEAR, partitions=parts))
    assert stored.partition_keys == YEAR
    got = cat.get_partitions("orders_db", "orders_processed")
    assert len(got) == 130 and got[0] == part(2000) and [p.values for p in got] == sorted(p.values for p in got)

    # prune=False only adds; prune=True also deletes what the listing no longer has.
    cat.put_table(table(partition_keys=YEAR, partitions=[part(2200)]), prune=False)
    values = {p.values for p in cat.get_partitions("orders_db", "orders_processed")}
    assert len(values) == 131 and ("2000",) in values and ("2200",) in values
    cat.put_table(table(partition_keys=YEAR, partitions=[part(2001), part(2200)]))
    assert [p.values for p in cat.get_partitions("orders_db", "orders_processed")] == [("2001",), ("2200",)]

    t = cat.get_table("orders_db", "orders_processed")
    assert t is not None and [p.values for p in t.partitions] == [("2001",), ("2200",)]
    assert cat.get_partitions("orders_db", "missing") == []


def test_batch_create_partition(backend: CatalogBackend) -> None:
    cat = backend.catalog
    cat.create_database("orders_db")
    t = table(partition_keys=YEAR)
    cat.create_table(t)
    cat.batch_create_partition(t, [part(2001), part(2000)])
    cat.batch_create_partition(t, [part(2000, rows=99), part(2002)])  # an existing partition is left alone
    got = cat.get_partitions("orders_db", "orders_processed")
    assert got == [part(2000), part(2001), part(2002)]


def test_crawlers(backend: CatalogBackend) -> None:
    cat = backend.catalog
    cat.create_database("orders_db")
    with pytest.raises(EntityNotFoundError):
        cat.start_crawler("no-such-crawler")
    with pytest.raises(EntityNotFoundError):
        cat.get_crawler("no-such-crawler")
    backend.add_crawler("processed")
    assert cat.get_crawler("processed").state == "READY"
    assert cat.start_crawler("processed") is True
    info = cat.get_crawler("processed")
    assert info.name == "processed" and info.state in ("READY", "RUNNING", "STOPPING")


def test_file_cache(backend: CatalogBackend) -> None:
    cat = backend.catalog
    cat.create_database("orders_db")
    assert cat.get_files("orders_db", "orders_processed") == {}
    files = [FileInfo("processed/a.parquet", 10, "e1", 3, (ColumnDef("a", "string"),), "parquet"),
             FileInfo("processed/b.csv", 20, "e2", 4, (ColumnDef("b", "bigint"),), "csv", ";", False)]
    cat.put_table(table(), files=files)
    assert cat.get_files("orders_db", "orders_processed") == {f.key: f for f in files}
    cat.put_files("orders_db", "orders_processed", files[:1])
    assert list(cat.get_files("orders_db", "orders_processed")) == ["processed/a.parquet"]
    cat.delete_table("orders_db", "orders_processed")
    assert cat.get_files("orders_db", "orders_processed") == {}


def test_data_version_check_and_describe(backend: CatalogBackend) -> None:
    cat = backend.catalog
    cat.create_database("orders_db")
    v0 = cat.data_version()
    cat.put_table(table())
    v1 = cat.data_version()
    assert v1 != v0
    cat.put_table(table(rows=99))
    assert cat.data_version() != v1
    assert cat.check() == "ok"
    assert "orders_db" in cat.describe()["databases"]  # type: ignore[operator]  # describe() is a JSON-ish dict


def test_errors_are_lakebox_errors(backend: CatalogBackend) -> None:
    with pytest.raises(CatalogError) as err:
        backend.catalog.update_table(table(name="ghost"))
    assert isinstance(err.value, LakeboxError) and err.value.code == "EntityNotFoundException"
