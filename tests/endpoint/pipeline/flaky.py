"""Handlers that fail, for the retry, dead-letter and timeout tests."""

import os
import time
from pathlib import Path


def fail_twice(event, context):
    counter = Path(os.environ["COUNTER_FILE"])
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    print(f"attempt {n}")
    if n < 3:
        raise RuntimeError(f"transient failure {n}")
    return {"attempts": n}


def always_fail(event, context):
    raise ValueError("bad input " + event["Records"][0]["s3"]["object"]["key"])


def too_slow(event, context):
    print("starting a long job")
    time.sleep(float(os.environ.get("SLEEP", "30")))
