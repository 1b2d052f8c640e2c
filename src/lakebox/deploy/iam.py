"""The stack's IAM roles and their policy documents, every statement written out, and the deployer's policy.

Least privilege is proved by trace (tests/test_deploy_iam.py): every AWS call the handler, the crawler, the
dashboard and ``lakebox deploy`` make against moto is evaluated against these statements, and every grant
must be used by some call. Calls that AWS services make with a role's credentials on lakebox's behalf (Lambda
writing logs and failed events, Athena reading the tables it queries, the Glue crawler service, the host's
boot script) cannot be observed against moto; they are declared in :data:`SERVICE_SIDE` with the reason, and
count as uses.

Rules the template tests also assert: no ``s3:*``, no ``*`` resource on an S3 action, no managed policies.
S3 access is limited to prefixes of the lake bucket, Glue writes to the stack's database, Athena to the
stack's workgroup.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakebox.deploy.intrinsics import Json, bucket_arn, get_att, glue_arn, join, ref, sub

#: The table the function and the crawler write (the processed/ folder with the crawler's prefix).
OWN_TABLE = join(ref("DatabaseName"), "/", ref("TablePrefix"), "processed")
LOG_ARN = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"


def _policy(name: str, statements: list[Json]) -> Json:
    return {"PolicyName": name, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}


def _assume(service: str) -> Json:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def _list_bucket(prefixes: list[str], sid: str) -> Json:
    """ListBucket limited to some prefixes (ListBucket is a bucket action: its resource is the bucket ARN,
    and the ``s3:prefix`` condition is what keeps it narrow)."""
    return {"Sid": sid, "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn(),
            "Condition": {"StringLike": {"s3:prefix": [p + "*" for p in prefixes]}}}


def _glue_catalog(*tails: Json) -> list[Json]:
    """Glue checks the catalog and the database as well as the object itself."""
    return [glue_arn("catalog"), glue_arn("database", ref("DatabaseName")), *tails]


def process_function_role() -> Json:
    """ProcessFunctionRole: read raw/, write processed/ quarantine/ _lakebox/, update its own Glue table."""
    log_group = sub(LOG_ARN + "/aws/lambda/${AWS::StackName}-process")
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _assume("lambda.amazonaws.com"),
            "Policies": [_policy("lakebox-process", [
                # HeadObject is GetObject too. The function reads back its ledger and state (_lakebox/), the
                # processed footers it catalogs, and heads its quarantine file before replacing it.
                {"Sid": "ReadInputsAndOwnObjects", "Effect": "Allow", "Action": "s3:GetObject",
                 "Resource": [bucket_arn("/raw/*"), bucket_arn("/processed/*"), bucket_arn("/quarantine/*"),
                              bucket_arn("/_lakebox/*")]},
                {"Sid": "WriteOutputs", "Effect": "Allow", "Action": "s3:PutObject",
                 "Resource": [bucket_arn("/processed/*"), bucket_arn("/quarantine/*"),
                              bucket_arn("/_lakebox/*")]},
                # A file reprocessed clean loses its stale quarantine file; nothing else is ever deleted.
                {"Sid": "DeleteStaleQuarantine", "Effect": "Allow", "Action": "s3:DeleteObject",
                 "Resource": bucket_arn("/quarantine/*")},
                # Without ListBucket, S3 answers 403 instead of 404 for a raw object deleted before it was
                # processed, and the event would end in the failed-events queue instead of being ignored.
                # That check carries no prefix, so this grant cannot have a prefix condition.
                {"Sid": "ListLake", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn()},
                {"Sid": "UpdateOwnTable", "Effect": "Allow",
                 "Action": ["glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "glue:GetPartitions",
                            "glue:BatchCreatePartition"],
                 "Resource": _glue_catalog(glue_arn("table", OWN_TABLE))},
                {"Sid": "StartOwnCrawler", "Effect": "Allow", "Action": "glue:StartCrawler",
                 "Resource": glue_arn("crawler", sub("${AWS::StackName}-processed"))},
                {"Sid": "FailedEvents", "Effect": "Allow", "Action": "sqs:SendMessage",
                 "Resource": get_att("FailedEventsQueue", "Arn")},
                {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": join(log_group, ":*")},
            ])],
        },
    }


def crawler_role() -> Json:
    """CrawlerRole: the Glue crawler reads processed/ and writes the stack's table."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _assume("glue.amazonaws.com"),
            "Policies": [_policy("lakebox-crawler", [
                {"Sid": "ReadProcessed", "Effect": "Allow", "Action": "s3:GetObject",
                 "Resource": bucket_arn("/processed/*")},
                _list_bucket(["processed/"], "ListProcessed"),
                # Glue's crawler documentation lists these two for every S3 target.
                {"Sid": "BucketInfo", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetBucketAcl"],
                 "Resource": bucket_arn()},
                {"Sid": "ReadDatabase", "Effect": "Allow", "Action": "glue:GetDatabase", "Resource": _glue_catalog()},
                {"Sid": "ListTables", "Effect": "Allow", "Action": "glue:GetTables",
                 "Resource": _glue_catalog(glue_arn("table", join(ref("DatabaseName"), "/*")))},
                {"Sid": "WriteOwnTable", "Effect": "Allow",
                 "Action": ["glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
                            "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchDeletePartition"],
                 "Resource": _glue_catalog(glue_arn("table", OWN_TABLE))},
                {"Sid": "Logs", "Effect": "Allow",
                 "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": sub(LOG_ARN + "/aws-glue/crawlers:*")},
            ])],
        },
    }


def dashboard_role() -> Json:
    """DashboardRole: query in the stack's workgroup, read the catalog, the ledger and the quarantine; the
    host's extra policy (its token secret, its package, Session Manager) only when the host is created."""
    workgroup_arn = sub("arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AWS::StackName}")
    statements: list[Json] = [
        # Queries, their results, a timed-out query's stop, and the workbench's history.
        {"Sid": "AthenaInOwnWorkGroup", "Effect": "Allow",
         "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                    "athena:StopQueryExecution", "athena:ListQueryExecutions", "athena:BatchGetQueryExecution"],
         "Resource": workgroup_arn},
        # The dashboard lists every database's tables (the SQL editor's database picker, the tables page);
        # GetDatabases needs database/* and GetTables the database and its tables. Definitions only: the
        # data of other databases stays unreadable (no S3 access outside this lake).
        {"Sid": "ListDatabases", "Effect": "Allow", "Action": "glue:GetDatabases",
         "Resource": [glue_arn("catalog"), glue_arn("database", "*")]},
        {"Sid": "ListTables", "Effect": "Allow", "Action": "glue:GetTables",
         "Resource": [glue_arn("catalog"), glue_arn("database", "*"), glue_arn("table", "*/*")]},
        # Athena reads the queried table's definition and partitions with the caller's permissions.
        {"Sid": "ReadOwnDatabase", "Effect": "Allow", "Action": "glue:GetDatabase", "Resource": _glue_catalog()},
        {"Sid": "ReadOwnTables", "Effect": "Allow",
         "Action": ["glue:GetTable", "glue:GetPartitions", "glue:GetTableVersions"],
         "Resource": _glue_catalog(glue_arn("table", join(ref("DatabaseName"), "/*")))},
        {"Sid": "ReadLedgerAndQuarantine", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": [bucket_arn("/_lakebox/runs/*"), bucket_arn("/_lakebox/state/*"),
                      bucket_arn("/_lakebox/failed/*"), bucket_arn("/quarantine/*")]},
        # The workbench's saved queries (panels) live in the lake; the dashboard writes nothing else there.
        {"Sid": "SavedQueries", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": bucket_arn("/_lakebox/queries/*")},
        _list_bucket(["_lakebox/runs/", "_lakebox/state/", "_lakebox/failed/", "_lakebox/queries/", "quarantine/",
                      "processed/"], "ListReadablePrefixes"),
        # Athena reads processed/ and writes its results to enriched/ with the caller's permissions.
        {"Sid": "AthenaData", "Effect": "Allow", "Action": "s3:GetObject", "Resource": bucket_arn("/processed/*")},
        {"Sid": "AthenaResults", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
         "Resource": bucket_arn("/enriched/*")},
        {"Sid": "BucketLocation", "Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": bucket_arn()},
    ]
    host_statements: list[Json] = [
        {"Sid": "DashboardToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": ref("DashboardToken")},
        {"Sid": "InstallPackage", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": join("arn:", ref("AWS::Partition"), ":s3:::", ref("CodeBucket"), "/", ref("HostWheelKey"))},
        {"Sid": "SessionManager", "Effect": "Allow",
         "Action": ["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel"],
         "Resource": "*"},
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


# --- calls made with a role's credentials that no test can observe --------------------------------------------

@dataclass(frozen=True)
class ServiceCall:
    """A call an AWS service (or the host's boot script) makes with a role's credentials."""

    action: str
    resource: str  # an ${...} template resolved like the policies
    by: str  # who makes it, and the documentation that says so

    def __str__(self) -> str:
        return f"{self.action} ({self.by})"


_LAMBDA = "Lambda runtime"
_ATHENA = "Athena, with the caller's permissions (Athena IAM docs: access to Glue and S3)"
_CRAWLER = "the Glue crawler service (Glue docs: crawler IAM role)"
_BOOT = "the host's boot script"
_SSM = "SSM Agent, for Session Manager (SSM docs: minimum instance permissions)"

SERVICE_SIDE: dict[str, tuple[ServiceCall, ...]] = {
    "ProcessFunctionRole": (
        ServiceCall("logs:CreateLogStream", LOG_ARN + "/aws/lambda/${AWS::StackName}-process:log-stream:x", _LAMBDA),
        ServiceCall("logs:PutLogEvents", LOG_ARN + "/aws/lambda/${AWS::StackName}-process:log-stream:x", _LAMBDA),
        ServiceCall("sqs:SendMessage", "${FailedEventsQueue.Arn}",
                    "Lambda's on-failure destination, with the execution role"),
    ),
    "CrawlerRole": (
        ServiceCall("s3:GetBucketLocation", "arn:${AWS::Partition}:s3:::${LakeBucketName}", _CRAWLER),
        ServiceCall("s3:GetBucketAcl", "arn:${AWS::Partition}:s3:::${LakeBucketName}", _CRAWLER),
        ServiceCall("glue:GetDatabase", "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog",
                    _CRAWLER),
        ServiceCall("glue:GetDatabase", "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
                    "database/${DatabaseName}", _CRAWLER),
        ServiceCall("glue:GetTables", "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog",
                    _CRAWLER),
        ServiceCall("glue:GetTables", "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
                    "database/${DatabaseName}", _CRAWLER),
        ServiceCall("glue:GetTables", "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
                    "table/${DatabaseName}/x", _CRAWLER),
        ServiceCall("logs:CreateLogGroup", LOG_ARN + "/aws-glue/crawlers:log-stream:x", _CRAWLER),
        ServiceCall("logs:CreateLogStream", LOG_ARN + "/aws-glue/crawlers:log-stream:x", _CRAWLER),
        ServiceCall("logs:PutLogEvents", LOG_ARN + "/aws-glue/crawlers:log-stream:x", _CRAWLER),
    ),
    "DashboardRole": (
        ServiceCall("glue:GetDatabase", "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog",
                    _ATHENA),
        ServiceCall("glue:GetDatabase", "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
                    "database/${DatabaseName}", _ATHENA),
        *(ServiceCall(f"glue:{a}", r, _ATHENA)
          for a in ("GetTable", "GetPartitions")
          for r in ("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog",
                    "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/${DatabaseName}",
                    "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${DatabaseName}/x")),
        ServiceCall("s3:GetObject", "arn:${AWS::Partition}:s3:::${LakeBucketName}/processed/x.parquet", _ATHENA),
        ServiceCall("s3:ListBucket", "arn:${AWS::Partition}:s3:::${LakeBucketName}", _ATHENA + " [s3:prefix=processed/]"),
        ServiceCall("s3:GetBucketLocation", "arn:${AWS::Partition}:s3:::${LakeBucketName}", _ATHENA),
        ServiceCall("s3:PutObject", "arn:${AWS::Partition}:s3:::${LakeBucketName}/enriched/x.csv", _ATHENA),
        ServiceCall("s3:GetObject", "arn:${AWS::Partition}:s3:::${LakeBucketName}/enriched/x.csv", _ATHENA),
        ServiceCall("s3:AbortMultipartUpload", "arn:${AWS::Partition}:s3:::${LakeBucketName}/enriched/x.csv", _ATHENA),
        ServiceCall("secretsmanager:GetSecretValue", "${DashboardToken}", _BOOT),
        ServiceCall("s3:GetObject", "arn:${AWS::Partition}:s3:::${CodeBucket}/${HostWheelKey}", _BOOT),
        *(ServiceCall(a, "*", _SSM) for a in (
            "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel")),
    ),
}

#: Condition keys a service-side call carries (by its ``by`` text).
SERVICE_CONTEXT = {_ATHENA + " [s3:prefix=processed/]": {"s3:prefix": "processed/"}}


# --- the deployer --------------------------------------------------------------------------------------------

ARTIFACTS_PARAMETER = "/lakebox/artifacts-bucket"


def deployer_policy() -> Json:
    """The identity policy ``lakebox deploy up|status|down|policy`` itself needs, as a template (resolve it
    with :func:`lakebox.deploy.authz.resolve`; ``${LakeBucket}`` is the stack's lake bucket).

    CloudFormation also creates the stack's resources with the deployer's credentials (no service role), so
    a deployer additionally needs the create/update/delete actions of each resource type in the template
    (IAM roles with CAPABILITY_IAM, the Lambda function, the bucket ...); docs/aws.md lists them. This
    policy is what lakebox calls directly, proved by trace.
    """
    stack_arn = sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*")
    artifacts = "arn:${AWS::Partition}:s3:::lakebox-artifacts-${AWS::AccountId}-${AWS::Region}-*"
    lake = "arn:${AWS::Partition}:s3:::${LakeBucket}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Stack", "Effect": "Allow",
         "Action": ["cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
                    "cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet",
                    "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
                    "cloudformation:GetTemplate",
                    "cloudformation:DeleteStack"],
         "Resource": stack_arn},
        {"Sid": "PreviewNewStack", "Effect": "Allow", "Action": "cloudformation:ValidateTemplate", "Resource": "*"},
        {"Sid": "ArtifactsBucketName", "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter"],
         "Resource": sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + ARTIFACTS_PARAMETER)},
        {"Sid": "ArtifactsBucket", "Effect": "Allow",
         "Action": ["s3:CreateBucket", "s3:ListBucket", "s3:PutBucketPublicAccessBlock",
                    "s3:PutEncryptionConfiguration"],
         "Resource": sub(artifacts)},
        {"Sid": "Artifacts", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": sub(artifacts + "/lakebox/*")},
        {"Sid": "EmptyAndDeleteLake", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:DeleteBucket"],
         "Resource": sub(lake)},
        {"Sid": "DeleteLakeObjects", "Effect": "Allow", "Action": "s3:DeleteObjectVersion",
         "Resource": sub(lake + "/*")},
    ]}
