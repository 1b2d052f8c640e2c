"""Formats of ``processed/`` objects: the global ``output_format`` setting and a dataset's own. Its own module
so that the settings' declaration (read by ``lakebox --help``) does not import the datasets' models."""

from __future__ import annotations

from typing import Literal

OutputFormat = Literal["parquet", "csv"]
