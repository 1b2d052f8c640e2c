"""User SQL in worker processes: a time limit that really stops a query, and memory that is really capped.

DuckDB's interrupt stops a query between vectors, and its ``memory_limit`` governs its buffer manager; neither
holds for one huge value: ``SELECT length(lpad('', 1000000000, 'x'))`` is a single function call that builds a
1 GB string, ignores the interrupt and grows past ``memory_limit``. In the server's process it held a thread and
the GIL-free DuckDB core for as long as it liked and pushed the server to 2 GB. So the dashboard runs users' SQL
here: each query goes to a warm worker process that

* caps its own address space (``RLIMIT_AS``, setting ``query_worker_memory``) before it builds its engine, so
  an allocation beyond the cap fails inside that process (DuckDB answers Out of Memory, Python MemoryError)
  and never touches the server;
* builds its own engine on the same lake (the factory the composition root hands over), runs the statement
  with DuckDB's interrupt at ``query_timeout`` as before, writes the result file and metadata under
  ``enriched/`` as before, and sends the result back;
* is killed by the parent when the deadline plus :data:`GRACE_SECONDS` passes without an answer. The parent
  then records the execution itself (state FAILED, Athena's ``QUERY_TIMEOUT``), and a worker that died on its
  own (out of memory) is recorded as ``EXCEEDED_MEMORY_LIMIT``, Athena's "Query exhausted resources at this
  scale factor". Either way a fresh worker is started in its place.

Workers are started with ``spawn`` (never ``fork`` from a threaded server) when the pool is first used, and
are reused, so a query pays a pipe round trip, not an interpreter start. How many queries run at once is the
caller's business (``core.admission``); the pool holds one worker per slot.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import datetime as dt
import logging
import multiprocessing
import os
import queue
import resource
import signal
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from lakebox.query.base import QueryResult
from lakebox.query.errors import EXCEEDED_MEMORY, SYSTEM, USER, AthenaError
from lakebox.query.retention import ResultSweeper

log = logging.getLogger("lakebox.query.workers")

#: Seconds after a query's own deadline (when DuckDB's interrupt should have stopped it) before its worker
#: is killed.
GRACE_SECONDS = 2.0
#: Seconds a query waits for a worker to start (import DuckDB, open the catalog) before it fails.
START_SECONDS = 120.0
#: Niceness of the workers: below the server, which answers pages and /healthz.
WORKER_NICENESS = 10


class WorkerEngine(Protocol):
    """What a worker needs of an engine: run a query under a given id, and record one that ran elsewhere."""

    def run_query(self, sql: str, database: str | None = None, *, max_rows: int | None = None,
                  timeout: float | None = None, write_result: bool = True, allow_ddl: bool = False,
                  execution_id: str | None = None) -> QueryResult: ...

    def record(self, result: QueryResult) -> None: ...


#: Builds an engine on the lake. It is pickled to the worker (``spawn``), so it must be a module-level
#: function or a ``functools.partial`` of one with picklable arguments.
EngineFactory = Callable[[], WorkerEngine]


@dataclasses.dataclass(frozen=True)
class _Job:
    execution_id: str
    sql: str
    database: str | None
    max_rows: int | None
    timeout: float
    write_result: bool


def _pack(result: QueryResult) -> dict[str, Any]:
    """A result as plain data: AthenaError's constructor does not fit pickle's protocol for exceptions."""
    out = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}  # asdict would deep-copy it
    out["error"] = result.error.to_dict() if result.error is not None else None
    return out


def _unpack(data: dict[str, Any]) -> QueryResult:
    error = data.pop("error")
    result = QueryResult(**data)
    if error is not None:
        result.error = AthenaError(str(error["error_type"]), str(error["message"]), line=error["line"],
                                   column=error["column"], category=int(error["category"]))
    return result


def _serve(conn: Connection, factory: EngineFactory, memory_bytes: int) -> None:
    """The worker's main loop: cap memory, build the engine, then answer jobs until told to stop."""
    if memory_bytes:
        _few_malloc_arenas()
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # The server's Ctrl+C reaches the whole process group; the parent stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Queries yield the CPU to the server, so that its pages and /healthz answer at once under load.
    os.nice(WORKER_NICENESS)
    engine = factory()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the server went away
            return
        if job is None:
            return
        try:
            result = engine.run_query(job.sql, job.database, max_rows=job.max_rows, timeout=job.timeout,
                                      write_result=job.write_result, execution_id=job.execution_id)
            conn.send(("done", _pack(result)))
        except MemoryError:
            # Python itself ran out of the capped address space (building or sending the rows): the process
            # may be in no state to go on, so it ends and the parent records the execution.
            os._exit(3)
        except Exception as exc:  # a bug or an unreadable lake: the caller gets it as a system error
            log.exception("query %s failed in its worker", job.execution_id)
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


#: glibc's mallopt parameter M_ARENA_MAX, and the arenas a worker keeps.
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def _few_malloc_arenas() -> None:
    """Cap glibc's malloc arenas. Each thread that allocates gets an arena reserving 64 MiB of address space
    (up to 8 per core): DuckDB's threads took a worker from 130 MiB to 880 MiB of address space before any
    query data, and a later thread start then failed against the cap ("cannot allocate memory for thread-local
    data", the worker aborted on a small query). With two arenas it is under 300 MiB."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, macOS): nothing to tune
        log.debug("no glibc: malloc arenas left as they are")
        return
    libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, ctx: Any, factory: EngineFactory, memory_bytes: int) -> None:
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, factory, memory_bytes),
                                   name="lakebox-query-worker", daemon=True)
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.ready = False

    @property
    def pid(self) -> int | None:
        return int(self.process.pid) if self.process.pid is not None else None

    def wait_ready(self, timeout: float) -> bool:
        if not self.ready:
            try:
                self.ready = self.conn.poll(timeout) and self.conn.recv()[0] == "ready"
            except (EOFError, OSError):
                self.ready = False
        return self.ready

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # a worker already gone needs no asking
            self.conn.send(None)
        self.process.join(1.0)
        self.kill()

    def kill(self) -> int | None:
        """Kill the process (if still alive) and return its exit code."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5.0)
        self.conn.close()
        code = self.process.exitcode
        return int(code) if code is not None else None


class QueryWorkers:
    """A pool of ``size`` worker processes; :meth:`run_query` runs one query on an idle one.

    The parent also builds an engine of its own from the factory, used only to record executions whose
    worker was killed or died (their result file and metadata).
    """

    def __init__(self, factory: EngineFactory, *, size: int, memory_bytes: int, default_timeout: float,
                 grace: float = GRACE_SECONDS, sweeper: ResultSweeper | None = None) -> None:
        self._factory = factory
        #: Told of every result file the workers write, so that one estimate covers them all (each worker's
        #: own would miss the others' results and let enriched/ pass the cap).
        self._sweeper = sweeper
        self.size = size
        self.memory_bytes = memory_bytes
        self.default_timeout = default_timeout
        self.grace = grace
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._recorder: WorkerEngine | None = None
        #: How many workers were killed at their deadline and how many died (out of memory).
        self.killed = 0
        self.died = 0
        # A pool nobody closed (an app dropped by a test) still stops its processes when it is collected.
        weakref.finalize(self, _stop_all, self._all)

    def start(self) -> None:
        """Start the workers (they get ready in the background); the first query does this itself."""
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
            for _ in range(self.size):
                self._idle.put(self._spawn_locked())

    def wait_ready(self, timeout: float = START_SECONDS) -> bool:
        """Start the workers and wait until each has built its engine. Call it before queries are sent
        (server start, tests, benchmarks): it reads the workers' pipes."""
        self.start()
        deadline = time.monotonic() + timeout
        with self._lock:
            workers = list(self._all)
        return all(w.wait_ready(max(deadline - time.monotonic(), 0.0)) for w in workers)

    def _spawn_locked(self) -> _Worker:
        w = _Worker(self._ctx, self._factory, self.memory_bytes)
        self._all.add(w)
        return w

    def _replace(self, dead: _Worker) -> None:
        with self._lock:
            self._all.discard(dead)
            if not self._closed:
                self._idle.put(self._spawn_locked())

    def pids(self) -> list[int]:
        """Process ids of the live workers (the benchmark measures their memory)."""
        with self._lock:
            return [p for p in (w.pid for w in self._all) if p is not None]

    def run_query(self, sql: str, database: str | None = None, *, max_rows: int | None = None,
                  timeout: float | None = None, write_result: bool = True) -> QueryResult:
        """Run ``sql`` in a worker, as :meth:`DuckEngine.run_query <lakebox.query.engine.DuckEngine.run_query>`
        does in-process (read-only: no DDL). Failures come back as a FAILED result, never raised."""
        self.start()
        limit = timeout or self.default_timeout
        job = _Job(str(uuid.uuid4()), sql, database, max_rows, limit, write_result)
        submitted = dt.datetime.now(dt.UTC)
        t0 = time.monotonic()
        if self._closed:
            return self._failed(job, submitted, t0, AthenaError(
                "GENERIC_INTERNAL_ERROR", "the server is shutting down", category=SYSTEM))
        try:
            worker = self._idle.get(timeout=START_SECONDS)
        except queue.Empty:
            return self._failed(job, submitted, t0, AthenaError(
                "GENERIC_INTERNAL_ERROR", f"no query worker became free within {START_SECONDS:g} s",
                category=SYSTEM))
        if not worker.wait_ready(START_SECONDS):
            code = worker.kill()
            self._replace(worker)
            return self._failed(job, submitted, t0, AthenaError(
                "GENERIC_INTERNAL_ERROR", f"the query worker could not start (exit code {code}); see the server "
                f"log, and check that query_worker_memory ({self.memory_bytes // 2**20} MiB) leaves room for DuckDB",
                category=SYSTEM))
        queued_ms = (time.monotonic() - t0) * 1000
        try:
            worker.conn.send(job)
            answered = worker.conn.poll(limit + self.grace)
            message = worker.conn.recv() if answered else None
        except (EOFError, OSError):
            message = None
            answered = True  # the pipe closed: the worker died
        if message is not None and message[0] == "done":
            result = _unpack(message[1])
            result.stats["QueryQueueTimeInMillis"] = round(queued_ms, 2)
            if result.error is not None and result.error.error_type == EXCEEDED_MEMORY:
                # A worker that hit its cap may keep its heap fragmented or reserved, and then fail the next
                # (small) query when it merely starts a thread: it is replaced instead.
                worker.kill()
                self._replace(worker)
            else:
                self._idle.put(worker)
            self._wrote(result)
            return result
        if message is not None:
            self._idle.put(worker)
            return self._failed(job, submitted, t0, AthenaError(
                "GENERIC_INTERNAL_ERROR", f"the query worker failed: {message[1]}", category=SYSTEM))
        code = worker.kill()
        self._replace(worker)
        if not answered:
            self.killed += 1
            error = AthenaError("QUERY_TIMEOUT", f"Query exceeded the {limit:g} s time limit and was cancelled "
                                "(its worker process was stopped)")
        else:
            self.died += 1
            log.warning("query worker for %s ended with exit code %s", job.execution_id, code)
            error = AthenaError(EXCEEDED_MEMORY, "Query exhausted resources at this scale factor: it needed more "
                                f"than the {self.memory_bytes // 2**20} MiB a query may use (setting "
                                f"query_worker_memory; the worker ended with exit code {code})", category=USER)
        return self._failed(job, submitted, t0, error)

    def _failed(self, job: _Job, submitted: dt.datetime, t0: float, error: AthenaError) -> QueryResult:
        """A FAILED result for a query whose worker gave no answer, recorded as the worker would have."""
        total = round((time.monotonic() - t0) * 1000, 2)
        result = QueryResult(execution_id=job.execution_id, sql=job.sql, database=(job.database or ""),
                             state="FAILED", error=error)
        result.stats.update({
            "EngineExecutionTimeInMillis": total, "QueryPlanningTimeInMillis": 0, "QueryQueueTimeInMillis": 0,
            "TotalExecutionTimeInMillis": total, "SubmissionDateTime": submitted.isoformat(),
            "CompletionDateTime": dt.datetime.now(dt.UTC).isoformat(), "Rows": 0, "DataScannedInBytes": 0,
        })
        if job.write_result:
            with self._lock:
                if self._recorder is None:
                    self._recorder = self._factory()
                recorder = self._recorder
            recorder.record(result)
            self._wrote(result)
        return result

    def _wrote(self, result: QueryResult) -> None:
        if self._sweeper is not None and result.result_bytes:
            self._sweeper.wrote(result.execution_id, result.result_bytes)

    def close(self) -> None:
        """Stop every worker (idle ones are asked to stop, busy ones are killed)."""
        with self._lock:
            self._closed = True
            _stop_all(self._all)


def _stop_all(workers: set[_Worker]) -> None:
    for w in list(workers):
        w.stop()
    workers.clear()
