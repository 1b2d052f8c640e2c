"""The stack's resources, by part: storage (the lake bucket), the processing function, the catalog (Glue
database, crawler, Athena workgroup) and the dashboard (its role, plus the optional host).

The roles' policy documents are in :mod:`lakebox.deploy.iam`, the optional EC2 host in
:mod:`lakebox.deploy.dashboard_host`; :func:`lakebox.deploy.template.build_template` assembles the parts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from lakebox.catalog.crawler import hive_type
from lakebox.core.dataset import Dataset, Partition, dataset_to_config, default_dataset
from lakebox.core.errors import InvalidInputError
from lakebox.deploy.dashboard_host import dashboard_host
from lakebox.deploy.iam import crawler_role, dashboard_role, process_function_role
from lakebox.deploy.intrinsics import BUCKET_NAME, Json, bucket_arn, get_att, join, ref, sub

HANDLER = "lakebox.process.handler.lambda_handler"
RUNTIME = "python3.12"


def storage() -> Json:
    return {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            # The notification is validated at creation: S3 must already be allowed to invoke the function.
            "DependsOn": ["ProcessFunctionInvokePermission"],
            # Data outlives a mistaken `deploy down` or a replacement; lakebox's `down` empties and deletes it
            # on purpose. RetainExceptOnCreate: a first create that rolls back leaves no empty bucket behind.
            "DeletionPolicy": "RetainExceptOnCreate",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": BUCKET_NAME,
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
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


#: Row groups of the function's Parquet, in MiB: Athena, the deployed reader, splits and skips by row group.
ATHENA_ROW_GROUP_MB = 128


def function(datasets: Sequence[Dataset] = ()) -> Json:
    """The processing function and its queue, logs and permissions. ``datasets`` (when not just the default
    orders) reach it as ``LAKEBOX_DATASETS``: the function has no lakebox.toml."""
    fn_name = sub("${AWS::StackName}-process")
    env: Json = {}
    if datasets and tuple(datasets) != (default_dataset(),):
        env["LAKEBOX_DATASETS"] = json.dumps({d.name: dataset_to_config(d) for d in datasets},
                                             separators=(",", ":"))
    return {
        "FailedEventsQueue": {
            "Type": "AWS::SQS::Queue",
            # Deleted with the stack: the events point at raw/ objects, which the retained bucket keeps, and
            # `deploy down` is explicit. Kept nowhere else: a replaced queue would orphan its messages.
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True},
        },
        "ProcessFunctionLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": sub("/aws/lambda/${AWS::StackName}-process"),
                           "RetentionInDays": ref("LogRetentionDays")},
        },
        "ProcessFunctionRole": process_function_role(),
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
                    "LAKEBOX_ROW_GROUP_MB": str(ATHENA_ROW_GROUP_MB),
                    **env,
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
            # Table definitions only: a crawl of the retained bucket rebuilds them.
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"CatalogId": ref("AWS::AccountId"),
                           "DatabaseInput": {"Name": ref("DatabaseName"),
                                             "Description": "lakebox processed data"}},
        },
        "CrawlerRole": crawler_role(),
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
            # Query history only; the results themselves are in the bucket's enriched/.
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
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
    """The dashboard's role (always: `lakebox serve` can run anywhere with it) and the optional host."""
    return {
        "DashboardRole": dashboard_role(),
        **dashboard_host(),
    }


#: Partition projection per time granularity: the folder value's format (Java's DateTimeFormatter letters, as
#: ``process.rules.partition_expr`` writes it with strftime) and the unit of one step.
PROJECTION_FORMATS = {"year": ("yyyy", "YEARS"), "month": ("yyyy-MM", "MONTHS"), "day": ("yyyy-MM-dd", "DAYS")}

#: How far past today the projected range reaches: rows dated later are in folders Athena does not project.
PROJECTION_AHEAD = "NOW+1YEARS"

_PARQUET_SD = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                  "Parameters": {"serialization.format": "1"}},
}


def projection_parameters(partition: Partition, location: Json) -> Json:
    """The Glue table parameters of Athena partition projection for a lakebox partition: ``date`` for a
    year/month/day partition (range from the ``PartitionProjectionStartYear`` parameter to a year ahead, one
    step per unit), and ``storage.location.template`` the folder layout lakebox writes. A ``value`` partition
    has no projection (its values are not known in advance; its partitions are registered per run)."""
    if partition.granularity not in PROJECTION_FORMATS:
        return {}
    fmt, unit = PROJECTION_FORMATS[partition.granularity]
    start = {"year": "${PartitionProjectionStartYear}", "month": "${PartitionProjectionStartYear}-01",
             "day": "${PartitionProjectionStartYear}-01-01"}[partition.granularity]
    col = partition.name
    return {
        "projection.enabled": "true",
        f"projection.{col}.type": "date",
        f"projection.{col}.format": fmt,
        f"projection.{col}.range": sub(f"{start},{PROJECTION_AHEAD}"),
        f"projection.{col}.interval": "1",
        f"projection.{col}.interval.unit": unit,
        # ${col} here is Athena's placeholder, not CloudFormation's: join() writes it as ${!col}.
        "storage.location.template": join(location, f"{col}=${{{col}}}/"),
    }


def processed_table(dataset: Dataset) -> Json:
    """The Glue table of a partitioned dataset, created with the stack so Athena can query it from the first
    file on: its columns with the Glue types the writer's Parquet footers give, the partition key as
    ``string`` (as a crawler declares it) and partition projection (:func:`projection_parameters`).

    The stack's roles cover one table, ``<TablePrefix>processed`` over ``processed/``; a partitioned dataset
    writing elsewhere is refused (:class:`InvalidInputError` naming it)."""
    if dataset.processed_prefix != "processed/" or dataset.table_name is not None or dataset.partition is None:
        raise InvalidInputError(
            f"dataset {dataset.name!r}: the AWS template partitions the processed/ table only (its roles cover "
            f"<TablePrefix>processed); use processed_prefix = \"processed/\" and no table_name")
    location = join("s3://", BUCKET_NAME, "/processed/")
    partition = dataset.partition
    return {
        "Type": "AWS::Glue::Table",
        "DependsOn": ["GlueDatabase"],
        # A definition only: the function (or `lakebox crawl`) writes it again from the retained bucket.
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "CatalogId": ref("AWS::AccountId"),
            "DatabaseName": ref("DatabaseName"),
            "TableInput": {
                "Name": join(ref("TablePrefix"), "processed"),
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "parquet", "typeOfData": "file",
                               **projection_parameters(partition, location)},
                "PartitionKeys": [{"Name": partition.name, "Type": "string"}],
                "StorageDescriptor": {
                    "Columns": [{"Name": c.name.lower(), "Type": hive_type(c.type.upper())} for c in dataset.columns],
                    "Location": location,
                    **json.loads(json.dumps(_PARQUET_SD)),
                },
            },
        },
    }


def tables(datasets: Sequence[Dataset]) -> Json:
    """``ProcessedTable`` for the partitioned dataset, if there is one (none: the function creates the table
    on its first file, as before)."""
    partitioned = [d for d in datasets if d.partition is not None]
    if len(partitioned) > 1:
        raise InvalidInputError(f"datasets {', '.join(repr(d.name) for d in partitioned)}: the AWS template "
                                "partitions one table (processed/)")
    return {"ProcessedTable": processed_table(partitioned[0])} if partitioned else {}
