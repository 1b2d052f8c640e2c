"""The S3 event model: every record, form-encoded keys, the test event."""

from __future__ import annotations

import pytest

from lakebox.core.errors import InvalidInputError
from lakebox.events import EventError, build_event, build_record, matches_trigger, parse_event
from lakebox.lake import Lake


def test_round_trip_with_url_encoded_keys() -> None:
    ev = build_event(build_record("raw/red flower+1 é.csv", size=10, etag='"abc"'),
                     build_record("raw/b.csv", size=1))
    assert ev["Records"][0]["s3"]["object"]["key"] == "raw/red+flower%2B1+%C3%A9.csv"
    recs = list(parse_event(ev))
    assert [r.key for r in recs] == ["raw/red flower+1 é.csv", "raw/b.csv"]
    assert recs[0].etag == "abc" and recs[0].is_created
    assert "versionId" not in ev["Records"][0]["s3"]["object"]


def test_test_event_has_no_records() -> None:
    assert list(parse_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})) == []


@pytest.mark.parametrize("bad", [{}, {"Records": [{"eventSource": "aws:sqs"}]}, {"Records": [{"eventSource": "aws:s3"}]},
                                 [1, 2]])
def test_bad_events_are_clear_errors(bad: object) -> None:
    with pytest.raises(EventError) as info:
        list(parse_event(bad))  # type: ignore[arg-type]
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, ValueError)
    assert (info.value.code, info.value.http_status) == ("InvalidEvent", 400)


def test_record_region_follows_the_lake() -> None:
    assert build_record("raw/a.csv", region="eu-west-2")["awsRegion"] == "eu-west-2"
    assert build_record("raw/a.csv", region=None)["awsRegion"] == "us-east-1"  # a folder lake: S3's default


def test_trigger_filter() -> None:
    assert matches_trigger("raw/a.csv") and not matches_trigger("processed/a.csv")
    assert not matches_trigger("raw/a.CSV") and not matches_trigger("raw/.lakebox-tmp-1-a.csv.tmp")


def test_handler_processes_every_record(lake: Lake) -> None:
    body = b"OrderID,Customer,Amount,Status,OrderDate\nO1,Bob,1,shipped,2025-04-01\n"
    lake.store.put_object("raw/one file.csv", body)
    lake.store.put_object("raw/two.csv", body)
    runs = lake.handle_event(build_event(build_record("raw/one file.csv"), build_record("raw/two.csv"),
                                         build_record("raw/gone.csv", event_name="ObjectRemoved:Delete")))
    assert [r.status for r in runs] == ["ok", "ok"]
    assert lake.catalog.get_table("orders_db", "orders_processed").row_count == 2
    assert lake.handle_event({"Event": "s3:TestEvent"}) == []


def test_lambda_handler_entry_point(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakebox.process.handler import lambda_handler

    monkeypatch.setenv("LAKEBOX_LAKE", lake.settings.lake)
    monkeypatch.setenv("LAKEBOX_AS_OF", "2025-05-01")
    lake.store.put_object("raw/x.csv", b"OrderID,Customer,Amount,Status,OrderDate\nO1,Bob,1,pending,2025-01-01\n")
    out = lambda_handler(build_event(build_record("raw/x.csv")), None)
    assert out["status"] == "ok" and out["runs"][0]["rows_dropped"] == 1
    assert lambda_handler({"Service": "Amazon S3", "Event": "s3:TestEvent"}, None)["runs"] == []
