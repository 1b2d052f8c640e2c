"""Regenerate the dashboard screenshots in docs/screenshots/: 1440 px and 390 px wide, light and dark.

Each is the first screen (1440x900, 390x844); ``dashboard-1440-light-full.png`` is the whole page.

Builds a temporary lake from the original sample (tests/data/orders.csv, as of 2025-05-01), serves the
dashboard on a free loopback port and photographs it with Debian's Chromium (/usr/bin/chromium) through
Playwright. Nothing is downloaded.

    python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "orders.csv"
CHROMIUM = "/usr/bin/chromium"
SIZES = {"1440": (1440, 900), "390": (390, 844)}
PANELS_DONE = "() => Array.from(document.querySelectorAll('article.panel')).every(p => p.dataset.state !== 'loading')"


def serve(lake_dir: Path) -> tuple[str, object]:
    from lakebox.cli import dashboard_services
    from lakebox.config import load_settings
    from lakebox.lake import Lake
    from lakebox.web.server import make_server

    settings = load_settings({"lake": str(lake_dir), "as_of": "2025-05-01"}, env={})
    lake = Lake(settings)
    src = lake_dir.parent / "orders.csv"
    shutil.copyfile(SAMPLE, src)
    lake.ingest([src])
    # a few editor queries, so the history list has entries
    for sql in ("SELECT order_status, COUNT(*) AS orders FROM orders_processed GROUP BY 1 ORDER BY 2 DESC",
                "SELECT customer_id, SUM(order_amount) AS total FROM orders_processed GROUP BY 1"):
        lake.engine.run_query(sql, write_result=True)
    server = make_server(dashboard_services(lake), "127.0.0.1", 0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{server.effective_port}", server


def shoot(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        for size, (width, height) in SIZES.items():
            for theme in ("light", "dark"):
                ctx = browser.new_context(viewport={"width": width, "height": height}, color_scheme=theme,
                                          locale="en-US", timezone_id="UTC", device_scale_factor=1,
                                          is_mobile=width < 500, has_touch=width < 500)
                page = ctx.new_page()
                page.goto(url + "/?sql=SELECT%20order_status%2C%20COUNT(*)%20AS%20orders%2C%20SUM(order_amount)"
                                "%20AS%20revenue%0AFROM%20orders_processed%0AGROUP%20BY%201%0AORDER%20BY%202%20DESC")
                page.wait_for_function(PANELS_DONE, timeout=30_000)
                page.wait_for_selector('#sql-result[data-state="ok"]', timeout=30_000)
                page.evaluate("() => document.fonts.ready.then(() => true)")
                path = out / f"dashboard-{size}-{theme}.png"
                page.screenshot(path=str(path))
                written.append(path)
                if size == "1440" and theme == "light":
                    path = out / f"dashboard-{size}-{theme}-full.png"
                    page.screenshot(path=str(path), full_page=True)
                    written.append(path)
                ctx.close()
        browser.close()
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lakebox-shots-") as tmp:
        url, server = serve(Path(tmp) / "lake")
        try:
            paths = shoot(url, args.out)
        finally:
            server.close()  # type: ignore[attr-defined]
    for p in paths:
        print(f"{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}  {p.stat().st_size // 1024} KiB")
    print(f"{len(paths)} screenshots in {time.perf_counter() - t0:.1f} s ({dt.date.today().isoformat()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
