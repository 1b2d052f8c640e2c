"""The original assignment's crawler step, done with boto3 instead of the console."""

import time

import boto3

glue = boto3.client("glue", region_name="us-east-1")


def crawl(bucket, name="orders-processed-crawler"):
    glue.create_crawler(
        Name=name,
        Role="arn:aws:iam::123456789012:role/AWSGlueServiceRole-orders",
        DatabaseName="orders_db",
        Targets={"S3Targets": [{"Path": f"s3://{bucket}/processed/"}]},
    )
    glue.start_crawler(Name=name)
    while True:
        crawler = glue.get_crawler(Name=name)["Crawler"]
        if crawler["State"] == "READY" and crawler.get("LastCrawl"):
            return crawler["LastCrawl"]["Status"]
        time.sleep(0.05)
