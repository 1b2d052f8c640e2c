"""The CloudFormation template for lakebox on AWS, built as a Python dict.

One stack holds the whole pipeline::

    Bucket (raw/ processed/ enriched/ quarantine/ _lakebox/)
      raw/*.csv --notification--> ProcessFunction --async failure--> FailedEventsQueue (SQS)
    GlueDatabase orders_db <- ProcessFunction (its own table) / ProcessedCrawler (processed/, prefix orders_)
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
"""

from __future__ import annotations

import json
from typing import Any

DESCRIPTION = ("lakebox: S3 -> Lambda -> Glue -> Athena -> dashboard, with least-privilege roles "
               "(https://github.com/lakebox; lakebox deploy template)")

HANDLER = "lakebox.process.handler.lambda_handler"
RUNTIME = "python3.12"
DEFAULT_PORT = 8080

#: Resource types moto's CloudFormation cannot create; :func:`for_moto` leaves them out.
MOTO_UNSUPPORTED = (
    "AWS::Glue::Database", "AWS::Glue::Crawler", "AWS::Athena::WorkGroup", "AWS::Lambda::EventInvokeConfig",
    "AWS::SecretsManager::Secret",
)

Json = dict[str, Any]


def ref(name: str) -> Json:
    return {"Ref": name}


def sub(text: str) -> Json:
    return {"Fn::Sub": text}


def get_att(resource: str, attr: str) -> Json:
    return {"Fn::GetAtt": [resource, attr]}


def join(*parts: Any) -> Json:
    return {"Fn::Join": ["", list(parts)]}


#: The bucket name as a string expression: the parameter, or lakebox-<account>-<region> when it is empty.
BUCKET_NAME: Json = {"Fn::If": ["AutoBucketName", sub("lakebox-${AWS::AccountId}-${AWS::Region}"),
                                ref("BucketName")]}


def bucket_arn(suffix: str = "") -> Json:
    """``arn:aws:s3:::<bucket><suffix>`` without referring to the bucket resource (no cycle)."""
    return join("arn:", ref("AWS::Partition"), ":s3:::", BUCKET_NAME, suffix)


def glue_arn(kind: str, tail: Any = "") -> Json:
    parts: list[Any] = [sub(f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:{kind}")]
    if tail != "":
        parts += ["/", tail]
    return join(*parts)


def _policy(name: str, statements: list[Json]) -> Json:
    return {"PolicyName": name, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}


def _assume(service: str) -> Json:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def _list_bucket(prefixes: list[str], sid: str) -> Json:
    """ListBucket limited to some prefixes (ListBucket is a bucket action: its resource is the bucket ARN,
    and the prefix condition is what keeps it narrow)."""
    return {"Sid": sid, "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn(),
            "Condition": {"StringLike": {"s3:prefix": [p for pre in prefixes for p in (pre, pre + "*")]}}}


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
            "Description": "Who may reach the dashboard port, e.g. your.ip.address/32. The default reaches nobody.",
        },
        "DashboardPort": {"Type": "Number", "Default": DEFAULT_PORT, "MinValue": 1024, "MaxValue": 65535},
        "DashboardInstanceType": {"Type": "String", "Default": "t3.small"},
        "DashboardImageId": {
            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
            "Description": "Amazon Linux 2023, resolved from AWS's public SSM parameter at deploy time.",
        },
        "LakeboxPipSpec": {
            "Type": "String", "Default": "lakebox",
            "Description": "What the dashboard host pip-installs: a requirement, or s3://CodeBucket/lakebox/<wheel>.",
        },
    }


def conditions() -> Json:
    return {
        "AutoBucketName": {"Fn::Equals": [ref("BucketName"), ""]},
        "UseCrawler": {"Fn::Equals": [ref("CatalogUpdate"), "crawler"]},
        "WithDashboardHost": {"Fn::Equals": [ref("CreateDashboardHost"), "true"]},
    }


def storage() -> Json:
    return {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            # The notification is validated at creation: S3 must already be allowed to invoke the function.
            "DependsOn": ["ProcessFunctionInvokePermission"],
            # Retain: data outlives a mistaken `deploy down`; lakebox's `down` empties and deletes it on purpose.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": BUCKET_NAME,
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]},
                "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                   "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {"Rules": [
                    # Versioning keeps every overwritten processed/ object; old versions cost storage forever
                    # unless expired. 30 days is enough to recover from a bad run.
                    {"Id": "expire-noncurrent", "Status": "Enabled",
                     "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
                    {"Id": "abort-incomplete-multipart", "Status": "Enabled",
                     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
                    # Athena writes one result file per query; the dashboard never needs old ones.
                    {"Id": "expire-query-results", "Status": "Enabled", "Prefix": "enriched/",
                     "ExpirationInDays": 30},
                ]},
                "NotificationConfiguration": {"LambdaConfigurations": [{
                    "Event": "s3:ObjectCreated:*",
                    "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "raw/"},
                                                   {"Name": "suffix", "Value": ".csv"}]}},
                    "Function": get_att("ProcessFunction", "Arn"),
                }]},
                "Tags": [{"Key": "lakebox:stack", "Value": ref("AWS::StackName")}],
            },
        },
        "BucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": ref("Bucket"),
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "Resource": [bucket_arn(), bucket_arn("/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }]},
            },
        },
    }


def function() -> Json:
    fn_name = sub("${AWS::StackName}-process")
    log_group_arn = sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                        "log-group:/aws/lambda/${AWS::StackName}-process")
    table = join(ref("TablePrefix"), "processed")
    return {
        "FailedEventsQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True},
        },
        "ProcessFunctionLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": sub("/aws/lambda/${AWS::StackName}-process"),
                           "RetentionInDays": ref("LogRetentionDays")},
        },
        "ProcessFunctionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": _assume("lambda.amazonaws.com"),
                "Policies": [_policy("lakebox-process", [
                    {"Sid": "ReadRaw", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                     "Resource": bucket_arn("/raw/*")},
                    {"Sid": "WriteOutputs", "Effect": "Allow",
                     "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                     "Resource": [bucket_arn("/processed/*"), bucket_arn("/quarantine/*"),
                                  bucket_arn("/_lakebox/*")]},
                    # It reads its ledger and catalog cache back, and the processed footers it catalogs.
                    {"Sid": "ReadOwnState", "Effect": "Allow", "Action": "s3:GetObject",
                     "Resource": [bucket_arn("/processed/*"), bucket_arn("/_lakebox/*")]},
                    _list_bucket(["processed/", "_lakebox/"], "ListOwnPrefixes"),
                    {"Sid": "UpdateOwnTable", "Effect": "Allow",
                     "Action": ["glue:GetTable", "glue:CreateTable", "glue:UpdateTable",
                                "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchDeletePartition"],
                     "Resource": [glue_arn("catalog"), glue_arn("database", ref("DatabaseName")),
                                  glue_arn("table", join(ref("DatabaseName"), "/", table))]},
                    {"Sid": "StartOwnCrawler", "Effect": "Allow", "Action": "glue:StartCrawler",
                     "Resource": glue_arn("crawler", sub("${AWS::StackName}-processed"))},
                    {"Sid": "FailedEvents", "Effect": "Allow", "Action": "sqs:SendMessage",
                     "Resource": get_att("FailedEventsQueue", "Arn")},
                    {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                     "Resource": join(log_group_arn, ":*")},
                ])],
            },
        },
        "ProcessFunction": {
            "Type": "AWS::Lambda::Function",
            "DependsOn": ["ProcessFunctionLogGroup"],
            "Properties": {
                "FunctionName": fn_name,
                "Description": "lakebox: raw/*.csv -> processed/ + quarantine/, then the Glue table",
                "Runtime": RUNTIME,
                "Handler": HANDLER,
                "Architectures": [ref("Architecture")],
                "Code": {"S3Bucket": ref("CodeBucket"), "S3Key": ref("CodeKey")},
                "Role": get_att("ProcessFunctionRole", "Arn"),
                "MemorySize": ref("FunctionMemory"),
                "Timeout": ref("FunctionTimeout"),
                "EphemeralStorage": {"Size": 4096},
                "Environment": {"Variables": {
                    "LAKEBOX_LAKE": join("s3://", BUCKET_NAME),
                    "LAKEBOX_CATALOG": "glue",
                    "LAKEBOX_DATABASE": ref("DatabaseName"),
                    "LAKEBOX_TABLE_PREFIX": ref("TablePrefix"),
                    "LAKEBOX_GLUE_CRAWLER": {"Fn::If": ["UseCrawler", sub("${AWS::StackName}-processed"), ""]},
                    # DuckDB keeps its home (extensions, temp) under $HOME; /tmp is the only writable place.
                    "HOME": "/tmp",
                    "LAKEBOX_MEMORY_LIMIT": "1GB",
                }},
            },
        },
        "ProcessFunctionInvokePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": ref("ProcessFunction"),
                "Principal": "s3.amazonaws.com",
                "SourceArn": bucket_arn(),
                "SourceAccount": ref("AWS::AccountId"),
            },
        },
        "ProcessFunctionAsyncConfig": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": ref("ProcessFunction"),
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "MaximumEventAgeInSeconds": 21600,
                "DestinationConfig": {"OnFailure": {"Destination": get_att("FailedEventsQueue", "Arn")}},
            },
        },
    }


def catalog() -> Json:
    return {
        "GlueDatabase": {
            "Type": "AWS::Glue::Database",
            "Properties": {"CatalogId": ref("AWS::AccountId"),
                           "DatabaseInput": {"Name": ref("DatabaseName"),
                                             "Description": "lakebox processed data"}},
        },
        "CrawlerRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": _assume("glue.amazonaws.com"),
                "Policies": [_policy("lakebox-crawler", [
                    {"Sid": "ReadProcessed", "Effect": "Allow", "Action": "s3:GetObject",
                     "Resource": bucket_arn("/processed/*")},
                    _list_bucket(["processed/"], "ListProcessed"),
                    {"Sid": "WriteCatalog", "Effect": "Allow",
                     "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable",
                                "glue:UpdateTable", "glue:GetPartition", "glue:GetPartitions",
                                "glue:BatchGetPartition", "glue:CreatePartition", "glue:BatchCreatePartition",
                                "glue:UpdatePartition", "glue:BatchUpdatePartition"],
                     "Resource": [glue_arn("catalog"), glue_arn("database", ref("DatabaseName")),
                                  glue_arn("table", join(ref("DatabaseName"), "/*"))]},
                    {"Sid": "Logs", "Effect": "Allow",
                     "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                     "Resource": sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                                     "log-group:/aws-glue/crawlers*")},
                ])],
            },
        },
        "ProcessedCrawler": {
            "Type": "AWS::Glue::Crawler",
            "DependsOn": ["GlueDatabase"],
            "Properties": {
                "Name": sub("${AWS::StackName}-processed"),
                "Role": get_att("CrawlerRole", "Arn"),
                "DatabaseName": ref("DatabaseName"),
                "TablePrefix": ref("TablePrefix"),
                "Targets": {"S3Targets": [{"Path": join("s3://", BUCKET_NAME, "/processed/"),
                                           "Exclusions": ["**/.lakebox-tmp-*", "**/_*"]}]},
                "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE",
                                       "DeleteBehavior": "DEPRECATE_IN_DATABASE"},
                # One table per include path, as the local crawler groups it.
                "Configuration": json.dumps({"Version": 1.0,
                                             "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}}),
            },
        },
        "AthenaWorkGroup": {
            "Type": "AWS::Athena::WorkGroup",
            "Properties": {
                "Name": sub("${AWS::StackName}"),
                "Description": "lakebox queries; results in enriched/",
                "State": "ENABLED",
                # Let `deploy down` delete the workgroup although it has query history.
                "RecursiveDeleteOption": True,
                "WorkGroupConfiguration": {
                    "EnforceWorkGroupConfiguration": True,
                    "PublishCloudWatchMetricsEnabled": True,
                    "BytesScannedCutoffPerQuery": ref("BytesScannedCutoff"),
                    "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                    "ResultConfiguration": {
                        "OutputLocation": join("s3://", BUCKET_NAME, "/enriched/"),
                        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                    },
                },
            },
        },
    }


def dashboard() -> Json:
    workgroup_arn = sub("arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AWS::StackName}")
    statements: list[Json] = [
        {"Sid": "AthenaInOwnWorkGroup", "Effect": "Allow",
         "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                    "athena:StopQueryExecution", "athena:ListQueryExecutions", "athena:BatchGetQueryExecution",
                    "athena:GetWorkGroup"],
         "Resource": workgroup_arn},
        {"Sid": "ReadCatalog", "Effect": "Allow",
         "Action": ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                    "glue:GetTableVersions", "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"],
         "Resource": [glue_arn("catalog"), glue_arn("database", ref("DatabaseName")),
                      glue_arn("table", join(ref("DatabaseName"), "/*"))]},
        {"Sid": "ReadProcessedAndState", "Effect": "Allow", "Action": "s3:GetObject",
         # _lakebox/ is read for the run ledger the dashboard shows; it is never written from here.
         "Resource": [bucket_arn("/processed/*"), bucket_arn("/_lakebox/*")]},
        {"Sid": "QueryResults", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
         "Resource": bucket_arn("/enriched/*")},
        _list_bucket(["processed/", "enriched/", "_lakebox/"], "ListReadablePrefixes"),
        {"Sid": "BucketLocation", "Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": bucket_arn()},
    ]
    host_statements: list[Json] = [
        {"Sid": "DashboardToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": ref("DashboardToken")},
        {"Sid": "InstallPackage", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": join("arn:", ref("AWS::Partition"), ":s3:::", ref("CodeBucket"), "/lakebox/*")},
    ]
    user_data = "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        "dnf install -y python3.12 python3.12-pip",
        "python3.12 -m venv /opt/lakebox",
        "SPEC='${LakeboxPipSpec}'",
        'if [[ "$SPEC" == s3://* ]]; then aws s3 cp "$SPEC" /opt/ && SPEC="/opt/$(basename "$SPEC")"; fi',
        '/opt/lakebox/bin/pip install "$SPEC"',
        "useradd --system --home-dir /var/lib/lakebox --create-home lakebox || true",
        "install -d -m 0750 -o root -g lakebox /etc/lakebox",
        # The token never appears in the template, the stack's parameters or the user data: it is read
        # from Secrets Manager at boot into a root-owned file only the service can read.
        "TOKEN=$(aws secretsmanager get-secret-value --region ${AWS::Region} --secret-id ${DashboardToken} "
        "--query SecretString --output text)",
        "umask 027",
        "cat > /etc/lakebox/env <<EOF",
        "LAKEBOX_LAKE=s3://${ResolvedBucket}",
        "LAKEBOX_ENGINE=athena",
        "LAKEBOX_CATALOG=glue",
        "LAKEBOX_WORKGROUP=${AWS::StackName}",
        "LAKEBOX_DATABASE=${DatabaseName}",
        "LAKEBOX_REGION=${AWS::Region}",
        "LAKEBOX_HOST=0.0.0.0",
        "LAKEBOX_PORT=${DashboardPort}",
        "LAKEBOX_TOKEN=$TOKEN",
        "EOF",
        "chgrp lakebox /etc/lakebox/env",
        "cat > /etc/systemd/system/lakebox.service <<'EOF'",
        "[Unit]",
        "Description=lakebox dashboard",
        "After=network-online.target",
        "Wants=network-online.target",
        "[Service]",
        "User=lakebox",
        "EnvironmentFile=/etc/lakebox/env",
        "ExecStart=/opt/lakebox/bin/lakebox serve",
        "Restart=on-failure",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ProtectHome=true",
        "PrivateTmp=true",
        "[Install]",
        "WantedBy=multi-user.target",
        "EOF",
        "systemctl daemon-reload",
        "systemctl enable --now lakebox.service",
        "",
    ])
    return {
        "DashboardRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": _assume("ec2.amazonaws.com"),
                "Policies": [_policy("lakebox-dashboard", statements),
                             {"Fn::If": ["WithDashboardHost", _policy("lakebox-dashboard-host", host_statements),
                                         ref("AWS::NoValue")]}],
            },
        },
        "DashboardToken": {
            "Type": "AWS::SecretsManager::Secret",
            "Condition": "WithDashboardHost",
            "Properties": {
                "Description": "lakebox dashboard access token",
                "GenerateSecretString": {"PasswordLength": 40, "ExcludePunctuation": True},
            },
        },
        "DashboardInstanceProfile": {
            "Type": "AWS::IAM::InstanceProfile",
            "Condition": "WithDashboardHost",
            "Properties": {"Roles": [ref("DashboardRole")]},
        },
        "DashboardSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Condition": "WithDashboardHost",
            "Properties": {
                "GroupDescription": "lakebox dashboard: one port, one CIDR",
                "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": ref("DashboardPort"),
                                          "ToPort": ref("DashboardPort"), "CidrIp": ref("DashboardCidr"),
                                          "Description": "lakebox serve"}],
            },
        },
        "DashboardInstance": {
            "Type": "AWS::EC2::Instance",
            "Condition": "WithDashboardHost",
            "Properties": {
                "ImageId": ref("DashboardImageId"),
                "InstanceType": ref("DashboardInstanceType"),
                "IamInstanceProfile": ref("DashboardInstanceProfile"),
                "SecurityGroupIds": [get_att("DashboardSecurityGroup", "GroupId")],
                "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                                         "Ebs": {"VolumeSize": 20, "VolumeType": "gp3", "Encrypted": True}}],
                "UserData": {"Fn::Base64": {"Fn::Sub": [user_data, {"ResolvedBucket": BUCKET_NAME}]}},
                "Tags": [{"Key": "Name", "Value": sub("${AWS::StackName}-dashboard")}],
            },
        },
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
                         "Value": sub("http://${DashboardInstance.PublicDnsName}:${DashboardPort}/")},
        "DashboardTokenSecret": {"Condition": "WithDashboardHost", "Value": ref("DashboardToken")},
    }


def build_template() -> Json:
    """The full template as a dict (JSON-serialisable, keys in a stable order)."""
    resources: Json = {}
    for part in (storage(), function(), catalog(), dashboard()):
        resources.update(part)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": DESCRIPTION,
        "Parameters": parameters(),
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
    dropped |= {name for name, r in t["Resources"].items() if r.get("Condition") == "WithDashboardHost"}
    for name in dropped:
        t["Resources"].pop(name)
    for r in t["Resources"].values():
        deps = [d for d in r.get("DependsOn", []) if d not in dropped]
        if deps:
            r["DependsOn"] = deps
        else:
            r.pop("DependsOn", None)
    role = t["Resources"]["DashboardRole"]["Properties"]
    role["Policies"] = role["Policies"][:1]
    t["Outputs"] = {k: v for k, v in t["Outputs"].items() if "Condition" not in v}
    # moto cannot resolve SSM-typed parameters for images it does not know; the host is dropped anyway.
    t["Parameters"]["DashboardImageId"] = {"Type": "String", "Default": "ami-12c6146b"}
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


def render(fmt: str = "yaml") -> str:
    return to_json(build_template()) if fmt == "json" else to_yaml(build_template())
