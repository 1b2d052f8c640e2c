"""Object names for uploaded files: safe as the last segment of a key, never hidden, never colliding.

Glue's crawler (and lakebox's) skips objects whose name starts with ``_`` or ``.``, so a sanitised name
must never start with either, or the rows it holds would be reported as kept and never queried. Names
that had to change get a short hash of the original, so two different uploads never land on one key;
names that are already clean stay exactly as they were. The original name is kept in the run record.
"""

from __future__ import annotations

import hashlib
import unicodedata

#: Longest name, in UTF-8 bytes, before ``.csv``: leaves room for a temp-file prefix and the hash within
#: the 255-byte limit of one path segment on common file systems.
MAX_STEM_BYTES = 120
_ALLOWED_PUNCT = "-_.=+ "


def _clean_char(ch: str) -> str:
    if ch.isalnum() or ch in _ALLOWED_PUNCT:
        return ch
    return "-"


def _truncate(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def object_name(original: str, suffix: str = ".csv") -> str:
    """A file name for ``original`` that is a safe, visible, collision-free last key segment.

    Unicode letters and digits are kept (S3 keys are UTF-8; ``Ümsätze.csv`` stays ``Ümsätze.csv``); path
    separators, control and other characters become ``-``; leading characters that are not letters or digits
    are removed; the stem is capped at :data:`MAX_STEM_BYTES`. When anything changed, ``-<hash>`` of the
    original name is appended to the stem.
    """
    base = original.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    stem = base[: -len(suffix)] if base.lower().endswith(suffix) else base
    cleaned = "".join(_clean_char(ch) for ch in stem)
    while cleaned and not cleaned[0].isalnum():
        cleaned = cleaned[1:]
    cleaned = cleaned.rstrip(" .")
    if not cleaned:
        cleaned = "upload"
    changed = cleaned != stem or not base.lower().endswith(suffix)
    if len(cleaned.encode("utf-8")) > MAX_STEM_BYTES:
        cleaned, changed = _truncate(cleaned, MAX_STEM_BYTES).rstrip(" ."), True
    if changed:
        digest = hashlib.sha256(original.encode("utf-8", errors="surrogatepass")).hexdigest()[:8]
        cleaned = f"{cleaned}-{digest}"
    return cleaned + suffix
