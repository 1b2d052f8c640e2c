"""Glue (the Data Catalog and crawlers) in Glue's JSON 1.1 protocol, over lakebox's catalog.

``StartCrawler`` really crawls: each S3 target is listed, CSV files are typed by Glue's built-in classifier
and Parquet by its footer, and the table is named after the folder plus the crawler's ``TablePrefix``. The
crawl runs in the background; the crawler goes RUNNING -> STOPPING -> READY and ``LastCrawl`` records the
outcome, as on AWS.

Differences from AWS: one catalog (``CatalogId`` is ignored); crawler ``Exclusions``, schedules, JDBC and
catalog targets are not supported (catalog targets are refused); partition indexes, column statistics and
table versions' ``SkipArchive`` are not modelled.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from typing import Any

from lakebox.endpoint.backend import Backend, KeyRefused
from lakebox.endpoint.jsonrpc import JsonService
from lakebox.endpoint.protocol import AwsError

ACCOUNT = "000000000000"


def _not_found(what: str) -> AwsError:
    return AwsError("EntityNotFoundException", f"{what} not found.")


def _page(items: list[Any], token: str | None, limit: int | None, default: int = 100) -> tuple[list[Any], str | None]:
    start = int(token) if token and token.isdigit() else 0
    n = limit or default
    chunk = items[start:start + n]
    nxt = str(start + n) if start + n < len(items) else None
    return chunk, nxt


def _pattern(expression: str) -> re.Pattern[str]:
    """Glue's table ``Expression``: a regular expression, where a bare ``*`` also means "anything" (as the
    Hive-style patterns clients such as awswrangler send: ``*orders*``)."""
    rx = re.sub(r"(?<![.\\\]])\*", ".*", expression)
    try:
        return re.compile(rx, re.I)
    except re.error as exc:
        raise AwsError("InvalidInputException", f"Invalid Expression {expression!r}: {exc}") from None


class GlueService(JsonService):
    service = "glue"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self.crawlers: dict[str, dict[str, Any]] = backend.load_state("crawlers.json") or {}
        for c in self.crawlers.values():
            if c.get("State") != "READY":  # a crawl interrupted by a restart is over
                c["State"] = "READY"
        self._threads: list[threading.Thread] = []

    # --- databases -----------------------------------------------------------------------------------------

    def _database(self, name: str) -> dict[str, Any]:
        if name.lower() not in self.backend.databases():
            raise _not_found(f"Database {name}")
        return {"Name": name.lower(), "CatalogId": ACCOUNT, "CreateTableDefaultPermissions": [],
                "LocationUri": None, "CreateTime": dt.datetime.now(dt.UTC)}

    def op_create_database(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["DatabaseInput"]["Name"]
        if name.lower() in self.backend.databases():
            raise AwsError("AlreadyExistsException", f"Database already exists: {name}")
        self.backend.create_database(name)
        return {}

    def op_get_database(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"Database": self._database(p["Name"])}

    def op_get_databases(self, p: dict[str, Any]) -> dict[str, Any]:
        dbs = [self._database(n) for n in self.backend.databases()]
        page, nxt = _page(dbs, p.get("NextToken"), p.get("MaxResults"))
        return {"DatabaseList": page, "NextToken": nxt}

    # --- tables --------------------------------------------------------------------------------------------

    def _table(self, database: str, name: str) -> Any:
        self._database(database)
        t = self.backend.table(database, name)
        if t is None:
            raise _not_found(f"Table {name}")
        return t

    def op_get_table(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"Table": self.backend.glue_table(self._table(p["DatabaseName"], p["Name"]))}

    def op_get_tables(self, p: dict[str, Any]) -> dict[str, Any]:
        self._database(p["DatabaseName"])
        tables = self.backend.tables(p["DatabaseName"])
        if p.get("Expression"):
            rx = _pattern(p["Expression"])
            tables = [t for t in tables if rx.fullmatch(t.name)]
        page, nxt = _page(tables, p.get("NextToken"), p.get("MaxResults"))
        return {"TableList": [self.backend.glue_table(t) for t in page], "NextToken": nxt}

    def op_get_table_versions(self, p: dict[str, Any]) -> dict[str, Any]:
        self._table(p["DatabaseName"], p["TableName"])
        versions = self.backend.table_versions(p["DatabaseName"], p["TableName"])
        return {"TableVersions": [{"Table": self.backend.glue_table(t), "VersionId": str(t.version)}
                                  for t in reversed(versions)]}

    def _check_location(self, loc: str | None) -> None:
        """A table or partition location must be an s3:// prefix in a bucket this endpoint serves."""
        if not loc:
            return
        try:
            self.backend.catalog_location(loc)
        except KeyError:
            raise AwsError("InvalidInputException", f"Location {loc}: bucket {loc[5:].split('/', 1)[0]} does not "
                           "exist on this endpoint") from None
        except KeyRefused as exc:
            raise AwsError("InvalidInputException", f"Location {loc}: {exc}") from None

    def _location(self, ti: dict[str, Any]) -> None:
        self._check_location((ti.get("StorageDescriptor") or {}).get("Location"))

    def op_create_table(self, p: dict[str, Any]) -> dict[str, Any]:
        db, ti = p["DatabaseName"], p["TableInput"]
        self._database(db)
        if self.backend.table(db, ti["Name"]) is not None:
            raise AwsError("AlreadyExistsException", f"Table already exists: {ti['Name']}")
        self._location(ti)
        self.backend.put_table(self.backend.table_from_input(db, ti))
        return {}

    def op_update_table(self, p: dict[str, Any]) -> dict[str, Any]:
        db, ti = p["DatabaseName"], p["TableInput"]
        old = self._table(db, ti["Name"])
        self._location(ti)
        self.backend.put_table(self.backend.table_from_input(db, ti, old))
        return {}

    def op_delete_table(self, p: dict[str, Any]) -> dict[str, Any]:
        self._table(p["DatabaseName"], p["Name"])
        self.backend.delete_table(p["DatabaseName"], p["Name"])
        return {}

    def op_batch_delete_table(self, p: dict[str, Any]) -> dict[str, Any]:
        self._database(p["DatabaseName"])
        errors = []
        for name in p["TablesToDelete"]:
            if self.backend.table(p["DatabaseName"], name) is None:
                errors.append({"TableName": name, "ErrorDetail": {"ErrorCode": "EntityNotFoundException",
                                                                  "ErrorMessage": f"Table {name} not found."}})
            else:
                self.backend.delete_table(p["DatabaseName"], name)
        return {"Errors": errors}

    def op_create_partition(self, p: dict[str, Any]) -> dict[str, Any]:
        out = self.op_batch_create_partition({**p, "PartitionInputList": [p["PartitionInput"]]})
        if out["Errors"]:
            raise AwsError("AlreadyExistsException", "Partition already exists.")
        return {}

    def op_get_partitions(self, p: dict[str, Any]) -> dict[str, Any]:
        t = self._table(p["DatabaseName"], p["TableName"])
        if p.get("Expression"):
            raise AwsError("InvalidInputException", "lakebox's Glue does not evaluate partition Expressions; "
                           "list all partitions and filter them")
        parts = self.backend.glue_partitions(t)
        page, nxt = _page(parts, p.get("NextToken"), p.get("MaxResults"), 1000)
        return {"Partitions": page, "NextToken": nxt}

    def op_batch_create_partition(self, p: dict[str, Any]) -> dict[str, Any]:
        t = self._table(p["DatabaseName"], p["TableName"])
        inputs = p["PartitionInputList"]
        if len(inputs) > 100:
            raise AwsError("InvalidInputException", "PartitionInputList holds at most 100 partitions")
        width = len(t.partition_keys)
        bad = [pi for pi in inputs if len(pi.get("Values", [])) != width]
        if bad:
            raise AwsError("InvalidInputException", f"The number of partition values must be {width} "
                           f"(the table's partition keys), got {len(bad[0].get('Values', []))}")
        for pi in inputs:
            self._check_location((pi.get("StorageDescriptor") or {}).get("Location"))
        errors = self.backend.add_partitions(t, inputs)
        return {"Errors": [{"PartitionValues": values, "ErrorDetail": {
            "ErrorCode": code, "ErrorMessage": "Partition already exists."}} for values, code in errors]}

    # --- crawlers ------------------------------------------------------------------------------------------

    def _save(self) -> None:
        self.backend.save_state("crawlers.json", self.crawlers)

    def _crawler(self, name: str) -> dict[str, Any]:
        c = self.crawlers.get(name)
        if c is None:
            raise _not_found(f"Crawler with name {name}")
        return c

    def op_create_crawler(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["Name"]
        targets = p["Targets"]
        if any(targets.get(k) for k in ("JdbcTargets", "MongoDBTargets", "DynamoDBTargets", "CatalogTargets",
                                        "DeltaTargets", "IcebergTargets", "HudiTargets")):
            raise AwsError("InvalidInputException", "lakebox's crawler supports S3Targets only")
        for t in targets.get("S3Targets", []):
            path = t.get("Path", "")
            if not path.startswith("s3://"):
                raise AwsError("InvalidInputException", f"S3 target path must be s3://bucket/prefix, not {path!r}")
        with self._lock:
            if name in self.crawlers:
                raise AwsError("AlreadyExistsException", f"{name} already exists")
            now = dt.datetime.now(dt.UTC).isoformat()
            self.crawlers[name] = {
                "Name": name, "Role": p["Role"], "Targets": targets, "DatabaseName": p.get("DatabaseName", ""),
                "Description": p.get("Description", ""), "TablePrefix": p.get("TablePrefix", ""),
                "SchemaChangePolicy": p.get("SchemaChangePolicy") or {
                    "UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DEPRECATE_IN_DATABASE"},
                "RecrawlPolicy": p.get("RecrawlPolicy") or {"RecrawlBehavior": "CRAWL_EVERYTHING"},
                "State": "READY", "CrawlElapsedTime": 0, "CreationTime": now, "LastUpdated": now, "Version": 1,
                "Configuration": p.get("Configuration"), "Classifiers": p.get("Classifiers", []),
                "_runs": [], "_metrics": {"TablesCreated": 0, "TablesUpdated": 0, "TablesDeleted": 0},
            }
            self._save()
        return {}

    def _public(self, c: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if not k.startswith("_")}

    def op_get_crawler(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"Crawler": self._public(self._crawler(p["Name"]))}

    def op_get_crawlers(self, p: dict[str, Any]) -> dict[str, Any]:
        items = [self._public(c) for _, c in sorted(self.crawlers.items())]
        page, nxt = _page(items, p.get("NextToken"), p.get("MaxResults"))
        return {"Crawlers": page, "NextToken": nxt}

    def op_list_crawlers(self, p: dict[str, Any]) -> dict[str, Any]:
        page, nxt = _page(sorted(self.crawlers), p.get("NextToken"), p.get("MaxResults"))
        return {"CrawlerNames": page, "NextToken": nxt}

    def op_delete_crawler(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            c = self._crawler(p["Name"])
            if c["State"] != "READY":
                raise AwsError("CrawlerRunningException", f"Crawler with name {p['Name']} is running")
            del self.crawlers[p["Name"]]
            self._save()
        return {}

    def op_start_crawler(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            c = self._crawler(p["Name"])
            if c["State"] != "READY":
                raise AwsError("CrawlerRunningException", f"Crawler with name {p['Name']} has already started")
            c["State"] = "RUNNING"
            c["_started"] = dt.datetime.now(dt.UTC).isoformat()
            self._save()
        th = threading.Thread(target=self._crawl, args=(p["Name"],), name=f"crawler-{p['Name']}", daemon=True)
        self._threads.append(th)
        th.start()
        return {}

    def op_stop_crawler(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self._crawler(p["Name"])
        if c["State"] != "RUNNING":
            raise AwsError("CrawlerNotRunningException", f"Crawler with name {p['Name']} is not running")
        # The crawl of one target is not interruptible; the crawler stops after it (STOPPING, then READY).
        with self._lock:
            c["State"] = "STOPPING"
        return {}

    def op_update_crawler(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            c = self._crawler(p["Name"])
            if c["State"] != "READY":
                raise AwsError("CrawlerRunningException", f"Crawler with name {p['Name']} is running")
            for key in ("Role", "DatabaseName", "Description", "Targets", "TablePrefix", "SchemaChangePolicy",
                        "RecrawlPolicy", "Configuration", "Classifiers"):
                if key in p:
                    c[key] = p[key]
            c["LastUpdated"] = dt.datetime.now(dt.UTC).isoformat()
            c["Version"] = int(c.get("Version", 1)) + 1
            self._save()
        return {}

    def _crawl(self, name: str) -> None:
        c = self.crawlers[name]
        t0 = time.monotonic()
        created = updated = 0
        status, message = "SUCCEEDED", None
        try:
            for target in c["Targets"].get("S3Targets", []):
                for _table, what in self.backend.crawl_target(target["Path"], c["DatabaseName"] or "default",
                                                              c.get("TablePrefix") or ""):
                    created += what == "created"
                    updated += what == "updated"
        except KeyError as exc:
            status, message = "FAILED", f"S3 target bucket {exc.args[0]} does not exist"
        except (OSError, ValueError) as exc:
            status, message = "FAILED", f"{type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - t0
        with self._lock:
            c["State"] = "STOPPING"
        with self._lock:
            c["State"] = "READY"
            c["CrawlElapsedTime"] = int(elapsed * 1000)
            c["LastCrawl"] = {"Status": status, "StartTime": c.pop("_started", None),
                              "LogGroup": "/aws-glue/crawlers", "LogStream": name,
                              "MessagePrefix": name, **({"ErrorMessage": message} if message else {})}
            c["_runs"] = (c.get("_runs", []) + [elapsed])[-20:]
            c["_metrics"] = {"TablesCreated": created, "TablesUpdated": updated, "TablesDeleted": 0}
            self._save()

    def op_get_crawler_metrics(self, p: dict[str, Any]) -> dict[str, Any]:
        names = p.get("CrawlerNameList") or sorted(self.crawlers)
        out = []
        for n in names:
            c = self._crawler(n)
            runs = sorted(c.get("_runs", []))
            out.append({"CrawlerName": n, "TimeLeftSeconds": 0.0, "StillEstimating": c["State"] == "RUNNING",
                        "LastRuntimeSeconds": runs[-1] if runs else 0.0,
                        "MedianRuntimeSeconds": runs[len(runs) // 2] if runs else 0.0, **c.get("_metrics", {})})
        return {"CrawlerMetricsList": out}

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for running crawls (shutdown)."""
        for th in list(self._threads):
            th.join(timeout)
