"""TableDef <-> Glue conversions, used by :class:`~lakebox.catalog.glue.GlueCatalog`.

Tables are written the way a Glue crawler writes them (section 2.12 of the AWS semantics notes):
``EXTERNAL_TABLE``, ``PartitionKeys`` at least ``[]``, the parameter block (classification, objectCount,
recordCount, sizeKey, ...) as strings, and the Parquet/CSV input formats and SerDes Athena expects.

Locations: lakebox's TableDef keeps lake-relative locations (``processed/``); Glue needs ``s3://`` URLs. The
catalog is given the lake URL and translates in both directions, so a TableDef looks the same from either
backend.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from lakebox.catalog.crawler import ColumnDef, PartitionDef, TableDef
from lakebox.catalog.views import EXPANDED_TEXT, ORIGINAL_TEXT_PARAM, TABLE_TYPE, VIEW_FORMAT, is_view

_PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
_CSV = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": ","},
    },
}


def iso(value: object) -> str | None:
    """A Glue timestamp (datetime, or already a string) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else None


class GlueConverter:
    """Location translation and TableDef/PartitionDef <-> Glue TableInput/PartitionInput conversions for one
    lake: ``lake_url`` is ``s3://bucket[/prefix]`` (or empty: locations pass through unchanged)."""

    def __init__(self, lake_url: str = "") -> None:
        self.lake_url = lake_url.rstrip("/")

    # --- location translation -----------------------------------------------------------------------------

    def s3_location(self, location: str) -> str:
        """``processed/`` -> ``s3://bucket/prefix/processed/``; S3 URLs pass through."""
        if location.startswith("s3://") or not self.lake_url:
            return location
        return f"{self.lake_url}/{location.lstrip('/')}"

    def lake_location(self, location: str) -> str:
        """The inverse of :meth:`s3_location` for locations inside this lake."""
        if self.lake_url and location.startswith(self.lake_url + "/"):
            return location[len(self.lake_url) + 1:]
        return location

    # --- conversions ---------------------------------------------------------------------------------------

    def table_input(self, table: TableDef) -> dict[str, Any]:
        """TableDef -> Glue TableInput, shaped like a crawler's table (or, for a view, as Athena's CREATE VIEW
        writes it: VIRTUAL_VIEW with the Presto view text)."""
        if is_view(table):
            params = {k: str(v) for k, v in table.parameters.items() if k != ORIGINAL_TEXT_PARAM}
            return {
                "Name": table.name.lower(), "Owner": "lakebox", "TableType": TABLE_TYPE, "Retention": 0,
                "PartitionKeys": [], "Parameters": params,
                "ViewOriginalText": str(table.parameters[ORIGINAL_TEXT_PARAM]), "ViewExpandedText": EXPANDED_TEXT,
                "StorageDescriptor": {"Columns": [{"Name": c.name, "Type": c.type} for c in table.columns],
                                      "Location": "", "Compressed": False, "NumberOfBuckets": 0,
                                      "SerdeInfo": {}, "SortColumns": [], "StoredAsSubDirectories": False},
            }
        params = {str(k): str(v) for k, v in table.parameters.items()}
        params.setdefault("classification", table.format)
        params.setdefault("typeOfData", "file")
        params["objectCount"] = str(table.file_count)
        params["recordCount"] = str(table.row_count)
        params["sizeKey"] = str(table.size_bytes)
        if table.last_crawl:
            params["lakebox.last_crawl"] = table.last_crawl
        fmt = _PARQUET if table.format == "parquet" else _CSV
        if table.format == "csv":
            params.setdefault("delimiter", str(params.get("field.delim", ",")))
        sd: dict[str, Any] = {
            "Columns": [{"Name": c.name, "Type": c.type} for c in table.columns],
            "Location": self._dir(self.s3_location(table.location)),
            "Compressed": False,
            "NumberOfBuckets": -1,
            "BucketColumns": [],
            "SortColumns": [],
            "StoredAsSubDirectories": False,
            "Parameters": dict(params),
            **json.loads(json.dumps(fmt)),  # a deep copy: the SerDe dict is shared module state
        }
        return {
            "Name": table.name.lower(),
            "Owner": "lakebox",
            "TableType": "EXTERNAL_TABLE",
            "Retention": 0,
            "PartitionKeys": [{"Name": c.name, "Type": c.type} for c in table.partition_keys],
            "StorageDescriptor": sd,
            "Parameters": params,
        }

    @staticmethod
    def _dir(location: str) -> str:
        return location if location.endswith("/") else location + "/"

    def table_from_glue(self, t: dict[str, Any], partitions: list[PartitionDef] | None = None) -> TableDef:
        """Glue Table -> TableDef (locations made lake-relative again)."""
        sd = t.get("StorageDescriptor", {})
        params = dict(t.get("Parameters", {}))
        version = t.get("VersionId")
        if t.get("TableType") == TABLE_TYPE and t.get("ViewOriginalText"):
            params[ORIGINAL_TEXT_PARAM] = t["ViewOriginalText"]
            params["classification"] = VIEW_FORMAT
        return TableDef(
            database=t.get("DatabaseName", ""),
            name=t["Name"],
            location=self.lake_location(sd.get("Location", "")),
            format=params.get("classification", "parquet"),
            columns=[ColumnDef(c["Name"], c["Type"]) for c in sd.get("Columns", [])],
            partition_keys=[ColumnDef(c["Name"], c["Type"]) for c in t.get("PartitionKeys", [])],
            partitions=partitions or [],
            files=[],
            file_count=int(params.get("objectCount", 0) or 0),
            row_count=int(params.get("recordCount", 0) or 0),
            size_bytes=int(params.get("sizeKey", 0) or 0),
            parameters=params,
            version=int(version) if version and str(version).isdigit() else 1,
            updated_at=iso(t.get("UpdateTime") or t.get("CreateTime")),
            last_crawl=params.get("lakebox.last_crawl") or iso(t.get("UpdateTime") or t.get("CreateTime")),
        )

    def partition_input(self, table: TableDef, p: PartitionDef) -> dict[str, Any]:
        sd = self.table_input(table)["StorageDescriptor"]
        sd["Location"] = self._dir(self.s3_location(p.location))
        sd["Parameters"] = {**sd["Parameters"], "objectCount": str(p.file_count),
                            "recordCount": str(p.row_count), "sizeKey": str(p.size_bytes)}
        return {"Values": list(p.values), "StorageDescriptor": sd, "Parameters": dict(sd["Parameters"])}

    def partition_from_glue(self, p: dict[str, Any]) -> PartitionDef:
        params = p.get("Parameters") or p.get("StorageDescriptor", {}).get("Parameters", {})
        return PartitionDef(
            tuple(p.get("Values", [])),
            self.lake_location(p.get("StorageDescriptor", {}).get("Location", "")),
            int(params.get("objectCount", 0) or 0),
            int(params.get("recordCount", 0) or 0),
            int(params.get("sizeKey", 0) or 0),
        )
