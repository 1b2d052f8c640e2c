"""core.admission: query slots, a bounded first-come-first-served queue, and 429 with a retry time."""

from __future__ import annotations

import threading

import pytest
from waiting import wait_until

from lakebox.config import ConfigError, load_settings, parse_bytes
from lakebox.core.admission import Admission, TooManyQueries


def _hold(adm: Admission, started: list[str], name: str, release: threading.Event) -> threading.Thread:
    def run() -> None:
        with adm.slot():
            started.append(name)
            release.wait(30)

    t = threading.Thread(target=run, name=name)
    t.start()
    return t


def test_slots_then_queue_then_429_with_retry_after() -> None:
    adm = Admission(1, 1, max_wait=30, retry_after=2)
    started: list[str] = []
    release = threading.Event()
    first = _hold(adm, started, "first", release)
    wait_until(lambda: adm.running == 1, 10, "the first slot")
    second = _hold(adm, started, "second", release)
    wait_until(lambda: adm.waiting == 1, 10, "the second to queue")
    with pytest.raises(TooManyQueries) as refused:
        adm.acquire()
    assert refused.value.http_status == 429 and refused.value.code == "TooManyRequestsException"
    assert refused.value.retry_after >= 2
    assert "query_workers=1" in str(refused.value) and "query_queue=1" in str(refused.value)
    release.set()
    first.join(10)
    second.join(10)
    assert started == ["first", "second"]
    assert (adm.running, adm.waiting, adm.admitted, adm.refused) == (0, 0, 2, 1)


def test_the_queue_is_first_come_first_served() -> None:
    adm = Admission(1, 3, max_wait=30)
    started: list[str] = []
    gates = [threading.Event() for _ in range(4)]
    threads = [_hold(adm, started, "t0", gates[0])]
    wait_until(lambda: adm.running == 1, 10, "t0 to run")
    for i in (1, 2, 3):
        threads.append(_hold(adm, started, f"t{i}", gates[i]))
        wait_until(lambda i=i: adm.waiting == i, 10, f"t{i} to queue")
    for gate in gates:
        gate.set()
    for t in threads:
        t.join(10)
    assert started == ["t0", "t1", "t2", "t3"]


def test_a_waiter_is_refused_when_its_wait_runs_out() -> None:
    adm = Admission(1, 1, max_wait=0.2)
    release = threading.Event()
    holder = _hold(adm, [], "holder", release)
    wait_until(lambda: adm.running == 1, 10, "the slot")
    with pytest.raises(TooManyQueries, match="waited 0.2 s"):
        adm.acquire()
    assert adm.waiting == 0
    release.set()
    holder.join(10)
    with adm.slot():  # the slot is free again
        assert adm.running == 1


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Admission(0, 1, max_wait=1)


@pytest.mark.parametrize(("text", "size"), [("2GB", 2 * 2**30), ("1536MB", 1536 * 2**20), ("512MiB", 512 * 2**20),
                                            ("1.5 GB", 3 * 2**29), ("100000000", 100_000_000)])
def test_parse_bytes(text: str, size: int) -> None:
    assert parse_bytes(text) == size


def test_query_worker_memory_is_checked() -> None:
    with pytest.raises(ConfigError, match="query_worker_memory.*not a size"):
        load_settings({"query_worker_memory": "lots"}, env={})
    with pytest.raises(ConfigError, match="below 64MB"):
        load_settings({}, env={"LAKEBOX_QUERY_WORKER_MEMORY": "10MB"})
    s = load_settings({"query_workers": "3", "query_queue": "0"}, env={})
    assert (s.query_workers, s.query_queue, s.query_worker_memory) == (3, 0, "2GB")
