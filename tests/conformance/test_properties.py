"""lakebox against an independent model of Trino (``trino_model``): random expressions over the supported
numeric, string and date functions give the model's value, or fail with the model's error."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from conformance.trino_model import Err, Expr, NullOrErr, expressions


def _check(engine: Any, e: Expr) -> None:
    res = engine.run_query(f"SELECT {e.sql}", write_result=False)
    if isinstance(e.value, NullOrErr):
        ok = (res.state == "SUCCEEDED" and res.text_rows() == [[None]]) or (
            res.state == "FAILED" and res.error.error_type == e.value.kind)
        assert ok, f"{e.sql}: Trino gives NULL or {e.value.kind}, lakebox {res.error or res.text_rows()}"
        return
    if isinstance(e.value, Err):
        assert res.state == "FAILED", f"{e.sql}: Trino fails with {e.value.kind}, lakebox gave {res.text_rows()}"
        assert res.error.error_type == e.value.kind, f"{e.sql}: {res.error}"
        return
    assert res.state == "SUCCEEDED", f"{e.sql}: {res.error}"
    assert res.text_rows() == [[e.text()]], f"{e.sql}: Trino gives {e.text()!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(depth=2))
def test_expressions_match_the_model(engine: Any, e: Expr) -> None:
    _check(engine, e)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(depth=3))
def test_many_expressions_match_the_model(engine: Any, e: Expr) -> None:
    _check(engine, e)
