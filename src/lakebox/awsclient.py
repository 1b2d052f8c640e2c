"""boto3 clients built on first use, once, thread-safely: importing lakebox never needs boto3 or credentials,
and the watcher's workers and the dashboard's threads share one client per backend."""

from __future__ import annotations

import threading
from typing import Any


class LazyClient:
    """A boto3 client for ``service``, created the first time :meth:`get` is called."""

    def __init__(self, service: str, endpoint_url: str | None = None, region: str | None = None,
                 client: Any = None, retries: dict[str, Any] | None = None) -> None:
        self.service, self.endpoint_url, self.region, self.retries = service, endpoint_url, region, retries
        self._client = client
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3  # deferred: no clients (or boto3 import) at import time
                    from botocore.config import Config

                    config = Config(retries=self.retries) if self.retries else None
                    self._client = boto3.session.Session().client(
                        self.service, endpoint_url=self.endpoint_url, region_name=self.region, config=config)
        return self._client
