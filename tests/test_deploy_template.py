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
    proc = subprocess.run([str(cfn_lint), str(path)], capture_output=True, text=True, check=False)  # noqa: S603
    # Exit bits: 2 = errors, 4 = warnings, 8 = informational. No errors allowed, and we keep warnings at 0 too.
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
    """{action: set of resource suffixes} for a role's S3 statements."""
    out: dict[str, set[str]] = {}
    for name, st in statements(template):
        if name != role or st["Effect"] != "Allow":
            continue
        for a in as_list(st["Action"]):
            if a.startswith("s3:"):
                for r in as_list(st["Resource"]):
                    suffix = r["Fn::Join"][1][-1] if isinstance(r, dict) and "Fn::Join" in r else str(r)
                    out.setdefault(a, set()).add(suffix if isinstance(suffix, str) else "<other>")
    return out


def test_function_role_reads_raw_and_writes_only_its_prefixes(template: dict[str, Any]) -> None:
    grants = _s3_grants(template, "ProcessFunctionRole")
    assert grants["s3:GetObject"] >= {"/raw/*"}
    assert grants["s3:PutObject"] == {"/processed/*", "/quarantine/*", "/_lakebox/*"}
    assert "/raw/*" not in grants["s3:PutObject"] | grants.get("s3:DeleteObject", set())  # never rewrites input
    glue = [st for name, st in statements(template)
            if name == "ProcessFunctionRole" and any(a.startswith("glue:") and a != "glue:StartCrawler"
                                                     for a in as_list(st["Action"]))]
    assert len(glue) == 1
    table_arn = json.dumps(glue[0]["Resource"][-1])
    assert ':table"' in table_arn and '"processed"' in table_arn and "*" not in table_arn  # only its own table


def test_dashboard_role(template: dict[str, Any]) -> None:
    grants = _s3_grants(template, "DashboardRole")
    assert grants["s3:PutObject"] == {"/enriched/*"}
    assert "/processed/*" in grants["s3:GetObject"]
    athena = [st for name, st in statements(template)
              if name == "DashboardRole" and any(a.startswith("athena:") for a in as_list(st["Action"]))]
    assert len(athena) == 1 and "workgroup/${AWS::StackName}" in athena[0]["Resource"]["Fn::Sub"]


def test_dashboard_port_not_open_to_the_world_by_default(template: dict[str, Any]) -> None:
    sg = template["Resources"]["DashboardSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert len(sg) == 1 and sg[0]["CidrIp"] == {"Ref": "DashboardCidr"}
    default = template["Parameters"]["DashboardCidr"]["Default"]
    assert default not in ("0.0.0.0/0",) and default.endswith("/32")
    assert template["Parameters"]["CreateDashboardHost"]["Default"] == "false"
    user_data = json.dumps(template["Resources"]["DashboardInstance"]["Properties"]["UserData"])
    assert "lakebox serve" in user_data and "LAKEBOX_TOKEN" in user_data and "systemctl enable" in user_data
    image = template["Parameters"]["DashboardImageId"]
    assert image["Type"].startswith("AWS::SSM::Parameter::Value") and "al2023" in image["Default"]


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

                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
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
