"""Settings layering: defaults < lakebox.toml < LAKEBOX_* env < CLI flags, with clear errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lakebox.config import SETTINGS, ConfigError, Settings, load_settings


def test_defaults() -> None:
    s = load_settings({}, env={})
    assert s.lake == "lake" and s.host == "127.0.0.1" and s.database == "orders_db" and s.table_prefix == "orders_"
    assert s.output_format == "parquet" and s.as_of is None
    assert [d.name for d in s.datasets] == ["orders"]


def test_every_setting_has_help_and_a_field() -> None:
    fields = set(Settings.__dataclass_fields__)
    for st in SETTINGS:
        assert st.help and st.name in fields


def test_layers_in_order(tmp_path: Path) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text('port = 6000\nhost = "127.0.0.2"\nas_of = "2025-01-02"\ndatabase = "from_file"\n')
    env = {"LAKEBOX_PORT": "7000", "LAKEBOX_DATABASE": "from_env"}
    s = load_settings({"port": 8000, "host": None}, env=env, config_file=cfg)
    assert s.port == 8000 and s.sources["port"] == "command line"
    assert s.database == "from_env" and s.sources["database"] == "env LAKEBOX_DATABASE"
    assert s.host == "127.0.0.2" and s.sources["host"] == str(cfg)
    assert s.as_of == dt.date(2025, 1, 2)


def test_reference_date_defaults_to_today_utc() -> None:
    s = load_settings({}, env={})
    assert s.reference_date(dt.date(2030, 1, 1)) == dt.date(2030, 1, 1)
    assert load_settings({"as_of": "2025-05-01"}, env={}).reference_date() == dt.date(2025, 5, 1)


@pytest.mark.parametrize("cli,env,text", [
    ({"as_of": "2025-13-01"}, {}, "as_of"),
    ({}, {"LAKEBOX_PORT": "abc"}, "LAKEBOX_PORT"),
    ({"output_format": "xml"}, {}, "output_format"),
    ({}, {"LAKEBOX_DELETE_OUTPUTS_ON_RAW_DELETE": "maybe"}, "true/false"),
])
def test_bad_values_name_the_setting_and_source(cli: dict, env: dict, text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        load_settings(cli, env=env)


def test_unknown_key_in_file(tmp_path: Path) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings({}, env={}, config_file=cfg)


def test_dataset_mapping_from_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text(
        '[datasets.orders]\nkeep_source_names = true\n\n'
        '[datasets.refunds]\nraw_prefix = "raw/refunds/"\nprocessed_prefix = "refunds/"\ndrop_rule = false\n'
        '[datasets.refunds.columns]\nrefund_id = "RefundID"\namount = { source = "Amt", type = "decimal(10,2)" }\n'
    )
    s = load_settings({}, env={}, config_file=cfg)
    orders, refunds = s.datasets
    assert [c.name for c in orders.columns] == ["OrderID", "Customer", "Amount", "Status", "OrderDate"]
    assert orders.drop_rule.status_column == "Status"
    assert refunds.drop_rule is None and refunds.column("amount").type == "decimal(10,2)"
    assert refunds.output_key("raw/refunds/2025/a.csv", "parquet") == "refunds/2025/a.parquet"
