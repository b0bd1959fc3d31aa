"""Turning a request into a typed value, or a 400/415/422 that says exactly what is wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy
from pydantic import BaseModel

from bot.refusals import invalid
from handlers.errors import ApiError

M = TypeVar("M", bound=BaseModel)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
NUL = "\x00"  # valid JSON and URL text, but PostgreSQL text cannot hold it
NO_NUL = "must not contain a NUL character"
NOT_OURS = "not a cursor this API gave out"


def _number(text: str) -> int | float:
    """A JSON number; one without a fractional part is an integer (as JSON Schema reads 5.0)."""
    value = float(text)
    return int(value) if value.is_integer() else value


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.read()
    try:
        return json.loads(raw, parse_float=_number)
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_json", "body is not UTF-8") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise invalid({"body": "must be a JSON object"})
    nul = _nul_paths(data, "")
    if nul:
        raise invalid(dict.fromkeys(nul, NO_NUL))
    # Strict, as JSON: a body holds the JSON types the API documents, so "5" or false is no
    # number and "yes" no boolean (lax pydantic took false as 0), while dates and decimals
    # still come as strings. CSV import validates leniently on its own.
    return model.model_validate_json(json.dumps(data), strict=True)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# What aiohttp raises on a body that is not the form its Content-Type says: a multipart body
# without a boundary or with a broken part header (ValueError, HttpProcessingError), an unknown
# charset or transfer encoding (LookupError, RuntimeError), bytes that are not text (a ValueError).
_MALFORMED = (ValueError, LookupError, RuntimeError, HttpProcessingError)


async def read_form(
    request: web.Request, media_types: tuple[str, ...] = FORM_TYPES, *, other_types_empty: bool = False
) -> MultiDictProxy[str | web.FileField]:
    """The form, read here for every endpoint that takes one: 415 when the body is another media
    type (or, with ``other_types_empty``, an empty form), 400 ``bad_form`` when it is not a
    well-formed form (aiohttp raises: a 500 and a traceback)."""
    if request.body_exists and request.content_type not in media_types and not other_types_empty:
        raise ApiError(415, "unsupported_media_type", f"send the body as {' or '.join(media_types)}")
    try:
        return await request.post()
    except _MALFORMED as exc:
        reason = "not valid text in its charset" if isinstance(exc, UnicodeDecodeError) else "malformed"
        raise ApiError(400, "bad_form", f"the form is {reason}") from None


async def form_fields(
    request: web.Request, media_types: tuple[str, ...] = FORM_TYPES, *, files: bool = True,
    other_types_empty: bool = False,
) -> dict[str, str]:
    """The form's text fields, the first value of each (the one a signature covers); file fields
    are left out, or refused with ``files=False``."""
    form = await read_form(request, media_types, other_types_empty=other_types_empty)
    fields: dict[str, str] = {}
    for key in form:
        value = form.get(key)
        if isinstance(value, str):
            fields[key] = value
        elif not files:
            raise ApiError(400, "bad_form", "file fields are not accepted")
    return fields


def without_nul(fields: dict[str, str]) -> dict[str, str]:
    """Provider text with U+0000 dropped: no sender means it, and PostgreSQL text cannot hold it."""
    return {key: value.replace(NUL, "") for key, value in fields.items()}


def _nul_paths(value: Any, path: str) -> list[str]:
    """Dotted paths (as the 422 ``fields`` name them) of the strings holding NUL, keys included."""
    if isinstance(value, str):
        return [path or "body"] if NUL in value else []
    if isinstance(value, dict):
        found = [f"{path}.{k}".lstrip(".") for k in value if NUL in k]
        for key, item in value.items():
            found += _nul_paths(item, f"{path}.{key}".lstrip("."))
        return found
    if isinstance(value, list):
        return [
            p for i, item in enumerate(value) for p in _nul_paths(item, f"{path}.{i}".lstrip("."))
        ]
    return []


def query_text(request: web.Request, name: str) -> str | None:
    """A query parameter as text; empty is absent."""
    value = request.query.get(name) or None
    if value is not None and NUL in value:
        raise invalid({name: NO_NUL})
    return value


def page_params(request: web.Request, is_cursor: Callable[[str], bool] | None = None) -> tuple[int, str | None]:
    """``limit`` (default 100, at most 1000) and the opaque ``cursor`` of every list endpoint;
    with ``is_cursor`` (the service's check that it is an id of the kind the list pages by),
    a cursor must pass it."""
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    # ASCII digits only: int() would also take "1_0", " 7" or "٣".
    if not (raw.isascii() and raw.isdigit()):
        raise invalid({"limit": "must be a whole number"})
    limit = int(raw)
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid({"limit": f"must be between 1 and {MAX_LIMIT}"})
    cursor = query_text(request, "cursor")
    if cursor is not None and is_cursor is not None and not is_cursor(cursor):
        raise invalid({"cursor": NOT_OURS})
    return limit, cursor


def json_ok(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps, **kwargs)


def dumps(data: Any) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False, separators=(",", ":"))


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
