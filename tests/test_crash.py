"""SIGKILL the processor at random moments; the lake must never show a partial object or a torn catalog.

A subprocess runs ``lakebox watch --once`` over a lake whose ``raw/big.csv`` (1-1.5M rows) was just replaced,
plus a new small file, and is killed at a random point of its run: during start-up, recovery, the DuckDB
transform, the publish, the ledger write or the catalog update. After every kill:

- every ``*.parquet`` under processed/ is readable by DuckDB and has exactly the row count of *some* complete
  version of its raw file (old or new, never half);
- nothing else is visible in processed/ or quarantine/ (temp files are hidden ``.lakebox-tmp-*.tmp``);
- every ledger record parses; the catalog passes ``PRAGMA integrity_check`` and each table's totals equal
  the sum of its files.

Finally one uninterrupted ``watch --once`` must give the exact totals: ledger, catalog and a query agree.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

import lakebox
from lakebox.catalog.local import LocalCatalog
from lakebox.config import load_settings
from lakebox.lake import Lake
from lakebox.process.sample import write_sample
from lakebox.store.local import TMP_PREFIX

pytestmark = pytest.mark.slow

AS_OF = dt.date(2025, 5, 1)
KILLS = 20
SEED = int(os.environ.get("LAKEBOX_CRASH_SEED", "20250501"))


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(lakebox.__file__).resolve().parents[1])  # the subprocess runs this checkout's code
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["TMPDIR"] = str(tmp)  # killed handlers leave their DuckDB work folders here, not in /tmp
    for k in [k for k in env if k.startswith("LAKEBOX_")]:
        del env[k]
    return env


def _land(raw: Path, name: str, src: Path) -> None:
    part = raw / f"{name}.part"
    shutil.copyfile(src, part)
    os.replace(part, raw / name)


def _parquet_rows(path: Path) -> int:
    con = duckdb.connect()
    try:
        # A full scan, not just the footer: a torn file fails here even if its footer were intact.
        rows, total = con.execute("SELECT count(*), sum(order_amount) FROM read_parquet(?)", [str(path)]).fetchall()[0]
        assert total is not None or rows == 0
        return int(rows)
    finally:
        con.close()


def _check_invariants(lake_dir: Path, allowed: dict[str, set[int]]) -> None:
    """What any reader could see right now is complete and consistent."""
    for prefix in ("processed", "quarantine"):
        for path in (lake_dir / prefix).rglob("*"):
            if path.is_dir() or path.name.startswith(TMP_PREFIX):
                continue
            rel = path.relative_to(lake_dir).as_posix()
            assert rel in allowed, f"unexpected visible object {rel}"
            if path.suffix == ".parquet":
                assert _parquet_rows(path) in allowed[rel], f"{rel}: partial or unknown version"
    for state in (lake_dir / "_lakebox" / "state").rglob("*.json"):
        json.loads(state.read_text(encoding="utf-8"))  # atomic writes: every record parses
    catalog = LocalCatalog(lake_dir / "_lakebox" / "catalog.sqlite")
    assert catalog.check() == "ok"
    for table in catalog.get_tables():
        # Internally consistent: the counts agree with the file list and the Glue-style parameters...
        assert table.file_count == len(table.files) == int(table.parameters["objectCount"])
        assert table.row_count == int(table.parameters["recordCount"])
        if table.partitions:
            assert table.row_count == sum(p.row_count for p in table.partitions)
        # ...and describe complete files only: the totals are a sum of complete versions of listed files.
        fixed = 0
        for key in table.files:
            assert key in allowed and (lake_dir / key).is_file(), f"catalog lists {key}"
            if len(allowed[key]) == 1:
                fixed += next(iter(allowed[key]))
        variable = [k for k in table.files if len(allowed[k]) > 1]
        assert len(variable) <= 1  # only big.parquet has two versions in this test
        assert table.row_count - fixed in (allowed[variable[0]] if variable else {0})
        for f in catalog.get_files(table.database, table.name).values():
            assert f.rows in allowed.get(f.key, set()), f"catalog file cache: {f.key} has {f.rows} rows"
        versions = catalog.get_table_versions(table.database, table.name)
        assert versions and versions[-1].version == table.version


def test_sigkill_at_random_points_never_leaves_partial_output(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data = tmp_path / "data"
    data.mkdir()
    big = {"a": data / "big_a.csv", "b": data / "big_b.csv"}
    write_sample(big["a"], 1_500_000, AS_OF, seed=1)
    write_sample(big["b"], 1_000_000, AS_OF, seed=2)
    smalls = []
    for i in range(KILLS * 2 + 1):
        p = data / f"small_{i:02d}.csv"
        write_sample(p, 100 + i, AS_OF, seed=100 + i)
        smalls.append(p)

    # The oracle: every file processed alone, uninterrupted, in another lake.
    oracle = Lake(load_settings({"lake": str(tmp_path / "oracle"), "as_of": AS_OF.isoformat()}, env={}))
    kept = {p: oracle.ingest([p])[0].run.rows_kept for p in [*big.values(), *smalls]}

    lake_dir = tmp_path / "lake"
    lake = Lake(load_settings({"lake": str(lake_dir), "as_of": AS_OF.isoformat()}, env={}))
    raw = Path(lake.store.local_path("raw/"))  # type: ignore[arg-type]
    work = tmp_path / "work"
    work.mkdir()
    cmd = [sys.executable, "-m", "lakebox", "--lake", str(lake_dir), "--as-of", AS_OF.isoformat(), "watch",
           "--once", "--quiet", "--settle-seconds", "0", "--retry-delays", "0,0", "--workers", "2"]
    env = _env(work)

    # One clean run first, to learn how long a run takes (start-up + big file + catalog).
    _land(raw, "big.csv", big["a"])
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    duration = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    allowed: dict[str, set[int]] = {"processed/big.parquet": {kept[big["a"]], kept[big["b"]]}}
    _check_invariants(lake_dir, allowed)

    current = big["a"]
    landed_smalls: list[Path] = []
    kills = runs = unfinished = 0
    while kills < KILLS and runs < KILLS * 2:
        runs += 1
        current = big["b"] if current == big["a"] else big["a"]  # a new version every time
        _land(raw, "big.csv", current)
        small = smalls[runs - 1]
        _land(raw, small.name, small)
        landed_smalls.append(small)
        allowed[f"processed/{small.stem}.parquet"] = {kept[small]}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=rng.uniform(0.0, duration))  # the random moment of the crash
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        except subprocess.TimeoutExpired:
            proc.kill()  # SIGKILL: no handler, no cleanup, no atexit
            proc.wait()
            kills += 1
            unfinished += bool(lake.pending())
        finally:
            if proc.stderr:
                proc.stderr.close()
        _check_invariants(lake_dir, allowed)
    assert kills >= KILLS, f"only {kills} of {runs} runs were killed (seed {SEED})"
    assert unfinished >= 1, "no kill interrupted real work; the test would prove nothing"
    print(f"{kills} kills in {runs} runs (seed {SEED}); {unfinished} left work unfinished for the restart")

    # Restart: everything unfinished is picked up and finished, with exact totals.
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _check_invariants(lake_dir, allowed)
    files = [current, *landed_smalls]
    expected_kept = sum(kept[p] for p in files)
    expected_read = sum(sum(1 for _ in open(p, encoding="utf-8")) - 1 for p in files)
    assert lake.pending() == []
    totals = lake.ledger.totals()
    assert totals["files"] == len(files)
    assert (totals["rows_read"], totals["rows_kept"]) == (expected_read, expected_kept)
    assert _parquet_rows(lake_dir / "processed" / "big.parquet") == kept[current]
    table = lake.catalog.get_table("orders_db", "orders_processed")
    assert table is not None and (table.file_count, table.row_count) == (len(files), expected_kept)
    res = lake.engine.run_query("SELECT count(*) FROM orders_db.orders_processed")
    assert res.state == "SUCCEEDED" and res.rows[0][0] == expected_kept
