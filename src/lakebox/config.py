"""One typed settings object, layered: defaults < ``lakebox.toml`` < ``LAKEBOX_*`` env < CLI flags.

Every setting is declared once in :data:`SETTINGS` with its type and help text; ``lakebox settings``
prints that table, and the README's configuration section is generated from the same rows.
Nothing here opens a file or a connection at import time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakebox.core.dataset import Dataset, dataset_from_config, default_dataset


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the setting and its source."""


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    name: str
    default: Any
    kind: type
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("lake", "lake", str, "The bucket: a folder path, or s3://bucket[/prefix] for the AWS backend."),
    Setting("as_of", None, dt.date, "Reference date (YYYY-MM-DD) for the 30-day rule; defaults to today (UTC)."),
    Setting("database", "orders_db", str, "Catalog database the crawler writes to (Glue database)."),
    Setting("table_prefix", "orders_", str, "Prefix the crawler puts before folder names (Glue TablePrefix)."),
    Setting("output_format", "parquet", str, "Format of processed/ objects: parquet or csv."),
    Setting("host", "127.0.0.1", str, "Dashboard bind address. Anything but loopback needs a token."),
    Setting("port", 5000, int, "Dashboard port."),
    Setting("token", None, str, "Access token for the dashboard; required when binding beyond loopback."),
    Setting("query_timeout", 30.0, float, "Seconds before a query is cancelled (Athena's DML timeout)."),
    Setting("max_result_rows", 10_000, int, "Rows returned to the dashboard/API per ad-hoc query."),
    Setting("max_upload_mb", 100, int, "Largest CSV the dashboard accepts, in MiB."),
    Setting("memory_limit", "1GB", str, "DuckDB memory limit for processing and queries."),
    Setting("threads", 0, int, "DuckDB threads; 0 means one per core."),
    Setting("workers", 2, int, "Watcher worker pool size: files processed at once."),
    Setting("rescan_seconds", 5.0, float, "Watcher safety-net rescan interval of raw/."),
    Setting("settle_seconds", 0.3, float, "A raw file must be unchanged this long before it is processed."),
    Setting("retry_delays", "1,2", str, "Seconds between the retries of a failing file (Lambda: 60,120)."),
    Setting("delete_outputs_on_raw_delete", False, bool, "Remove processed output when its raw file is deleted."),
    Setting("engine", "duckdb", str, "Query engine: duckdb (embedded) or athena."),
    Setting("catalog", "local", str, "Catalog backend: local (SQLite in _lakebox/) or glue."),
    Setting("endpoint_url", None, str, "Override endpoint for every AWS service (moto, LocalStack, MinIO)."),
    Setting("region", "us-east-1", str, "AWS region for the AWS backends."),
    Setting("workgroup", "primary", str, "Athena workgroup for the athena engine."),
    Setting("glue_crawler", None, str, "Glue crawler to start after each file, instead of updating the table."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration. Build it with :func:`load_settings`, not by hand, except in tests."""

    lake: str = "lake"
    as_of: dt.date | None = None
    database: str = "orders_db"
    table_prefix: str = "orders_"
    output_format: str = "parquet"
    host: str = "127.0.0.1"
    port: int = 5000
    token: str | None = None
    query_timeout: float = 30.0
    max_result_rows: int = 10_000
    max_upload_mb: int = 100
    memory_limit: str = "1GB"
    threads: int = 0
    workers: int = 2
    rescan_seconds: float = 5.0
    settle_seconds: float = 0.3
    retry_delays: str = "1,2"
    delete_outputs_on_raw_delete: bool = False
    engine: str = "duckdb"
    catalog: str = "local"
    endpoint_url: str | None = None
    region: str = "us-east-1"
    workgroup: str = "primary"
    glue_crawler: str | None = None
    datasets: tuple[Dataset, ...] = field(default_factory=lambda: (default_dataset(),))
    sources: Mapping[str, str] = field(default_factory=dict)

    def reference_date(self, today: dt.date | None = None) -> dt.date:
        """The date the 30-day rule measures from: ``as_of`` when set, else today's UTC date."""
        if self.as_of is not None:
            return self.as_of
        return today or dt.datetime.now(dt.UTC).date()

    @property
    def is_s3(self) -> bool:
        return self.lake.startswith("s3://")

    @property
    def retry_delay_seconds(self) -> tuple[float, ...]:
        return tuple(float(x) for x in self.retry_delays.split(",") if x.strip())

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    if value is None or (isinstance(value, str) and value == "" and setting.default is None):
        return None
    try:
        if setting.kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected true/false, got {value!r}")
        if setting.kind is dt.date:
            if isinstance(value, dt.date):
                return value
            return dt.date.fromisoformat(str(value).strip())
        if setting.kind is int:
            return int(value)
        if setting.kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {setting.name!r} from {source}: {exc}") from exc


def _validate(s: Settings) -> None:
    if s.output_format not in {"parquet", "csv"}:
        raise ConfigError(f"output_format must be parquet or csv, not {s.output_format!r} ({s.sources.get('output_format')})")
    if s.engine not in {"duckdb", "athena"}:
        raise ConfigError(f"engine must be duckdb or athena, not {s.engine!r}")
    if s.catalog not in {"local", "glue"}:
        raise ConfigError(f"catalog must be local or glue, not {s.catalog!r}")
    if not 1 <= s.port <= 65535:
        raise ConfigError(f"port must be 1..65535, not {s.port}")
    if s.workers < 1:
        raise ConfigError("workers must be at least 1")


def find_config_file(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    """``--config`` wins, then ``LAKEBOX_CONFIG``, then ``./lakebox.toml`` if it exists."""
    if explicit:
        return Path(explicit)
    if env.get("LAKEBOX_CONFIG"):
        return Path(env["LAKEBOX_CONFIG"])
    candidate = Path("lakebox.toml")
    return candidate if candidate.is_file() else None


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve settings from defaults, the TOML file, ``LAKEBOX_*`` variables and CLI flags, in that order.

    CLI values of ``None`` mean "flag not given" and do not override lower layers.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    sources: dict[str, str] = {s.name: "default" for s in SETTINGS}
    datasets: tuple[Dataset, ...] = (default_dataset(),)

    path = find_config_file(config_file, env)
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
        table = doc.get("lakebox", doc)
        for key, raw in table.items():
            if key in ("dataset", "datasets"):
                continue
            if isinstance(raw, dict):
                continue
            if key not in _BY_NAME:
                raise ConfigError(f"{path}: unknown setting {key!r}; see `lakebox settings`")
            values[key] = _coerce(_BY_NAME[key], raw, str(path))
            sources[key] = str(path)
        raw_sets = doc.get("datasets") or table.get("datasets")
        if raw_sets:
            try:
                datasets = tuple(dataset_from_config(name, body) for name, body in raw_sets.items())
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"{path}: [datasets]: {exc}") from exc

    for s in SETTINGS:
        var = "LAKEBOX_" + s.name.upper()
        if var in env:
            values[s.name] = _coerce(s, env[var], f"env {var}")
            sources[s.name] = f"env {var}"

    for key, raw in (cli or {}).items():
        if raw is None:
            continue
        if key not in _BY_NAME:
            raise ConfigError(f"unknown CLI setting {key!r}")
        values[key] = _coerce(_BY_NAME[key], raw, f"--{key.replace('_', '-')}")
        sources[key] = "command line"

    settings = Settings(**values, datasets=datasets, sources=sources)
    _validate(settings)
    return settings
