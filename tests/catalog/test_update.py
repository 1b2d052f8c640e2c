"""The one catalog update path, ``CatalogUpdater.update_for_run``, on both backends: real processed files,
real concurrency. The race it closes: two workers each list processed/ and write the table; without one lock
around list-and-write, the slower writer could store a listing that lacks the other's file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from conftest_aws import (  # noqa: F401 - the fixtures aws and moto_server
    CSV,
    AwsEnv,
    aws_fixture,
    glue_settings,
    make_store,
    moto_server_fixture,
)
from waiting import wait_until

from lakebox.catalog.crawl import LOCAL_CRAWLER, CatalogUpdater, open_catalog
from lakebox.catalog.crawler import FileInfo, TableDef
from lakebox.config import Settings
from lakebox.core.runs import RunRecord
from lakebox.process.handler import process_object
from lakebox.store import open_store
from lakebox.store.base import Store

TABLE = ("orders_db", "orders_processed")


@dataclass
class Lakeside:
    settings: Settings
    store: Store
    updater: CatalogUpdater

    def publish(self, name: str) -> RunRecord:
        """Land CSV at raw/<name> and process it, the catalog updated through ``self.updater``."""
        self.store.put_object(f"raw/{name}", CSV)
        run = process_object(self.settings, self.store, f"raw/{name}", after=self.updater.update_for_run)
        assert run.status == "ok", run.error
        return run

    def table(self) -> TableDef:
        t = self.updater.catalog.get_table(*TABLE)
        assert t is not None
        return t


@pytest.fixture(params=["local", pytest.param("glue", marks=pytest.mark.aws)])
def side(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Lakeside:
    if request.param == "local":
        settings = make_settings(as_of="2025-02-01")
        store = open_store(settings.lake)
    else:
        aws: AwsEnv = request.getfixturevalue("aws")
        settings, store = glue_settings(aws), make_store(aws)
    updater = CatalogUpdater.open(settings, store)
    updater.catalog.create_database(settings.database)
    return Lakeside(settings, store, updater)


def test_update_for_run_writes_the_runs_table_and_is_idempotent(side: Lakeside) -> None:
    run = side.publish("a.csv")
    t = side.table()
    assert (t.file_count, t.row_count, t.location) == (1, run.rows_kept, "processed/")
    again = side.updater.update_for_run(run)  # nothing changed: the same table
    assert again is not None and (again.row_count, again.columns, again.file_count) == (
        t.row_count, t.columns, t.file_count)
    if side.settings.catalog != "glue":  # moto's UpdateTable ignores SkipArchive: every update is a version
        assert again.version == t.version
    assert side.updater.update_for_run(RunRecord(raw_key="raw/x.csv", etag="e", dataset="no-such-dataset")) is None


def test_concurrent_updates_see_every_published_file(side: Lakeside) -> None:
    n = 6
    runs: list[RunRecord] = []
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def worker(i: int) -> None:
        try:
            start.wait(30)
            runs.append(side.publish(f"part{i}.csv"))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors
    t = side.table()
    assert t.file_count == n and t.row_count == sum(r.rows_kept for r in runs)


def test_crawl_prunes_what_is_gone(side: Lakeside) -> None:
    side.publish("a.csv")
    side.publish("b.csv")
    side.store.delete_object("processed/b.parquet")
    [t] = side.updater.crawl()
    assert t.file_count == 1 and side.table().file_count == 1
    side.store.delete_object("processed/a.parquet")
    assert side.updater.crawl() == []
    assert side.updater.catalog.get_table(*TABLE) is None


def test_the_local_crawler_is_the_update_path(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(as_of="2025-02-01")
    store = open_store(settings.lake)
    store.put_object("raw/a.csv", CSV)
    assert process_object(settings, store, "raw/a.csv").status == "ok"  # no catalog update: no table yet
    catalog = open_catalog(settings, store)
    assert catalog.get_table(*TABLE) is None
    assert catalog.start_crawler(LOCAL_CRAWLER) is True  # runs to completion, like `lakebox crawl`
    t = catalog.get_table(*TABLE)
    assert t is not None and t.file_count == 1
    info = catalog.get_crawler(LOCAL_CRAWLER)
    assert (info.state, info.last_crawl_status) == ("READY", "SUCCEEDED")


def test_concurrent_requests_are_coalesced(make_settings: Callable[..., Settings]) -> None:
    """Requests made while a crawl runs are served by one more crawl, not one each: N workers finishing
    together cost two crawls (speed), and each request is still served by a crawl that began after it."""
    settings = make_settings(as_of="2025-02-01")
    store = open_store(settings.lake)
    base = open_catalog(settings, store)
    first_crawl_may_finish = threading.Event()
    crawls: list[int] = []

    class CountingCatalog:
        """The local catalog, counting crawls (each reads the file cache once) and holding the first one."""

        def __getattr__(self, name: str) -> object:
            return getattr(base, name)

        def get_files(self, database: str, name: str) -> dict[str, FileInfo]:
            crawls.append(1)
            if len(crawls) == 1:
                first_crawl_may_finish.wait(30)
            return base.get_files(database, name)

    updater = CatalogUpdater(settings, store, CountingCatalog())  # type: ignore[arg-type]  # a delegating spy
    run = RunRecord(raw_key="raw/a.csv", etag="e", dataset="orders", status="ok")
    n = 6
    threads = [threading.Thread(target=updater.update_for_run, args=(run,)) for _ in range(n)]
    threads[0].start()
    wait_until(lambda: len(crawls) == 1, what="the first crawl to start")
    for th in threads[1:]:
        th.start()
    wait_until(lambda: updater._updates.requested["processed/"] == n, what="every request to be made")
    first_crawl_may_finish.set()
    for th in threads:
        th.join(60)
    assert len(crawls) == 2
