"""The dashboard's Flask app factory (minimal page; the full dashboard builds on this)."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template_string

from lakebox.lake import Lake

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>lakebox</title></head><body>
<h1>lakebox</h1>
{% for name, r in results %}<section id="{{ name }}"><h2>{{ titles[name] }}</h2>
{% if r.error %}<p class="error">{{ r.error }}</p>{% else %}<table><tr>{% for c in r.columns %}<th>{{ c.name }}</th>{% endfor %}</tr>
{% for row in r.text_rows() %}<tr>{% for v in row %}<td>{{ v if v is not none else '' }}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}</section>{% endfor %}</body></html>"""


def create_app(lake: Lake, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(config)

    @app.get("/")
    def index() -> str:
        results = [(n, lake.run_named(n, max_rows=1000, write_result=False)) for n in lake.named_queries]
        titles = {n: q.title for n, q in lake.named_queries.items()}
        return render_template_string(_PAGE, results=results, titles=titles)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app
