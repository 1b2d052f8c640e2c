"""The Catalog interface ("Glue"): what lakebox needs from a data catalog, named after Glue's actions.

``LocalCatalog`` (a SQLite file in the lake) and ``GlueCatalog`` (AWS Glue) implement it with the same
argument shapes and return types, so the query engine, the dashboard and the update path never ask which one
they hold. The models (TableDef, PartitionDef, FileInfo) live in :mod:`lakebox.catalog.crawler`. This module
is pure: no boto3, no SQLite, no file system.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from lakebox.catalog.crawler import FileInfo, PartitionDef, TableDef
from lakebox.core.errors import ConflictError, InvalidInputError, LakeboxError, NotFoundError

#: Glue's crawler states (GetCrawler's ``Crawler.State``).
CrawlerState = Literal["READY", "RUNNING", "STOPPING"]

#: What a local crawler runs when started: crawl its include paths into the catalog.
CrawlRunner = Callable[[], object]


class CatalogError(LakeboxError):
    """A catalog action failed; ``code`` is Glue's error code when Glue answered with one."""

    code = "InternalServiceException"


class EntityNotFoundError(CatalogError, NotFoundError):
    """The database, table or crawler does not exist (Glue's EntityNotFoundException)."""

    code = "EntityNotFoundException"


class AlreadyExistsError(CatalogError, ConflictError):
    """CreateDatabase/CreateTable on a name that exists (Glue's AlreadyExistsException)."""

    code = "AlreadyExistsException"


class CrawlerRunningError(CatalogError, ConflictError):
    """StartCrawler on a crawler that is running (Glue's CrawlerRunningException)."""

    code = "CrawlerRunningException"


class CatalogConfigError(CatalogError, InvalidInputError, ValueError):
    """The settings ask for a catalog this lake cannot have (a SQLite catalog inside an s3:// lake)."""

    code = "InvalidInputException"


#: Glue error codes -> the error class raised for them (the rest become a plain CatalogError with the code).
ERRORS_BY_CODE: Mapping[str, type[CatalogError]] = {
    "EntityNotFoundException": EntityNotFoundError,
    "AlreadyExistsException": AlreadyExistsError,
    "CrawlerRunningException": CrawlerRunningError,
}


@dataclass(frozen=True)
class CrawlerInfo:
    """What GetCrawler returns that lakebox uses."""

    name: str
    state: CrawlerState
    last_crawl_status: str | None = None


@runtime_checkable
class Catalog(Protocol):
    """A Glue-like Data Catalog. Names are case-insensitive and stored lower-case, as Glue does.

    Where lakebox differs from Glue: ``get_table`` returns None for a missing table instead of raising
    (every caller asks "is it there?"); ``put_table`` (CreateTable or UpdateTable, plus partitions) and the
    crawler's per-file cache (``get_files``/``put_files``) are lakebox's own; a table's version only changes
    when its schema changes (UpdateTable with ``SkipArchive`` for statistics-only updates).
    """

    def create_database(self, name: str) -> None:
        """CreateDatabase; an existing database is not an error."""
        ...

    def get_database(self, name: str) -> str:
        """GetDatabase: the database's (lower-case) name. Raises :class:`EntityNotFoundError`."""
        ...

    def get_databases(self) -> list[str]:
        """GetDatabases: every database name, sorted."""
        ...

    def get_table(self, database: str, name: str) -> TableDef | None:
        """GetTable with its partitions, or None when the table (or database) does not exist."""
        ...

    def get_tables(self, database: str | None = None) -> list[TableDef]:
        """GetTables of ``database`` (of every database when None), sorted by (database, name)."""
        ...

    def create_table(self, table: TableDef) -> None:
        """CreateTable (the database is created if missing). Raises :class:`AlreadyExistsError`."""
        ...

    def update_table(self, table: TableDef, *, skip_archive: bool = False) -> None:
        """UpdateTable: archive the current definition as a new version unless ``skip_archive``.

        Raises :class:`EntityNotFoundError` when the table does not exist."""
        ...

    def put_table(self, table: TableDef, *, files: Sequence[FileInfo] | None = None,
                  prune: bool = True) -> TableDef:
        """CreateTable or UpdateTable (a version archived only when the schema changed), then the partitions:
        new ones created and, with ``prune``, vanished ones deleted. ``files`` replaces the crawler's per-file
        cache for the table. Returns the table as stored (with its version)."""
        ...

    def delete_table(self, database: str, name: str) -> None:
        """DeleteTable with its versions, partitions and file cache; a missing table is not an error."""
        ...

    def get_table_versions(self, database: str, name: str) -> list[TableDef]:
        """GetTableVersions, oldest first; [] for a missing table."""
        ...

    def get_partitions(self, database: str, name: str) -> list[PartitionDef]:
        """GetPartitions, sorted by values; [] for a missing table."""
        ...

    def batch_create_partition(self, table: TableDef, partitions: Iterable[PartitionDef]) -> None:
        """BatchCreatePartition; partitions that exist already are left as they are (not an error)."""
        ...

    def start_crawler(self, name: str) -> bool:
        """StartCrawler. False when the crawler is running already (its run covers the caller's objects).

        Raises :class:`EntityNotFoundError` for an unknown crawler. A local crawler runs to completion
        before this returns; Glue's runs asynchronously (poll :meth:`get_crawler`)."""
        ...

    def get_crawler(self, name: str) -> CrawlerInfo:
        """GetCrawler: its state. Raises :class:`EntityNotFoundError` for an unknown crawler."""
        ...

    def apply_files(self, database: str, name: str, added: Sequence[FileInfo],
                    removed: Sequence[str] = ()) -> TableDef | None:
        """lakebox's incremental crawl of one table: record ``added`` files (replacing same keys) and forget
        ``removed`` keys, updating counts and partitions at a cost independent of the table's size. Returns
        the table as stored (its ``files`` left empty), or None when the table does not exist or the change
        needs a full crawl (new columns, another layout); nothing is written then. Glue has no such action:
        ``GlueCatalog`` always answers None and the caller crawls."""
        ...

    def files_from_source(self, database: str, name: str, raw_key: str) -> list[FileInfo]:
        """The table's files holding rows of ``raw_key`` by their recorded provenance (``FileInfo.sources``):
        its own outputs and the compacted files its rows were merged into. ``GlueCatalog`` records no
        provenance (compaction is local-only) and answers []."""
        ...

    def get_files(self, database: str, name: str) -> dict[str, FileInfo]:
        """The crawler's per-file cache of a table (key -> what the last crawl read), so a re-crawl reads
        only new or changed files."""
        ...

    def put_files(self, database: str, name: str, files: Sequence[FileInfo]) -> None:
        """Replace a table's per-file cache."""
        ...

    def data_version(self) -> int:
        """A number that changes whenever any table changes (the dashboard's cache key)."""
        ...

    def check(self) -> str:
        """``ok`` when the catalog is reachable and sound."""
        ...

    def describe(self) -> dict[str, object]:
        """What ``lakebox status`` shows about the catalog."""
        ...
