"""The original assignment's Flask dashboard, in its own style: five Athena queries, each started, polled and
read with boto3, rendered as HTML tables. Only AWS_ENDPOINT_URL points it at lakebox."""

import os
import time

import boto3
from flask import Flask, render_template_string

app = Flask(__name__)
athena = boto3.client("athena", region_name="us-east-1")

DATABASE = "orders_db"
OUTPUT = os.environ.get("ATHENA_OUTPUT", "s3://lakebox/athena-results/")

QUERIES = {
    "Total Sales by Customer": 'SELECT Customer, ROUND(SUM(Amount), 2) AS TotalSales FROM "processed" '
                               "GROUP BY Customer ORDER BY TotalSales DESC",
    "Monthly Order Volume": "SELECT DATE_TRUNC('month', CAST(OrderDate AS DATE)) AS Month, COUNT(*) AS Orders "
                            "FROM processed GROUP BY 1 ORDER BY 1",
    "Order Status Summary": "SELECT Status, COUNT(*) AS Orders FROM processed GROUP BY Status ORDER BY Status",
    "Average Order Value": "SELECT Customer, ROUND(AVG(Amount), 2) AS AvgOrder FROM processed "
                           "GROUP BY Customer ORDER BY Customer",
    "Top Orders February 2025": "SELECT OrderID, Customer, Amount FROM processed WHERE CAST(OrderDate AS DATE) "
                                "BETWEEN DATE '2025-02-01' AND DATE '2025-02-28' ORDER BY Amount DESC LIMIT 10",
}

PAGE = """<html><body><h1>Orders</h1>
{% for title, rows in results.items() %}<h2>{{ title }}</h2><table>
{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endfor %}</body></html>"""


def run_query(query):
    qid = athena.start_query_execution(
        QueryString=query,
        QueryExecutionContext={"Database": DATABASE},
        ResultConfiguration={"OutputLocation": OUTPUT},
    )["QueryExecutionId"]
    while True:
        state = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.05)
    if state != "SUCCEEDED":
        return [["error", state]]
    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    return [[d.get("VarCharValue", "") for d in r["Data"]] for r in rows]


@app.route("/")
def index():
    results = {title: run_query(q) for title, q in QUERIES.items()}
    return render_template_string(PAGE, results=results)
