"""The dashboard as an analyst uses it, in Debian's Chromium: shareable URLs, the editor's workbench (all-row
downloads, saved queries), facets, dark mode, the phone layout, chart legibility and an axe-core scan."""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["web_fixtures"]
pytest.register_assert_rewrite("web_fixtures")

from web_fixtures import LiveServer, PageRecorder, record, set_sql, start_live_server  # noqa: E402

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect
PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError

SALES = "#panel-total_sales_by_customer"
TOP = "#panel-top_orders_february_2025"
MONTHLY = "#panel-monthly_order_volume"
# 20,000 rows; Trino's sequence() has at most 10,000 entries, so two of them are crossed.
MANY = ("SELECT x, 'row ' || CAST(x AS VARCHAR) AS label FROM (SELECT a * 200 + b AS x FROM "
        "UNNEST(sequence(0, 99)) AS s(a) CROSS JOIN UNNEST(sequence(1, 200)) AS u(b)) ORDER BY x")
STATUSES = "SELECT order_id, customer_id, order_status FROM orders_processed ORDER BY order_id"
SETTLED = "() => Array.from(document.querySelectorAll('article.panel')).every(p => p.dataset.state !== 'loading')"


@pytest.fixture
def open_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., PageRecorder]]:
    """Open the dashboard in a new browser context (viewport, colour scheme, ...) once every panel settled."""
    contexts: list[Any] = []

    def open_(path: str = "/", width: int = 1440, height: int = 1000, **options: Any) -> PageRecorder:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="en-US", timezone_id="UTC",
                                  accept_downloads=True, **options)
        contexts.append(ctx)
        rec = record(ctx, live_server)
        rec.page.goto(live_server.url + path)
        rec.page.wait_for_function(SETTLED)
        return rec

    yield open_
    for ctx in contexts:
        ctx.close()


def assert_clean(rec: PageRecorder) -> None:
    assert rec.dialogs == [] and rec.errors == [], (rec.dialogs, rec.errors)
    assert rec.foreign == [], f"requests left the server: {rec.foreign}"


def run_sql(p: Any, sql: str) -> None:
    set_sql(p, sql)
    p.locator("#sql-run").click()
    expect(p.locator("#sql-result")).to_have_attribute("data-state", "ok")


def column(p: Any, table: str, index: int) -> list[str]:
    return p.locator(f"{table} tbody tr td:nth-child({index})").all_text_contents()


def test_url_state_round_trip_reload_back_and_forward(open_page: Callable[..., PageRecorder]) -> None:
    rec = open_page()
    p = rec.page
    p.locator(f'{TOP} input[name="month"]').fill("2025-03")
    expect(p.locator(f"{TOP} tbody tr td:nth-child(3)").first).to_contain_text("2025-03-")
    p.locator(f'{SALES} th button[data-column="total_sales"]').click()  # descending
    p.locator(f'{SALES} th button[data-column="total_sales"]').click()  # ascending
    expect(p.locator(f"{SALES} tbody tr td").first).to_have_text("Diana")
    p.locator(f"{TOP} input.filter").fill("Bob")
    expect(p.locator(f"{TOP} .count")).to_contain_text("of 10 rows")
    bob_rows = p.locator(f"{TOP} tbody tr").count()
    assert 0 < bob_rows < 10 and set(column(p, TOP, 2)) == {"Bob"}
    p.locator(f"{SALES} .view-select").select_option("table")  # the chart type is switchable
    expect(p.locator(f"{SALES} .chart")).to_be_hidden()
    run_sql(p, STATUSES)
    url = p.url
    assert "top_orders_february_2025.month=2025-03" in url and "total_sales_by_customer.dir=asc" in url
    assert "top_orders_february_2025.q=Bob" in url and "sql=SELECT" in url

    def same_view() -> None:
        expect(p.locator(f'{TOP} input[name="month"]')).to_have_value("2025-03")
        expect(p.locator(f"{TOP} input.filter")).to_have_value("Bob")
        expect(p.locator(f"{TOP} tbody tr")).to_have_count(bob_rows)
        assert all(d.startswith("2025-03-") for d in column(p, TOP, 3)) and set(column(p, TOP, 2)) == {"Bob"}
        expect(p.locator(f"{SALES} th").nth(1)).to_have_attribute("aria-sort", "ascending")
        expect(p.locator(f"{SALES} tbody tr td").first).to_have_text("Diana")
        expect(p.locator("#sql-result")).to_have_attribute("data-state", "ok")
        expect(p.locator("#sql-editor .cm-content")).to_contain_text("SELECT order_id, customer_id, order_status")
        expect(p.locator(f"{SALES} .view-select")).to_have_value("table")
        expect(p.locator(f"{SALES} .chart")).to_be_hidden()

    p.reload()
    p.wait_for_function(SETTLED)
    same_view()
    # a link opened elsewhere shows the same view too
    other = open_page(url.replace(url.split("/?")[0], ""))
    expect(other.page.locator(f"{TOP} tbody tr")).to_have_count(bob_rows)
    expect(other.page.locator("#sql-result")).to_have_attribute("data-state", "ok")
    # back: before the SQL ran (no result), then before the filter... forward again: the result is back
    p.go_back()
    expect(p.locator("#sql-result")).not_to_have_attribute("data-state", "ok")
    assert "sql=" not in p.url
    p.go_back()  # before the view change
    expect(p.locator(f"{SALES} .view-select")).to_have_value("bar")
    expect(p.locator(f"{SALES} .chart g.barlayer .point").first).to_be_visible()
    p.go_back()  # before the filter (typing it made one entry, not one per key)
    expect(p.locator(f"{TOP} input.filter")).to_have_value("")
    expect(p.locator(f"{TOP} tbody tr")).to_have_count(10)
    p.go_forward()
    expect(p.locator(f"{TOP} tbody tr")).to_have_count(bob_rows)
    p.go_forward()
    p.go_forward()
    expect(p.locator("#sql-result")).to_have_attribute("data-state", "ok")
    expect(p.locator(f"{SALES} .chart")).to_be_hidden()
    # the month goes back too (three steps: sort twice... the history holds every step)
    p.goto(p.url.split("?")[0])
    p.wait_for_function(SETTLED)
    expect(p.locator(f'{TOP} input[name="month"]')).to_have_value("2025-02")
    p.go_back()
    p.wait_for_function(SETTLED)
    expect(p.locator(f'{TOP} input[name="month"]')).to_have_value("2025-03")
    expect(p.locator(f"{TOP} tbody tr td:nth-child(3)").first).to_contain_text("2025-03-")
    assert_clean(rec)


def test_panel_permalink_and_a_bad_parameter_in_a_link(open_page: Callable[..., PageRecorder],
                                                       live_server: LiveServer) -> None:
    rec = open_page(permissions=["clipboard-read", "clipboard-write"])
    p = rec.page
    p.locator(f'{TOP} input[name="month"]').fill("2025-04")
    expect(p.locator(f"{TOP} tbody tr td:nth-child(3)").first).to_contain_text("2025-04-")
    p.locator(f"{TOP} .copy-link").click()
    expect(p.locator(f"{TOP} .copy-link")).to_have_attribute("data-copied", live_server.url +
                                                             "/?top_orders_february_2025.month=2025-04"
                                                             "#panel-top_orders_february_2025")
    assert_clean(rec)
    # a link with a month that is not one: the panel says so, its downloads are off until the query runs
    bad = open_page("/?top_orders_february_2025.month=2025-13")
    panel = bad.page.locator(TOP)
    expect(panel).to_have_attribute("data-state", "error")
    expect(panel.locator(".notice")).to_contain_text("INVALID_PARAMETER")
    expect(panel.locator(".dl-csv")).to_have_attribute("aria-disabled", "true")
    assert panel.locator(".dl-csv").get_attribute("href") is None
    panel.locator('input[name="month"]').fill("2025-03")
    expect(panel).to_have_attribute("data-state", "ready")
    expect(panel.locator(".dl-csv")).to_have_attribute("href", "/api/queries/top_orders_february_2025.csv?month=2025-03")


def test_editor_downloads_every_row_of_a_20000_row_result(open_page: Callable[..., PageRecorder],
                                                          tmp_path: Path) -> None:
    rec = open_page()
    p = rec.page
    run_sql(p, MANY)
    expect(p.locator("#sql-stats")).to_contain_text("10,000+ rows")  # the page holds max_result_rows
    expect(p.locator("#sql-result .truncated")).to_contain_text("Showing the first 10,000 rows")
    with p.expect_download() as info:
        p.locator("#sql-dl-csv").click()
    path = tmp_path / "all.csv"
    info.value.save_as(path)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["x", "label"] and len(rows) == 20_001 and rows[-1] == ["20000", "row 20000"]
    with p.expect_download() as info:
        p.locator("#sql-result .truncated a", has_text="JSON").click()  # the notice links to every row too
    info.value.save_as(tmp_path / "all.json")
    body = json.loads((tmp_path / "all.json").read_text())
    assert body["row_count"] == 20_000 and len(body["rows"]) == 20_000
    # the run is in the history, newest first, and runs again from there
    expect(p.locator("#history li").first).to_contain_text("UNNEST(sequence(0, 99))")
    set_sql(p, "SELECT 1 AS one")
    p.locator("#history li").first.get_by_role("button", name="Run").first.click()
    expect(p.locator("#sql-editor .cm-content")).to_contain_text("sequence(0, 99)")
    expect(p.locator("#sql-stats")).to_contain_text("10,000+ rows")
    assert_clean(rec)


def test_editor_completes_catalog_tables_and_columns(open_page: Callable[..., PageRecorder]) -> None:
    rec = open_page()
    p = rec.page
    expect(p.locator("#sql-editor")).to_have_attribute("data-completions", "1")
    set_sql(p, "SELECT * FROM orders_pro")
    p.locator("#sql-editor .cm-content").press("End")
    p.locator("#sql-editor .cm-content").press("Control+Space")
    option = p.locator(".cm-tooltip-autocomplete li", has_text="orders_processed").first
    option.click()
    expect(p.locator("#sql-editor .cm-content")).to_have_text("SELECT * FROM orders_processed")
    expect(p.locator("#sql-editor .tok-keyword").first).to_have_text("SELECT")  # highlighted
    # columns of the catalog's tables, and Trino functions
    set_sql(p, "SELECT order_am")
    p.locator("#sql-editor .cm-content").press("End")
    p.locator("#sql-editor .cm-content").press("Control+Space")
    expect(p.locator(".cm-tooltip-autocomplete")).to_contain_text("order_amount")
    p.keyboard.press("Escape")
    set_sql(p, "SELECT date_tr")
    p.locator("#sql-editor .cm-content").press("End")
    p.locator("#sql-editor .cm-content").press("Control+Space")
    expect(p.locator(".cm-tooltip-autocomplete")).to_contain_text("date_trunc")
    assert_clean(rec)


def test_save_as_named_query_then_its_panel_is_shown(open_page: Callable[..., PageRecorder]) -> None:
    rec = open_page()
    p = rec.page
    set_sql(p, "SELECT order_status, COUNT(*) AS orders FROM orders_processed\n"
               "WHERE date_format(order_date, '%Y-%m') = :month GROUP BY 1 ORDER BY 2 DESC")
    param = p.locator('#sql-params input[data-param="month"]')  # the :month parameter gets an input
    expect(param).to_be_visible()
    p.locator("#sql-run").click()
    expect(p.locator("#sql-error")).to_contain_text("MISSING_PARAMETER")
    expect(p.locator("#sql-error")).to_contain_text(":month")
    param.fill("2025-03")
    p.locator("#sql-run").click()
    expect(p.locator("#sql-result")).to_have_attribute("data-state", "ok")
    march = dict(zip(column(p, "#sql-result", 1), column(p, "#sql-result", 2), strict=True))
    assert "param.month=2025-03" in p.url
    p.locator("#sql-save").click()
    dialog = p.locator("#save-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Title").fill("Orders by status in a month")
    expect(dialog.locator('input[name="name"]')).to_have_value("orders_by_status_in_a_month")
    expect(dialog.locator('input[data-param="month"]')).to_have_value("2025-03")  # the value becomes the default
    dialog.locator('select[name="chart"]').select_option("bar")
    dialog.locator('select[name="y"]').select_option("orders")
    dialog.locator("#save-submit").click()
    panel = p.locator("#panel-orders_by_status_in_a_month")
    expect(panel).to_have_attribute("data-state", "ready")
    assert p.url.endswith("#panel-orders_by_status_in_a_month")
    expect(panel.locator("h3")).to_contain_text("Orders by status in a month")
    expect(panel.locator(".saved-tag")).to_have_text("saved")
    expect(panel.locator('input[name="month"]')).to_have_value("2025-03")
    expect(panel.locator(".chart g.barlayer .point")).to_have_count(len(march))
    assert dict(zip(column(p, "#panel-orders_by_status_in_a_month", 1),
                    column(p, "#panel-orders_by_status_in_a_month", 2), strict=True)) == march
    panel.locator('input[name="month"]').fill("2025-02")  # its parameter works like the shipped panels'
    expect(panel.locator(".dl-csv")).to_have_attribute("href", "/api/queries/orders_by_status_in_a_month.csv"
                                                        "?month=2025-02")
    expect(panel).to_have_attribute("data-state", "ready")
    assert dict(zip(column(p, "#panel-orders_by_status_in_a_month", 1),
                    column(p, "#panel-orders_by_status_in_a_month", 2), strict=True)) != march
    assert_clean(rec)


def test_facets_filter_a_result_and_live_in_the_url(open_page: Callable[..., PageRecorder]) -> None:
    rec = open_page()
    p = rec.page
    run_sql(p, STATUSES)
    facet = p.locator('#sql-result .facet[data-column="order_status"]')
    expect(facet).to_be_visible()
    counts = dict(zip(facet.locator("button .v").all_text_contents(), facet.locator("button .n").all_text_contents(),
                      strict=True))
    assert set(counts) == {"shipped", "confirmed", "pending", "cancelled"}
    assert sum(int(n) for n in counts.values()) == 130
    facet.locator("button", has_text="confirmed").click()
    expect(p.locator("#sql-result .count")).to_have_text(f"{counts['confirmed']} of 130 rows")
    assert "sql.f.order_status=confirmed" in p.url
    assert set(column(p, "#sql-result", 3)) == {"confirmed"}
    # a second facet narrows further; the customer facet counts only confirmed orders now
    customer = p.locator('#sql-result .facet[data-column="customer_id"]')
    n_alice = int(customer.locator("button", has_text="Alice").locator(".n").text_content() or "0")
    customer.locator("button", has_text="Alice").click()
    expect(p.locator("#sql-result .count")).to_have_text(f"{n_alice} of 130 rows")
    assert set(column(p, "#sql-result", 2)) == {"Alice"}
    p.reload()
    expect(p.locator("#sql-result .count")).to_have_text(f"{n_alice} of 130 rows")
    p.locator("#sql-result .chip", has_text="Order status").click()  # remove one filter
    expect(p.locator("#sql-result .facet[data-column='order_status'] button[aria-pressed='true']")).to_have_count(0)
    assert "sql.f.order_status" not in p.url
    assert_clean(rec)


def background(p: Any) -> tuple[int, ...]:
    rgb = p.evaluate("getComputedStyle(document.body).backgroundColor")
    return tuple(int(x) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3])


def test_dark_mode_follows_the_system_and_the_toggle(open_page: Callable[..., PageRecorder]) -> None:
    rec = open_page(color_scheme="dark")
    p = rec.page
    expect(p.locator("html")).to_have_attribute("data-theme", "dark")
    assert sum(background(p)) < 120  # a dark page
    toggle = p.locator("#theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    tick = p.locator(f"{MONTHLY} .xtick text").first
    dark_tick = tick.evaluate("e => getComputedStyle(e).fill")
    toggle.click()
    expect(p.locator("html")).to_have_attribute("data-theme", "light")
    assert sum(background(p)) > 600
    expect(toggle).to_have_attribute("aria-pressed", "false")
    p.wait_for_function("(dark) => getComputedStyle(document.querySelector("  # the charts are redrawn for light
                        "'#panel-monthly_order_volume .xtick text')).fill !== dark", arg=dark_tick)
    p.reload()  # the choice is remembered over the system's
    expect(p.locator("html")).to_have_attribute("data-theme", "light")
    p.emulate_media(color_scheme="light")
    toggle.click()
    expect(p.locator("html")).to_have_attribute("data-theme", "dark")
    toggle.click()  # back to the system's theme: the page follows the system again
    expect(p.locator("html")).to_have_attribute("data-theme-source", "system")
    p.emulate_media(color_scheme="dark")
    expect(p.locator("html")).to_have_attribute("data-theme", "dark")
    light = open_page(color_scheme="light")
    expect(light.page.locator("html")).to_have_attribute("data-theme", "light")
    light.page.emulate_media(color_scheme="dark")  # the system changes while the page is open
    expect(light.page.locator("html")).to_have_attribute("data-theme", "dark")
    assert_clean(rec)


def test_no_horizontal_scroll_on_a_360_px_phone(open_page: Callable[..., PageRecorder], live_server: LiveServer,
                                                tmp_path: Path) -> None:
    long_error = tmp_path / ("bad_header_" + "x" * 60 + ".csv")
    long_error.write_text("nothing,like,the,expected,header\n1,2,3,4,5\n")
    live_server.lake.ingest([long_error])  # a rejected run with a long error text in the runs table
    rec = open_page(width=360, height=780, is_mobile=True, has_touch=True)
    p = rec.page
    run_sql(p, "SELECT * FROM orders_processed")
    widths = p.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] == 360, widths
    wide = p.evaluate("""Array.from(document.querySelectorAll('main *, header *')).filter(e => {
        const r = e.getBoundingClientRect();
        if (r.width === 0 || (r.right <= innerWidth + 1 && r.left >= -1)) return false;
        for (let a = e.parentElement; a; a = a.parentElement) {  // inside something that scrolls or clips: fine
          if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return false;
        }
        return true;
      }).map(e => e.tagName + '.' + e.className).slice(0, 5)""")
    assert wide == [], wide
    # the figures fit their cards, the badge does not wrap, the header is one compact row
    for card in p.locator(".figure").all():
        assert card.locator(".value").evaluate("e => e.scrollWidth <= e.clientWidth")
    badge = p.locator("#runs .badge.rejected").first
    assert badge.evaluate("e => e.getClientRects().length") == 1
    assert p.locator(".topbar").bounding_box()["height"] <= 56
    expect(p.locator(".kbd-hint")).to_be_hidden()  # no Ctrl+Enter hint on a phone
    assert_clean(rec)


OVERLAPS = """() => {
  const boxes = (root, sel) => Array.from(root.querySelectorAll(sel)).map(e => e.getBoundingClientRect())
    .filter(r => r.width > 0 && r.height > 0);
  const hit = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const out = [];
  for (const chart of document.querySelectorAll('.chart')) {
    if (!chart.querySelector('.main-svg')) continue;
    const name = chart.closest('article').dataset.query;
    const ticks = {x: boxes(chart, '.xtick text'), y: boxes(chart, '.ytick text'), y2: boxes(chart, '.y2tick text')};
    const legend = boxes(chart, '.legend .traces');
    const titles = boxes(chart, '.g-xtitle text, .g-ytitle text, .g-y2title text');
    const slices = boxes(chart, '.pielayer text.slicetext');
    for (let i = 0; i < slices.length; i++) for (let j = i + 1; j < slices.length; j++)
      if (hit(slices[i], slices[j])) out.push(name + ': donut labels overlap');
    const all = [...ticks.x, ...ticks.y, ...ticks.y2];
    for (const t of all) for (const l of legend) if (hit(t, l)) out.push(name + ': tick label under legend');
    for (const t of all) for (const l of titles) if (hit(t, l)) out.push(name + ': tick label under axis title');
    for (const axis of Object.values(ticks))
      for (let i = 0; i < axis.length; i++) for (let j = i + 1; j < axis.length; j++)
        if (hit(axis[i], axis[j])) out.push(name + ': tick labels overlap');
    out.push('checked ' + name + ' ' + all.length + ' ' + legend.length);
  }
  return out;
}"""


@pytest.mark.parametrize("width", [1440, 390])
def test_chart_labels_do_not_overlap(open_page: Callable[..., PageRecorder], width: int) -> None:
    rec = open_page(width=width, height=900)
    p = rec.page
    expect(p.locator(f"{MONTHLY} .legend .traces")).to_have_count(2)
    # plotly may still be adjusting its margins: wait (with a deadline) for a layout without overlaps
    with contextlib.suppress(PlaywrightTimeout):
        p.wait_for_function(f"() => ({OVERLAPS})().every(r => r.startsWith('checked '))", timeout=5000)
    report = p.evaluate(OVERLAPS)
    problems = [r for r in report if not r.startswith("checked ")]
    checked = [r for r in report if r.startswith("checked ")]
    assert problems == [], problems
    assert len(checked) == 5  # every panel's chart (the donut has no axes or legend, the others no legend)
    assert any(r.startswith("checked monthly_order_volume") and r.endswith(" 2") for r in checked), checked
    # the last month of the monthly chart is partial at the reference date? (2025-05-01: April is complete)
    expect(p.locator(f"{MONTHLY} .chart")).not_to_contain_text("partial month")
    # right-axis ticks and readable axis titles
    assert p.locator(f"{MONTHLY} .y2tick text").count() >= 3
    expect(p.locator(f"{MONTHLY} .g-ytitle")).to_have_text("Order count")
    expect(p.locator(f"{MONTHLY} .g-y2title")).to_have_text("Total revenue")
    expect(p.locator(f"{MONTHLY} .xtick text").first).to_have_text("Jan 2025")
    expect(p.locator(f"{MONTHLY} tbody tr td").first).to_have_text("Jan 2025")  # the same month label
    labels = p.locator("#panel-order_status_summary .slicetext").all_text_contents()
    assert labels and all(t.count(".") == 1 and t.endswith("%") for t in labels), labels  # one decimal each
    if width == 1440:  # the chart as an image
        with p.expect_download() as info:
            p.locator(f"{MONTHLY} .dl-png").click()
        assert info.value.suggested_filename == "monthly_order_volume.png"
        png = Path(info.value.path()).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a drawn chart, not an empty canvas
    assert_clean(rec)


def test_partial_month_and_exact_counts_of_a_large_panel(browser: Any, make_settings: Callable[..., Any],
                                                         tmp_path: Path) -> None:
    import datetime as dt

    from lakebox.lake import Lake
    from lakebox.process.sample import write_sample

    lake = Lake(make_settings(as_of="2025-04-15"))  # April is not over at the reference date
    # thousands of customers: more than the 1,000 rows a panel holds
    write_sample(tmp_path / "many.csv", 8000, dt.date(2025, 4, 15), customers=3000)
    lake.ingest([tmp_path / "many.csv"])
    server = start_live_server(lake)
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US", timezone_id="UTC")
    try:
        rec = record(ctx, server)
        rec.page.goto(server.url + "/")
        chart = rec.page.locator(f"{MONTHLY} .chart")
        expect(chart.locator(".annotation")).to_have_text("partial month")
        # the last segment of each line is dotted: one solid and one dotted trace per series
        assert chart.locator(".scatterlayer .trace").count() == 4
        assert chart.locator(".scatterlayer .js-line[style*='stroke-dasharray']").count() == 2
        # the count is exact (the panel holds 1,000 rows of a result it knows the size of), not "1,000+"
        customers = lake.engine.run_query(
            "SELECT COUNT(DISTINCT customer_id) FROM orders_processed", write_result=False).rows[0][0]
        assert 1000 < customers < 10_000
        sales = rec.page.locator(SALES)
        expect(sales.locator(".stats")).to_contain_text(f"{customers:,} rows")
        expect(sales.locator(".stats")).not_to_contain_text("+")
        expect(sales.locator(".truncated")).to_contain_text(f"Showing the first 1,000 of {customers:,} rows")
        assert_clean(rec)
    finally:
        ctx.close()
        server.stop()


def test_axe_finds_no_serious_or_critical_problem_light_or_dark(open_page: Callable[..., PageRecorder]) -> None:
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    rec = open_page(color_scheme="light")
    p = rec.page
    run_sql(p, STATUSES)  # the editor's result, facets and downloads are scanned too
    for theme in ("light", "dark"):
        expect(p.locator("html")).to_have_attribute("data-theme", theme)
        results = axe.run(p)
        assert results.response["testEngine"]["name"] == "axe-core"
        bad = [(v["id"], v["impact"], [(n["target"], n.get("failureSummary")) for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert bad == [], (theme, bad)
        p.locator("#theme-toggle").click()
    assert_clean(rec)


def test_every_control_works_from_the_keyboard(open_page: Callable[..., PageRecorder]) -> None:
    rec = open_page()
    p = rec.page
    p.locator(f'{SALES} th button[data-column="customer_id"]').focus()
    p.keyboard.press("Enter")
    expect(p.locator(f"{SALES} th").first).to_have_attribute("aria-sort", "ascending")
    expect(p.locator(f'{SALES} th button[data-column="customer_id"]')).to_be_focused()  # focus stays put
    with p.expect_file_chooser() as chooser:
        p.locator("#dropzone").focus()
        p.keyboard.press("Enter")
    assert chooser.value.element.get_attribute("id") == "upload-input"
    run_sql(p, STATUSES)
    p.locator('#sql-result .facet[data-column="order_status"] button', has_text="pending").focus()
    p.keyboard.press("Space")
    expect(p.locator("#sql-result .count")).to_contain_text("of 130 rows")
    p.locator("#sql-editor .cm-content").focus()
    p.keyboard.press("Tab")  # no keyboard trap: Tab leaves the editor
    assert p.evaluate("() => !document.activeElement.closest('#sql-editor')")
    p.locator("#history li button.load").first.focus()
    set_sql(p, "SELECT 1")
    p.locator("#history li button.load").first.focus()
    p.keyboard.press("Enter")
    expect(p.locator("#sql-editor .cm-content")).to_contain_text("SELECT order_id, customer_id, order_status")
    p.locator("#theme-toggle").focus()
    p.keyboard.press("Enter")
    expect(p.locator("html")).to_have_attribute("data-theme", "dark")
    p.locator(f"{SALES} .view-select").focus()
    p.keyboard.press("ArrowDown")  # a native select: the arrow picks the next view
    expect(p.locator(f"{SALES} .view-select")).to_have_value("line")
    assert_clean(rec)


def test_an_empty_lake_says_what_to_do(browser: Any, lake: Any) -> None:
    server = start_live_server(lake)
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", timezone_id="UTC")
    try:
        rec = record(ctx, server)
        rec.page.goto(server.url + "/")
        rec.page.wait_for_function(SETTLED)
        for panel in rec.page.locator("article.panel").all():
            expect(panel.locator(".notice")).to_have_text("No processed data yet — upload a CSV of orders to see "
                                                          "this panel.")
            expect(panel.locator(".dl-csv")).to_have_attribute("aria-disabled", "true")
        expect(rec.page.locator('[data-figure="orders"] .sub')).to_contain_text("upload a CSV")
        expect(rec.page.locator("#runs")).to_contain_text("No runs yet")
        expect(rec.page.locator("#sql-editor")).to_have_attribute("data-completions", "0")
        assert_clean(rec)
    finally:
        ctx.close()
        server.stop()
