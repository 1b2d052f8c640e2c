"""The dashboard in real headless Chromium (Debian's, driven by Playwright) against a live waitress server.

The screenshots in docs/screenshots/ come from ``python scripts/screenshots.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["web_fixtures"]
pytest.register_assert_rewrite("web_fixtures")

from web_fixtures import XSS_NAME, LiveServer, PageRecorder, set_sql, write_csv  # noqa: E402

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

NAMES = ["total_sales_by_customer", "monthly_order_volume", "order_status_summary",
         "average_order_value_by_customer", "top_orders_february_2025"]


def open_dashboard(rec: PageRecorder, server: LiveServer) -> None:
    rec.page.goto(server.url + "/")
    for name in NAMES:
        expect(rec.page.locator(f"#panel-{name}")).to_have_attribute("data-state", "ready")


def figure(rec: PageRecorder, key: str) -> object:
    return rec.page.locator(f'[data-figure="{key}"] .value')


def assert_clean(rec: PageRecorder) -> None:
    assert rec.dialogs == [], rec.dialogs
    assert rec.errors == [], rec.errors
    assert rec.foreign == [], f"requests left the server: {rec.foreign}"


def test_overview_and_all_five_panels_with_charts(page: PageRecorder, live_server: LiveServer,
                                                  tmp_path: Path) -> None:
    open_dashboard(page, live_server)
    p = page.page
    expect(figure(page, "orders")).to_have_text("130")
    expect(figure(page, "revenue")).to_have_text("$34,663.27")
    expect(figure(page, "average_order_value")).to_have_text("$266.64")
    expect(figure(page, "customers")).to_have_text("5")
    expect(figure(page, "removed_share")).to_have_text("35.0%")
    expect(figure(page, "last_arrival")).not_to_have_text("–")
    for name in NAMES:
        panel = p.locator(f"#panel-{name}")
        expect(panel.locator(".chart .main-svg").first).to_be_visible()  # plotly drew an SVG
        assert panel.locator("tbody tr").count() >= 4
        expect(panel.locator(".stats")).to_contain_text("scanned")
        expect(panel.locator("details.sql-src pre")).to_be_hidden()  # SQL is collapsed
    # chart types follow the hints: bars, a line, a donut
    expect(p.locator("#panel-total_sales_by_customer .chart g.barlayer .point").first).to_be_visible()
    expect(p.locator("#panel-monthly_order_volume .chart g.scatterlayer .trace")).to_have_count(2)
    expect(p.locator("#panel-order_status_summary .chart g.pielayer .slice")).to_have_count(4)
    # the SQL opens, the table sorts, thousands separators
    p.locator("#panel-total_sales_by_customer details.sql-src summary").click()
    expect(p.locator("#panel-total_sales_by_customer details.sql-src pre")).to_contain_text("SUM(order_amount)")
    first = p.locator("#panel-total_sales_by_customer tbody tr").first
    expect(first.locator("td").nth(1)).to_have_text("$10,328.04")  # money, in the browser's locale
    sort = p.locator('#panel-total_sales_by_customer th button[data-column="total_sales"]')
    expect(sort).to_have_text("Total sales↕")  # a readable label; the raw name is in the tooltip
    assert "total_sales" in (sort.get_attribute("title") or "")
    sort.click()  # numeric: descending
    sort.click()  # then ascending
    expect(first.locator("td").first).to_have_text("Diana")
    expect(p.locator("#panel-total_sales_by_customer th").nth(1)).to_have_attribute("aria-sort", "ascending")
    # pipeline view
    expect(p.locator("#runs tbody tr")).to_have_count(1)
    expect(p.locator("#runs")).to_contain_text("raw/orders.csv")
    expect(p.locator("#tables")).to_contain_text("orders_db.orders_processed")
    expect(p.locator("#quarantine")).to_contain_text("No quarantined rows")
    # downloads point at the API
    href = p.locator("#panel-top_orders_february_2025 .dl-csv").get_attribute("href")
    assert href == "/api/queries/top_orders_february_2025.csv?month=2025-02"
    assert_clean(page)


def test_changing_the_month_changes_the_top_orders_table(page: PageRecorder, live_server: LiveServer) -> None:
    open_dashboard(page, live_server)
    p = page.page
    panel = p.locator("#panel-top_orders_february_2025")
    dates = panel.locator("tbody tr td:nth-child(3)")  # the original order: id, customer, date, amount, status
    expect(dates.first).to_contain_text("2025-02-")
    feb_ids = panel.locator("tbody tr td:first-child").all_text_contents()
    panel.locator('input[name="month"]').fill("2025-03")
    expect(dates.first).to_contain_text("2025-03-")
    expect(panel).to_have_attribute("data-state", "ready")
    assert all(d.startswith("2025-03-") for d in dates.all_text_contents())
    assert panel.locator("tbody tr td:first-child").all_text_contents() != feb_ids
    assert panel.locator(".dl-csv").get_attribute("href").endswith("month=2025-03")
    panel.locator('input[name="month"]').fill("2031-07")  # a month with no orders
    expect(panel).to_have_attribute("data-state", "empty")
    expect(panel.locator(".notice")).to_have_text("No orders in July 2031 — pick another month or upload data.")
    expect(panel.locator(".dl-csv")).to_have_attribute("aria-disabled", "true")
    assert_clean(page)


def test_upload_updates_figures_and_charts_without_reload(page: PageRecorder, live_server: LiveServer,
                                                           tmp_path: Path) -> None:
    open_dashboard(page, live_server)
    p = page.page
    p.evaluate("window.__sameDocument = true")
    src = write_csv(tmp_path / "april.csv", [
        ("A1", "Zoe Upload", "90000.00", "shipped", "2025-04-20"),
        ("A2", "Zoe Upload", "10000.00", "confirmed", "2025-04-21"),
        ("A3", "Bob", "1.00", "shipped", "2025-04-22"),
        ("A4", "Bad Row", "not-a-number", "shipped", "2025-04-22"),
    ])
    p.locator("#upload-input").set_input_files(str(src))
    expect(p.locator("#upload-result")).to_have_attribute("data-state", "ok")
    expect(p.locator("#upload-result")).to_contain_text("raw/april.csv")
    expect(p.locator("#upload-result")).to_contain_text("1 quarantined")
    expect(figure(page, "orders")).to_have_text("133")
    expect(figure(page, "customers")).to_have_text("6")
    sales = p.locator("#panel-total_sales_by_customer")
    expect(sales.locator("tbody tr").first.locator("td").first).to_have_text("Zoe Upload")
    expect(sales.locator(".chart")).to_contain_text("Zoe Upload")  # the bar chart was redrawn
    expect(p.locator("#quarantine")).to_contain_text("not-a-number")
    expect(p.locator("#runs")).to_contain_text("raw/april.csv")
    assert p.evaluate("window.__sameDocument") is True  # no reload happened
    assert_clean(page)


def test_open_page_follows_new_data_processed_elsewhere(page: PageRecorder, live_server: LiveServer,
                                                        tmp_path: Path) -> None:
    """A file processed outside the page (the watcher, the CLI) shows up by itself: the page polls."""
    open_dashboard(page, live_server)
    p = page.page
    p.evaluate("window.__sameDocument = true")
    version = p.evaluate("document.body.dataset.version")
    live_server.lake.ingest([write_csv(tmp_path / "late.csv", [("L1", "Late Larry", "5.00", "shipped",
                                                                 "2025-04-30")])])
    expect(figure(page, "orders")).to_have_text("131")
    expect(p.locator("#panel-monthly_order_volume tbody")).to_contain_text("48")  # April: 47 -> 48 orders
    assert p.evaluate("document.body.dataset.version") != version
    assert p.evaluate("window.__sameDocument") is True
    assert_clean(page)


def test_hostile_customer_name_is_text_and_runs_nothing(page: PageRecorder, live_server: LiveServer,
                                                        tmp_path: Path) -> None:
    live_server.lake.ingest([write_csv(tmp_path / "xss.csv", [("X1", XSS_NAME, "99999.00", "shipped",
                                                                "2025-02-11")])])
    open_dashboard(page, live_server)
    p = page.page
    sales = p.locator("#panel-total_sales_by_customer")
    expect(sales.locator("tbody tr").first.locator("td").first).to_have_text(XSS_NAME)
    expect(p.locator("#panel-top_orders_february_2025 tbody")).to_contain_text(XSS_NAME)
    expect(sales.locator(".chart")).to_contain_text(XSS_NAME)  # the chart label is text too
    # the editor shows hostile values as text as well
    set_sql(p, "SELECT customer_id, '<script>alert(2)</script>' AS s FROM orders_processed WHERE order_id = 'X1'")
    p.locator("#sql-run").click()
    expect(p.locator("#sql-result")).to_have_attribute("data-state", "ok")
    expect(p.locator("#sql-result tbody")).to_contain_text("<script>alert(2)</script>")
    assert p.locator("img").count() == 0
    assert p.locator("main script, table script").count() == 0
    assert p.evaluate("document.querySelectorAll('[onerror]').length") == 0
    assert_clean(page)


@pytest.mark.parametrize("sql", [
    "COPY orders_processed TO '/tmp/lakebox-stolen.csv'",
    "ATTACH '/tmp/lakebox-other.duckdb' AS other",
    "INSTALL httpfs",
    "SET enable_external_access = true",
    "SELECT * FROM read_csv('/etc/passwd')",
])
def test_sql_editor_refuses_unsafe_statements(page: PageRecorder, live_server: LiveServer, sql: str) -> None:
    open_dashboard(page, live_server)
    p = page.page
    set_sql(p, sql)
    p.locator("#sql-editor .cm-content").press("Control+Enter")
    expect(p.locator("#sql-result")).to_have_attribute("data-state", "error")
    error = p.locator("#sql-error")
    expect(error).to_be_visible()
    text = error.text_content() or ""
    assert any(t in text for t in ("NOT_SUPPORTED", "FUNCTION_NOT_FOUND", "PERMISSION_DENIED")), text
    assert "Traceback" not in text and "root:" not in text
    assert p.locator("#sql-result tbody tr").count() == 0
    assert not Path("/tmp/lakebox-stolen.csv").exists()
    # and a read-only query still works afterwards
    set_sql(p, "SELECT order_status, COUNT(*) AS n FROM orders_processed GROUP BY 1 ORDER BY 1")
    p.locator("#sql-run").click()
    expect(p.locator("#sql-result")).to_have_attribute("data-state", "ok")
    expect(error).to_be_hidden()
    expect(p.locator("#sql-result tbody tr")).to_have_count(4)
    assert_clean(page)
