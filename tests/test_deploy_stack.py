"""``lakebox deploy`` against moto's CloudFormation, S3, SSM and STS over HTTP.

moto's CloudFormation cannot create Glue, Athena, EventInvokeConfig or Secrets Manager resources, so these
tests deploy ``for_moto``'s reduced template (the same resources minus those and the optional host); the full
template is checked by cfn-lint in test_deploy_template.py.
"""

from __future__ import annotations

import json
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest_aws import ACCOUNT, AwsEnv, aws_fixture, moto_server_fixture  # noqa: F401

from lakebox.deploy.cli import deploy
from lakebox.deploy.iam import ARTIFACTS_PARAMETER
from lakebox.deploy.stack import StackManager, bucket_name_for, first_failure
from lakebox.deploy.template import build_template, for_moto
from lakebox.deploy.trace import record_calls

pytestmark = pytest.mark.aws

STACK = "lakebox-test"


@pytest.fixture(name="files")
def files_fixture(tmp_path: Path) -> dict[str, Path]:
    """Two different small "function zips" (moto stores the code; it never runs it) and the moto template."""
    out = {}
    for name in ("v1", "v2"):
        path = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("lakebox/__init__.py", f"# {name}\n")
        out[name] = path
    out["template"] = tmp_path / "moto.json"
    out["template"].write_text(json.dumps(for_moto(build_template())))
    return out


def run(*args: str, obj: dict[str, Any] | None = None) -> Result:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns about resource types it skips (the bucket policy)
        return CliRunner().invoke(deploy, list(args), obj=obj if obj is not None else {})


def up_args(aws: AwsEnv, files: dict[str, Path], zip_name: str = "v1", *extra: str) -> list[str]:
    return ["up", "--stack", STACK, "--endpoint-url", aws.endpoint_url, "--zip", str(files[zip_name]),
            "--template-file", str(files["template"]), *extra]


def stack_parameters(aws: AwsEnv) -> dict[str, str]:
    stack = aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


@pytest.fixture(name="clean_env")
def clean_env_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("LAKEBOX_REGION", "LAKEBOX_ENDPOINT_URL", "LAKEBOX_CONFIG", "LAKEBOX_DATABASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no lakebox.toml here
    yield


def test_global_region_and_endpoint_flags_reach_deploy(aws: AwsEnv, clean_env: None,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`lakebox --region R --endpoint-url U deploy status` uses both flags, through the settings the CLI
    resolved once; without --region, boto3's chain (AWS_REGION) decides, never a built-in default."""
    from lakebox.cli import main

    monkeypatch.delenv("AWS_ENDPOINT_URL")  # only the flag can point boto3 at moto
    queue = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}'
    cfn = aws.client("cloudformation")
    cfn.meta.region_name  # noqa: B018 - the fixture's region is us-east-1
    london = AwsEnv(aws.endpoint_url, "eu-west-2", aws.bucket).client("cloudformation")
    london.create_stack(StackName="in-london", TemplateBody=queue)

    result = CliRunner().invoke(main, ["--region", "eu-west-2", "--endpoint-url", aws.endpoint_url,
                                       "deploy", "status", "--stack", "in-london", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert (info["region"], info["status"]) == ("eu-west-2", "CREATE_COMPLETE")

    # No --region: AWS_REGION (us-east-1 in the fixture) decides, and the stack is not there.
    elsewhere = CliRunner().invoke(main, ["--endpoint-url", aws.endpoint_url, "deploy", "status",
                                          "--stack", "in-london", "--json"])
    assert json.loads(elsewhere.output)["region"] == "us-east-1"
    assert json.loads(elsewhere.output)["status"] == "DOES_NOT_EXIST"
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    chain = CliRunner().invoke(main, ["--endpoint-url", aws.endpoint_url, "deploy", "status",
                                      "--stack", "in-london", "--json"])
    assert json.loads(chain.output)["status"] == "CREATE_COMPLETE"


def test_up_keeps_previous_parameters_and_names_the_bucket_with_the_region(
        aws: AwsEnv, files: dict[str, Path], clean_env: None) -> None:
    first = run(*up_args(aws, files, "v1", "-p", "FunctionMemory=4096", "--catalog-update", "crawler"))
    assert first.exit_code == 0, first.output
    bucket = bucket_name_for(STACK, ACCOUNT, aws.region)
    assert bucket == f"{STACK}-{ACCOUNT}-us-east-1"
    params = stack_parameters(aws)
    assert (params["BucketName"], params["FunctionMemory"], params["CatalogUpdate"]) == (bucket, "4096", "crawler")

    # New code, no other flag: only the code changes; the bucket, memory and catalog mode stay.
    second = run(*up_args(aws, files, "v2"))
    assert second.exit_code == 0, second.output
    after = stack_parameters(aws)
    assert after["CodeKey"] != params["CodeKey"]
    assert {k: after[k] for k in ("BucketName", "FunctionMemory", "CatalogUpdate")} == {
        "BucketName": bucket, "FunctionMemory": "4096", "CatalogUpdate": "crawler"}
    # The second run shows its own events, not the creation's again.
    assert "CREATE_COMPLETE" not in second.output and "UPDATE_COMPLETE" in second.output

    again = run(*up_args(aws, files, "v2"))
    assert again.exit_code == 0 and "no changes" in again.output, again.output


def _writes(calls: list[Any]) -> list[str]:
    reads = ("Get", "Head", "List", "Describe", "Validate")
    return [f"{c.service}:{c.operation}" for c in calls if not c.operation.startswith(reads)]


def test_dry_run_changes_nothing_anywhere(aws: AwsEnv, files: dict[str, Path], clean_env: None) -> None:
    with record_calls() as log:
        dry = run(*up_args(aws, files, "v1", "--dry-run"))
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "ProcessFunction" in dry.output and "Add" in dry.output
    assert _writes(log.calls) == []  # no bucket, no upload, no SSM parameter, no stack, no change set
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert [s for s in aws.client("cloudformation").list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"] == []

    assert run(*up_args(aws, files, "v1")).exit_code == 0
    objects_before = _all_objects(aws)
    with record_calls() as log:
        dry = run(*up_args(aws, files, "v2", "-p", "FunctionMemory=1024", "--dry-run"))
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output
    # (moto's change sets list no Modify entries for parameter changes; the change set's input is checked.)
    (created,) = [c for c in log.calls if c.operation == "CreateChangeSet"]
    sent = {p["ParameterKey"]: p.get("ParameterValue", "<previous>") for p in created.params["Parameters"]}
    assert sent["FunctionMemory"] == "1024" and sent["BucketName"] == "<previous>"
    assert sent["CodeKey"] != stack_parameters(aws)["CodeKey"]  # v2's key, not uploaded
    # An existing stack is previewed through a change set, deleted again; nothing else is written.
    assert sorted(set(_writes(log.calls))) == ["cloudformation:CreateChangeSet", "cloudformation:DeleteChangeSet"]
    assert _all_objects(aws) == objects_before  # v2's zip was not uploaded
    assert stack_parameters(aws)["FunctionMemory"] == "2048"


def _all_objects(aws: AwsEnv) -> set[str]:
    s3 = aws.client("s3")
    return {f"{b['Name']}/{o['Key']}" for b in s3.list_buckets()["Buckets"]
            for o in s3.list_objects_v2(Bucket=b["Name"]).get("Contents", [])}


def test_artifacts_bucket_is_random_recorded_and_owner_checked(aws: AwsEnv, files: dict[str, Path],
                                                               clean_env: None) -> None:
    """The bucket's name is random and kept in SSM; every call names the owner it expects. When the recorded
    bucket belongs to someone else (deleted and re-created by another account), S3 answers 403 to a request
    whose ExpectedBucketOwner does not match (moto does not check it, so that answer is put on the wire),
    and deploy refuses the bucket."""
    from deploy_wire import answer, answering, header

    with record_calls() as log:
        assert run(*up_args(aws, files)).exit_code == 0
    name = aws.client("ssm").get_parameter(Name=ARTIFACTS_PARAMETER)["Parameter"]["Value"]
    assert re.fullmatch(rf"lakebox-artifacts-{ACCOUNT}-us-east-1-[0-9a-f]{{8}}", name)
    assert stack_parameters(aws)["CodeBucket"] == name
    on_artifacts = [c for c in log.calls if c.service == "s3" and c.params.get("Bucket") == name]
    assert {c.operation for c in on_artifacts} >= {"CreateBucket", "PutObject", "HeadObject"}
    missing = [str(c) for c in on_artifacts if c.operation != "CreateBucket"
               and c.params.get("ExpectedBucketOwner") != ACCOUNT]
    assert missing == []  # every call on an existing artifacts bucket names the owner it expects

    def s3_checks_the_owner(request: Any) -> Any:
        expected = header(request, "x-amz-expected-bucket-owner")
        bucket = request.url.split("//", 1)[1].split("/")[1].split("?")[0]
        if expected is not None and bucket == name and expected != "111122223333":
            return answer(request, 403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
        return None

    with answering("s3", s3_checks_the_owner):
        refused = run(*up_args(aws, files, "v2"))
    assert refused.exit_code == 1
    assert f"artifacts bucket {name}" in refused.output and "not owned by account" in refused.output
    assert "Traceback" not in refused.output


def test_aws_errors_are_one_clear_line(aws: AwsEnv, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var)
    result = run("status", "--stack", STACK, "--endpoint-url", aws.endpoint_url)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no AWS credentials" in result.output and len(result.output.strip().splitlines()) == 1

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    unreachable = run("status", "--stack", STACK, "--endpoint-url", "http://127.0.0.1:9")
    assert unreachable.exit_code == 1 and "cannot reach http://127.0.0.1:9" in unreachable.output

    bad = run("down", "--stack", STACK, "--endpoint-url", aws.endpoint_url)
    assert bad.exit_code == 1 and f"stack {STACK} does not exist in us-east-1" in bad.output

    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    nowhere = run("status", "--stack", STACK, "--endpoint-url", aws.endpoint_url)
    assert nowhere.exit_code == 1 and "no AWS region (pass --region" in nowhere.output, nowhere.output


def test_failed_stack_reports_its_first_failure() -> None:
    """CloudFormation lists events newest first; the cause is the earliest *_FAILED of the latest operation
    (later ones are cancellations caused by it)."""
    def ev(lid: str, status: str, reason: str = "", rtype: str = "AWS::Lambda::Function") -> dict[str, str]:
        return {"LogicalResourceId": lid, "ResourceStatus": status, "ResourceStatusReason": reason,
                "ResourceType": rtype}

    stack = "AWS::CloudFormation::Stack"
    events = [
        ev(STACK, "ROLLBACK_COMPLETE", rtype=stack),
        ev("Bucket", "CREATE_FAILED", "Resource creation cancelled", "AWS::S3::Bucket"),
        ev("ProcessFunction", "CREATE_FAILED", "Code: S3 key does not exist"),
        ev("ProcessFunction", "CREATE_IN_PROGRESS"),
        ev(STACK, "CREATE_IN_PROGRESS", "User Initiated", stack),
        ev("Old", "CREATE_FAILED", "an earlier operation's failure"),
    ]
    assert first_failure(events) == ("first failure: ProcessFunction (AWS::Lambda::Function): "
                                     "Code: S3 key does not exist")


def test_down_refuses_data_then_deletes_everything(aws: AwsEnv, files: dict[str, Path], clean_env: None) -> None:
    assert run(*up_args(aws, files)).exit_code == 0
    bucket = bucket_name_for(STACK, ACCOUNT, aws.region)
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key="processed/orders.parquet", Body=b"PAR1")
    base = ["--stack", STACK, "--endpoint-url", aws.endpoint_url]
    refused = run("down", *base)
    assert refused.exit_code == 1 and "--delete-data" in refused.output
    assert run("status", *base, "--json").output.count("CREATE_COMPLETE") >= 1
    down = run("down", *base, "--delete-data", "--yes")
    assert down.exit_code == 0, down.output
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    manager = StackManager(STACK, endpoint_url=aws.endpoint_url)
    assert manager.describe() is None


def test_dry_run_of_the_full_template_with_https_dashboard(aws: AwsEnv, files: dict[str, Path],
                                                           clean_env: None) -> None:
    """The real template (not the moto one), previewed: the host and, with a certificate, the load balancer
    would be added; the host's wheel is built but nothing is uploaded or created."""
    https = ["--dashboard", "--certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/abc",
             "-p", "DashboardVpcId=vpc-0123456789abcdef0", "-p", "DashboardAlbSubnetIds=subnet-0a,subnet-0b"]
    with record_calls() as log:
        plain = run("up", "--stack", STACK, "--endpoint-url", aws.endpoint_url, "--zip", str(files["v1"]),
                    "--dashboard", "--dry-run")
        secure = run("up", "--stack", STACK, "--endpoint-url", aws.endpoint_url, "--zip", str(files["v1"]),
                     *https, "--dry-run")
    assert plain.exit_code == 0 and secure.exit_code == 0, plain.output + secure.output
    assert "DashboardInstance" in plain.output and "DashboardLoadBalancer" not in plain.output
    assert "DashboardLoadBalancer" in secure.output and "DashboardListener" in secure.output
    assert _writes(log.calls) == []
