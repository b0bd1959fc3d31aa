"""The one error shape of the API: ``{"error": CODE, "detail": TEXT, ...}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError


class ApiError(Exception):
    """An answer the client should see, with its HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}


def invalid(fields: Mapping[str, str], detail: str = "invalid input") -> ApiError:
    return ApiError(422, "invalid", detail, fields=dict(fields))


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def fields_from_validation(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as ``{"dotted.path": "message"}``; the first message per field wins."""
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        fields.setdefault(path, message)
    return fields
