"""The OpenAPI 3.1 document, from the app's routes and the pydantic models the handlers use.

Each handler carries its documentation next to its route::

    @routes.post("/api/leads")
    @documented("Submit a seller lead", tag="leads", body=LeadIn, responses={201: LeadCreated})
    async def create_lead(request): ...

``build(app)`` walks ``app.router``, so a route without ``@documented`` still appears
(summary from its docstring) and ``undocumented(app)`` names it for the test that
forbids it. Schemas come from one ``models_json_schema`` call over every model in
use (request models in validation mode, answers in serialization mode), so the
document never holds a hand-kept copy. The errors every operation can answer
(401 for the bearer routes, 400/413/415/422 for a JSON body, 422 for a query string,
404 for a path with an id) are added from what the operation declares.

Refresh the checked-in copy with ``python -m bot.composition.openapi > docs/openapi.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from bot import __version__
from bot.responses import ErrorOut
from handlers.middleware import PROTECTED_PREFIXES

OPENAPI_VERSION = "3.1.0"
ATTRIBUTE = "__openapi__"
BEARER = "bearerAuth"
REF_TEMPLATE = "#/components/schemas/{model}"
FORM = "application/x-www-form-urlencoded"

H = TypeVar("H", bound=Callable[..., Any])

TAGS: tuple[tuple[str, str], ...] = (
    ("leads", "Seller leads in: one lead becomes a contact, a deal and a follow-up ladder."),
    ("conversations", "A contact's conversation and transcript; a person taking it over."),
    ("deals", "The deal brief, its numbers and offer, and the buyers it was matched to."),
    ("buyers", "Cash buyers, their buy boxes, and market liquidity."),
    ("rules", "Market rules: contact windows, offer arithmetic, follow-up ladders."),
    ("messages", "A person sending a message now."),
    ("compliance", "Consent evidence, the do-not-contact list and each person's audit trail."),
    ("kpis", "The KPI trail and funnel."),
    ("events", "Outbound webhooks: subscriptions to events, and every delivery's tries (docs/webhooks.md)."),
    (
        "webhooks",
        "Called by providers (Twilio, Mailgun), authenticated by their signatures, not the key.",
    ),
    ("operations", "Health, status, metrics, the dashboard and this document."),
)

DESCRIPTION = """\
dealbot's HTTP API. JSON in and out unless an operation says otherwise; times are
ISO 8601 with an offset; money is whole currency units (integers).

**Auth.** `/api/*` and `/runbook/*` need `Authorization: Bearer <DEALBOT_API_KEY>`
(else 401). Webhooks are authenticated by their provider's signature instead.

**Errors** are `{"error": CODE, "detail": TEXT}` with `request_id` (also in the
`X-Request-Id` header); invalid input is 422 with `fields`: `{name: problem}`.
Nothing partial is stored on any error.

**Lists** take `limit` (1–1000, default 100) and `cursor`, and answer
`{"<things>": [...], "next_cursor": null | "…"}`: pass `next_cursor` back as
`cursor` for the next page.
"""


@dataclass(frozen=True, slots=True)
class Scheme:
    """A security scheme; an operation listing several accepts any one of them."""

    name: str
    definition: Mapping[str, Any]


BEARER_AUTH = Scheme(
    BEARER,
    {
        "type": "http",
        "scheme": "bearer",
        "description": "DEALBOT_API_KEY (printed by `dealbot serve` at start when it made one)",
    },
)


@dataclass(frozen=True, slots=True)
class Header:
    """A request header the operation reads, or a response header it sets."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """One documented answer: a model (JSON), another media type, or none (``media_type=None``)."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str | None = "application/json"
    headers: tuple[Header, ...] = ()
    schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "string"}
    )  # when there is no model


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    tag: str
    description: str | None = None
    body: type[BaseModel] | None = None
    form: type[BaseModel] | None = None
    form_types: tuple[str, ...] = (FORM,)
    query: type[BaseModel] | None = None
    headers: tuple[Header, ...] = ()
    responses: Mapping[int, Reply] = field(default_factory=dict)
    # None: from the path (bearer under PROTECTED_PREFIXES, else none); else any one of these.
    security: tuple[Scheme, ...] | None = None
    # A path parameter's schema, where it is narrower than a non-empty string (a closed set).
    path: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def documented(
    summary: str,
    *,
    tag: str,
    responses: Mapping[int, Reply | type[BaseModel]],
    description: str | None = None,
    body: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    form_types: Sequence[str] = (FORM,),
    query: type[BaseModel] | None = None,
    headers: Sequence[Header] = (),
    security: Sequence[Scheme] | None = None,
    path: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[H], H]:
    """Attach the operation's documentation to a handler; the handler is returned unchanged."""
    if tag not in dict(TAGS):
        raise ValueError(f"unknown tag {tag!r}")
    replies = {
        status: reply
        if isinstance(reply, Reply)
        else Reply(_first_line(reply.__doc__) or HTTPStatus(status).phrase, reply)
        for status, reply in responses.items()
    }
    operation = Operation(
        summary=summary,
        tag=tag,
        description=description,
        body=body,
        form=form,
        form_types=tuple(form_types),
        query=query,
        headers=tuple(headers),
        responses=replies,
        security=None if security is None else tuple(security),
        path=dict(path or {}),
    )

    def attach(handler: H) -> H:
        setattr(handler, ATTRIBUTE, operation)
        return handler

    return attach


# --- what every operation may answer -------------------------------------------------------

REQUEST_ID = Header(
    "X-Request-Id",
    "the request's id (the client's own X-Request-Id when it sent one)",
    required=True,
)
STANDARD_ERRORS: Mapping[int, Reply] = {
    400: Reply("the body is not valid JSON (`malformed_json`)", ErrorOut),
    401: Reply(
        "missing or wrong API key (`unauthorized`)",
        ErrorOut,
        headers=(Header("WWW-Authenticate", 'always `Bearer realm="dealbot"`', required=True),),
    ),
    404: Reply("nothing with that id (`not_found`)", ErrorOut),
    413: Reply("the body is over DEALBOT_MAX_BODY_BYTES, 1 MiB by default (`too_large`)", ErrorOut),
    415: Reply("the body is not `application/json` (`unsupported_media_type`)", ErrorOut),
    422: Reply("invalid input (`invalid`): `fields` names each problem", ErrorOut),
}

# What an operation that reads a form may answer besides its own replies (handlers/validation.py).
FORM_ERRORS: Mapping[int, Reply] = {
    400: Reply("the body is not a well-formed form (`bad_form`)", ErrorOut),
    413: STANDARD_ERRORS[413],
    415: Reply("the body is not a form of a media type this endpoint reads (`unsupported_media_type`)", ErrorOut),
}


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # OpenAPI template: /api/contacts/{contact_id}
    method: str  # upper case
    handler: Callable[..., Any]


def routes_of(app: web.Application) -> Iterator[Route]:
    """Every (path, method) the app answers, in registration order; HEAD rides along with GET."""
    for resource in app.router.resources():
        info = resource.get_info()
        if "prefix" in info:  # a static directory
            path = info["prefix"].rstrip("/") + "/{filename}"
        else:
            path = info.get("path") or info["formatter"]
        for route in resource:
            if route.method in ("HEAD", "OPTIONS"):
                continue
            yield Route(path=path, method=route.method, handler=route.handler)


def operation_of(route: Route) -> Operation | None:
    return getattr(route.handler, ATTRIBUTE, None)


def undocumented(app: web.Application) -> list[str]:
    """``"METHOD /path"`` of every route whose handler has no ``@documented``."""
    return [f"{r.method} {r.path}" for r in routes_of(app) if operation_of(r) is None]


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()


def _fallback(route: Route) -> Operation:
    summary = _first_line(route.handler.__doc__) or f"{route.method} {route.path}"
    return Operation(
        summary=summary, tag="operations", responses={200: Reply("OK", media_type=None)}
    )


def _is_protected(path: str) -> bool:
    return path.startswith(PROTECTED_PREFIXES)


def _path_params(path: str) -> list[str]:
    return re.findall(r"\{([^}:]+)", path)


# --- the document --------------------------------------------------------------------------


def build(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app`` (deterministic: same routes and models, same bytes)."""
    routes = [(route, operation_of(route) or _fallback(route)) for route in routes_of(app)]
    models = _models_in_use([op for _route, op in routes])
    refs, definitions = (
        models_json_schema(models, ref_template=REF_TEMPLATE) if models else ({}, {})
    )
    schemas = Schemas(refs)

    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for route, op in routes:
        operation_id = route.handler.__name__
        if operation_id in operation_ids:
            operation_id = f"{route.handler.__module__.rsplit('.', 1)[-1]}_{operation_id}"
        operation_ids.add(operation_id)
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, op, operation_id, schemas
        )

    used_tags = {op.tag for _route, op in routes}
    schemes = {BEARER: BEARER_AUTH.definition}
    for _route, op in routes:
        schemes.update((scheme.name, scheme.definition) for scheme in op.security or ())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "dealbot",
            "version": __version__,
            "summary": "Seller leads in, conversations by SMS and email, deals out to cash buyers.",
            "description": DESCRIPTION,
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS if name in used_tags],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(definitions.get("$defs", {}).items())),
            "securitySchemes": dict(sorted(schemes.items())),
        },
    }


def _models_in_use(operations: Sequence[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    found: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for op in operations:
        # Query models are spread into parameters, not referenced: they stay out of the components.
        for model in (op.body, op.form):
            if model is not None:
                found[(model, "validation")] = None
        for reply in (*op.responses.values(), *STANDARD_ERRORS.values()):
            if reply.model is not None:
                found[(reply.model, "serialization")] = None
    return list(found)


@dataclass(frozen=True, slots=True)
class Schemas:
    refs: Mapping[tuple[type[BaseModel], JsonSchemaMode], Any]

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self.refs[(model, mode)])

    def properties(self, model: type[BaseModel]) -> Iterator[tuple[str, dict[str, Any], bool]]:
        """(name, schema, required) of a flat model's fields, for query strings."""
        schema = model.model_json_schema(ref_template=REF_TEMPLATE, mode="validation")
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            yield name, _without_null(prop), name in required


NO_NUL_PATTERN = "^[^\\u0000]*$"


def _without_null(prop: Mapping[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string: ``null`` is no value it can take, nor is U+0000.

    The handlers refuse NUL in any text they read (PostgreSQL text cannot hold it).
    """
    schema = {k: v for k, v in prop.items() if k != "title" and not (k == "default" and v is None)}
    options = [o for o in schema.pop("anyOf", ()) if o != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    if schema.get("type") == "string" and not {"pattern", "format", "enum"} & schema.keys():
        schema["pattern"] = NO_NUL_PATTERN
    return schema


def _operation(route: Route, op: Operation, operation_id: str, schemas: Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {"tags": [op.tag], "summary": op.summary, "operationId": operation_id}
    description = op.description or _docstring_rest(route.handler)
    if description:
        out["description"] = description
    protected = _is_protected(route.path)  # where the middleware itself answers 401
    schemes = op.security if op.security is not None else ((BEARER_AUTH,) if protected else ())
    out["security"] = [{scheme.name: []} for scheme in schemes]

    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": dict(op.path.get(name, {"type": "string", "minLength": 1}))}
        for name in _path_params(route.path)
    ]
    if op.query is not None:
        for name, schema, required in schemas.properties(op.query):
            description = schema.pop("description", None)
            parameter: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": required,
                "schema": schema,
            }
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    parameters.extend(
        {
            "name": h.name,
            "in": "header",
            "required": h.required,
            "description": h.description,
            "schema": dict(h.schema),
        }
        for h in op.headers
    )
    if parameters:
        out["parameters"] = parameters

    if op.body is not None:
        out["requestBody"] = _request_body(op.body, ("application/json",), schemas)
    elif op.form is not None:
        out["requestBody"] = _request_body(op.form, op.form_types, schemas)
        # A form whose fields are all optional may be left out (a bearer script's button press).
        out["requestBody"]["required"] = any(f.is_required() for f in op.form.model_fields.values())

    responses = dict(op.responses)
    for status in _standard_statuses(route, op, protected):
        responses.setdefault(status, STANDARD_ERRORS[status])
    if op.form is not None:
        for status, reply in FORM_ERRORS.items():
            responses.setdefault(status, reply)
    out["responses"] = {
        str(status): _response(status, reply, schemas)
        for status, reply in sorted(responses.items())
    }
    return out


def _docstring_rest(handler: Callable[..., Any]) -> str:
    parts = (handler.__doc__ or "").strip().split("\n", 1)
    return " ".join(parts[1].split()) if len(parts) == 2 else ""


def _standard_statuses(route: Route, op: Operation, protected: bool) -> list[int]:
    statuses = []
    if protected:
        statuses.append(401)
    if op.body is not None:
        statuses += [400, 413, 415, 422]
    if op.query is not None:
        statuses.append(422)
    if _path_params(route.path):
        statuses.append(404)
    return statuses


def _examples(model: type[BaseModel]) -> list[Any]:
    extra = model.model_config.get("json_schema_extra")
    return list(extra.get("examples", [])) if isinstance(extra, Mapping) else []


def _request_body(
    model: type[BaseModel], media_types: Sequence[str], schemas: Schemas
) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schemas.ref(model, "validation")}
    examples = _examples(model)
    if examples:
        content["examples"] = {
            f"example{i + 1}": {"value": value} for i, value in enumerate(examples)
        }
    body: dict[str, Any] = {
        "required": True,
        "content": {media_type: dict(content) for media_type in media_types},
    }
    if model.__doc__:
        body["description"] = " ".join(model.__doc__.split())
    return body


def _response(status: int, reply: Reply, schemas: Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    # A redirect a handler raises leaves the middleware before the id is set.
    standard = (REQUEST_ID,) if not 300 <= status < 400 else ()
    out["headers"] = {
        h.name: {"description": h.description, "required": h.required, "schema": dict(h.schema)}
        for h in (*standard, *reply.headers)
    }
    if reply.media_type is not None:
        schema = (
            schemas.ref(reply.model, "serialization")
            if reply.model is not None
            else dict(reply.schema)
        )
        out["content"] = {reply.media_type: {"schema": schema}}
    return out


def text(
    description: str, media_type: Literal["text/html", "text/plain", "text/xml"] | str
) -> Reply:
    """An answer that is a page or a text document rather than JSON."""
    return Reply(description, media_type=media_type)


def render(spec: Mapping[str, Any]) -> str:
    """The document as checked in: two-space indents, UTF-8 as is, a final newline."""
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
