"""The watcher's scheduler on its own: hints, one job per key, follow-up looks, and what a rescan hints.

The scheduler is composed with a queue and a scan function, so it is tested here with a real folder, a real
queue and a scan that returns fixed keys; no watcher, handler or DuckDB.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakebox.trigger.scheduler import Scheduler
from lakebox.trigger.state import Counters, Job

KEY = "raw/a.csv"


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[Scheduler, queue.Queue[Job | None], Counters]]:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text("OrderID\n1\n", encoding="utf-8")
    counters = Counters()
    scheduler = Scheduler(tmp_path, settle_seconds=0.0, rescan_seconds=3600.0, scan=lambda redrive: [KEY],
                          counters=counters, detect_writers=False)
    jobs: queue.Queue[Job | None] = queue.Queue()
    stopping = threading.Event()
    scheduler.start(jobs, stopping, periodic=True)
    yield scheduler, jobs, counters
    stopping.set()
    scheduler.stop(5.0)


def test_hints_for_a_busy_key_become_one_follow_up_job(
    parts: tuple[Scheduler, queue.Queue[Job | None], Counters],
) -> None:
    scheduler, jobs, counters = parts
    scheduler.hint(KEY, landed=True)
    job = jobs.get(timeout=5)
    assert job is not None and job.key == KEY
    for _ in range(5):
        scheduler.hint(KEY, landed=True)
    scheduler.hint("processed/a.parquet")  # not the trigger's prefix/suffix: ignored
    assert jobs.empty() and not scheduler.wait_idle(0)
    scheduler.release(job)
    follow_up = jobs.get(timeout=5)
    assert follow_up is not None and follow_up.key == KEY and follow_up is not job
    scheduler.release(follow_up)
    assert scheduler.wait_idle(5) and jobs.empty()
    assert counters.snapshot()["coalesced"] == 5 and counters.snapshot()["dispatched"] == 2


def test_periodic_rescan_leaves_a_key_in_flight_to_its_job(
    parts: tuple[Scheduler, queue.Queue[Job | None], Counters],
) -> None:
    scheduler, jobs, counters = parts
    scheduler.hint(KEY, landed=True)
    job = jobs.get(timeout=5)
    assert job is not None
    scheduler.rescan(periodic=True)  # read the ledger while the job ran: no follow-up
    scheduler.release(job)
    assert scheduler.wait_idle(5) and jobs.empty()

    scheduler.hint(KEY, landed=True)
    job = jobs.get(timeout=5)
    assert job is not None
    scheduler.rescan()  # an explicit rescan (start, drain) looks again after the job
    scheduler.release(job)
    again = jobs.get(timeout=5)
    assert again is not None and again.key == KEY
    scheduler.release(again)
    assert scheduler.wait_idle(5)
    assert counters.snapshot()["rescans"] == 2 and counters.snapshot()["dispatched"] == 3
