"""The Glue crawler's pure decisions (``lakebox.catalog.crawler``): CSV classification, naming, partitions and
table grouping, without a file system or DuckDB.

The rules asserted here come from /work/shared/reference/aws_semantics.md, section 2 (AWS Glue crawler):
2.3 built-in CSV classifier (delimiters, header heuristics, col0.. names, bigint/double/boolean/string types),
2.5 grouping into one table, 2.6 table naming, 2.7 partitions, 2.8 lower-cased column names.
"""

# Rule source: /work/shared/reference/aws_semantics.md, section 2 (AWS Glue crawler, Amazon S3 targets).

from __future__ import annotations

import pytest

from lakebox.catalog.crawler import (
    ColumnDef,
    FileInfo,
    build_table,
    detect_delimiter,
    hive_type,
    infer_csv_schema,
    is_data_file,
    partition_spec,
    sanitize_table_name,
)


def names(cols: list[ColumnDef]) -> list[str]:
    return [c.name for c in cols]


def types(cols: list[ColumnDef]) -> list[str]:
    return [c.type for c in cols]


# --- infer_csv_schema: header detection (aws_semantics.md 2.3) ------------------------------------------------


def test_header_detected_when_some_data_column_is_not_string() -> None:
    cols, has_header = infer_csv_schema([["Name", "Age"], ["alice", "31"], ["bob", "42"]])
    assert has_header is True
    assert names(cols) == ["name", "age"]
    assert types(cols) == ["string", "bigint"]


def test_all_string_file_has_no_header_and_col0_names() -> None:
    # Heuristic 4: the header row is not "sufficiently different" when every column is a string.
    cols, has_header = infer_csv_schema([["Name", "City"], ["alice", "paris"], ["bob", "rome"]])
    assert has_header is False
    assert names(cols) == ["col0", "col1"]
    assert types(cols) == ["string", "string"]


def test_numeric_first_row_is_data() -> None:
    cols, has_header = infer_csv_schema([["1", "2"], ["3", "4.5"]])
    assert has_header is False
    assert names(cols) == ["col0", "col1"]
    assert types(cols) == ["bigint", "double"]


def test_without_header_the_first_row_counts_for_the_types() -> None:
    # "1" makes the first row not all-string, so it is data, and its "x"/"1" join the column types.
    cols, has_header = infer_csv_schema([["x", "1"], ["2", "3"]])
    assert has_header is False
    assert types(cols) == ["string", "bigint"]


def test_header_names_are_trimmed_and_lower_cased_other_characters_kept() -> None:
    cols, has_header = infer_csv_schema([[" Order ID ", "Unit-Price"], ["1", "2.5"]])
    assert has_header is True
    assert names(cols) == ["order id", "unit-price"]


def test_header_with_a_non_string_value_is_data() -> None:
    cols, has_header = infer_csv_schema([["name", "2024"], ["a", "1"], ["b", "2"]])
    assert has_header is False
    assert names(cols) == ["col0", "col1"]
    assert types(cols) == ["string", "bigint"]


def test_header_needs_values_shorter_than_150_except_the_last() -> None:
    long = "x" * 150
    _, has_header = infer_csv_schema([[long, "b"], ["1", "2"]])
    assert has_header is False
    cols, has_header = infer_csv_schema([["a", long], ["1", "2"]])
    assert has_header is True
    assert names(cols) == ["a", long]


def test_trailing_delimiter_empty_last_column_still_allows_a_header() -> None:
    # "To allow for a trailing delimiter, the last column can be empty throughout the file."
    cols, has_header = infer_csv_schema([["id", "name", ""], ["1", "a", ""], ["2", "b", ""]])
    assert has_header is True
    assert names(cols) == ["id", "name", "col2"]
    assert types(cols) == ["bigint", "string", "string"]
    # Trailing delimiter on the data rows only: the header is padded, the extra column is empty.
    cols, has_header = infer_csv_schema([["id", "name"], ["1", "a", ""]])
    assert has_header is True
    assert names(cols) == ["id", "name", "col2"]


def test_empty_header_value_before_the_last_column_means_no_header() -> None:
    cols, has_header = infer_csv_schema([["id", "", "x"], ["1", "a", "b"]])
    assert has_header is False
    assert names(cols) == ["col0", "col1", "col2"]


def test_empty_input() -> None:
    assert infer_csv_schema([]) == ([], False)


# --- infer_csv_schema: types ----------------------------------------------------------------------------------


def test_only_bigint_double_boolean_string_and_dates_stay_string() -> None:
    rows = [
        ["i", "f", "b", "d", "ts", "s"],
        ["1", "1.5", "TRUE", "2025-01-15", "2025-01-15 03:44:40", "x"],
        ["-2", "3", "false", "2025-02-01", "2025-02-01 00:00:00", "y"],
        ["+7", "1e3", "True", "2025-03-01", "2025-03-01 12:00:00", "z"],
    ]
    cols, has_header = infer_csv_schema(rows)
    assert has_header is True
    assert dict((c.name, c.type) for c in cols) == {
        "i": "bigint", "f": "double", "b": "boolean", "d": "string", "ts": "string", "s": "string",
    }


def test_empty_values_do_not_force_string() -> None:
    rows = [["id", "amount", "flag", "blank"], ["1", "", "true", ""], ["", "2.5", "", ""], ["3", "4", "false", " "]]
    cols, has_header = infer_csv_schema(rows)
    assert has_header is True
    assert types(cols) == ["bigint", "double", "boolean", "string"]


def test_mixed_values_become_string_and_int_with_double_becomes_double() -> None:
    cols, _ = infer_csv_schema([["a", "b", "c"], ["1", "1", "true"], ["x", "2.5", "1"]])
    assert types(cols) == ["string", "double", "string"]


def test_integers_beyond_bigint_are_string() -> None:
    cols, has_header = infer_csv_schema([["big", "n"], ["9223372036854775808", "1"]])
    assert has_header is True
    assert types(cols) == ["string", "bigint"]
    cols, _ = infer_csv_schema([["big", "n"], ["-9223372036854775808", "1"]])
    assert types(cols) == ["bigint", "bigint"]


def test_ragged_rows_use_the_widest_row() -> None:
    cols, has_header = infer_csv_schema([["a", "b"], ["1", "2", "3"]])
    assert has_header is False  # the padded header has an empty value and the extra column is not empty
    assert names(cols) == ["col0", "col1", "col2"]
    assert types(cols) == ["string", "string", "bigint"]


# --- detect_delimiter -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("delim", [",", "|", "\t", ";", "\x01"])
def test_detect_delimiter_each_of_glues_delimiters(delim: str) -> None:
    sample = delim.join(["id", "name", "amount"]) + "\n" + delim.join(["1", "a", "2.5"]) + "\n"
    assert detect_delimiter(sample) == delim


def test_detect_delimiter_first_consistent_one_wins() -> None:
    # The comma count differs between lines, the pipe count does not.
    assert detect_delimiter("a|b,c\n1|2,3\n4|5\n") == "|"
    # Both are consistent: comma comes first in Glue's order.
    assert detect_delimiter("a,b|c\n1,2|3\n") == ","


def test_detect_delimiter_falls_back_to_comma() -> None:
    assert detect_delimiter("") == ","
    assert detect_delimiter("single\ncolumn\n") == ","
    assert detect_delimiter("a,b\n1,2,3\n") == ","


def test_detect_delimiter_ignores_blank_lines_and_reads_only_the_first_20() -> None:
    assert detect_delimiter("a;b\n\n1;2\n   \n3;4\n") == ";"
    lines = ["a|b"] * 20 + ["x|y|z|w"]
    assert detect_delimiter("\n".join(lines)) == "|"


# --- sanitize_table_name (aws_semantics.md 2.6) ---------------------------------------------------------------


def test_sanitize_lower_cases_and_replaces_other_characters() -> None:
    assert sanitize_table_name("processed/My-Orders.2025/") == "my_orders_2025"
    assert sanitize_table_name("Sales Data") == "sales_data"
    assert sanitize_table_name("already_ok_123") == "already_ok_123"


def test_sanitize_uses_the_last_folder() -> None:
    assert sanitize_table_name("/a/b/Orders/") == "orders"


def test_sanitize_adds_the_prefix_lower_cased() -> None:
    assert sanitize_table_name("orders", "Dev_") == "dev_orders"


def test_sanitize_truncates_to_128_characters() -> None:
    name = sanitize_table_name("t" * 200, "p_")
    assert len(name) == 128
    assert name.startswith("p_ttt")
    assert len(sanitize_table_name("t" * 128)) == 128


def test_sanitize_empty_folder_becomes_table() -> None:
    assert sanitize_table_name("///") == "table"


# --- partition_spec (aws_semantics.md 2.7) --------------------------------------------------------------------


def test_partition_spec_hive_style_folders() -> None:
    assert partition_spec(["year=2024", "month=01"]) == (["year", "month"], ["2024", "01"])


def test_partition_spec_other_folders_are_partition_i() -> None:
    assert partition_spec(["2024", "01"]) == (["partition_0", "partition_1"], ["2024", "01"])
    assert partition_spec(["Year=2024", "eu"]) == (["year", "partition_1"], ["2024", "eu"])


def test_partition_spec_keys_sanitised_values_raw() -> None:
    assert partition_spec(["Region-Code=EU West"]) == (["region_code"], ["EU West"])
    assert partition_spec(["k=a=b"]) == (["k"], ["a=b"])
    assert partition_spec(["=v"]) == (["partition_0"], ["v"])


def test_partition_spec_no_folders() -> None:
    assert partition_spec([]) == ([], [])


# --- build_table (aws_semantics.md 2.5, 2.7) ------------------------------------------------------------------


def _file(key: str, cols: dict[str, str], rows: int = 1, size: int = 10, fmt: str = "csv") -> FileInfo:
    return FileInfo(key, size, "etag", rows, tuple(ColumnDef(n, t) for n, t in cols.items()), fmt)


def test_build_table_without_files_is_none() -> None:
    assert build_table("db", "t", "processed/t/", []) is None


def test_build_table_flat_folder() -> None:
    t = build_table("db", "orders", "processed/orders/", [
        _file("processed/orders/b.csv", {"id": "bigint", "name": "string"}, rows=2, size=20),
        _file("processed/orders/a.csv", {"id": "bigint", "name": "string"}, rows=3, size=30),
    ])
    assert t is not None
    assert (t.database, t.name, t.location, t.format) == ("db", "orders", "processed/orders/", "csv")
    assert t.columns == [ColumnDef("id", "bigint"), ColumnDef("name", "string")]
    assert t.partition_keys == [] and t.partitions == []
    assert t.files == ["processed/orders/a.csv", "processed/orders/b.csv"]  # sorted by key
    assert (t.file_count, t.row_count, t.size_bytes) == (2, 5, 50)
    assert t.parameters == {"classification": "csv", "typeOfData": "file", "objectCount": "2",
                            "recordCount": "5", "sizeKey": "50"}


def test_build_table_partitions_union_of_columns_and_conflicts() -> None:
    t = build_table("db", "t", "p/t/", [
        _file("p/t/year=2024/month=01/a.csv", {"id": "bigint", "x": "string"}, rows=3, size=10),
        _file("p/t/year=2024/month=02/b.csv", {"id": "double", "y": "bigint"}, rows=4, size=20),
        _file("p/t/year=2023/month=12/c.csv", {"id": "bigint", "year": "string"}, rows=1, size=5),
    ], parameters={"field.delim": ","})
    assert t is not None
    # First-seen order over files sorted by key; id seen as bigint and double -> string; the partition key
    # "year" is not repeated as a data column.
    assert t.columns == [ColumnDef("id", "string"), ColumnDef("x", "string"), ColumnDef("y", "bigint")]
    assert t.partition_keys == [ColumnDef("year", "string"), ColumnDef("month", "string")]
    assert [(p.values, p.location, p.file_count, p.row_count, p.size_bytes) for p in t.partitions] == [
        (("2023", "12"), "p/t/year=2023/month=12/", 1, 1, 5),
        (("2024", "01"), "p/t/year=2024/month=01/", 1, 3, 10),
        (("2024", "02"), "p/t/year=2024/month=02/", 1, 4, 20),
    ]
    assert (t.file_count, t.row_count, t.size_bytes) == (3, 8, 35)
    assert t.parameters["recordCount"] == "8" and t.parameters["objectCount"] == "3"
    assert t.parameters["field.delim"] == ","


def test_build_table_files_in_one_partition_are_summed() -> None:
    t = build_table("db", "t", "p/t/", [
        _file("p/t/dt=2025-01-01/a.parquet", {"v": "int"}, rows=2, size=7, fmt="parquet"),
        _file("p/t/dt=2025-01-01/b.parquet", {"v": "int"}, rows=5, size=9, fmt="parquet"),
    ])
    assert t is not None and t.format == "parquet"
    assert len(t.partitions) == 1
    p = t.partitions[0]
    assert (p.values, p.file_count, p.row_count, p.size_bytes) == (("2025-01-01",), 2, 7, 16)


def test_build_table_plain_folders_and_files_above_the_partition_depth() -> None:
    t = build_table("db", "t", "p/t/", [
        _file("p/t/eu/x.parquet", {"a": "int"}, rows=1, fmt="parquet"),
        _file("p/t/top.parquet", {"a": "int"}, rows=2, fmt="parquet"),
    ])
    assert t is not None
    assert t.partition_keys == [ColumnDef("partition_0", "string")]
    assert [(p.values, p.location) for p in t.partitions] == [(("",), "p/t/"), (("eu",), "p/t/eu/")]


def test_schema_fingerprint_tracks_columns_and_partition_keys() -> None:
    a = build_table("db", "t", "p/t/", [_file("p/t/a.csv", {"id": "bigint"})])
    b = build_table("db", "t", "p/t/", [_file("p/t/a.csv", {"id": "string"})])
    c = build_table("db", "t", "p/t/", [_file("p/t/a.csv", {"id": "bigint"}, rows=9)])
    assert a is not None and b is not None and c is not None
    assert a.schema_fingerprint() != b.schema_fingerprint()
    assert a.schema_fingerprint() == c.schema_fingerprint()


# --- hive_type (aws_semantics.md 2.4) and is_data_file --------------------------------------------------------


@pytest.mark.parametrize(("duck", "hive"), [
    ("VARCHAR", "string"),
    ("BIGINT", "bigint"),
    ("INTEGER", "int"),
    ("SMALLINT", "smallint"),
    ("TINYINT", "tinyint"),
    ("DOUBLE", "double"),
    ("FLOAT", "float"),
    ("BOOLEAN", "boolean"),
    ("DATE", "date"),
    ("TIMESTAMP", "timestamp"),
    ("TIMESTAMP_NS", "timestamp"),
    ("TIMESTAMP WITH TIME ZONE", "timestamp"),
    ("BLOB", "binary"),
    ("UBIGINT", "bigint"),
    ("HUGEINT", "decimal(38,0)"),
    ("DECIMAL(12, 2)", "decimal(12,2)"),
    ("decimal(38,0)", "decimal(38,0)"),
    ("INTEGER[]", "array<int>"),
    ("VARCHAR[][]", "array<array<string>>"),
    (" double ", "double"),
    ("STRUCT(a INTEGER)", "string"),
])
def test_hive_type(duck: str, hive: str) -> None:
    assert hive_type(duck) == hive


@pytest.mark.parametrize(("key", "expected"), [
    ("processed/orders/a.csv", True),
    ("a.parquet", True),
    ("processed/orders/_SUCCESS", False),
    ("processed/orders/_tmp.csv", False),
    ("processed/orders/.part-0001.parquet.tmp", False),
    ("processed/orders/", False),
    ("processed/_meta/a.csv", False),  # a hidden folder hides what is inside it (Hadoop path filter)
])
def test_is_data_file(key: str, expected: bool) -> None:
    assert is_data_file(key) is expected
