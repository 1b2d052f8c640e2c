"""The "S3 event notification" stage: watch ``raw/``, turn changes into S3-shaped events, invoke the handler.

``watcher.Watcher`` is the engine (settle detection, per-key serialization, retries, dead letters), built from
``sources`` (recovery, file events, rescans), ``scheduler`` (coalescing, settling, retry timers), ``workers``
(the worker pool) and ``state`` (results and shared state); ``deadletter`` is the on-failure destination,
``locks`` the one-watcher-per-lake lock, ``cli`` ``lakebox watch``.
"""
