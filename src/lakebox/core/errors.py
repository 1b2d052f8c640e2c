"""One error hierarchy for lakebox.

Every error lakebox raises on purpose derives from :class:`LakeboxError`, which carries what each interface
needs to report it: an AWS-style error ``code`` (Athena's ``ErrorType`` names, Glue's and S3's error codes),
a process ``exit_code`` for the CLI and an ``http_status`` for the web API and the endpoint. Interfaces map
errors in one place from these attributes; nothing branches on message text.
"""

from __future__ import annotations

from typing import ClassVar


class LakeboxError(Exception):
    """Base of every lakebox error. Subclasses set ``code``, ``exit_code`` and ``http_status``."""

    code: ClassVar[str] = "InternalError"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            # An instance-level code (for example the code an AWS service answered with).
            self.code = code  # type: ignore[misc]  # ClassVar default, per-instance override by design

    def __str__(self) -> str:
        return self.message or self.code


class InvalidInputError(LakeboxError):
    """The caller's input is wrong (a bad key, parameter, setting or file): fix the input and retry."""

    code = "InvalidRequestException"
    exit_code = 2
    http_status = 400


class NotFoundError(LakeboxError):
    """A named thing (object, table, database, query, crawler) does not exist."""

    code = "EntityNotFoundException"
    exit_code = 1
    http_status = 404


class ConflictError(LakeboxError):
    """The thing exists already, or is busy (a crawler running, a concurrent update)."""

    code = "ConcurrentModificationException"
    exit_code = 1
    http_status = 409


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
