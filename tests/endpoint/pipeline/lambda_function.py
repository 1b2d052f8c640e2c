"""The original assignment's Lambda, in its own style (the csv module, the whole object in memory), as a user
would write it against AWS. It runs unchanged under ``lakebox endpoint --function``."""

import csv
import io
import os
import urllib.parse
from datetime import datetime, timedelta

import boto3

s3 = boto3.client("s3")


def lambda_handler(event, context):
    bucket = event["Records"][0]["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(event["Records"][0]["s3"]["object"]["key"])
    print(f"request {context.aws_request_id}: processing s3://{bucket}/{key}, "
          f"{context.get_remaining_time_in_millis()} ms left")

    response = s3.get_object(Bucket=bucket, Key=key)
    lines = response["Body"].read().decode("utf-8").splitlines()
    reader = csv.DictReader(lines)

    today = datetime.strptime(os.environ["AS_OF"], "%Y-%m-%d") if "AS_OF" in os.environ else datetime.now()
    cutoff = today - timedelta(days=30)
    filtered = []
    for row in reader:
        order_date = datetime.strptime(row["OrderDate"], "%Y-%m-%d")
        if row["Status"] in ("pending", "cancelled") and order_date < cutoff:
            continue
        filtered.append(row)

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(filtered)
    s3.put_object(Bucket=bucket, Key="processed/filtered_orders.csv", Body=out.getvalue().encode("utf-8"))
    print(f"kept {len(filtered)} orders -> processed/filtered_orders.csv")
    return {"statusCode": 200, "body": f"{len(filtered)} orders"}
