#!/usr/bin/env bash
# Prove the dependency floors in pyproject.toml: install every direct dependency at the LOWEST version its
# range allows (uv's --resolution lowest-direct) in a fresh venv, then run the quick test suite there.
# Usage: scripts/check_floors.sh [pytest args]   (make floors)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FLOORS_VENV:-.venv-floors}"
UV="${UV:-.venv/bin/uv}"
[ -x "$UV" ] || { python3 -m pip install -q uv; UV=uv; }
rm -rf "$VENV"
"$UV" venv -q --seed "$VENV" -p python3  # --seed: pip, which the Lambda packaging tests use
VIRTUAL_ENV="$VENV" "$UV" pip install -q --resolution lowest-direct -e '.[dev]'
VIRTUAL_ENV="$VENV" "$UV" pip list | grep -i -E '^(duckdb|sqlglot|click|rich|flask|waitress|watchdog|plotly|boto3|moto|pytest|hypothesis|pyarrow) '
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -m "not slow and not browser" "$@"
