"""The dashboard's cache primitives: per-version values, single flight, the version gate."""

from __future__ import annotations

import threading

import pytest

from lakebox.web.cache import DataVersion, ResultCache, VersionGate


def test_values_are_cached_per_version_and_dropped_when_it_changes() -> None:
    version = ["1"]
    cache = ResultCache(lambda: version[0])
    calls: list[int] = []
    assert cache.get("k", lambda: calls.append(1) or "a") == "a"
    assert cache.get("k", lambda: calls.append(1) or "b") == "a"
    version[0] = "2"
    assert cache.get("k", lambda: calls.append(1) or "c") == "c"
    assert len(calls) == 2 and cache.hits == 1 and cache.misses == 2


def test_errors_are_not_cached_and_discard_forgets() -> None:
    cache = ResultCache(lambda: "1")

    def boom() -> str:
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        cache.get("k", boom)
    assert cache.get("k", lambda: "ok") == "ok"
    cache.discard("k")
    assert cache.get("k", lambda: "again") == "again"


def test_single_flight_runs_one_computation_for_concurrent_requests() -> None:
    cache = ResultCache(lambda: "1")
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(10)
        return "v"

    results: list[str] = []
    owner = threading.Thread(target=lambda: results.append(cache.get("k", slow)))
    owner.start()
    assert started.wait(10)
    waiters = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(5)]
    for t in waiters:
        t.start()
    release.set()
    for t in [owner, *waiters]:
        t.join(10)
    assert results == ["v"] * 6 and calls == [1]


def test_lru_bound() -> None:
    cache = ResultCache(lambda: "1", max_entries=2)
    for k in "abc":
        cache.get(k, lambda k=k: k)
    assert cache.get("a", lambda: "recomputed") == "recomputed"


def test_data_version_moves_with_catalog_and_epoch() -> None:
    cat = [5]
    v = DataVersion(lambda: cat[0])
    first = v.current()
    v.bump()
    second = v.current()
    cat[0] = 6
    assert len({first, second, v.current()}) == 3


def test_gate_admits_same_version_together_and_holds_a_new_one_back() -> None:
    version = [1]
    gate = VersionGate(lambda: version[0])
    entered = threading.Event()
    with gate.hold() as a, gate.hold() as b:  # same version: both enter
        assert a == b == 1
        version[0] = 2

        def newer() -> None:
            with gate.hold():
                entered.set()

        t = threading.Thread(target=newer)
        t.start()
        assert not entered.wait(0.2)  # still held back while version-1 queries run
    assert entered.wait(10)
    t.join(10)
