"""``lakebox watch``: the trigger as a command. Continuous by default; ``--once`` drains and exits.

Exit codes: 0 everything pending was processed; 1 some file failed (dead-lettered), was rejected, or the
``--timeout`` ran out; 2 the watcher cannot run (another watcher holds the lake, or the lake is not local).
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click


def _describe(result: Any) -> str:
    run = result.run
    if result.status == "ok" and run is not None:
        extra = f", {run.rows_quarantined:,} quarantined" if run.rows_quarantined else ""
        return (f"[green]ok[/green] {result.key}: {run.rows_read:,} read, {run.rows_kept:,} kept, "
                f"{run.rows_dropped:,} dropped{extra} ({run.duration_ms or 0:,.0f} ms)")
    if result.status == "rejected":
        return f"[red]rejected[/red] {result.key}: {result.error}"
    if result.status == "failed":
        return f"[red]failed[/red] {result.key} after {result.attempts} attempt(s): {result.error} (dead-lettered)"
    if result.status == "deleted":
        return f"[yellow]deleted[/yellow] {result.key}: outputs removed"
    return f"[dim]{result.status}[/dim] {result.key}"


@click.command()
@click.option("--once", is_flag=True, help="Process everything pending (dead-lettered files too), then exit.")
@click.option("--workers", type=click.IntRange(min=1), help="Files processed at once. Env: LAKEBOX_WORKERS.")
@click.option("--rescan-seconds", type=click.FloatRange(min=0), help="Safety-net rescan interval (0: never).")
@click.option("--settle-seconds", type=click.FloatRange(min=0), help="Quiet time before a file counts as written.")
@click.option("--retry-delays", help="Seconds between retries, comma-separated (Lambda: 60,120).")
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
    """
    # Imported here: lakebox.cli imports this module while it is itself being imported.
    from lakebox.cli import _lake, console, err
    from lakebox.trigger.locks import LockedError
    from lakebox.trigger.watcher import Watcher, WatchError

    lake = _lake(ctx, workers=workers, rescan_seconds=rescan_seconds, settle_seconds=settle_seconds,
                 retry_delays=retry_delays)
    try:
        watcher = Watcher(lake, retry_failed=retry_failed)
    except WatchError as exc:
        err.print(f"[red]cannot watch:[/red] {exc}")
        sys.exit(2)

    def show(result: Any) -> None:
        problem = result.status in ("failed", "rejected")
        if problem or (not quiet and result.status not in ("skipped",)):
            (err if problem else console).print(_describe(result))

    watcher.on_result(show)
    try:
        if once:
            outcome = watcher.run_once(timeout)
            n_ok = sum(r.status == "ok" for r in outcome.results)
            summary = (f"drained: {n_ok} processed, {len(outcome.rejected)} rejected, "
                       f"{len(outcome.failed)} failed")
            if not outcome.idle:
                err.print(f"[red]timed out[/red] after {timeout} s with work still pending ({summary})")
                sys.exit(1)
            if not quiet or not outcome.ok:
                (console if outcome.ok else err).print(summary)
            sys.exit(0 if outcome.ok else 1)
        _run_forever(watcher, lambda msg: err.print(msg))
    except LockedError as exc:
        err.print(f"[red]cannot watch:[/red] {exc}")
        sys.exit(2)


def _run_forever(watcher: Any, say: Any) -> None:
    """Run until Ctrl-C or SIGTERM, then stop gracefully (running files finish; the rest wait for restart)."""
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
