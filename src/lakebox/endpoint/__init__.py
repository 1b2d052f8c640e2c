"""The local AWS endpoint: the lake served over S3's, Glue's and Athena's own wire protocols on one port.

Point ``AWS_ENDPOINT_URL`` at it and boto3, the AWS CLI, PyAthena and awswrangler run unchanged against the
lake. Start it with ``lakebox endpoint`` (``lakebox up`` starts it too). See docs/endpoint.md.
"""
