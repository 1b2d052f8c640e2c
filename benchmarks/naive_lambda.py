"""The original Lambda's approach, for comparison: the whole file in memory, ``csv.DictReader``, ``strptime``
per row, ``csv.DictWriter`` out. Same rule as lakebox: drop pending/cancelled orders 30+ days old."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path


def naive_process(src: Path, dst: Path, as_of: dt.date) -> tuple[int, int]:
    """Return (rows read, rows kept)."""
    body = src.read_bytes().decode("utf-8")  # the original: s3.get_object(...)['Body'].read().decode('utf-8')
    reader = csv.DictReader(io.StringIO(body))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
    writer.writeheader()
    now = dt.datetime.combine(as_of, dt.time())
    read = kept = 0
    for row in reader:
        read += 1
        order_date = dt.datetime.strptime(row["OrderDate"], "%Y-%m-%d")
        if row["Status"] in ("pending", "cancelled") and (now - order_date).days >= 30:
            continue
        writer.writerow(row)
        kept += 1
    dst.write_text(out.getvalue(), encoding="utf-8")
    return read, kept
