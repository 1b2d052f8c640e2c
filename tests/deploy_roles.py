"""Shared by the least-privilege tests: check a role of the template against a trace, and render the roles
table of docs/aws.md from the reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from conftest_aws import ACCOUNT, AwsEnv

from lakebox.deploy import iam
from lakebox.deploy.authz import (
    Need,
    Policy,
    RoleReport,
    Stack,
    Where,
    bucket_policy_denies,
    check_role,
    resolve,
    role_statements,
)
from lakebox.deploy.template import build_template
from lakebox.deploy.trace import Call

STACK = "lakebox"
#: Filled by the role tests, read by the docs test (pytest runs a module's tests in order).
ROLE_REPORTS: dict[str, RoleReport] = {}
CODE_BUCKET = f"lakebox-artifacts-{ACCOUNT}-us-east-1-0a1b2c3d"
SECURE = {"aws:SecureTransport": "true"}  # boto3 talks HTTPS to AWS; the bucket policy denies plain HTTP


def stack_for(aws: AwsEnv, **params: str) -> Stack:
    template = build_template()
    values = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    values.update({"BucketName": aws.bucket, "CodeBucket": CODE_BUCKET, "CodeKey": "lakebox/lambda-x.zip",
                   "CreateDashboardHost": "true", "HostWheelKey": "lakebox/wheels/<sha256>/<wheel>"})
    values.update(params)
    # Physical ids CloudFormation assigns; shown as such in the docs table.
    return Stack(STACK, ACCOUNT, aws.region, values,
                 resources={"FailedEventsQueue.Arn": "<FailedEventsQueue ARN>",
                            "DashboardToken": "<DashboardToken secret ARN>"})


def service_side(role: str, stack: Stack, bucket: str) -> list[tuple[Need, str]]:
    out = []
    for sc in iam.SERVICE_SIDE.get(role, ()):
        resource = str(resolve({"Fn::Sub": [sc.resource, {"LakeBucketName": bucket}]}, stack))
        context = tuple(sorted(iam.SERVICE_CONTEXT.get(sc.by, {}).items()))
        out.append((Need(sc.action, resource, context), sc.by))
    return out


def check_template_role(role: str, calls: Iterable[Call], aws: AwsEnv, *, crawler_mode: bool = False,
                        service_side_uses: bool = True, **_: Any) -> RoleReport:
    template = build_template()
    stack = stack_for(aws, CatalogUpdate="crawler" if crawler_mode else "direct")
    policy = Policy([*role_statements(template, role, stack), *bucket_policy_denies(template, stack)])
    extra = service_side(role, stack, aws.bucket) if service_side_uses else []
    return check_role(role, policy, calls, Where(ACCOUNT), extra, SECURE)


def check_deployer(calls: Iterable[Call], aws: AwsEnv, lake_bucket: str) -> RoleReport:
    stack = stack_for(aws, LakeBucket=lake_bucket)
    doc = resolve(iam.deployer_policy(), stack)
    return check_role("Deployer", Policy(doc["Statement"]), calls, Where(ACCOUNT), (), SECURE)


def render_roles_table(reports: Mapping[str, RoleReport]) -> str:
    """One row per grant: the role, the statement, the action, the resource and the calls that use it."""
    lines = ["| role | statement | action | resource | needed by |", "|---|---|---|---|---|"]
    for role in ("ProcessFunctionRole", "CrawlerRole", "DashboardRole", "Deployer"):
        report = reports[role]
        for grant in sorted(report.grants, key=lambda g: (g.sid, g.action, g.resource)):
            uses = sorted(report.uses.get(grant, ()))
            shown = ", ".join(f"`{u}`" if ":" in u and " (" not in u else u for u in uses[:4])
            if len(uses) > 4:
                shown += f" and {len(uses) - 4} more"
            resource = _generic(grant.resource, aws_bucket_markers(report))
            lines.append(f"| {role} | {grant.sid} | `{grant.action}` | `{resource}` | {shown} |")
    return "\n".join(lines) + "\n"


def aws_bucket_markers(report: RoleReport) -> dict[str, str]:
    return {CODE_BUCKET: "<artifacts-bucket>", ACCOUNT: "<account>", "us-east-1": "<region>"}


def _generic(text: str, markers: Mapping[str, str]) -> str:
    import re

    text = re.sub(r"lakebox-test-[0-9a-f]{10}", "<lake-bucket>", text)
    for k, v in markers.items():
        text = text.replace(k, v)
    return text
