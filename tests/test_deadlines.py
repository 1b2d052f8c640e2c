"""The engine's one deadline thread (``query.deadlines.Interrupter``): it sleeps until the nearest deadline, so
a new query with a later deadline does not wake it, and one with an earlier deadline must."""

from __future__ import annotations

import threading

from waiting import wait_until

from lakebox.query.deadlines import Interrupter


class Cursor:
    """Stands in for a DuckDB cursor: records interrupts."""

    def __init__(self) -> None:
        self.interrupts = 0

    def interrupt(self) -> None:
        self.interrupts += 1


def test_an_earlier_deadline_is_kept_after_later_ones() -> None:
    deadlines = Interrupter()
    slow, later, soon = Cursor(), Cursor(), Cursor()
    tokens = [deadlines.watch(slow, 600, threading.Event()), deadlines.watch(later, 900, threading.Event())]
    token = deadlines.watch(soon, 0.2, threading.Event())  # earlier than the thread's planned wake-up
    wait_until(lambda: soon.interrupts > 0, timeout=5, what="the earlier deadline interrupted its query")
    deadlines.release(token)
    assert slow.interrupts == later.interrupts == 0
    for t in tokens:
        deadlines.release(t)


def test_a_stopped_query_is_interrupted_at_once() -> None:
    deadlines = Interrupter()
    deadlines.watch(Cursor(), 600, threading.Event())
    stopped, cur = threading.Event(), Cursor()
    token = deadlines.watch(cur, 600, stopped)
    stopped.set()
    deadlines.poke()
    wait_until(lambda: cur.interrupts > 0, timeout=5, what="the stopped query was interrupted")
    deadlines.release(token)
