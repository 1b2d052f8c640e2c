"""Profiles: named starting points for a lake, a layer between the defaults and ``lakebox.toml``.

``typed`` is lakebox's default: the processor casts the original's columns (``order_amount decimal(12,2)``,
``order_date date``) under snake-case names, so the original README's queries run as written.

``glue-crawler`` is the pipeline as most people built it on AWS: the Lambda writes the rows as CSV with the
source header and values untouched, and a Glue crawler without a table prefix types the folder, so the table is
``processed(orderid string, customer string, amount double, status string, orderdate string)`` with Glue's CSV
classifier's types (docs/athena-fidelity.md, "Glue-faithful datasets").

Each profile is the text of a commented ``lakebox.toml`` (what ``lakebox init`` writes); applying a profile
without a file reads the same text, so the file and ``--profile`` can never disagree.
"""

from __future__ import annotations

from typing import Any, Literal

Profile = Literal["typed", "glue-crawler"]

_TYPED = '''\
# lakebox.toml, profile "typed" (lakebox init --profile typed). Every setting: `lakebox settings`.
# Layers: defaults < this file < LAKEBOX_* environment variables < command-line flags.

# The reference date of the 30-day rule (pending/cancelled orders this old are dropped); unset: today (UTC).
# as_of = "2025-05-01"

# The Glue database and the crawler's table prefix: processed/ becomes orders_db.orders_processed.
database = "orders_db"
table_prefix = "orders_"

# Format of processed/ objects: parquet (typed, compact) or csv.
output_format = "parquet"

[datasets.orders]
# keep_source_names = true          # name output columns exactly as the CSV header does
# glue_csv = true                   # Glue-faithful: see `lakebox init --profile glue-crawler`

# The original's header OrderID,Customer,Amount,Status,OrderDate, typed under snake-case names.
[datasets.orders.columns]
order_id = "OrderID"
customer_id = "Customer"                                       # { source = "Customer", trim = true } strips spaces
order_amount = { source = "Amount", type = "decimal(12,2)" }
order_status = { source = "Status", lower = true }             # trimmed and lower-cased
order_date = { source = "OrderDate", type = "date" }           # date_format = "%d/%m/%Y" for other layouts

# The original Lambda's rule: drop orders in these statuses that are min_age_days or more old.
[datasets.orders.drop_rule]
statuses = ["pending", "cancelled"]
min_age_days = 30
'''

_GLUE_CRAWLER = '''\
# lakebox.toml, profile "glue-crawler" (lakebox init --profile glue-crawler). Every setting: `lakebox settings`.
# Layers: defaults < this file < LAKEBOX_* environment variables < command-line flags.
#
# The pipeline as it ran on AWS: the Lambda writes CSV with the source header and the values as written, and a
# Glue crawler (no table prefix) types processed/ with Glue's CSV classifier, giving the table
#   orders_db.processed(orderid string, customer string, amount double, status string, orderdate string)
# so Athena SQL written for that table runs unchanged: SELECT Customer, ROUND(SUM(Amount), 2) FROM "processed"
# GROUP BY Customer. Dates stay strings, as Glue types them: date_parse(orderdate, '%Y-%m-%d') or
# CAST(orderdate AS DATE) to use them as dates.

# The reference date of the 30-day rule (pending/cancelled orders this old are dropped); unset: today (UTC).
# as_of = "2025-05-01"

# The Glue database; no table prefix, so processed/ becomes the table "processed", as a crawler names it.
database = "orders_db"
table_prefix = ""
profile = "glue-crawler"       # `lakebox settings` shows where each value comes from

[datasets.orders]
glue_csv = true              # CSV out, no casting, source column names; the crawler does the typing
keep_source_names = true     # columns keep the source header's names (OrderID, Customer, ...)

# The original Lambda's rule: drop orders in these statuses that are min_age_days or more old.
[datasets.orders.drop_rule]
statuses = ["pending", "cancelled"]
min_age_days = 30
'''

PROFILES: dict[str, str] = {"typed": _TYPED, "glue-crawler": _GLUE_CRAWLER}


def profile_toml(name: str) -> str:
    """The commented ``lakebox.toml`` of profile ``name`` (a key of :data:`PROFILES`)."""
    return PROFILES[name]


def profile_document(name: str) -> dict[str, Any]:
    """Profile ``name`` as the parsed document of its ``lakebox.toml``."""
    import tomllib  # only for a profile other than the default (whose values are the defaults)

    return tomllib.loads(PROFILES[name])
