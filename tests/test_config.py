"""Settings layering: defaults < lakebox.toml < LAKEBOX_* env < CLI flags, with clear errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from lakebox.config import BY_NAME, SETTINGS, ConfigError, Settings, load_settings
from lakebox.core.errors import LakeboxError


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


# --- one declaration per setting --------------------------------------------------------------------------


def test_settings_table_is_derived_from_the_dataclass() -> None:
    declared = [f.name for f in dataclasses.fields(Settings) if "help" in f.metadata]
    assert [s.name for s in SETTINGS] == declared and len(declared) >= 24
    for st in SETTINGS:
        assert st.default == Settings.__dataclass_fields__[st.name].default
        assert st.env == f"LAKEBOX_{st.name.upper()}"
    assert BY_NAME["engine"].choices == ("duckdb", "athena")
    assert BY_NAME["catalog"].choices == ("local", "glue")
    assert BY_NAME["output_format"].choices == ("parquet", "csv")
    assert BY_NAME["port"].kind is int and not BY_NAME["port"].optional
    assert BY_NAME["as_of"].kind is dt.date and BY_NAME["as_of"].optional


@pytest.mark.parametrize("env,text", [
    ({"LAKEBOX_ENGINE": "presto"}, "engine must be duckdb or athena, not 'presto'"),
    ({"LAKEBOX_CATALOG": "hive"}, "catalog must be local or glue"),
    ({"LAKEBOX_PORT": "0"}, "port must be 1..65535"),
    ({"LAKEBOX_WORKERS": "0"}, "workers must be at least 1"),
    ({"LAKEBOX_THREADS": "-1"}, "threads must be at least 0"),
    ({"LAKEBOX_RETRY_DELAYS": "1,soon"}, "'soon' is not a number of seconds >= 0"),
    ({"LAKEBOX_RETRY_DELAYS": "5,-1"}, "'-1' is not a number of seconds >= 0"),
])
def test_choices_and_bounds_come_from_the_declaration(env: dict, text: str) -> None:
    with pytest.raises(ConfigError, match=text) as info:
        load_settings({}, env=env)
    assert next(iter(env)) in str(info.value)


def test_flags_on_top_of_resolved_settings_are_checked() -> None:
    base = load_settings({}, env={"LAKEBOX_PORT": "7000"})
    assert base.with_flags({"port": None}) is base
    top = base.with_flags({"port": "8000"})
    assert top.port == 8000 and top.sources["port"] == "command line" and base.port == 7000
    with pytest.raises(ConfigError, match="--engine"):
        base.with_flags({"engine": "presto"})


def test_config_error_is_a_lakebox_input_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"port": "x"}, env={})
    assert isinstance(info.value, LakeboxError) and isinstance(info.value, ValueError)
    assert info.value.exit_code == 2 and info.value.http_status == 400


# --- unknown keys, everywhere, with the nearest valid key ---------------------------------------------------


@pytest.mark.parametrize("text,where,hint", [
    ("prot = 1\n", "unknown setting 'prot'", "did you mean 'port'?"),
    ("[lakebox]\nengin = 'athena'\n", "unknown setting 'engin'", "did you mean 'engine'?"),
    ("[lakebox]\nengine = 'athena'\n[datasetz.orders]\n", "unknown table 'datasetz'", "did you mean 'datasets'?"),
    ("[dataset.orders]\nglue_csv = true\n", "unknown setting 'dataset'", "did you mean 'datasets'?"),
    ("[datasets.orders]\nraw_prefx = 'raw/'\n", "[datasets.orders]: unknown key 'raw_prefx'",
     "did you mean 'raw_prefix'?"),
    ("[datasets.orders.columns]\norder_id = { sorce = 'OrderID' }\n",
     "[datasets.orders.columns.order_id]: unknown key 'sorce'", "did you mean 'source'?"),
    ("[datasets.orders.drop_rule]\nmin_age_day = 3\n", "[datasets.orders.drop_rule]: unknown key 'min_age_day'",
     "did you mean 'min_age_days'?"),
    ("[datasets.orders]\nzzzz = 1\n", "unknown key 'zzzz'", "valid: columns, delimiter, drop_rule"),
])
def test_unknown_keys_name_the_file_the_key_and_the_nearest_valid_key(
    tmp_path: Path, text: str, where: str, hint: str
) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings({}, env={}, config_file=cfg)
    message = str(info.value)
    assert message.startswith(str(cfg)) and where in message and hint in message, message


@pytest.mark.parametrize("text,reason", [
    ("[datasets.orders]\ncolumns = 3\n", "columns must be a table"),
    ("[datasets.orders.columns]\norder_id = 3\n", "expected a source name or a table"),
    ("[datasets.orders]\ndrop_rule = 'old'\n", "drop_rule must be false or a table"),
    ("[datasets.orders]\noutput_format = 'xml'\n", "output_format must be parquet or csv"),
    ("datasets = 1\n", "datasets must be tables"),
])
def test_malformed_dataset_tables_are_clear_errors(tmp_path: Path, text: str, reason: str) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=reason) as info:
        load_settings({}, env={}, config_file=cfg)
    assert str(cfg) in str(info.value)


def test_drop_rule_true_keeps_the_default_rule(tmp_path: Path) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text("[datasets.orders]\ndrop_rule = true\n")
    (orders,) = load_settings({}, env={}, config_file=cfg).datasets
    assert orders.drop_rule is not None and orders.drop_rule.statuses == ("pending", "cancelled")


# --- the region: flag, lakebox layers, then AWS_REGION, AWS_DEFAULT_REGION, then boto3's chain ----------------


@pytest.mark.parametrize("cli,env,region,source", [
    ({"region": "eu-west-2"}, {"LAKEBOX_REGION": "eu-west-1", "AWS_REGION": "us-west-1"}, "eu-west-2",
     "command line"),
    ({}, {"LAKEBOX_REGION": "eu-west-1", "AWS_REGION": "us-west-1"}, "eu-west-1", "env LAKEBOX_REGION"),
    ({}, {"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "eu-central-1"}, "ap-south-1", "env AWS_REGION"),
    ({}, {"AWS_DEFAULT_REGION": "eu-central-1"}, "eu-central-1", "env AWS_DEFAULT_REGION"),
    ({}, {"AWS_REGION": ""}, None, "default"),
    ({}, {}, None, "default"),
])
def test_region_resolution(cli: dict, env: dict, region: str | None, source: str) -> None:
    s = load_settings(cli, env=env)
    assert s.region == region and s.sources["region"] == source


def test_region_from_the_file_beats_the_generic_aws_variables(tmp_path: Path) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text('region = "sa-east-1"\n')
    s = load_settings({}, env={"AWS_REGION": "us-west-1"}, config_file=cfg)
    assert s.region == "sa-east-1" and s.sources["region"] == str(cfg)


def test_no_region_is_left_to_boto3_and_its_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """None reaches boto3 as region_name=None, so the profile's region applies (not a hard-coded us-east-1)."""
    from lakebox.awsclient import LazyClient
    from lakebox.store.s3 import S3Store

    aws_config = tmp_path / "aws_config"
    aws_config.write_text("[default]\nregion = eu-north-1\n")
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s = load_settings({"lake": "s3://bucket"}, env={})
    assert s.region is None
    assert LazyClient("glue", s.endpoint_url, s.region).get().meta.region_name == "eu-north-1"
    assert S3Store.from_url(s.lake, region=s.region).client.meta.region_name == "eu-north-1"


def test_config_imports_no_pipeline_stage() -> None:
    """config sits in the core: importing it loads no process/, catalog/, query/ or trigger/ module."""
    code = ("import sys, lakebox.config; "
            "print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in "
            "('process', 'catalog', 'query', 'trigger', 'store', 'web', 'lake')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("body", [
    {},
    {"partition_by": "order_month"},
    {"partition_by": "order_status"},
    {"glue_csv": True},
    {"drop_rule": False, "delimiter": ";", "table_name": "t", "raw_prefix": "raw/eu/", "processed_prefix": "p/"},
    {"columns": {"id": "OrderID", "when": {"source": "OrderDate", "type": "date", "date_format": "%d/%m/%Y"},
                 "amount": {"source": "Amount", "type": "decimal(10,3)", "required": False, "trim": True}},
     "drop_rule": {"status_column": "id", "date_column": "when", "statuses": ["x"], "min_age_days": 5},
     "partition_by": "when_day=day(when)"},
])
def test_datasets_round_trip_through_lakebox_datasets(body: dict[str, object]) -> None:
    import json

    from lakebox.core.dataset import dataset_from_config, dataset_to_config

    dataset = dataset_from_config("d", body)
    assert dataset_from_config("d", dataset_to_config(dataset)) == dataset
    env = {"LAKEBOX_DATASETS": json.dumps({"d": dataset_to_config(dataset)})}
    assert load_settings({}, env=env).datasets == (dataset,)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "env LAKEBOX_DATASETS: not JSON"),
    ("[]", "env LAKEBOX_DATASETS: expected a JSON object"),
    ('{"d": {"partition_by": "nope"}}', "env LAKEBOX_DATASETS: partition_by 'nope'"),
])
def test_lakebox_datasets_errors_name_the_variable(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({}, env={"LAKEBOX_DATASETS": text})
