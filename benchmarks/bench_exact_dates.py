"""The exact processing path before and after it read ISO dates as text (to quarantine ``epoch`` and the other
special date words, issue 12): one file of N orders with two bad rows (a date that does not cast, a missing order id), so the streaming pass cannot vouch for
it and the exact path stages, writes and quarantines.

Each run is a fresh child process; runs of the two checkouts are interleaved; the table shows medians.

    python benchmarks/bench_exact_dates.py --before /work/main/src --after src [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

AS_OF = dt.date(2025, 5, 1)

CHILD = r"""
import json, sys, time
from pathlib import Path
from lakebox.core.dataset import default_dataset
from lakebox.process.transform import connect, transform_csv
import datetime as dt
src, work = Path(sys.argv[1]), Path(sys.argv[2])
con = connect("1GB")
t0 = time.perf_counter()
r = transform_csv(con, src, default_dataset(), dt.date(2025, 5, 1), work / "out.parquet", "parquet", work / "q.csv")
print(json.dumps({"s": time.perf_counter() - t0, "kept": r.rows_kept, "q": r.rows_quarantined}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="src folder of the checkout before")
    ap.add_argument("--after", required=True, help="src folder of the checkout after")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "orders.csv"
        sys.path.insert(0, str(Path(args.after).resolve()))
        from lakebox.process.sample import write_sample

        write_sample(src, args.rows, AS_OF)
        with open(src, "a", encoding="utf-8") as fh:
            # a missing required value: the written statistics show a null, so the exact path runs
            fh.write("BAD1,Bob,1.00,shipped,not-a-date\n,Bob,1.00,shipped,2025-04-01\n")
        times: dict[str, list[float]] = {"before": [], "after": []}
        counts: dict[str, tuple[int, int]] = {}
        for _ in range(args.repeat):
            for label in ("before", "after"):
                work = Path(tmp) / label
                work.mkdir(exist_ok=True)
                env = dict(os.environ, PYTHONPATH=str(Path(getattr(args, label)).resolve()))
                out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(work)], env=env, check=True,
                                     capture_output=True, text=True).stdout
                res = json.loads(out.strip().splitlines()[-1])
                times[label].append(res["s"])
                counts[label] = (res["kept"], res["q"])
    print(f"exact path, {args.rows:,} rows + 2 bad rows, median of {args.repeat}\n")
    print("| checkout | seconds | kept | quarantined |")
    print("|---|---|---|---|")
    for label in ("before", "after"):
        print(f"| {label} | {statistics.median(times[label]):.2f} | {counts[label][0]:,} | {counts[label][1]:,} |")


if __name__ == "__main__":
    main()
