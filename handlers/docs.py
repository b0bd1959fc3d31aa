"""``GET /openapi.json`` and ``GET /docs``: the API's document and its reference page, from the app.

Both are built once per app, on first request (the routes are fixed by then), and
served from memory. The page is rendered on the server from the document by
``templates/docs/reference.html.j2``; it loads nothing from anywhere (its CSP says so).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from handlers import openapi
from handlers.openapi import documented, text

routes = web.RouteTableDef()

_SPEC: WeakKeyDictionary[web.Application, bytes] = WeakKeyDictionary()
_PAGE: WeakKeyDictionary[web.Application, str] = WeakKeyDictionary()
# Inline styles only: the page loads nothing, from here or anywhere else.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def spec_of(app: web.Application) -> bytes:
    if app not in _SPEC:
        _SPEC[app] = openapi.render(openapi.build(app)).encode()
    return _SPEC[app]


@routes.get("/openapi.json")
@documented(
    "This OpenAPI 3.1 document",
    tag="operations",
    responses={
        200: openapi.Reply(
            "the document (also in the repository as docs/openapi.json)", schema={"type": "object"}
        )
    },
)
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=spec_of(request.app), content_type="application/json")


@routes.get("/docs")
@documented(
    "The API reference, as a page",
    tag="operations",
    responses={200: text("HTML, self-contained", "text/html")},
)
async def reference_page(request: web.Request) -> web.Response:
    app = request.app
    if app not in _PAGE:
        _PAGE[app] = render_page(json.loads(spec_of(app)))
    return web.Response(
        text=_PAGE[app], content_type="text/html", headers={"Content-Security-Policy": PAGE_CSP}
    )


# --- the page ------------------------------------------------------------------------------

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("templates", "docs"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
METHODS = ("get", "post", "put", "patch", "delete")


def render_page(spec: Mapping[str, Any]) -> str:
    groups: dict[str, list[dict[str, Any]]] = {tag["name"]: [] for tag in spec.get("tags", [])}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                groups.setdefault(op["tags"][0], []).append(
                    {"method": method.upper(), "path": path, **op}
                )
    return _ENV.get_template("reference.html.j2").render(
        spec=spec,
        tags=[
            (t["name"], t["description"], groups.get(t["name"], [])) for t in spec.get("tags", [])
        ],
        schemas=spec["components"]["schemas"],
        type_of=type_label,
        facts=constraints,
        inline=inline_markdown,
        paragraphs=paragraphs,
        pretty=lambda value: json.dumps(value, indent=2, ensure_ascii=False),
        rows=schema_rows,
    )


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_label(schema: Mapping[str, Any]) -> Markup:
    """A schema in a few words, named ones linked: ``array of <a>Step</a>``, ``string | null``."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return Markup(" | ").join(type_label(option) for option in schema[key])
    if "const" in schema:
        return Markup("<code>{}</code>").format(json.dumps(schema["const"]))
    if "enum" in schema:
        return Markup("one of ") + Markup(", ").join(
            Markup("<code>{}</code>").format(json.dumps(v, ensure_ascii=False))
            for v in schema["enum"]
        )
    kind = schema.get("type", "any")
    if kind == "array":
        return Markup("array of ") + type_label(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        return Markup("map of ") + type_label(schema["additionalProperties"])
    label = escape(kind if isinstance(kind, str) else " | ".join(kind))
    if "format" in schema:
        label += Markup(" <small>({})</small>").format(schema["format"])
    return Markup(label)


def constraints(schema: Mapping[str, Any]) -> str:
    """A value's limits in short: ``1-200 chars``, ``≥ 0``, ``pattern ^[a-z]$``, ``default 15``."""
    facts = []
    for low, high, unit in (
        ("minLength", "maxLength", " chars"),
        ("minItems", "maxItems", " items"),
        ("minimum", "maximum", ""),
        ("minProperties", "maxProperties", " keys"),
    ):
        if low in schema and high in schema:
            facts.append(f"{schema[low]}–{schema[high]}{unit}")
        elif low in schema:
            facts.append(f"≥ {schema[low]}{unit}")
        elif high in schema:
            facts.append(f"≤ {schema[high]}{unit}")
    if "exclusiveMinimum" in schema:
        facts.append(f"> {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema:
        facts.append(f"< {schema['exclusiveMaximum']}")
    if "pattern" in schema:
        facts.append(f"pattern {schema['pattern']}")
    for option in schema.get("anyOf", ()):
        if option.get("type") != "null" and "$ref" not in option:
            more = constraints(option)
            if more:
                facts.append(more)
    if "default" in schema:
        facts.append(f"default {json.dumps(schema['default'], ensure_ascii=False)}")
    return "; ".join(facts)


def schema_rows(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per property of an object schema: name, schema, required."""
    required = set(schema.get("required", ()))
    return [
        {"name": name, "schema": prop, "required": name in required}
        for name, prop in schema.get("properties", {}).items()
    ]


def inline_markdown(value: str) -> Markup:
    """The little markdown the descriptions use: `code` and **bold**, on escaped text."""
    html = str(escape(value))
    html = re.sub(r"``(.+?)``|`([^`]+)`", lambda m: f"<code>{m[1] or m[2]}</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return Markup(html)


def paragraphs(value: str) -> list[Markup]:
    return [
        inline_markdown(" ".join(block.split())) for block in value.split("\n\n") if block.strip()
    ]
