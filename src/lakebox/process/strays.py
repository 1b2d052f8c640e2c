"""Stray carriage returns: rows that DuckDB's strict CSV reader cannot place, found and set aside.

DuckDB's reader (in strict mode, which we need so that a row with too many fields is never silently cut)
gives up on the whole file when line endings are mixed: a CRLF line in an LF file, or a bare CR inside an
unquoted field. The original Lambda (Python's csv module) would have read such files, so one bad line must
not reject thousands of good ones. When the strict read fails, :func:`split_strays` streams the file once and
writes a copy in which

- a line ending in CRLF (or LF, in a CRLF file) is kept, with its ending normalised: the row is fine;
- a line with a CR inside an unquoted field is replaced by an empty line (DuckDB skips empty lines but counts
  them, so every other row keeps its line number) and returned as a quarantined row with its line number.

Quoted fields may contain CR and LF; they are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STRAY_CR_REASON = "stray carriage return (CR) inside an unquoted field"


@dataclass(frozen=True)
class StrayRow:
    """A physical line set aside: its 1-based line number (the header is line 1) and its text."""

    line: int
    text: str


def _lines(path: Path, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The file's physical lines split on LF (without the LF), streamed in bounded memory."""
    rest = b""
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            parts = (rest + block).split(b"\n")
            rest = parts.pop()
            yield from parts
    if rest:
        yield rest


def _unquoted_cr(line: bytes, in_quotes: bool) -> tuple[bool, bool]:
    """(whether ``line`` has a CR outside quotes, whether a quoted field is still open at its end)."""
    if b'"' not in line:
        return (not in_quotes and b"\r" in line), in_quotes
    found = False
    for byte in line:
        if byte == 0x22:  # '"': an escaped quote ("") toggles twice, which keeps the state right
            in_quotes = not in_quotes
        elif byte == 0x0D and not in_quotes:
            found = True
    return found, in_quotes


def split_strays(src: Path, dest: Path) -> list[StrayRow]:
    """Write ``src`` to ``dest`` with normalised line endings and stray-CR lines blanked; return those lines."""
    strays: list[StrayRow] = []
    in_quotes = False
    with open(dest, "wb") as out:
        for number, line in enumerate(_lines(src), start=1):
            if not in_quotes and line.endswith(b"\r"):
                line = line[:-1]
            stray, still_open = _unquoted_cr(line, in_quotes)
            if stray and number > 1:
                strays.append(StrayRow(number, line.decode("utf-8", errors="replace").replace("\r", "\\r")))
                out.write(b"\n")
                continue
            in_quotes = still_open
            out.write(line + b"\n")
    return strays
