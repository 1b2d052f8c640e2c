"""The CloudFormation template: cfn-lint clean, least privilege, and no circular dependency."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from lakebox.deploy.cli import deploy
from lakebox.deploy.template import build_template, render

pytestmark = pytest.mark.aws


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return build_template()


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement of every role and bucket policy, with the resource it belongs to."""
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        docs = []
        for pol in props.get("Policies", []):
            if "Fn::If" in pol:
                docs += [p["PolicyDocument"] for p in pol["Fn::If"][1:] if isinstance(p, dict) and "PolicyDocument" in p]
            else:
                docs.append(pol["PolicyDocument"])
        if "PolicyDocument" in props:
            docs.append(props["PolicyDocument"])
        for doc in docs:
            for st in doc["Statement"]:
                yield name, st


def as_list(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [x]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_cfn_lint_passes_without_errors(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"lakebox.{fmt}"
    path.write_text(render(fmt))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    proc = subprocess.run([str(cfn_lint), "--include-checks", "I", "--", str(path)],  # noqa: S603
                          capture_output=True, text=True, check=False)
    # Exit bits: 2 = errors, 4 = warnings, 8 = informational. None of them: errors, warnings and the
    # informational checks (I*) are all clean.
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_prints_the_same_template() -> None:
    result = CliRunner().invoke(deploy, ["template", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(render("json"))
    as_yaml = CliRunner().invoke(deploy, ["template"])
    assert yaml.safe_load(as_yaml.output) == json.loads(result.output)
    assert "*id0" not in as_yaml.output  # no YAML aliases: CloudFormation rejects them


def test_no_wildcard_s3_grants(template: dict[str, Any]) -> None:
    for name, st in statements(template):
        actions = as_list(st.get("Action", []))
        if st["Effect"] == "Deny":
            # The only s3:* is the bucket policy's deny of plain-HTTP access: a guard, not a grant.
            assert name == "BucketPolicy" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            continue
        assert "*" not in actions, name
        for a in actions:
            assert not a.endswith(":*"), f"{name}: {a}"
        if any(a.startswith("s3:") for a in actions):
            for r in as_list(st["Resource"]):
                assert r != "*", f"{name}: S3 action on *"
                assert isinstance(r, dict), f"{name}: S3 resource should be built from the bucket name: {r}"


def test_no_managed_full_access_policies(template: dict[str, Any]) -> None:
    text = json.dumps(template)
    assert "FullAccess" not in text
    for res in template["Resources"].values():
        assert "ManagedPolicyArns" not in res.get("Properties", {})  # every permission is written out


def _s3_grants(template: dict[str, Any], role: str) -> dict[str, set[str]]:
    """{action: set of resource suffixes after the bucket name} for a role's S3 statements."""
    from lakebox.deploy.authz import Stack, role_statements

    stack = Stack("st", "123456789012", "eu-west-1", {"BucketName": "lake", "DatabaseName": "orders_db",
                                                      "TablePrefix": "orders_", "CreateDashboardHost": "false",
                                                      "CatalogUpdate": "direct", "DashboardCertificateArn": "",
                                                      "DashboardVpcId": "", "DashboardSubnetId": "",
                                                      "DashboardAlbSubnetIds": ""})
    out: dict[str, set[str]] = {}
    for st in role_statements(template, role, stack):
        for a in as_list(st["Action"]):
            if a.startswith("s3:"):
                for r in as_list(st["Resource"]):
                    out.setdefault(a, set()).add(r.removeprefix("arn:aws:s3:::lake"))
    return out


def test_function_role_reads_raw_and_writes_only_its_prefixes(template: dict[str, Any]) -> None:
    grants = _s3_grants(template, "ProcessFunctionRole")
    assert grants["s3:GetObject"] >= {"/raw/*"}
    assert grants["s3:PutObject"] == {"/processed/*", "/quarantine/*", "/_lakebox/*"}
    assert grants["s3:DeleteObject"] == {"/quarantine/*"}  # never deletes input or output
    glue = [st for name, st in statements(template)
            if name == "ProcessFunctionRole" and any(a.startswith("glue:") and a != "glue:StartCrawler"
                                                     for a in as_list(st["Action"]))]
    assert len(glue) == 1
    table_arn = json.dumps(glue[0]["Resource"][-1])
    assert ":table/${DatabaseName}/${TablePrefix}processed" in table_arn and "*" not in table_arn  # its own


def test_dashboard_role(template: dict[str, Any]) -> None:
    grants = _s3_grants(template, "DashboardRole")
    # Athena's results, and the workbench's saved queries: nothing else in the lake is written from here.
    assert grants["s3:PutObject"] == grants["s3:DeleteObject"] | {"/enriched/*"} == {"/enriched/*", "/_lakebox/queries/*"}
    assert "/processed/*" in grants["s3:GetObject"]
    athena = [st for name, st in statements(template)
              if name == "DashboardRole" and any(a.startswith("athena:") for a in as_list(st["Action"]))]
    assert len(athena) == 1 and "workgroup/${AWS::StackName}" in athena[0]["Resource"]["Fn::Sub"]


def test_dashboard_port_not_open_to_the_world_by_default(template: dict[str, Any]) -> None:
    (rule,) = template["Resources"]["DashboardSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    https, plain = rule["Fn::If"][1], rule["Fn::If"][2]
    assert rule["Fn::If"][0] == "WithHttps"
    assert plain["CidrIp"] == {"Ref": "DashboardCidr"}  # plain HTTP: only the one CIDR
    assert "CidrIp" not in https and https["SourceSecurityGroupId"]  # HTTPS: only the load balancer
    alb_rules = template["Resources"]["DashboardAlbSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert [(r["FromPort"], r["CidrIp"]) for r in alb_rules] == [(443, {"Ref": "DashboardCidr"})]
    default = template["Parameters"]["DashboardCidr"]["Default"]
    assert default not in ("0.0.0.0/0",) and default.endswith("/32")
    assert template["Parameters"]["CreateDashboardHost"]["Default"] == "false"
    image = template["Parameters"]["DashboardImageId"]
    assert image["Type"].startswith("AWS::SSM::Parameter::Value") and "al2023" in image["Default"]
    listener = template["Resources"]["DashboardListener"]["Properties"]
    assert listener["Protocol"] == "HTTPS" and listener["Certificates"] == [
        {"CertificateArn": {"Ref": "DashboardCertificateArn"}}]


def test_dashboard_host_installs_the_uploaded_wheel_and_signals_when_healthy(template: dict[str, Any]) -> None:
    from lakebox.deploy.dashboard_host import user_data

    instance = template["Resources"]["DashboardInstance"]
    assert instance["CreationPolicy"]["ResourceSignal"]["Count"] == 1
    props = instance["Properties"]
    assert "KeyName" not in props  # no SSH key: Session Manager
    assert props["MetadataOptions"]["HttpTokens"] == "required"
    script = user_data()
    lines = script.splitlines()
    assert "pip install lakebox" not in script and "LakeboxPipSpec" not in script  # nothing by name from PyPI
    fetch = next(i for i, line in enumerate(lines) if "s3api get-object" in line)
    check = next(i for i, line in enumerate(lines) if "sha256sum --check" in line)
    install = next(i for i, line in enumerate(lines) if "/opt/lakebox/bin/pip install" in line)
    health = next(i for i, line in enumerate(lines) if "/healthz" in line)
    assert fetch < check < install < health  # hash checked before anything from the wheel runs
    assert "--expected-bucket-owner ${AWS::AccountId}" in lines[fetch]
    assert "${HostWheelSha256}" in lines[check] and "--constraint" in lines[install]
    assert "signal 0" in lines[health] and lines[-1] == "signal 1" and "trap 'signal 1' ERR" in script
    host = json.dumps(template["Resources"]["DashboardRole"]["Properties"]["Policies"][1])
    assert "ssmmessages:OpenDataChannel" in host and "${HostWheelKey}" in host


def test_stateful_resources_have_explicit_deletion_policies(template: dict[str, Any]) -> None:
    stateful = {"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SecretsManager::Secret", "AWS::Logs::LogGroup",
                "AWS::Glue::Database", "AWS::Athena::WorkGroup"}
    for name, res in template["Resources"].items():
        if res["Type"] in stateful:
            assert res.get("DeletionPolicy") and res.get("UpdateReplacePolicy"), name
    bucket = template["Resources"]["Bucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    encryption = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert "BucketKeyEnabled" not in encryption  # it does nothing with SSE-S3


def test_bucket_is_private_encrypted_versioned(template: dict[str, Any]) -> None:
    props = template["Resources"]["Bucket"]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (cfg,) = props["NotificationConfiguration"]["LambdaConfigurations"]
    rules = {r["Name"]: r["Value"] for r in cfg["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": "raw/", "suffix": ".csv"} and cfg["Event"] == "s3:ObjectCreated:*"


def test_function_async_config_and_catalog(template: dict[str, Any]) -> None:
    res = template["Resources"]
    cfg = res["ProcessFunctionAsyncConfig"]["Properties"]
    assert cfg["MaximumRetryAttempts"] == 2
    assert cfg["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}
    assert res["FailedEventsQueue"]["Type"] == "AWS::SQS::Queue"
    assert res["ProcessFunction"]["Properties"]["Handler"] == "lakebox.process.handler.lambda_handler"
    assert template["Parameters"]["DatabaseName"]["Default"] == "orders_db"
    crawler = res["ProcessedCrawler"]["Properties"]
    assert crawler["TablePrefix"] == {"Ref": "TablePrefix"} and template["Parameters"]["TablePrefix"]["Default"] == "orders_"
    assert "/processed/" in json.dumps(crawler["Targets"])
    wg = res["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert wg["EnforceWorkGroupConfiguration"] is True
    assert wg["BytesScannedCutoffPerQuery"] == {"Ref": "BytesScannedCutoff"}
    assert template["Parameters"]["BytesScannedCutoff"]["MinValue"] >= 10_000_000
    assert "/enriched/" in json.dumps(wg["ResultConfiguration"]["OutputLocation"])


def _deps(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref":
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v[0] if isinstance(v, list) else v.split(".")[0])
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                import re

                local = set(v[1]) if isinstance(v, list) else set()  # the Sub's own variables
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} - local
                if isinstance(v, list):
                    found |= _deps(v[1])
            else:
                found |= _deps(v)
    elif isinstance(value, list):
        for v in value:
            found |= _deps(v)
    return found


def test_no_circular_dependency(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    graph = {name: {d for d in _deps(r.get("Properties", {})) | set(r.get("DependsOn", [])) if d in resources}
             for name, r in resources.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 1:
            raise AssertionError("cycle: " + " -> ".join([*path, node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in graph[node]:
            visit(nxt, [*path, node])
        state[node] = 2

    for node in graph:
        visit(node, [])
    # The bucket waits for the permission; nothing that the function needs waits for the bucket.
    assert "ProcessFunctionInvokePermission" in graph["Bucket"]
    assert "Bucket" not in graph["ProcessFunctionRole"] | graph["ProcessFunction"]


# --- partition projection -------------------------------------------------------------------------------------

def _partitioned(partition_by: str) -> tuple[Any, ...]:
    from lakebox.config import load_settings

    return load_settings({}, env={"LAKEBOX_DATASETS": json.dumps({"orders": {"partition_by": partition_by}})}).datasets


def _resolve(value: Any, bucket: str = "bkt") -> str:
    """A Fn::Sub of the template as CloudFormation resolves it (the bucket, the projection start year)."""
    text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
    for name in variables:
        text = text.replace("${" + name + "}", bucket)
    return text.replace("${PartitionProjectionStartYear}", "2000").replace("${!", "${")


@pytest.mark.parametrize(("partition_by", "fmt", "unit", "start", "value"), [
    ("order_month", "yyyy-MM", "MONTHS", "2000-01", "2025-02"),
    ("order_day=day(order_date)", "yyyy-MM-dd", "DAYS", "2000-01-01", "2025-02-03"),
    ("order_year=year(order_date)", "yyyy", "YEARS", "2000", "2025"),
])
def test_partitioned_dataset_gets_athena_partition_projection(
        tmp_path: Path, partition_by: str, fmt: str, unit: str, start: str, value: str) -> None:
    datasets = _partitioned(partition_by)
    (dataset,) = datasets
    col = dataset.partition.name
    template = build_template(datasets)
    table = template["Resources"]["ProcessedTable"]
    assert table["Type"] == "AWS::Glue::Table" and table["DependsOn"] == ["GlueDatabase"]
    tin = table["Properties"]["TableInput"]
    params = tin["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params[f"projection.{col}.type"] == "date" and params[f"projection.{col}.format"] == fmt
    assert _resolve(params[f"projection.{col}.range"]) == f"{start},NOW+1YEARS"
    assert params[f"projection.{col}.interval"] == "1" and params[f"projection.{col}.interval.unit"] == unit
    location = _resolve(params["storage.location.template"]).replace("${" + col + "}", value)
    # The projected folder is exactly where lakebox writes that partition's files.
    assert location == "s3://bkt/" + dataset.partition_output_key("raw/x.csv", value).rpartition("/")[0] + "/"
    assert tin["PartitionKeys"] == [{"Name": col, "Type": "string"}]
    assert [c["Name"] for c in tin["StorageDescriptor"]["Columns"]] == [c.name for c in dataset.columns]
    assert {c["Name"]: c["Type"] for c in tin["StorageDescriptor"]["Columns"]}["order_amount"] == "decimal(12,2)"
    assert _resolve(tin["Name"]).replace("${TablePrefix}", "orders_") == "orders_processed"
    assert "PartitionProjectionStartYear" in template["Parameters"]
    # The function writes that layout: it gets the datasets (it has no lakebox.toml) and Athena-sized row groups.
    env = template["Resources"]["ProcessFunction"]["Properties"]["Environment"]["Variables"]
    from lakebox.config import load_settings

    deployed = load_settings({}, env={"LAKEBOX_DATASETS": env["LAKEBOX_DATASETS"],
                                      "LAKEBOX_ROW_GROUP_MB": env["LAKEBOX_ROW_GROUP_MB"]})
    assert deployed.datasets == datasets and deployed.row_group_mb == 128
    path = tmp_path / "partitioned.yaml"
    from lakebox.deploy.template import to_yaml

    path.write_text(to_yaml(template))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    proc = subprocess.run([str(cfn_lint), "--include-checks", "I", "--", str(path)],  # noqa: S603
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unpartitioned_template_has_no_table_or_projection_parameter(template: dict[str, Any]) -> None:
    assert "ProcessedTable" not in template["Resources"]
    assert "PartitionProjectionStartYear" not in template["Parameters"]
    assert "LAKEBOX_DATASETS" not in template["Resources"]["ProcessFunction"]["Properties"]["Environment"]["Variables"]


def test_value_partition_is_registered_not_projected() -> None:
    template = build_template(_partitioned("order_status"))
    params = template["Resources"]["ProcessedTable"]["Properties"]["TableInput"]["Parameters"]
    assert not any(k.startswith("projection.") for k in params) and "storage.location.template" not in params
    assert "PartitionProjectionStartYear" not in template["Parameters"]


def test_partitioned_dataset_outside_processed_is_refused() -> None:
    from lakebox.config import load_settings
    from lakebox.core.errors import InvalidInputError

    datasets = load_settings({}, env={"LAKEBOX_DATASETS": json.dumps(
        {"orders": {"partition_by": "order_month", "processed_prefix": "processed/eu/"}})}).datasets
    with pytest.raises(InvalidInputError, match="'orders'.*processed/ table only"):
        build_template(datasets)


def test_cli_template_follows_the_lakes_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lakebox.toml").write_text('[datasets.orders]\npartition_by = "order_month"\n')
    result = CliRunner().invoke(deploy, ["template", "--format", "json"], obj={})
    assert result.exit_code == 0, result.output
    params = json.loads(result.output)["Resources"]["ProcessedTable"]["Properties"]["TableInput"]["Parameters"]
    assert params["projection.order_month.interval.unit"] == "MONTHS"
