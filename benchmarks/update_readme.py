"""Copy the latest benchmark tables (benchmarks/results/*.md) into the README between their markers.

    python benchmarks/update_readme.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {
    "pipeline": "Processing, crawling and the five named queries (`benchmarks/bench_pipeline.py`)",
    "latency": "From a file landing in raw/ to its rows being queryable (`benchmarks/bench_latency.py`)",
    "web": "The dashboard and its API (`benchmarks/bench_web.py`)",
    "endpoint": "The local AWS endpoint against in-process and moto (`benchmarks/bench_endpoint.py`)",
    "scale": "Processing at scale against a bare DuckDB one-liner (`benchmarks/bench_scale.py`)",
    "files": "Many small files through the watcher (`benchmarks/bench_files.py`)",
    "compact": "Compaction: the five queries before and after (`benchmarks/bench_compact.py`)",
    "partitions": "Monthly partitions: bytes scanned (`benchmarks/bench_partitions.py`)",
    "query": "Query fixed costs and the CLI (`benchmarks/bench_query.py`)",
    "soak": "Soak: 50 clients, named and ad-hoc queries (heavy ones included) and uploads (`benchmarks/bench_soak.py`)",
}


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    for name, title in SECTIONS.items():
        result = ROOT / "benchmarks" / "results" / f"{name}.md"
        if not result.exists():
            continue
        # The result files' own top-level titles would break the README's outline; the section title replaces them.
        table = "\n".join(ln for ln in result.read_text(encoding="utf-8").strip().splitlines() if not ln.startswith("# "))
        body = f"**{title}**\n\n{table.strip()}\n"
        pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
        block = f"<!-- bench:{name} -->\n{body}<!-- /bench:{name} -->"
        if pattern.search(text):
            text = pattern.sub(lambda _m, b=block: b, text)
        else:
            text = text.replace("## Development", f"{block}\n\n## Development")
    readme.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
