"""Trino's signatures of the functions whose argument types lakebox checks, the one table behind every
"Unexpected parameters for function f. Expected: ..." message (whether the check runs at translation, in
``trino_functions``, or inside a DuckDB macro, read back by ``duck_errors``). The text is Trino's own, as
Athena engine v3 prints it.
"""

from __future__ import annotations

EXPECTED: dict[str, str] = {
    "date_format": "date_format(timestamp(p), varchar(x)) , date_format(timestamp(p) with time zone, varchar(x))",
    "format_datetime": "format_datetime(timestamp(p), varchar(x)) , "
                       "format_datetime(timestamp(p) with time zone, varchar(x))",
    "date_trunc": "date_trunc(varchar(x), date) , date_trunc(varchar(x), time(p)) , "
                  "date_trunc(varchar(x), timestamp(p)) , date_trunc(varchar(x), timestamp(p) with time zone)",
    "to_unixtime": "to_unixtime(timestamp(p)) , to_unixtime(timestamp(p) with time zone)",
    "date_add": "date_add(varchar(x), bigint, date) , date_add(varchar(x), bigint, timestamp(p)) , "
                "date_add(varchar(x), bigint, timestamp(p) with time zone)",
    "date_diff": "date_diff(varchar(x), date, date) , date_diff(varchar(x), timestamp(p), timestamp(p)) , "
                 "date_diff(varchar(x), timestamp(p) with time zone, timestamp(p) with time zone)",
}
