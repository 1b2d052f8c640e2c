"""The stack's IAM roles and their policy documents, every statement written out.

Least privilege, as tests/test_deploy_template.py asserts: no ``s3:*``, no ``*`` resource on an S3 action, no
``*FullAccess`` managed policy (no managed policies at all). S3 access is limited to prefixes of the lake
bucket, Glue access to the stack's database (and the function's to its own table), Athena access to the
stack's workgroup.
"""

from __future__ import annotations

from lakebox.deploy.intrinsics import Json, bucket_arn, get_att, glue_arn, join, ref, sub


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


def process_function_role() -> Json:
    """ProcessFunctionRole: read raw/, write processed/ quarantine/ _lakebox/, update its own Glue table."""
    log_group_arn = sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                        "log-group:/aws/lambda/${AWS::StackName}-process")
    table = join(ref("TablePrefix"), "processed")
    return {
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
    }


def crawler_role() -> Json:
    """CrawlerRole: the Glue crawler reads processed/ and writes tables of the stack's database."""
    return {
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
    }


def dashboard_role() -> Json:
    """DashboardRole: query in the stack's workgroup, read the catalog and processed data; the host's extra
    policy (its token secret, its package) only when the dashboard host is created."""
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
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _assume("ec2.amazonaws.com"),
            "Policies": [_policy("lakebox-dashboard", statements),
                         {"Fn::If": ["WithDashboardHost", _policy("lakebox-dashboard-host", host_statements),
                                     ref("AWS::NoValue")]}],
        },
    }
