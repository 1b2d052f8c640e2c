"""The command line: settings resolved once in the group, errors mapped to exit codes in one place."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lakebox.cli import LakeboxGroup, main
from lakebox.config import ConfigError
from lakebox.core.errors import LakeboxError
from lakebox.events import EventError
from lakebox.query.named import ParamError
from lakebox.store.base import InvalidKeyError, NoSuchKeyError
from lakebox.trigger.locks import LockedError
from lakebox.trigger.watcher import WatchError
from lakebox.web.server import ServeError


def _boom_group(exc: BaseException) -> click.Group:
    group = LakeboxGroup(name="t")

    @group.command()
    def boom() -> None:
        raise exc

    return group


@pytest.mark.parametrize("exc,exit_code", [
    (ConfigError("lakebox.toml: unknown setting 'prot'; did you mean 'port'?"), 2),
    (ParamError("parameter month='2025-13' is invalid"), 2),
    (InvalidKeyError("key '../x' escapes the bucket"), 2),
    (EventError("event has no 'Records'"), 2),
    (ServeError("binding 0.0.0.0 needs a token"), 2),
    (WatchError("the watcher needs a local lake"), 2),
    (LockedError(Path("/lake/_lakebox/watch.lock"), {"pid": 4242}), 2),
    (NoSuchKeyError("no such key raw/a.csv"), 1),
    (LakeboxError("something failed"), 1),
])
def test_every_lakebox_error_is_one_line_and_its_exit_code(exc: LakeboxError, exit_code: int) -> None:
    res = CliRunner().invoke(_boom_group(exc), ["boom"])
    assert res.exit_code == exit_code == exc.exit_code
    assert isinstance(res.exception, SystemExit)  # mapped, not raised through
    assert f"{exc.code}: {exc}" in res.output and "Traceback" not in res.output


def test_other_exceptions_are_not_swallowed() -> None:
    res = CliRunner().invoke(_boom_group(RuntimeError("a bug")), ["boom"])
    assert isinstance(res.exception, RuntimeError) and res.exit_code == 1


def test_error_codes_are_declared_on_the_class_line() -> None:
    assert (NoSuchKeyError.code, NoSuchKeyError.http_status) == ("NoSuchKey", 404)
    assert issubclass(NoSuchKeyError, KeyError) and issubclass(InvalidKeyError, ValueError)
    assert issubclass(LockedError, RuntimeError) and LockedError.http_status == 409
    assert LakeboxError("boom", code="ThrottlingException").code == "ThrottlingException"
    assert LakeboxError.code == "InternalError"


def test_every_exception_class_in_src_derives_from_lakebox_error() -> None:
    import importlib
    import pkgutil

    import lakebox

    seen = []
    for mod in pkgutil.walk_packages(lakebox.__path__, "lakebox."):
        if mod.name.endswith("__main__"):  # runs the CLI when imported
            continue
        module = importlib.import_module(mod.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == mod.name:
                seen.append(obj)
                assert issubclass(obj, LakeboxError), f"{mod.name}.{obj.__name__}"
    assert len(seen) >= 18


def test_bad_config_file_exits_2_naming_the_file_and_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text("[datasets.orders.columns]\norder_id = { sorce = 'OrderID' }\n")
    res = CliRunner().invoke(main, ["--config", str(cfg), "settings"])
    assert res.exit_code == 2
    assert "InvalidConfiguration" in res.output and str(cfg) in res.output
    assert "unknown key 'sorce'; did you mean 'source'?" in res.output


@pytest.mark.parametrize("args,env,text", [
    (["--as-of", "2025-13-01", "sample", "--rows", "1"], {}, "--as-of"),
    (["sample", "--rows", "1"], {"LAKEBOX_AS_OF": "yesterday"}, "LAKEBOX_AS_OF"),
    (["sample", "--as-of", "2025-02-30", "--rows", "1"], {}, "as_of"),
])
def test_bad_values_exit_2_naming_the_source(args: list[str], env: dict[str, str], text: str) -> None:
    res = CliRunner().invoke(main, args, env=env)
    assert res.exit_code == 2 and text in res.output and "Traceback" not in res.output


def test_choice_flags_come_from_the_declaration() -> None:
    res = CliRunner().invoke(main, ["--engine", "presto", "settings"])
    assert res.exit_code == 2 and "'duckdb'" in res.output and "'athena'" in res.output


def test_settings_are_resolved_once_and_shown_with_their_source(tmp_path: Path) -> None:
    cfg = tmp_path / "lakebox.toml"
    cfg.write_text('workgroup = "from-file"\n')
    res = CliRunner().invoke(main, ["--config", str(cfg), "--region", "eu-west-2", "settings", "--json"],
                             env={"LAKEBOX_DATABASE": "from_env"})
    assert res.exit_code == 0, res.output
    rows = {r["setting"]: r for r in json.loads(res.output)}
    assert (rows["region"]["value"], rows["region"]["source"]) == ("eu-west-2", "command line")
    assert (rows["workgroup"]["value"], rows["workgroup"]["source"]) == ("from-file", str(cfg))
    assert (rows["database"]["value"], rows["database"]["source"]) == ("from_env", "env LAKEBOX_DATABASE")
    assert rows["engine"]["type"] == "duckdb|athena" and rows["port"]["type"] == "int"


def test_settings_reach_subcommands_through_the_context() -> None:
    """Every command, deploy's included, reads the settings the group resolved (ctx.obj["settings"])."""
    seen = []

    @main.command("probe-settings")
    @click.pass_context
    def probe(ctx: click.Context) -> None:
        seen.append(ctx.obj["settings"])

    try:
        res = CliRunner().invoke(main, ["--region", "eu-west-2", "--endpoint-url", "http://127.0.0.1:9",
                                        "probe-settings"])
    finally:
        main.commands.pop("probe-settings")
    assert res.exit_code == 0, res.output
    (s,) = seen
    assert s.region == "eu-west-2" and s.endpoint_url == "http://127.0.0.1:9"
    assert s.sources["region"] == "command line"


def test_deploy_uses_the_global_region_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lakebox --region R --endpoint-url U deploy status` reaches the stack manager with both."""
    import lakebox.deploy.stack as stack

    made: list[dict[str, object]] = []

    class Probe:
        def __init__(self, name: str, **kwargs: object) -> None:
            made.append({"stack": name, **kwargs})

        def status(self) -> dict[str, object]:
            return {"stack": "s", "status": "CREATE_COMPLETE"}

    monkeypatch.setattr(stack, "StackManager", Probe)
    res = CliRunner().invoke(main, ["--region", "eu-west-2", "--endpoint-url", "http://127.0.0.1:9", "deploy",
                                    "status", "--stack", "s", "--json"], env={"AWS_REGION": "us-west-1"})
    assert res.exit_code == 0, res.output
    (kw,) = made
    assert kw["region"] == "eu-west-2" and kw["endpoint_url"] == "http://127.0.0.1:9"
