"""Turning a request into a typed value, or a 400/415/422 that says exactly what is wrong."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from bot.errors import ApiError, invalid

M = TypeVar("M", bound=BaseModel)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.read()
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_json", "body is not UTF-8") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise invalid({"body": "must be a JSON object"})
    return model.model_validate(data)


def page_params(request: web.Request) -> tuple[int, str | None]:
    """``limit`` (default 100, at most 1000) and the opaque ``cursor`` of every list endpoint."""
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise invalid({"limit": "must be a whole number"}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid({"limit": f"must be between 1 and {MAX_LIMIT}"})
    return limit, request.query.get("cursor") or None


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
