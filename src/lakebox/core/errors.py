"""One error hierarchy for lakebox.

Every error lakebox raises on purpose derives from :class:`LakeboxError`, which carries what each interface
needs to report it: an AWS-style error ``code`` (Athena's ``ErrorType`` names, Glue's and S3's error codes),
a process ``exit_code`` for the CLI and an ``http_status`` for the web API and the endpoint. Interfaces map
errors in one place from these attributes; nothing branches on message text.

A subclass states its three values on its ``class`` line, so that they sit where the class is declared::

    class NoSuchKeyError(StoreError, KeyError, code="NoSuchKey", http_status=404): ...

Subclasses keep a second, built-in base (``ValueError``, ``KeyError``, ``RuntimeError``) where callers
already catch that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar


class LakeboxError(Exception):
    """Base of every lakebox error: an error ``code``, a CLI ``exit_code`` and an ``http_status``.

    The three are class attributes, set with keyword arguments on the subclass's ``class`` line; ``code`` can
    also be given per instance (the code an AWS service answered with).
    """

    code: ClassVar[str] = "InternalError"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init_subclass__(
        cls, *, code: str | None = None, exit_code: int | None = None, http_status: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if exit_code is not None:
            cls.exit_code = exit_code
        if http_status is not None:
            cls.http_status = http_status

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # ClassVar default, per-instance override by design

    def __str__(self) -> str:
        return str(self.message) if self.message else self.code


class InvalidInputError(LakeboxError, ValueError, code="InvalidRequestException", exit_code=2, http_status=400):
    """The caller's input is wrong (a bad key, parameter, setting or file): fix the input and retry."""


class NotFoundError(LakeboxError, LookupError, code="EntityNotFoundException", http_status=404):
    """A named thing (object, table, database, query, crawler) does not exist."""


class ConflictError(LakeboxError, code="ConcurrentModificationException", http_status=409):
    """The thing exists already, or is busy (a crawler running, a concurrent update)."""


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``exc.response['Error']['Code']``), else None.

    Read structurally so the core needs no botocore import; the one place AWS codes are extracted.
    """
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error")
        if isinstance(error, dict) and error.get("Code"):
            return str(error["Code"])
    return None


def check_keys(
    table: Mapping[str, object], valid: Iterable[str], where: str, *, noun: str = "key",
    error: type[LakeboxError] = InvalidInputError,
) -> None:
    """Raise ``error`` for the first key of ``table`` not in ``valid``, naming ``where`` and the nearest valid key.

    ``where`` says where the table is (``lakebox.toml [datasets.orders]``); the message ends with the closest
    valid spelling (difflib) or the list of valid keys when nothing is close.
    """
    allowed = list(valid)
    for key in table:
        if key in allowed:
            continue
        import difflib  # only for a mistake: every command checks keys, few get one wrong

        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(sorted(allowed))}"
        raise error(f"{where}: unknown {noun} {key!r}; {hint}")
