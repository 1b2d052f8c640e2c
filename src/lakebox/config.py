"""One typed settings object, layered: defaults < ``lakebox.toml`` < ``LAKEBOX_*`` env < CLI flags.

Each setting is declared once, as a field of :class:`Settings` made with :func:`setting`: its type (choices
are ``Literal`` types), default, help text and environment variable sit together. Everything else derives
from that declaration: :data:`SETTINGS` (the rows ``lakebox settings`` prints and the README's table is made
of, see :func:`markdown_table`), parsing and checking of TOML, environment and flag values, and the CLI's
choices. Nothing here opens a file or a connection at import time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lakebox.core.errors import InvalidInputError, check_keys
from lakebox.core.formats import OutputFormat
from lakebox.core.profiles import Profile, profile_document

if TYPE_CHECKING:
    # The datasets' models are imported where settings are loaded: `lakebox --help` reads only the
    # declarations below.
    from lakebox.core.dataset import Dataset

Engine = Literal["duckdb", "athena"]
CatalogBackend = Literal["local", "glue"]

#: The one date form settings take (``date.fromisoformat`` also takes 20250501 and week dates).
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

#: Where the region comes from when no lakebox layer sets it, in order; then boto3's own chain (profile).
AWS_REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")


class ConfigError(InvalidInputError, code="InvalidConfiguration"):
    """A setting has a value that cannot be used; the message names the setting and its source."""


def _seconds_list(value: str) -> None:
    for part in value.split(","):
        if not part.strip():
            continue
        try:
            seconds = float(part)
        except ValueError:
            seconds = -1.0  # not a number: the same message as a negative one
        if not seconds >= 0:
            raise ValueError(f"{part.strip()!r} is not a number of seconds >= 0")


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", re.I)


def parse_bytes(text: str) -> int:
    """Bytes in a size such as ``2GB``, ``1536MB``, ``512MiB`` or ``1000000`` (units are powers of 1024, as in
    DuckDB's memory_limit). ValueError for anything else or a size under 64 MiB."""
    m = _SIZE.fullmatch(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a size such as 2GB or 1536MB")
    value = int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " "))
    if value < 64 * 1024 ** 2:
        raise ValueError(f"{text!r} is below 64MB, too small to run a query")
    return value


def _size(value: str) -> None:
    parse_bytes(value)


def setting(default: Any, help: str, *, env: str | None = None, minimum: float | None = None,
            maximum: float | None = None, check: Callable[[Any], None] | None = None) -> Any:
    """Declare one setting: a dataclass field carrying its help text, env variable and bounds.

    ``env`` defaults to ``LAKEBOX_<NAME>``; ``minimum``/``maximum`` bound numbers (inclusive); ``check``
    raises ValueError for a value of the right type that still cannot be used.
    """
    return field(default=default, metadata={"help": help, "env": env, "minimum": minimum, "maximum": maximum,
                                            "check": check})


@dataclass(frozen=True)
class Settings:
    """The resolved configuration. Build it with :func:`load_settings`, not by hand, except in tests."""

    profile: Profile = setting(
        "typed", "Starting point beneath lakebox.toml: typed (cast columns, snake-case names) or glue-crawler "
        "(CSV typed by Glue's crawler: table processed, source names); `lakebox init` writes either.")
    lake: str = setting("lake", "The bucket: a folder path, or s3://bucket[/prefix] for the AWS backend.")
    as_of: dt.date | None = setting(
        None, "Reference date (YYYY-MM-DD) for the 30-day rule; defaults to today (UTC).")
    database: str = setting("orders_db", "Catalog database the crawler writes to (Glue database).")
    table_prefix: str = setting("orders_", "Prefix the crawler puts before folder names (Glue TablePrefix).")
    output_format: OutputFormat = setting("parquet", "Format of processed/ objects: parquet or csv.")
    host: str = setting("127.0.0.1", "Dashboard bind address. Anything but loopback needs a token.")
    port: int = setting(5000, "Dashboard port.", minimum=1, maximum=65535)
    token: str | None = setting(None, "Access token for the dashboard; required when binding beyond loopback.")
    query_timeout: float = setting(30.0, "Seconds before a query is cancelled (Athena's DML timeout).")
    query_workers: int = setting(
        2, "Users' SQL (editor, /api/sql, saved queries) run at once by the dashboard, each in a worker process "
        "that is killed at query_timeout and capped by query_worker_memory.", minimum=1, maximum=8)
    query_queue: int = setting(
        8, "Dashboard/API queries that may wait for a worker; beyond it they are refused with 429 and Retry-After.",
        minimum=0, maximum=64)
    query_worker_memory: str = setting(
        "2GB", "Address-space cap of each query worker process (RLIMIT_AS), e.g. 2GB or 1536MB; a query that "
        "needs more fails with EXCEEDED_MEMORY_LIMIT. DuckDB's memory_limit applies inside it too.",
        check=_size)
    allow_ddl: bool = setting(
        True, "Run Athena DDL (CREATE/DROP TABLE and VIEW, CTAS, ALTER TABLE partitions, MSCK REPAIR) from lakebox "
        "query, the Athena API and the endpoint; the dashboard's SQL editor never runs DDL.")
    max_result_rows: int = setting(10_000, "Rows returned to the dashboard/API per ad-hoc query.")
    max_upload_mb: int = setting(100, "Largest CSV the dashboard accepts, in MiB.")
    result_retention_days: float = setting(
        7.0, "Days an ad-hoc query result stays in enriched/ (named queries' latest results stay); 0 keeps all.",
        minimum=0)
    result_max_mb: int = setting(
        1024, "Cap on the query results in enriched/, in MiB: beyond it the oldest go first; 0 means no cap.",
        minimum=0)
    memory_limit: str = setting("1GB", "DuckDB memory limit for processing and queries.")
    threads: int = setting(0, "DuckDB threads; 0 means one per core.", minimum=0)
    row_group_mb: int = setting(
        0, "Parquet row groups of about this many MiB in processed/ and compacted files (Athena splits work and "
        "skips data by row group; 128 suits it, and the AWS template sets it); 0 keeps DuckDB's 122,880-row "
        "groups, the fastest to write and to scan locally.", minimum=0, maximum=1024)
    compact_min_files: int = setting(
        0, "The watcher compacts a table in the background once it has at least this many small files "
        "(what `lakebox compact` does); 0 turns it off.", minimum=0)
    workers: int = setting(2, "Watcher worker pool size: files processed at once.", minimum=1)
    rescan_seconds: float = setting(5.0, "Watcher safety-net rescan interval of raw/.")
    settle_seconds: float = setting(0.3, "A raw file must be unchanged this long before it is processed.")
    retry_delays: str = setting("1,2", "Seconds between the retries of a failing file (Lambda: 60,120).",
                                check=_seconds_list)
    delete_outputs_on_raw_delete: bool = setting(False, "Remove processed output when its raw file is deleted.")
    engine: Engine = setting("duckdb", "Query engine: duckdb (embedded) or athena.")
    catalog: CatalogBackend = setting("local", "Catalog backend: local (SQLite in _lakebox/) or glue.")
    endpoint_url: str | None = setting(None, "Override endpoint for every AWS service (moto, LocalStack, MinIO).")
    region: str | None = setting(
        None, "AWS region for the AWS backends; unset: AWS_REGION, AWS_DEFAULT_REGION, then the AWS profile.")
    workgroup: str = setting("primary", "Athena workgroup for the athena engine.")
    glue_crawler: str | None = setting(
        None, "Glue crawler to start after each file, instead of updating the table.")
    endpoint_host: str = setting(
        "127.0.0.1", "Local AWS endpoint bind address. Anything but loopback needs endpoint credentials.")
    endpoint_port: int = setting(
        4566, "Local AWS endpoint port (AWS_ENDPOINT_URL=http://127.0.0.1:4566); 0 picks a free one.",
        minimum=0, maximum=65535)
    endpoint_bucket: str = setting("lakebox", "Bucket name under which the endpoint serves the lake.")
    endpoint_buckets: str = setting("", "More buckets for the endpoint: name=folder pairs, comma-separated.")
    endpoint_function: str | None = setting(
        None, "Your own Lambda for raw/ uploads through the endpoint, path/to/lambda_function.py:lambda_handler; "
        "default: lakebox's handler.")
    endpoint_function_timeout: float = setting(
        60.0, "Seconds before the endpoint's function is stopped (Lambda's timeout).", minimum=0.1)
    endpoint_function_env: str = setting(
        "", "Environment variables for the function: K=V pairs, comma-separated.")
    endpoint_access_key: str | None = setting(
        None, "Access key the endpoint requires (SigV4); required beyond loopback.")
    endpoint_secret_key: str | None = setting(None, "Secret key paired with endpoint_access_key.")
    datasets: tuple[Dataset, ...] = field(default_factory=lambda: _default_datasets())
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

    def with_flags(self, flags: Mapping[str, Any], source: str = "command line") -> Settings:
        """These settings with command-line values on top (``None`` means "flag not given"), each parsed and
        checked as its declaration says."""
        values: dict[str, Any] = {}
        sources = dict(self.sources)
        for key, raw in flags.items():
            if raw is None:
                continue
            if key not in BY_NAME:
                raise ConfigError(f"unknown CLI setting {key!r}")
            values[key] = BY_NAME[key].parse(raw, f"--{key.replace('_', '-')}")
            sources[key] = source
        return dataclasses.replace(self, **values, sources=sources) if values else self


@dataclass(frozen=True)
class Setting:
    """One setting as declared on :class:`Settings`: a row of ``lakebox settings`` and of the README table."""

    name: str
    default: Any
    kind: type  # str, int, float, bool or dt.date
    optional: bool  # None is a value (unset)
    choices: tuple[str, ...]  # of a Literal type; empty for free values
    help: str
    env: str
    minimum: float | None = None
    maximum: float | None = None
    check: Callable[[Any], None] | None = None

    def parse(self, value: Any, source: str) -> Any:
        """``value`` (from TOML, the environment or a flag) as this setting's type, or :class:`ConfigError`
        naming the setting and ``source``."""
        if value is None or (self.optional and isinstance(value, str) and value == ""):
            if self.optional:
                return None
            raise ConfigError(f"setting {self.name!r} from {source}: a value is required")
        try:
            parsed = self._convert(value)
            if self.check is not None:
                self.check(parsed)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"setting {self.name!r} from {source}: {exc}") from exc
        if self.choices and parsed not in self.choices:
            raise ConfigError(
                f"setting {self.name!r} from {source}: {self.name} must be {' or '.join(self.choices)}, "
                f"not {parsed!r}")
        if self.minimum is not None and parsed < self.minimum or self.maximum is not None and parsed > self.maximum:
            bounds = f"{self.minimum:g}..{self.maximum:g}" if self.maximum is not None else f"at least {self.minimum:g}"
            raise ConfigError(f"setting {self.name!r} from {source}: {self.name} must be {bounds}, not {parsed}")
        return parsed

    def _convert(self, value: Any) -> Any:
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected true/false, got {value!r}")
        if self.kind is dt.date:
            if isinstance(value, dt.date):
                return value
            text = str(value).strip()
            if not _ISO_DATE.fullmatch(text):
                raise ValueError(f"{text!r} is not a date in the form YYYY-MM-DD (e.g. 2025-05-01)")
            return dt.date.fromisoformat(text)
        if self.kind in (int, float) and isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            if self.kind is int:
                return int(value)
            if self.kind is float:
                return float(value)
        except ValueError:  # int()'s own words ("invalid literal for int() with base 10") are Python's
            noun = "a whole number" if self.kind is int else "a number"
            raise ValueError(f"{value!r} is not {noun}") from None
        return str(value)


def _setting_of(f: dataclasses.Field[Any], hint: Any) -> Setting:
    args = typing.get_args(hint)
    optional = (typing.get_origin(hint) in (typing.Union, types.UnionType)) and type(None) in args
    if optional:
        (hint,) = [a for a in args if a is not type(None)]
    choices: tuple[str, ...] = ()
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        hint = str
    meta = f.metadata
    return Setting(
        name=f.name, default=f.default, kind=hint, optional=optional, choices=choices, help=meta["help"],
        env=meta["env"] or f"LAKEBOX_{f.name.upper()}", minimum=meta["minimum"], maximum=meta["maximum"],
        check=meta["check"],
    )


def _default_datasets() -> tuple[Dataset, ...]:
    from lakebox.core.dataset import default_dataset

    return (default_dataset(),)


def _declared() -> tuple[Setting, ...]:
    # ``datasets`` is no setting (it has no help): its type is not read here, so its class need not be imported.
    hints = typing.get_type_hints(Settings, localns={"Dataset": object})
    return tuple(_setting_of(f, hints[f.name]) for f in dataclasses.fields(Settings) if "help" in f.metadata)


#: Every setting, in declaration order: derived from the fields of :class:`Settings`.
SETTINGS: tuple[Setting, ...] = _declared()
BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}

#: Top-level keys of ``lakebox.toml`` besides the settings.
_FILE_TABLES = ("datasets",)


def markdown_table() -> str:
    """The README's settings table, one row per setting: name, env variable, default, help."""
    lines = ["| setting | env | default | what it does |", "|---|---|---|---|"]
    lines += [f"| `{s.name}` | `{s.env}` | `{s.default!r}` | {s.help} |" for s in SETTINGS]
    return "\n".join(lines)


#: The datasets as JSON (``{"NAME": {...}}``, the ``[datasets.NAME]`` tables), above lakebox.toml's: how the
#: AWS template hands them to the deployed function, which has no lakebox.toml.
DATASETS_ENV = "LAKEBOX_DATASETS"


def _datasets_from_env(text: str) -> tuple[Dataset, ...]:
    import json

    from lakebox.core.dataset import dataset_from_config

    where = f"env {DATASETS_ENV}"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(doc, dict) or not doc:
        raise ConfigError(f"{where}: expected a JSON object of datasets, {{\"NAME\": {{...}}}}")
    try:
        return tuple(dataset_from_config(name, body) for name, body in doc.items())
    except InvalidInputError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def find_config_file(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    """``--config`` wins, then ``LAKEBOX_CONFIG``, then ``./lakebox.toml`` if it exists."""
    if explicit:
        return Path(explicit)
    if env.get("LAKEBOX_CONFIG"):
        return Path(env["LAKEBOX_CONFIG"])
    candidate = Path("lakebox.toml")
    return candidate if candidate.is_file() else None


def _read_file(path: Path) -> tuple[dict[str, Any], tuple[Dataset, ...] | None]:
    """The settings and datasets of a ``lakebox.toml``: settings at the top level or in a ``[lakebox]`` table,
    datasets in ``[datasets.NAME]`` tables. Every unknown key is an error naming the file and the key."""
    import tomllib  # only when there is a file: `lakebox --help` and most lakes have none

    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    return _read_document(doc, str(path))


def _read_document(doc: Mapping[str, Any], where: str) -> tuple[dict[str, Any], tuple[Dataset, ...] | None]:
    valid = [*BY_NAME, *_FILE_TABLES]
    table: Mapping[str, Any] = doc
    if isinstance(doc.get("lakebox"), dict):
        check_keys(doc, ["lakebox", *_FILE_TABLES], where, noun="table", error=ConfigError)
        table = doc["lakebox"]
    check_keys(table, valid, where, noun="setting", error=ConfigError)
    values = {key: BY_NAME[key].parse(raw, where) for key, raw in table.items() if key in BY_NAME}
    raw_sets = doc.get("datasets") or table.get("datasets")
    if not raw_sets:
        return values, None
    if not isinstance(raw_sets, dict):
        raise ConfigError(f"{where}: datasets must be tables [datasets.NAME]")
    try:
        from lakebox.core.dataset import dataset_from_config

        return values, tuple(dataset_from_config(name, body) for name, body in raw_sets.items())
    except InvalidInputError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve settings from defaults, the TOML file, ``LAKEBOX_*`` variables and CLI flags, in that order.

    CLI values of ``None`` mean "flag not given" and do not override lower layers. When no layer sets
    ``region``, ``AWS_REGION`` then ``AWS_DEFAULT_REGION`` do; when neither is set it stays None and boto3
    resolves it (the profile's region).
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {s.name: "default" for s in SETTINGS}
    datasets = _default_datasets()

    path = find_config_file(config_file, env)
    from_file: dict[str, Any] = {}
    file_sets: tuple[Dataset, ...] | None = None
    if path is not None:
        from_file, file_sets = _read_file(path)
    from_env: dict[str, Any] = {}
    env_sources: dict[str, str] = {}
    for s in SETTINGS:
        if s.env in env:
            from_env[s.name] = s.parse(env[s.env], f"env {s.env}")
            env_sources[s.name] = f"env {s.env}"

    # The profile is a layer of its own just above the defaults, so it is chosen first, from the highest layer
    # that names one; the file, the environment and the flags then override its values as usual.
    profile = BY_NAME["profile"]
    chosen = (profile.parse(cli["profile"], "--profile") if cli and cli.get("profile") is not None
              else from_env.get("profile", from_file.get("profile", profile.default)))
    if chosen != profile.default:
        from_profile, profile_sets = _read_document(profile_document(chosen), f"profile {chosen}")
        values |= from_profile
        sources |= dict.fromkeys(from_profile, f"profile {chosen}")
        datasets = profile_sets or datasets

    values |= from_file
    sources |= dict.fromkeys(from_file, str(path))
    datasets = file_sets or datasets
    values |= from_env
    sources |= env_sources

    if env.get(DATASETS_ENV):
        datasets = _datasets_from_env(env[DATASETS_ENV])

    if values.get("region") is None:
        var = next((v for v in AWS_REGION_VARS if env.get(v)), None)
        if var is not None:
            values["region"] = env[var]
            sources["region"] = f"env {var}"

    return Settings(**values, datasets=datasets, sources=sources).with_flags(cli or {})
