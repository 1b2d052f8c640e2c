"""Write the pages generated from the Trino allow-list and the conformance oracle:

- ``docs/functions.md``: every Trino function lakebox runs, with its translation (``trino_signatures``);
- ``tests/conformance/UNSUPPORTED.md``: every Trino function it refuses, and why;
- ``docs/conformance.md``: the oracle's counts per page (runs every case; takes a minute).

Usage: ``PYTHONPATH=src python scripts/gen_trino_docs.py [--check]`` (``--check`` fails if a page is stale).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from conformance import oracle  # noqa: E402

from lakebox.query import trino_pages  # noqa: E402


def pages() -> dict[Path, str]:
    with tempfile.TemporaryDirectory() as tmp:
        lake = oracle.make_lake(Path(tmp))
        try:
            results = oracle.run_all(lake.engine)
        finally:
            lake.engine.close()
    verified = oracle.verified_functions(results)
    return {
        ROOT / "docs" / "functions.md": trino_pages.functions_page(verified),
        ROOT / "tests" / "conformance" / "UNSUPPORTED.md": trino_pages.unsupported_page(),
        ROOT / "docs" / "conformance.md": oracle.render(results),
    }


def main(argv: list[str]) -> int:
    stale = []
    for path, text in pages().items():
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale:", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
