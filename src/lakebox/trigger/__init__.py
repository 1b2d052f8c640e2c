"""The "S3 event notification" stage: watch ``raw/``, turn changes into S3-shaped events, invoke the handler.

``watcher.Watcher`` composes ``sources`` (recovery, file events, the rescan), a ``scheduler.Scheduler``
(coalescing, settling, retry timers) and a ``workers.WorkerPool`` (jobs run through the handler, retries,
dead letters), joined by a queue; ``state`` holds the records and the shared counters and results,
``deadletter`` the on-failure destination, ``locks`` the one-watcher-per-lake lock. The package receives the
store, the ledger, the handler and the catalog's update path; it never imports ``lakebox.lake``.
"""
