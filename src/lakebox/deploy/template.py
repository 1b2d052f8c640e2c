"""The CloudFormation template for lakebox on AWS, built as a Python dict.

One stack holds the whole pipeline::

    Bucket (raw/ processed/ enriched/ quarantine/ _lakebox/)
      raw/*.csv --notification--> ProcessFunction --async failure--> FailedEventsQueue (SQS)
    GlueDatabase orders_db <- ProcessFunction (its own table) / ProcessedCrawler (processed/, prefix orders_)
      (+ ProcessedTable with Athena partition projection when the dataset has partition_by)
    AthenaWorkGroup (results in enriched/, bytes-scanned cutoff, enforced)
    DashboardRole (+ optional DashboardInstance on Amazon Linux 2023, port open to one CIDR only)

How the classic circular dependency is avoided: the bucket's notification needs the function (and its invoke
permission first), and the function's role and permission need the bucket's ARN. Nothing here refers to the
bucket resource to get its name: the name is a parameter (or, when left empty, a fixed pattern built from
the account and region), and every ARN is built from that string. So the graph is
Role -> Function -> Permission -> Bucket, with no edge back.

Least privilege, as tests/test_deploy_template.py asserts: no ``s3:*``, no ``*`` resource on an S3 action, no
``*FullAccess`` managed policy (no managed policies at all: every statement is written out), and the dashboard
port open only to the CIDR given (by default a /32 that reaches nothing).

Module layout: this module assembles the template (parameters, conditions, outputs, :func:`build_template`,
:func:`render`, the moto variant); :mod:`lakebox.deploy.resources` builds the resources by part,
:mod:`lakebox.deploy.iam` the roles and policy documents, :mod:`lakebox.deploy.dashboard_host` the optional
EC2 host, :mod:`lakebox.deploy.intrinsics` the ``Ref``/``Fn::*`` helpers and the bucket-name expression.
Every name that used to live here is still importable from here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from lakebox.core.dataset import Dataset
from lakebox.deploy.intrinsics import BUCKET_NAME, Json, bucket_arn, get_att, glue_arn, join, ref, sub
from lakebox.deploy.resources import HANDLER, RUNTIME, catalog, dashboard, function, storage, tables

__all__ = [
    "BUCKET_NAME",
    "DEFAULT_PORT",
    "DESCRIPTION",
    "HANDLER",
    "MOTO_UNSUPPORTED",
    "RUNTIME",
    "Json",
    "bucket_arn",
    "build_template",
    "catalog",
    "conditions",
    "dashboard",
    "for_moto",
    "function",
    "get_att",
    "glue_arn",
    "join",
    "outputs",
    "parameters",
    "ref",
    "render",
    "storage",
    "sub",
    "tables",
    "to_json",
    "to_yaml",
]

DESCRIPTION = ("lakebox: S3 -> Lambda -> Glue -> Athena -> dashboard, with least-privilege roles "
               "(https://github.com/lakebox; lakebox deploy template)")

DEFAULT_PORT = 8080

#: Resource types moto's CloudFormation cannot create; :func:`for_moto` leaves them out.
MOTO_UNSUPPORTED = (
    "AWS::Glue::Database", "AWS::Glue::Table", "AWS::Glue::Crawler", "AWS::Athena::WorkGroup",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::SecretsManager::Secret",
)


def parameters() -> Json:
    return {
        "BucketName": {
            "Type": "String", "Default": "",
            "AllowedPattern": "^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "Description": "The lake's bucket. Empty: lakebox-<account>-<region>. `lakebox deploy up` sets it.",
        },
        "CodeBucket": {"Type": "String", "MinLength": 3,
                       "Description": "Bucket holding the function's zip (`lakebox deploy up` uploads it)."},
        "CodeKey": {"Type": "String", "MinLength": 1, "Description": "Key of the function's zip in CodeBucket."},
        "Architecture": {"Type": "String", "Default": "x86_64", "AllowedValues": ["x86_64", "arm64"],
                         "Description": "Must match `lakebox deploy package --arch`."},
        "DatabaseName": {"Type": "String", "Default": "orders_db", "AllowedPattern": "^[a-z0-9_]{1,255}$",
                         "Description": "Glue database (the local crawler's name)."},
        "TablePrefix": {"Type": "String", "Default": "orders_", "Description": "Crawler TablePrefix."},
        "CatalogUpdate": {"Type": "String", "Default": "direct", "AllowedValues": ["direct", "crawler"],
                          "Description": "After each file: update the Glue table directly, or start the crawler."},
        "BytesScannedCutoff": {"Type": "Number", "Default": 1073741824, "MinValue": 10000000,
                               "Description": "Athena cancels a query scanning more bytes than this (>= 10 MB)."},
        "FunctionMemory": {"Type": "Number", "Default": 2048, "MinValue": 512, "MaxValue": 10240},
        "FunctionTimeout": {"Type": "Number", "Default": 300, "MinValue": 30, "MaxValue": 900},
        "LogRetentionDays": {"Type": "Number", "Default": 30,
                             "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 180, 365]},
        "CreateDashboardHost": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"],
                                "Description": "Run `lakebox serve` on an EC2 instance."},
        "DashboardCidr": {
            "Type": "String", "Default": "127.0.0.1/32",
            "AllowedPattern": r"^(\d{1,3}\.){3}\d{1,3}/(3[0-2]|[12]?\d)$",
            "Description": "Who may reach the dashboard (port, or 443 with HTTPS), e.g. your.ip.address/32. "
                           "The default reaches nobody.",
        },
        "DashboardVpcId": {"Type": "String", "Default": "", "AllowedPattern": "^$|^vpc-[0-9a-f]+$",
                           "Description": "VPC of the host (and load balancer). Empty: the default VPC."},
        "DashboardSubnetId": {"Type": "String", "Default": "", "AllowedPattern": "^$|^subnet-[0-9a-f]+$",
                              "Description": "Subnet of the host (public, or with a NAT for installs). "
                                             "Empty: a default subnet of the default VPC."},
        "DashboardCertificateArn": {
            "Type": "String", "Default": "", "AllowedPattern": "^$|^arn:aws[a-z-]*:acm:.+$",
            "Description": "ACM certificate: serve the dashboard over HTTPS through a load balancer. "
                           "Needs DashboardVpcId and DashboardAlbSubnetIds.",
        },
        "DashboardAlbSubnetIds": {
            "Type": "CommaDelimitedList", "Default": "",
            "Description": "Two or more public subnets in different zones for the load balancer (HTTPS only).",
        },
        "DashboardPort": {"Type": "Number", "Default": DEFAULT_PORT, "MinValue": 1024, "MaxValue": 65535},
        "DashboardInstanceType": {"Type": "String", "Default": "t3.small"},
        "DashboardImageId": {
            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
            "Description": "Amazon Linux 2023, resolved from AWS's public SSM parameter at deploy time.",
        },
        "HostWheelKey": {
            "Type": "String", "Default": "",
            "Description": "Key in CodeBucket of the lakebox wheel the dashboard host installs (`deploy up` uploads it).",
        },
        "HostWheelSha256": {
            "Type": "String", "Default": "", "AllowedPattern": "^$|^[0-9a-f]{64}$",
            "Description": "SHA-256 of that wheel; the host refuses a file with any other hash.",
        },
    }


def conditions() -> Json:
    return {
        "AutoBucketName": {"Fn::Equals": [ref("BucketName"), ""]},
        "UseCrawler": {"Fn::Equals": [ref("CatalogUpdate"), "crawler"]},
        "WithDashboardHost": {"Fn::Equals": [ref("CreateDashboardHost"), "true"]},
        "WithHttps": {"Fn::And": [{"Condition": "WithDashboardHost"},
                                  {"Fn::Not": [{"Fn::Equals": [ref("DashboardCertificateArn"), ""]}]},
                                  {"Fn::Not": [{"Condition": "DefaultDashboardVpc"}]},
                                  {"Fn::Not": [{"Condition": "NoAlbSubnets"}]}]},
        "NoAlbSubnets": {"Fn::Equals": [{"Fn::Join": [",", ref("DashboardAlbSubnetIds")]}, ""]},
        "DefaultDashboardVpc": {"Fn::Equals": [ref("DashboardVpcId"), ""]},
        "DefaultDashboardSubnet": {"Fn::Equals": [ref("DashboardSubnetId"), ""]},
    }



def outputs() -> Json:
    return {
        "BucketName": {"Value": BUCKET_NAME, "Description": "The lake: upload CSVs to raw/"},
        "LakeUrl": {"Value": join("s3://", BUCKET_NAME), "Description": "Use with lakebox --lake"},
        "FunctionName": {"Value": ref("ProcessFunction")},
        "FailedEventsQueueUrl": {"Value": ref("FailedEventsQueue")},
        "DatabaseName": {"Value": ref("DatabaseName")},
        "CrawlerName": {"Value": sub("${AWS::StackName}-processed")},
        "WorkGroup": {"Value": sub("${AWS::StackName}")},
        "DashboardRoleArn": {"Value": get_att("DashboardRole", "Arn")},
        "DashboardUrl": {"Condition": "WithDashboardHost",
                         "Value": {"Fn::If": ["WithHttps", sub("https://${DashboardLoadBalancer.DNSName}/"),
                                              sub("http://${DashboardInstance.PublicDnsName}:${DashboardPort}/")]}},
        "DashboardInstanceId": {"Condition": "WithDashboardHost", "Value": ref("DashboardInstance"),
                                "Description": "aws ssm start-session --target <this>"},
        "DashboardTokenSecret": {"Condition": "WithDashboardHost", "Value": ref("DashboardToken")},
    }


#: The parameter of the first year Athena's partition projection covers (only with a partitioned dataset).
PROJECTION_START: Json = {
    "PartitionProjectionStartYear": {
        "Type": "String", "Default": "2000", "AllowedPattern": "^[0-9]{4}$",
        "Description": "First year of the partition's date column that Athena projects partitions for; rows "
                       "dated earlier, or more than a year ahead, are not read by Athena.",
    },
}


def build_template(datasets: Sequence[Dataset] = ()) -> Json:
    """The full template as a dict (JSON-serialisable, keys in a stable order). ``datasets`` are the lake's
    (``[datasets.NAME]`` of lakebox.toml): given to the function, and a partitioned one gets its Glue table
    with Athena partition projection (:func:`lakebox.deploy.resources.tables`)."""
    resources: Json = {}
    for part in (storage(), function(datasets), catalog(), tables(datasets), dashboard()):
        resources.update(part)
    params = parameters()
    if "PartitionProjectionStartYear" in json.dumps(resources):
        params |= PROJECTION_START
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": DESCRIPTION,
        "Parameters": params,
        "Conditions": conditions(),
        "Resources": resources,
        "Outputs": outputs(),
    }


def for_moto(template: Json) -> Json:
    """A reduced variant for moto's CloudFormation: resources moto cannot create are dropped, with every
    reference to them (the crawler name in the function's environment is a plain string, so it stays).
    Used by the tests only; the real stack is always the full template."""
    t = json.loads(json.dumps(template))
    dropped = {name for name, r in t["Resources"].items() if r["Type"] in MOTO_UNSUPPORTED}
    dropped |= {name for name, r in t["Resources"].items() if r.get("Condition") in ("WithDashboardHost", "WithHttps")}
    for name in dropped:
        t["Resources"].pop(name)
    for r in t["Resources"].values():
        deps = [d for d in r.get("DependsOn", []) if d not in dropped]
        if deps:
            r["DependsOn"] = deps
        else:
            r.pop("DependsOn", None)
    for r in t["Resources"].values():
        # moto knows only Retain; after a successful create, RetainExceptOnCreate behaves exactly like it.
        if r.get("DeletionPolicy") == "RetainExceptOnCreate":
            r["DeletionPolicy"] = "Retain"
    role = t["Resources"]["DashboardRole"]["Properties"]
    role["Policies"] = role["Policies"][:1]
    t["Outputs"] = {k: v for k, v in t["Outputs"].items() if "Condition" not in v}
    # moto's ValidateTemplate rejects parameters and conditions nothing refers to (the dropped host's).
    body = json.dumps({k: t[k] for k in ("Resources", "Outputs")})
    used = {c for c in t["Conditions"] if f'"Condition": "{c}"' in body or f'["{c}",' in body}
    while True:
        more = {c for c in t["Conditions"] for u in used if f'"Condition": "{c}"' in json.dumps(t["Conditions"][u])}
        if more <= used:
            break
        used |= more
    t["Conditions"] = {k: v for k, v in t["Conditions"].items() if k in used}
    text = json.dumps({k: v for k, v in t.items() if k != "Parameters"})
    t["Parameters"] = {k: v for k, v in t["Parameters"].items()
                       if f'"Ref": "{k}"' in text or "${" + k + "}" in text}
    return t


def to_json(template: Json) -> str:
    return json.dumps(template, indent=2, sort_keys=False) + "\n"


def to_yaml(template: Json) -> str:
    """YAML with long-form intrinsics (``Fn::Sub:``), which CloudFormation accepts, so no custom tags."""
    import yaml

    class NoAliases(yaml.SafeDumper):
        # Shared sub-dicts (the bucket-name expression) must be written out each time: CloudFormation
        # rejects YAML anchors and aliases.
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return str(yaml.dump(template, Dumper=NoAliases, sort_keys=False, width=110, default_flow_style=False))


def render(fmt: str = "yaml", datasets: Sequence[Dataset] = ()) -> str:
    template = build_template(datasets)
    return to_json(template) if fmt == "json" else to_yaml(template)
