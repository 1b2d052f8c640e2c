"""The ``lakebox`` command line: a thin click layer that parses flags and calls the :class:`~lakebox.lake.Lake`.

Settings are resolved once, in the group (defaults < ``lakebox.toml`` < ``LAKEBOX_*`` < global flags), and
handed to every command in ``ctx.obj["settings"]``; a command's own flags go on top with
:meth:`Settings.with_flags`. Errors become output in one place, :class:`LakeboxGroup`: a
:class:`~lakebox.core.errors.LakeboxError` prints its code and message and exits with its ``exit_code``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lakebox.config import BY_NAME, SETTINGS, ConfigError, Settings, load_settings
from lakebox.core.errors import InvalidInputError, LakeboxError
from lakebox.core.profiles import PROFILES, profile_toml

# Imported where used, not here: `lakebox --help` and `lakebox status` must not pay for DuckDB, sqlglot,
# boto3 or Flask (the pipeline's modules import them), `lakebox --help` not for rich either (it prints no
# table), and `lakebox query` only for what a query needs.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from lakebox.core.runs import RunRecord
    from lakebox.lake import Lake
    from lakebox.query.base import QueryResult
    from lakebox.query.named import NamedQuery
    from lakebox.trigger.state import JobResult
    from lakebox.trigger.watcher import Watcher
    from lakebox.web.dashboard import LakeServices


@functools.cache
def stdout() -> Console:
    """stdout's rich console, made on first use (importing rich costs more than all of `lakebox --help`).
    A closed pipe is left to :class:`LakeboxGroup` instead of ending the process."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich exits 1 here; LakeboxGroup.invoke treats a reader that stopped early as success.
            self.quiet = True
            raise BrokenPipeError

    # No emoji codes: a value such as ":smile:" is data, printed as it is (and rich's emoji table is large).
    return _Console(width=_WIDTH, emoji=False)


@functools.cache
def stderr() -> Console:
    """stderr's rich console, made on first use."""
    from rich.console import Console

    return Console(stderr=True, width=_WIDTH, emoji=False)


def escape(text: str) -> str:
    """``text`` with rich's markup characters escaped (rich is imported on first use)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


# Piped output (scripts, CI, tests) gets wide lines instead of wrapped table cells.
_WIDTH = None if sys.stdout.isatty() else 200

F = TypeVar("F", bound=Callable[..., Any])

#: Rows ``query`` prints as a table unless --max-rows says otherwise.
TABLE_ROWS = 50


class UnknownQueryError(InvalidInputError, code="EntityNotFoundException"):
    """``query --name`` names no built-in or saved query."""


class LakeboxGroup(click.Group):
    """The one place errors become output: a :class:`LakeboxError` prints ``Code: message`` (never a
    traceback) and exits with the error's ``exit_code`` (2: fix the input or setup; 1: it failed).

    A reader that stops early (``lakebox query ... | head``) closes the pipe: that is not a failure, so the
    rest of the output is dropped quietly and the exit code is 0."""

    #: Command groups imported only when they run (or their own help is asked for): name -> (module,
    #: attribute, the line ``lakebox --help`` shows). Importing them would cost every other command.
    lazy_commands: dict[str, tuple[str, str, str]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            import importlib

            module, attr, _ = self.lazy_commands[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's command list, with the lazy groups' lines taken from :attr:`lazy_commands`."""
        rows: list[tuple[str, str]] = []
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        for name in names:
            if name in self.lazy_commands and name not in self.commands:
                short = click.Command(name, help=self.lazy_commands[name][2]).get_short_help_str(limit)
                rows.append((name, short))
                continue
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # here, not at exit, so that a closed pipe is seen below
            return result
        except LakeboxError as exc:
            stderr().print(f"[red]{escape(exc.code)}[/red]: {escape(str(exc))}", soft_wrap=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail too.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)


def setting_option(name: str, *decls: str, **kwargs: Any) -> Callable[[F], F]:
    """A flag for the setting ``name``: its help text and choices come from the setting's declaration."""
    s = BY_NAME[name]
    default = "" if s.default is None else f" Default: {s.default}."
    kwargs.setdefault("help", f"{s.help} Env: {s.env}.{default}")
    if s.choices:
        kwargs.setdefault("type", click.Choice(s.choices))
    return click.option(*(decls or (f"--{name.replace('_', '-')}",)), name, default=None, **kwargs)


def _settings(ctx: click.Context, **flags: Any) -> Settings:
    settings: Settings = ctx.ensure_object(dict)["settings"]
    return settings.with_flags(flags)


def _lake(ctx: click.Context, **flags: Any) -> Lake:
    from lakebox.lake import Lake

    return Lake(_settings(ctx, **flags))


def _existing_lake(ctx: click.Context) -> Lake:
    """The lake for a read-only command: it must exist already (read-only commands never create one)."""
    from lakebox.lake import Lake

    lake = Lake(_settings(ctx), create=False, concurrency=1)  # a command runs one query at a time
    _ = lake.store  # fails now, with the reason, rather than in the middle of the output
    return lake


def _table(**kwargs: Any) -> Table:
    from rich.table import Table

    return Table(**kwargs)


@click.group(cls=LakeboxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@setting_option("lake")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="Path to lakebox.toml.")
@setting_option("as_of")
@setting_option("engine")
@setting_option("catalog")
@setting_option("endpoint_url")
@setting_option("region")
@setting_option("workgroup")
@setting_option("profile")
@click.version_option(package_name="lakebox")
@click.pass_context
def main(ctx: click.Context, /, config: str | None, **flags: Any) -> None:
    """lakebox: the S3 -> Lambda -> Glue -> Athena -> dashboard pipeline, on one machine or on AWS."""
    import logging

    # sqlglot logs its parser's fallbacks ("contains unsupported syntax"); the query's own error says enough.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    obj = ctx.ensure_object(dict)
    obj["settings"] = load_settings(flags, config_file=config)
    obj["load"] = lambda **more: load_settings({**flags, **more}, config_file=config)


# --- the pipeline -------------------------------------------------------------------------------------------


def _runs_table(title: str, runs: list[tuple[str, RunRecord]]) -> Table:
    t = _table(title=title, title_justify="left")
    for col in ("file", "read", "kept", "dropped", "quarantined", "status", "ms"):
        t.add_column(col, justify="right" if col not in ("file", "status") else "left")
    for name, r in runs:
        style = {"ok": "green", "rejected": "red", "skipped": "dim", "error": "red"}.get(r.status, "")
        t.add_row(escape(name), f"{r.rows_read:,}", f"{r.rows_kept:,}", f"{r.rows_dropped:,}", f"{r.rows_quarantined:,}",
                  f"[{style}]{r.status}[/{style}]" if style else r.status,
                  f"{r.duration_ms:,.0f}" if r.duration_ms is not None else "")
    return t


def _reason(key: str, error: object) -> str:
    """An error about ``key`` without the key, which the processor's errors start with (``raw/x.csv: ...``),
    so that a line naming the key does not name it twice."""
    return str(error or "").removeprefix(f"{key}: ")


def _print_problems(runs: list[tuple[str, RunRecord]]) -> None:
    for name, r in runs:
        if r.status == "rejected":
            stderr().print(f"[red]rejected[/red] {escape(r.raw_key)}: {escape(_reason(r.raw_key, r.error))}")
        elif r.rows_quarantined:
            stderr().print(f"[yellow]{r.rows_quarantined} row(s) quarantined[/yellow] from {escape(name)}: "
                      f"see {escape(r.quarantine_key or '')}")
        for w in r.warnings:
            stderr().print(f"[yellow]warning[/yellow] {escape(name)}: {escape(w)}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@setting_option("as_of", help="Reference date YYYY-MM-DD (overrides the global flag).")
@setting_option("output_format", "--format")
@click.pass_context
def ingest(ctx: click.Context, files: tuple[Path, ...], as_of: str | None, output_format: str | None) -> None:
    """Copy FILES into raw/, process each one and update the catalog."""
    lake = _lake(ctx, as_of=as_of, output_format=output_format)
    done: list[tuple[str, RunRecord]] = []
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=stderr(), transient=True, disable=not stderr().is_terminal) as progress:
        task = progress.add_task("processing", total=len(files))

        def step(path: Path, run: RunRecord) -> None:
            done.append((path.name, run))
            progress.update(task, advance=1, description=f"processed {path.name}")

        lake.ingest(files, progress=step)
    stdout().print(_runs_table("ingest", done))
    _print_problems(done)
    if any(r.status == "rejected" for _, r in done):
        sys.exit(1)


@main.command()
@click.argument("keys", nargs=-1)
@click.option("--force", is_flag=True, help="Reprocess even if the same ETag was processed.")
@click.pass_context
def process(ctx: click.Context, keys: tuple[str, ...], force: bool) -> None:
    """Process raw/ objects: the given KEYS, or everything pending."""
    lake = _lake(ctx)
    runs = [(k, lake.process(k, force=force)) for k in keys] if keys else [
        (r.raw_key, r) for r in lake.process_pending()]
    stdout().print(_runs_table("process", runs))
    _print_problems(runs)
    if any(r.status in ("rejected", "error") for _, r in runs):
        sys.exit(1)


@main.command()
@click.pass_context
def crawl(ctx: click.Context) -> None:
    """Crawl processed/ into the catalog (Glue's StartCrawler, run to completion)."""
    lake = _lake(ctx)
    tables = lake.crawl()
    t = _table(title=f"catalog {lake.settings.database}", title_justify="left")
    for col in ("table", "version", "files", "rows", "columns", "partitions"):
        t.add_column(col)
    for tb in tables:
        t.add_row(f"{tb.database}.{tb.name}", str(tb.version), str(tb.file_count), f"{tb.row_count:,}",
                  escape(", ".join(f"{c.name} {c.type}" for c in tb.columns)),
                  ", ".join(c.name for c in tb.partition_keys) or "-")
    stdout().print(t)


def _all_queries(lake: Lake) -> dict[str, NamedQuery]:
    """The built-in named queries, then the queries saved from the dashboard (a built-in name wins)."""
    from lakebox.query.statement import MAX_QUERY_BYTES
    from lakebox.web.saved import SavedQueries

    saved = SavedQueries(lake.store, max_sql_bytes=MAX_QUERY_BYTES).all()
    builtin = lake.named_queries
    return {**builtin, **{k: q for k, q in saved.items() if k not in builtin}}


def _find_query(queries: dict[str, NamedQuery], name: str) -> NamedQuery:
    if name in queries:
        return queries[name]
    import difflib

    close = difflib.get_close_matches(name, list(queries), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}?" if close else "`lakebox queries` lists them"
    raise UnknownQueryError(f"unknown query {name!r}; {hint}")


def _param_values(params: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            from lakebox.query.named import ParamError

            raise ParamError(f"--param {p!r}: write it as name=value, e.g. --param month=2025-03")
        values[key.strip()] = value
    return values


def _print_table(result: QueryResult, limit: int) -> None:
    """The result as a table of at most ``limit`` rows (0: all), with a footer saying what was left out."""
    total = len(result.rows)
    # Only the rows shown are formatted: a result can hold millions.
    shown = dataclasses.replace(result, rows=result.rows if limit == 0 else result.rows[:limit]).text_rows()
    more = " (truncated)" if result.truncated else ""
    footer = (f"{result.row_count:,} row(s){more} · {result.stats.get('TotalExecutionTimeInMillis', 0):.0f} ms · "
              f"{result.result_location or ''}")
    hidden = total - len(shown)
    hint = (f"{hidden:,} more row(s) not shown; --max-rows 0 prints all {total:,}, --format csv writes them as CSV"
            if hidden else "")
    header = [(c["name"], c["type"]) for c in result.columns]
    plain = _plain_table(header, shown) if _plain_stdout() else None
    if plain is not None:
        sys.stdout.write(plain + footer + "\n" + (hint + "\n" if hint else ""))
        return
    t = _table()
    for name, typ in header:
        t.add_column(f"{escape(name)}\n[dim]{escape(typ)}[/dim]")
    for row in shown:
        t.add_row(*["[dim]NULL[/dim]" if v is None else escape(v) for v in row])
    stdout().print(t)
    stdout().print(f"[dim]{escape(footer)}[/dim]", soft_wrap=True)
    if hint:
        stdout().print(hint, soft_wrap=True)


#: Environment variables with which rich styles output that is not a terminal.
_RICH_TTY_VARS = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def _plain_stdout() -> bool:
    """Whether stdout gets rich's output without any styling: not a terminal, UTF-8, no variable forcing
    colour. Such output can be written without importing rich (see :func:`_plain_table`)."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return (not sys.stdout.isatty() and encoding == "utf8"
            and not any(os.environ.get(v) for v in _RICH_TTY_VARS))


def _plain_table(header: list[tuple[str, str]], rows: list[list[str | None]]) -> str | None:
    """The text rich prints for the query table on an unstyled stdout of :data:`_WIDTH` columns (heavy head
    box, a name and a type line per column, NULL for NULL), or None where rich's layout is not this simple:
    a table wider than the output (rich then shrinks and wraps columns), a character that is not printable
    ASCII (rich measures wide and zero-width characters), no columns. Importing rich costs more than a
    small query, so a piped ``lakebox query`` does without it; tests compare the two outputs."""
    cells = [[name, typ] for name, typ in header]
    body = [["NULL" if v is None else v for v in row] for row in rows]
    texts = [t for col in cells for t in col] + [v for row in body for v in row]
    # Backslashes too go to rich: its markup escaping doubles a trailing one.
    if not header or any(not (t.isascii() and t.isprintable()) or "\\" in t for t in texts):
        return None
    widths = [max([len(name), len(typ), *(len(r[i]) for r in body)]) for i, (name, typ) in enumerate(header)]
    if sum(widths) + 3 * len(widths) + 1 > (_WIDTH or 0):
        return None

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right + "\n"

    def row(values: list[str], bar: str) -> str:
        return bar + bar.join(f" {v.ljust(w)} " for v, w in zip(values, widths, strict=True)) + bar + "\n"

    return (line("┏", "━", "┳", "┓") + row([n for n, _ in header], "┃") + row([t for _, t in header], "┃")
            + line("┡", "━", "╇", "┩") + "".join(row(r, "│") for r in body) + line("└", "─", "┴", "┘"))


@main.command()
@click.option("--target-mb", type=click.IntRange(min=1), default=128, show_default=True,
              help="Size of the merged files in MB (Athena reads files of about 128 MB best).")
@click.pass_context
def compact(ctx: click.Context, target_mb: int) -> None:
    """Merge the small files of each processed folder (each partition) into files of about --target-mb.

    Readers see the old files or the merged ones, never both: the catalog swaps them in one transaction.
    Which raw file each row came from is kept, so reprocessing a raw file later still replaces its rows."""
    lake = _lake(ctx)
    merged = lake.catalog_updater.compact(target_mb * 1024 * 1024)
    replaced = sum(len(m.replaced) for m in merged)
    stdout().print(f"compacted {replaced:,} files into {len(merged):,}" if merged else "nothing to compact")


@main.command()
@click.option("--dry-run", is_flag=True, help="Print what would be removed; remove nothing.")
@click.pass_context
def gc(ctx: click.Context, dry_run: bool) -> None:
    """Remove old query results from enriched/: older than result_retention_days, then the oldest while
    they total more than result_max_mb. Named queries' latest results are kept. (The dashboard and the
    engine also do this as results are written.)"""
    lake = _existing_lake(ctx)
    report = lake.collect_results(dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    console = stdout()
    for r in report.removed:
        console.print(f"{verb} {r.entry.execution_id} ({r.entry.size:,} bytes, {r.reason})", soft_wrap=True)
    console.print(f"{verb} {len(report.removed):,} result(s), {report.freed_bytes:,} bytes; "
                  f"kept {report.kept:,} result(s), {report.kept_bytes:,} bytes", soft_wrap=True)


@main.command()
@click.argument("sql", required=False)
@click.option("--name", "name", help="Run a named or saved query instead of SQL (see `lakebox queries`).")
@click.option("--param", "params", multiple=True, help="Named query parameter, name=value, e.g. month=2025-03.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--database", help="Default database (Athena's QueryExecutionContext.Database).")
@click.option("--max-rows", type=click.IntRange(min=0),
              help=f"Rows to print: a table shows {TABLE_ROWS} by default; 0 means all. For csv and json, "
              "stop after this many rows (marked as truncated).")
@click.pass_context
def query(ctx: click.Context, sql: str | None, name: str | None, params: tuple[str, ...], fmt: str,
          database: str | None, max_rows: int | None) -> None:
    """Run Athena (Trino) SQL, or a named query, over the catalog's tables."""
    lake = _existing_lake(ctx)
    if bool(sql) == bool(name):
        raise click.UsageError("give either SQL or --name NAME")
    if params and not name:
        raise click.UsageError("--param only applies to --name")
    engine_rows = max_rows if fmt != "table" and max_rows else None
    if name:
        # A built-in name wins over a saved query's, so the saved ones are read only for other names.
        named = lake.named_queries.get(name) or _find_query(_all_queries(lake), name)
        result = lake.run_named(named, _param_values(params), database=database,
                                max_rows=engine_rows, allow_ddl=True)
    else:
        assert sql is not None
        result = lake.engine.run_query(sql, database, max_rows=engine_rows, allow_ddl=True)
    if fmt == "json":
        import json

        click.echo(json.dumps(result.to_json(), indent=2, default=str))
    elif result.state != "SUCCEEDED":
        pass
    elif fmt == "csv":
        body = lake.store.get_object(f"enriched/{result.execution_id}.csv").decode()
        click.echo(body, nl=False)
    else:
        _print_table(result, TABLE_ROWS if max_rows is None else max_rows)
    if result.state != "SUCCEEDED":
        e = result.error
        stderr().print(f"[red]{e.error_type if e else 'FAILED'}[/red]: {escape(e.message) if e else ''}", soft_wrap=True)
        sys.exit(1)


@main.command()
@click.pass_context
def queries(ctx: click.Context) -> None:
    """List the named queries and the queries saved from the dashboard."""
    lake = _lake(ctx)
    t = _table()
    for col in ("name", "title", "parameters", "kind"):
        t.add_column(col)
    builtin = lake.named_queries
    for q in _all_queries(lake).values():
        t.add_row(q.name, escape(q.title), ", ".join(f"{p.name} (default {p.default})" for p in q.params) or "-",
                  "named" if q.name in builtin else "saved")
    stdout().print(t)


@main.command()
@click.option("--limit", default=20, show_default=True)
@click.pass_context
def history(ctx: click.Context, limit: int) -> None:
    """Show the query history (enriched/*.metadata)."""
    lake = _existing_lake(ctx)
    t = _table()


    lake = _lake(ctx)
    t = _table()
    for col in ("execution id", "state", "ms", "rows", "query"):
        t.add_column(col)
    from lakebox.query.base import query_history

    for m in query_history(lake.engine, limit):
        t.add_row(m.get("QueryExecutionId", ""), m.get("Status", {}).get("State", ""),
                  f"{m.get('Statistics', {}).get('TotalExecutionTimeInMillis', 0):.0f}", str(m.get("RowCount", "")),
                  escape(" ".join(m.get("Query", "").split())[:80]))
    stdout().print(t)


@main.command()
@click.option("--rows", default=200, show_default=True, type=click.IntRange(min=0))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output file (default: stdout).")
@click.option("--seed", default=42, show_default=True)
@setting_option("as_of", help="Last order date, YYYY-MM-DD (default: the reference date).")
@click.pass_context
def sample(ctx: click.Context, rows: int, out: Path | None, seed: int, as_of: str | None) -> None:
    """Write sample orders in the original's CSV format."""
    from lakebox.process.sample import write_sample

    settings = _settings(ctx, as_of=as_of)
    ref = settings.reference_date()
    if out is None:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "sample.csv"
            write_sample(p, rows, ref, seed)
            sys.stdout.write(p.read_text(encoding="utf-8"))
        return
    write_sample(out, rows, ref, seed)
    stderr().print(f"wrote {rows:,} orders to {out}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the catalog's tables, recent runs and failures."""
    lake = _existing_lake(ctx)
    st = lake.status()
    from lakebox.trigger.deadletter import list_failed

    failed = list_failed(lake.store)
    if as_json:
        import json

        click.echo(json.dumps(st | {"failed": failed}, indent=2, default=str))
        return
    stdout().print(f"lake: [bold]{st['lake']}[/bold]")
    if not st["tables"]:
        stderr().print("no tables yet: `lakebox ingest FILE.csv` loads a CSV of orders, `lakebox up` adds sample orders",
                  soft_wrap=True)
    t = _table(title="tables", title_justify="left")
    for col in ("table", "version", "files", "rows", "last crawl"):
        t.add_column(col)
    for tb in st["tables"]:
        t.add_row(escape(f"{tb['database']}.{tb['name']}"), str(tb["version"]), str(tb["file_count"]),
                  f"{tb['row_count']:,}", tb["last_crawl"] or "")
    stdout().print(t)
    from lakebox.core.runs import RunRecord

    runs = [(r["raw_key"], RunRecord.from_dict(r)) for r in st["runs"]]
    stdout().print(_runs_table("recent runs", runs))
    tot = st["totals"]
    stdout().print(f"totals: {tot['files']} file(s), {tot['rows_read']:,} read = {tot['rows_kept']:,} kept + "
                  f"{tot['rows_dropped']:,} dropped + {tot['rows_quarantined']:,} quarantined; "
                  f"{tot['rejected']} rejected file(s); {len(st['pending'])} pending")
    for f in failed:
        key = str(f.get("key"))
        stderr().print(f"[red]failed[/red] {escape(key)}: {escape(_reason(key, f.get('error')))}")


@main.command()
@click.option("--profile", "profile", type=click.Choice(tuple(PROFILES)), default="typed", show_default=True,
              help="typed: cast columns under snake-case names; glue-crawler: CSV typed as Glue's crawler does.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("lakebox.toml"),
              show_default=True, help="Where to write the file.")
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init(profile: str, out: Path, force: bool) -> None:
    """Write a commented lakebox.toml for a profile."""
    if out.exists() and not force:
        raise ConfigError(f"{out} already exists; use --force to replace it")
    out.write_text(profile_toml(profile), encoding="utf-8")
    stdout().print(f"wrote {escape(str(out))} (profile {profile}); `lakebox up` reads it from this folder")


@main.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def settings_cmd(ctx: click.Context, as_json: bool) -> None:
    """List every setting: its env variable, type, default, value now (and where from) and help text."""
    resolved = _settings(ctx)
    rows = [{"setting": s.name, "env": s.env, "type": "|".join(s.choices) or s.kind.__name__,
             "optional": s.optional, "default": s.default, "value": getattr(resolved, s.name),
             "source": resolved.sources.get(s.name, "default"), "help": s.help} for s in SETTINGS]
    if as_json:
        import json

        click.echo(json.dumps(rows, indent=2, default=str))
        return
    t = _table()
    for col in ("setting", "env", "type", "default", "value", "help"):
        t.add_column(col)
    for r in rows:
        t.add_row(str(r["setting"]), str(r["env"]), f"{r['type']}{'?' if r['optional'] else ''}",
                  escape(repr(r["default"])), escape(f"{r['value']!r} ({r['source']})"), escape(str(r["help"])))
    stdout().print(t)


@main.command()
@setting_option("host")
@setting_option("port", type=int)
@setting_option("token")
@click.option("--no-watch", is_flag=True, help="Do not watch raw/ for new files.")
@click.option("--sample-rows", default=5000, show_default=True, help="Rows of sample data for an empty lake.")
@click.option("--endpoint/--no-endpoint", "with_endpoint", default=True, help="Also serve the local AWS endpoint.")
@click.option("--function", help="Your Lambda for raw/ uploads, path/to/file.py:handler (replaces the watcher).")
@setting_option("profile")
@click.pass_context
def up(ctx: click.Context, host: str | None, port: int | None, token: str | None, no_watch: bool,
       sample_rows: int, with_endpoint: bool, function: str | None, profile: str | None) -> None:
    """Create the lake (with sample data if empty), process what is pending, watch raw/ and serve the dashboard
    and the local AWS endpoint."""
    if profile is not None:
        # A profile sits beneath lakebox.toml, so choosing one here resolves every layer again.
        ctx.obj["settings"] = ctx.obj["load"](profile=profile)
    lake = _lake(ctx, host=host, port=port, token=token, endpoint_function=function)
    if lake.is_empty():
        stderr().print(f"lake {lake.store.url} is empty: adding {sample_rows} sample orders")
        lake.seed_sample(sample_rows)
    runs = lake.process_pending()
    if runs:
        stdout().print(_runs_table("processed pending files", [(r.raw_key, r) for r in runs]))
    lake.crawl()
    watch = not no_watch and not lake.settings.endpoint_function
    endpoint_url = _start_endpoint(lake.settings, watcher_running=watch) if with_endpoint else None
    _serve(lake, watch=watch, endpoint_url=endpoint_url)


@main.command()
@setting_option("host")
@setting_option("port", type=int)
@setting_option("token")
@click.option("--watch/--no-watch", default=False, help="Also watch raw/ and process new files.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, token: str | None, watch: bool) -> None:
    """Serve the dashboard (Flask app under waitress)."""
    _serve(_lake(ctx, host=host, port=port, token=token), watch=watch)


def dashboard_services(lake: Lake) -> LakeServices:
    """What the dashboard uses of ``lake`` (the web never sees the Lake itself)."""
    from lakebox.web.dashboard import LakeServices

    return LakeServices(settings=lake.settings, store=lake.store, ledger=lake.ledger, engine=lake.engine,
                        catalog=lake.catalog, named_queries=lake.named_queries, upload=lake.upload,
                        on_processed=lake.on_processed, worker_engine=lake.worker_engine_factory(),
                        result_sweeper=lake.result_sweeper)


def _serve(lake: Lake, watch: bool, endpoint_url: str | None = None) -> None:
    from lakebox.web.server import serve_dashboard

    def announce(url: str) -> None:
        """Once everything listens: what runs where, and how to stop it."""
        stdout().print(f"dashboard:    [bold]{url}[/bold]", soft_wrap=True)
        if endpoint_url:
            stdout().print(f"AWS endpoint: [bold]{endpoint_url}[/bold]  (export AWS_ENDPOINT_URL={endpoint_url})",
                          soft_wrap=True)
        raw = f"{lake.store.url.rstrip('/')}/raw/"
        if watch:
            stdout().print(f"watcher:      processing every CSV that lands in {escape(raw)}", soft_wrap=True)
        elif lake.settings.endpoint_function and endpoint_url:
            stdout().print(f"function:     {escape(lake.settings.endpoint_function)} runs for every upload to raw/ "
                          "through the endpoint", soft_wrap=True)
        stdout().print("Press Ctrl+C to stop.")
        stdout().file.flush()  # a pipe (make run | tee, a supervisor) sees it now, not at exit

    serve_dashboard(dashboard_services(lake), watcher=lake.watcher if watch else None, announce=announce)


# --- the local AWS endpoint ---------------------------------------------------------------------------------


@main.command("endpoint")
@setting_option("endpoint_host", "--host")
@setting_option("endpoint_port", "--port", type=int)
@setting_option("endpoint_bucket", "--bucket")
@setting_option("endpoint_function", "--function")
@click.pass_context
def endpoint_cmd(ctx: click.Context, endpoint_host: str | None, endpoint_port: int | None,
                 endpoint_bucket: str | None, endpoint_function: str | None) -> None:
    """Serve the lake over AWS's own S3, Glue and Athena APIs, for boto3, the AWS CLI and your Lambda."""
    from lakebox.endpoint.server import serve_endpoint

    settings = _settings(ctx, endpoint_host=endpoint_host, endpoint_port=endpoint_port,
                         endpoint_bucket=endpoint_bucket, endpoint_function=endpoint_function)
    serve_endpoint(settings, announce=_announce_endpoint, echo=lambda line: stderr().print(escape(line)))


def _announce_endpoint(url: str) -> None:
    stdout().print(f"AWS endpoint: [bold]{url}[/bold]  (export AWS_ENDPOINT_URL={url})")


def _start_endpoint(settings: Settings, watcher_running: bool) -> str | None:
    """The endpoint on a background thread of ``up`` (its URL, or None when it could not start); the
    watcher, when running, processes the lake's raw/."""
    from lakebox.endpoint.server import EndpointError, start_background

    try:
        return start_background(settings, main_bucket_events=not watcher_running,
                                echo=lambda line: stderr().print(escape(line)))
    except EndpointError as exc:
        stderr().print(f"[yellow]AWS endpoint not started:[/yellow] {escape(str(exc))}")
        return None


# --- the trigger --------------------------------------------------------------------------------------------


def _describe(result: JobResult) -> str:
    run = result.run
    if result.status == "ok" and run is not None:
        extra = f", {run.rows_quarantined:,} quarantined" if run.rows_quarantined else ""
        return (f"[green]ok[/green] {escape(result.key)}: {run.rows_read:,} read, {run.rows_kept:,} kept, "
                f"{run.rows_dropped:,} dropped{extra} ({run.duration_ms or 0:,.0f} ms)")
    if result.status == "rejected":
        return f"[red]rejected[/red] {escape(result.key)}: {escape(_reason(result.key, result.error))}"
    if result.status == "failed":
        return (f"[red]failed[/red] {escape(result.key)} after {result.attempts} attempt(s): "
                f"{escape(_reason(result.key, result.error))} (dead-lettered)")
    if result.status == "deleted":
        return f"[yellow]deleted[/yellow] {escape(result.key)}: outputs removed"
    return f"[dim]{result.status}[/dim] {escape(result.key)}"


@main.command()
@click.option("--once", is_flag=True, help="Process everything pending (dead-lettered files too), then exit.")
@setting_option("workers", type=click.IntRange(min=1))
@setting_option("rescan_seconds", type=click.FloatRange(min=0))
@setting_option("settle_seconds", type=click.FloatRange(min=0))
@setting_option("retry_delays")
@click.option("--retry-failed", is_flag=True, help="Also retry versions already dead-lettered (at start-up).")
@click.option("--timeout", type=click.FloatRange(min=0), help="With --once: give up after this many seconds.")
@click.option("--quiet", "-q", is_flag=True, help="Print only problems.")
@click.pass_context
def watch(ctx: click.Context, once: bool, workers: int | None, rescan_seconds: float | None,
          settle_seconds: float | None, retry_delays: str | None, retry_failed: bool, timeout: float | None,
          quiet: bool) -> None:
    """Watch raw/ and process every CSV that lands there (the S3 trigger + Lambda, locally).

    Upload by writing to a temporary name (e.g. raw/orders.csv.part) and renaming it to *.csv: the rename is
    picked up at once. Files written in place are processed once unchanged for --settle-seconds and closed.

    Exit codes: 0 everything pending was processed; 1 some file failed (dead-lettered), was rejected, or the
    --timeout ran out; 2 the watcher cannot run (another watcher holds the lake, or the lake is not local).
    """
    lake = _lake(ctx, workers=workers, rescan_seconds=rescan_seconds, settle_seconds=settle_seconds,
                 retry_delays=retry_delays)
    watcher = lake.watcher(retry_failed=retry_failed)

    def show(result: JobResult) -> None:
        problem = result.status in ("failed", "rejected")
        if problem or (not quiet and result.status not in ("skipped",)):
            (stderr() if problem else stdout()).print(_describe(result))

    watcher.on_result(show)
    if not once:
        _run_forever(watcher, lambda msg: stderr().print(msg))
        return
    outcome = watcher.run_once(timeout)
    n_ok = sum(r.status == "ok" for r in outcome.results)
    summary = f"drained: {n_ok} processed, {len(outcome.rejected)} rejected, {len(outcome.failed)} failed"
    if not outcome.idle:
        stderr().print(f"[red]timed out[/red] after {timeout} s with work still pending ({summary})")
        sys.exit(1)
    if not quiet or not outcome.ok:
        (stdout() if outcome.ok else stderr()).print(summary)
    sys.exit(0 if outcome.ok else 1)


def _run_forever(watcher: Watcher, say: Callable[[str], None]) -> None:
    """Run until Ctrl-C or SIGTERM, then stop gracefully (running files finish; the rest wait for restart)."""
    import signal
    import threading

    done = threading.Event()
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    watcher.start()
    say(f"watching {watcher.root / 'raw'} with {watcher.workers} worker(s); Ctrl-C to stop")
    try:
        while not done.wait(1.0):
            pass
    except KeyboardInterrupt:
        say("stopping...")
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)


main.lazy_commands = {
    "deploy": ("lakebox.deploy.cli", "deploy", "Run lakebox on AWS: template, Lambda package, and the stack's lifecycle."),
}


if __name__ == "__main__":
    main()
