"""The OpenAPI document: valid 3.1, every route, in step with docs/openapi.json, true of answers.

When the checked-in copy is stale: ``python -m bot.composition.openapi > docs/openapi.json``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from pydantic import BaseModel, ValidationError

from bot.clock import FakeClock
from bot.composition.app import create_app
from bot.schemas import DirectEmailIn, DirectSmsIn
from bot.settings import Settings
from handlers import openapi
from tests.flows import mailgun_fields, settle, status_in, text_in

REPO = Path(__file__).resolve().parent.parent
CHECKED_IN = REPO / "docs" / "openapi.json"
REFRESH = "python -m bot.composition.openapi > docs/openapi.json"


def offline_app() -> Any:
    return create_app(Settings.model_construct())


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi.build(offline_app())


def test_the_checked_in_document_is_current(spec: dict[str, Any]) -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == openapi.render(spec), (
        f"docs/openapi.json is stale: {REFRESH}"
    )


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    validate_spec(
        spec
    )  # picks the 3.1 validator from the version field; raises on the first problem


def test_generation_is_deterministic() -> None:
    assert openapi.render(openapi.build(offline_app())) == openapi.render(
        openapi.build(offline_app())
    )


def test_every_route_of_the_router_is_documented_in_the_document(spec: dict[str, Any]) -> None:
    app = offline_app()
    answered = set()
    for route in app.router.routes():  # aiohttp's own view, not the generator's walk
        if route.method in ("HEAD", "OPTIONS"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = (
            info.get("path")
            or info.get("formatter")
            or info.get("prefix", "").rstrip("/") + "/{filename}"
        )
        answered.add((route.method.lower(), re.sub(r"\{([^}:]+):[^}]*\}", r"{\1}", path)))
    in_spec = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert answered == in_spec
    assert openapi.undocumented(app) == [], "add @documented(...) to these handlers"


def test_operation_ids_are_unique_and_every_operation_has_a_summary_and_tag(
    spec: dict[str, Any],
) -> None:
    operations = [op for item in spec["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    tags = {t["name"] for t in spec["tags"]}
    for op in operations:
        assert op["summary"] and op["tags"][0] in tags, op["operationId"]


def test_auth_is_bearer_exactly_where_the_middleware_demands_it(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert (schemes["bearerAuth"]["type"], schemes["bearerAuth"]["scheme"]) == ("http", "bearer")
    public = ("/healthz", "/metrics", "/openapi.json", "/docs", "/webhooks/", "/unsubscribe/")
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if path.startswith(("/api/", "/runbook/")):
                assert op["security"] == [{"bearerAuth": []}], f"{method} {path}"
                assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorOut"
                }
            elif path.startswith(public):
                assert op["security"] == [], f"{method} {path}"


def test_webhooks_document_their_signatures_and_form_bodies(spec: dict[str, Any]) -> None:
    for path in ("/webhooks/twilio/sms", "/webhooks/twilio/status"):
        op = spec["paths"][path]["post"]
        signature = op["parameters"][0]
        assert (signature["name"], signature["in"], signature["required"]) == (
            "X-Twilio-Signature",
            "header",
            True,
        )
        assert op["security"] == []
        assert set(op["requestBody"]["content"]) == {"application/x-www-form-urlencoded"}
        assert {"200", "403", "415"} <= set(op["responses"])
        assert "text/xml" in op["responses"]["200"]["content"]
    email = spec["paths"]["/webhooks/email/inbound"]["post"]
    form = spec["components"]["schemas"]["MailgunInboundForm"]
    assert {"timestamp", "token", "signature", "Message-Id"} <= set(form["required"])
    assert {"multipart/form-data", "application/x-www-form-urlencoded"} == set(
        email["requestBody"]["content"]
    )
    assert {"403", "503"} <= set(email["responses"])


def _resolve(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(
        {**schema, "components": spec["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def test_every_json_body_has_examples_that_match_its_schema(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if "requestBody" not in op:
                continue
            for media_type, media in op["requestBody"]["content"].items():
                assert media.get("examples"), f"{method} {path} {media_type} has no example"
                for example in media["examples"].values():
                    errors = [
                        e.message
                        for e in _resolve(spec, media["schema"]).iter_errors(example["value"])
                    ]
                    assert not errors, (
                        f"{method} {path}: example does not match its schema: {errors}"
                    )


def test_error_shape_is_the_one_the_middleware_answers(spec: dict[str, Any]) -> None:
    error = spec["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["error", "detail"]
    assert {"fields", "request_id"} <= set(error["properties"])
    assert error["additionalProperties"] is False


# --- the document against real answers -----------------------------------------------------


class Conformance:
    """An answer against the document: status documented, required headers, media type, body."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.succeeded: set[tuple[str, str]] = set()

    async def check(self, response: ClientResponse, method: str, path: str) -> Any:
        op = self.spec["paths"][path][method.lower()]
        documented = op["responses"].get(str(response.status))
        text = await response.text()
        assert documented is not None, (
            f"{method} {path} answered {response.status}, not documented: {text[:300]}"
        )
        for name, header in documented.get("headers", {}).items():
            if header.get("required"):
                assert name in response.headers, (
                    f"{method} {path} {response.status}: no {name} header"
                )
        if "content" not in documented:
            assert text == "", f"{method} {path} {response.status} has a body it does not document"
            body = None
        else:
            assert response.content_type in documented["content"], (
                method,
                path,
                response.content_type,
            )
            body = json.loads(text) if response.content_type == "application/json" else text
            schema = documented["content"][response.content_type]["schema"]
            errors = [
                f"{list(e.absolute_path)}: {e.message[:300]}"
                for e in _resolve(self.spec, schema).iter_errors(body)
            ]
            assert not errors, (
                f"{method} {path} {response.status} does not match its schema: {errors}"
            )
        if response.status < 300:
            self.succeeded.add((method.upper(), path))
        return body


def _example(spec: Mapping[str, Any], path: str, method: str = "post") -> Any:
    media = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
    return next(iter(media["examples"].values()))["value"]


@pytest.fixture
def more_numbers() -> tuple[str, ...]:
    return ("+14165550101",)  # a pool of two, so that a broken number can be reassigned


async def test_real_answers_match_the_document(live: TestClient, clock: FakeClock, twilio: Any) -> None:
    spec = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    c, api = live, Conformance(spec)
    await api.check(await c.get("/healthz"), "GET", "/healthz")
    await api.check(await c.get("/runbook/status"), "GET", "/runbook/status")
    await api.check(await c.get("/openapi.json"), "GET", "/openapi.json")
    await api.check(await c.get("/docs"), "GET", "/docs")
    await api.check(await c.get("/metrics"), "GET", "/metrics")

    # Market rules.
    policy = await api.check(
        await c.post("/api/policies", json=_example(spec, "/api/policies")), "POST", "/api/policies"
    )
    await api.check(
        await c.post("/api/policies", json=_example(spec, "/api/policies")), "POST", "/api/policies"
    )  # 409
    await api.check(await c.get("/api/policies", params={"limit": "1"}), "GET", "/api/policies")
    await api.check(
        await c.get(f"/api/policies/{policy['id']}"), "GET", "/api/policies/{policy_id}"
    )
    await api.check(
        await c.put(f"/api/policies/{policy['id']}", json=_example(spec, "/api/policies")),
        "PUT",
        "/api/policies/{policy_id}",
    )
    await api.check(
        await c.post("/api/offer-strategies", json=_example(spec, "/api/offer-strategies")),
        "POST",
        "/api/offer-strategies",
    )
    await api.check(await c.get("/api/offer-strategies"), "GET", "/api/offer-strategies")
    await api.check(await c.get("/api/jurisdictions"), "GET", "/api/jurisdictions")
    await api.check(await c.get("/api/jurisdictions/FL"), "GET", "/api/jurisdictions/{code}")
    await api.check(await c.get("/api/jurisdictions/XX"), "GET", "/api/jurisdictions/{code}")  # 404
    ladder = await api.check(
        await c.post("/api/ladders", json=_example(spec, "/api/ladders")), "POST", "/api/ladders"
    )
    await api.check(await c.get("/api/ladders"), "GET", "/api/ladders")
    await api.check(await c.get(f"/api/ladders/{ladder['id']}"), "GET", "/api/ladders/{ladder_id}")

    # Buyers and liquidity.
    buyer = await api.check(
        await c.post("/api/buyers", json=_example(spec, "/api/buyers")), "POST", "/api/buyers"
    )
    await api.check(await c.get("/api/buyers", params={"province": "ON"}), "GET", "/api/buyers")
    await api.check(await c.get(f"/api/buyers/{buyer['id']}"), "GET", "/api/buyers/{buyer_id}")
    await api.check(
        await c.get("/api/liquidity", params={"province": "ON", "market": "GTA"}),
        "GET",
        "/api/liquidity",
    )

    # A lead, its contact and deal, a person taking over and giving back.
    lead = await api.check(
        await c.post("/api/leads", json=_example(spec, "/api/leads")), "POST", "/api/leads"
    )
    contact_path, deal_path = "/api/contacts/{contact_id}", "/api/deals/{deal_id}"
    await api.check(await c.get(f"/api/contacts/{lead['contact_id']}"), "GET", contact_path)
    await api.check(
        await c.post(f"/api/contacts/{lead['contact_id']}/handoff", params={"reason": "call"}),
        "POST",
        contact_path + "/handoff",
    )
    await api.check(
        await c.post(f"/api/contacts/{lead['contact_id']}/resume"), "POST", contact_path + "/resume"
    )
    await api.check(await c.get(f"/api/deals/{lead['deal_id']}"), "GET", deal_path)
    await api.check(
        await c.patch(f"/api/deals/{lead['deal_id']}", json=_example(spec, deal_path, "patch")),
        "PATCH",
        deal_path,
    )

    # Sending now: accepted inside the window, 429 outside it.
    sms = {"contact_id": lead["contact_id"], "body": "Hi Jane, Sam here."}
    await api.check(await c.post("/api/messages/sms", json=sms), "POST", "/api/messages/sms")
    email = {**sms, "subject": "Your property"}
    await api.check(await c.post("/api/messages/email", json=email), "POST", "/api/messages/email")

    # A reply by email lands in the transcript with what it was read as.
    reply = mailgun_fields(
        sender="jane@example.com",
        recipient="offers@dealbot.test",
        body="Yes, I might sell.",
        message_id="<reply-1@mail.example.com>",
    )
    stored = await api.check(
        await c.post("/webhooks/email/inbound", data=reply), "POST", "/webhooks/email/inbound"
    )
    assert stored["status"] == "stored"
    await api.check(
        await text_in(c, "+14165550142", "What's your offer?"), "POST", "/webhooks/twilio/sms"
    )
    sid = "SM" + "0" * 32
    await api.check(await status_in(c, sid, "delivered"), "POST", "/webhooks/twilio/status")
    await settle(c)
    contact = await api.check(
        await c.get(f"/api/contacts/{lead['contact_id']}"), "GET", contact_path
    )
    assert {m["direction"] for m in contact["messages"]} == {"in", "out"}

    # Compliance: the audit trail and the do-not-contact list.
    await api.check(
        await c.get(f"/api/contacts/{lead['contact_id']}/compliance"), "GET", contact_path + "/compliance"
    )
    entry = _example(spec, "/api/suppressions")
    listed = await api.check(await c.post("/api/suppressions", json=entry), "POST", "/api/suppressions")
    await api.check(await c.post("/api/suppressions", json=entry), "POST", "/api/suppressions")  # 200
    await api.check(await c.get("/api/suppressions", params={"limit": "1"}), "GET", "/api/suppressions")
    one = "/api/suppressions/{suppression_id}"
    await api.check(await c.delete(f"/api/suppressions/{listed['id']}"), "DELETE", one)
    await api.check(await c.delete(f"/api/suppressions/{listed['id']}"), "DELETE", one)  # 404

    # Outbound webhooks.
    hook = await api.check(await c.post("/api/webhooks", json=_example(spec, "/api/webhooks")), "POST", "/api/webhooks")
    await api.check(await c.get("/api/webhooks", params={"limit": "1"}), "GET", "/api/webhooks")
    sent = "/api/webhooks/{webhook_id}/deliveries"
    await api.check(await c.get(f"/api/webhooks/{hook['id']}/deliveries"), "GET", sent)
    await api.check(await c.get("/api/webhooks/wh_nothing/deliveries"), "GET", sent)  # 404
    await api.check(await c.delete(f"/api/webhooks/{hook['id']}"), "DELETE", "/api/webhooks/{webhook_id}")
    await api.check(await c.delete(f"/api/webhooks/{hook['id']}"), "DELETE", "/api/webhooks/{webhook_id}")  # 404

    clock.advance(timedelta(hours=12))  # 02:00 in Toronto
    refused = await api.check(
        await c.post("/api/messages/sms", json=sms), "POST", "/api/messages/sms"
    )
    assert refused["error"] == "outside_contact_window"

    await api.check(await c.get("/api/kpis", params={"limit": "2"}), "GET", "/api/kpis")
    await api.check(await c.get("/api/kpis/funnel"), "GET", "/api/kpis/funnel")
    await api.check(
        await c.delete(f"/api/policies/{policy['id']}"), "DELETE", "/api/policies/{policy_id}"
    )
    await api.check(await c.get("/api/answers"), "GET", "/api/answers")
    answer = {"text": "No fees at {{ company }}.", "text_fr": "Aucuns frais chez {{ company }}."}
    await api.check(await c.put("/api/answers/fees", json=answer), "PUT", "/api/answers/{topic}")
    await api.check(await c.put("/api/answers/fees", json={"text": "{{ x }}"}), "PUT", "/api/answers/{topic}")

    # The pool: a number Twilio reports broken leaves it; an operator moves its contacts.
    sent = twilio.messages[0]
    await api.check(await status_in(c, sent["sid"], "undelivered", "30034"), "POST", "/webhooks/twilio/status")
    numbers = await api.check(await c.get("/api/numbers"), "GET", "/api/numbers")
    assert {n["number"]: n["status"] for n in numbers["numbers"]}[sent["from"]] == "broken"
    reassign = "/api/numbers/{number}/reassign"
    moved = await api.check(await c.post(f"/api/numbers/{quote(sent['from'])}/reassign"), "POST", reassign)
    assert moved["moved"] >= 1
    await api.check(await c.post(f"/api/numbers/{quote('+14165550101')}/reassign"), "POST", reassign)  # 409
    await api.check(await c.post("/api/numbers/%2B19995550000/reassign"), "POST", reassign)  # 404

    # Errors, each in the one shape.
    await api.check(await c.get("/api/contacts/ct_nope"), "GET", contact_path)
    await api.check(
        await c.get("/api/kpis", headers={"Authorization": "Bearer wrong-key-0123456789"}),
        "GET",
        "/api/kpis",
    )
    await api.check(await c.get("/api/kpis", params={"limit": "0"}), "GET", "/api/kpis")
    await api.check(
        await c.post("/api/leads", data=b"{nope", headers={"Content-Type": "application/json"}),
        "POST",
        "/api/leads",
    )
    await api.check(
        await c.post("/api/leads", data=b"name=x", headers={"Content-Type": "text/plain"}),
        "POST",
        "/api/leads",
    )
    await api.check(await c.post("/api/leads", json={"address": "1 Main St"}), "POST", "/api/leads")

    api_operations = {
        (m.upper(), p) for p, item in spec["paths"].items() if p.startswith("/api/") for m in item
    }
    assert api_operations - api.succeeded == set(), (
        "give each /api operation a successful call above"
    )


async def test_the_document_and_the_page_are_served_without_the_key(client: TestClient) -> None:
    anonymous = {"Authorization": ""}
    response = await client.get("/openapi.json", headers=anonymous)
    assert response.status == 200 and response.content_type == "application/json"
    assert await response.text() == CHECKED_IN.read_text(encoding="utf-8")
    page = await client.get("/docs", headers=anonymous)
    assert page.status == 200 and page.content_type == "text/html"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = await page.text()
    spec = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    for item in spec["paths"].values():
        for op in item.values():
            assert f'id="op-{op["operationId"]}"' in html
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    # Self-contained: no script at all, and nothing loaded from anywhere else.
    assert "<script" not in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


def test_page_escapes_what_it_shows() -> None:
    from handlers.docs import render_page

    spec = openapi.build(offline_app())
    spec["info"]["description"] = "<img src=x onerror=alert(1)> `code`"
    html = render_page(spec)
    assert "<img src=x" not in html and "&lt;img src=x" in html and "<code>code</code>" in html


class _Sample(BaseModel):
    """A model for the generator alone."""

    n: int


def test_an_undocumented_route_still_appears_and_is_named() -> None:
    from aiohttp import web

    app = web.Application()

    async def secret_thing(_request: web.Request) -> web.Response:
        """Do a secret thing."""
        return web.Response()

    app.router.add_get("/api/secret/{thing_id}", secret_thing)
    spec = openapi.build(app)
    op = spec["paths"]["/api/secret/{thing_id}"]["get"]
    assert op["summary"] == "Do a secret thing." and op["security"] == [{"bearerAuth": []}]
    assert {"401", "404"} <= set(op["responses"])
    assert openapi.undocumented(app) == ["GET /api/secret/{thing_id}"]


def test_documented_models_become_components_referenced_by_name() -> None:
    from aiohttp import web

    app = web.Application()

    @openapi.documented("Make a sample", tag="operations", body=_Sample, responses={201: _Sample})
    async def make(_request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_post("/samples", make)
    spec = openapi.build(app)
    op = spec["paths"]["/samples"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/_Sample"
    }
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/_Sample"
    }
    assert set(op["responses"]) == {"201", "400", "413", "415", "422"} and op["security"] == []
    validate_spec(spec)


@pytest.mark.parametrize("model", [DirectSmsIn, DirectEmailIn], ids=lambda m: m.__name__)
def test_the_body_or_template_rule_reads_the_same_in_the_schema_and_the_model(
    model: type[BaseModel],
) -> None:
    """The validators and the schema's oneOf agree on every mix of body, template and subject."""
    validator = Draft202012Validator(model.model_json_schema())
    absent = object()
    for body, template, subject in itertools.product(
        [absent, None, "b"], [absent, None, "t"], [absent, None, "s"]
    ):
        given = {"body": body, "template": template, "subject": subject}
        payload = {"contact_id": "ct_1", **{k: v for k, v in given.items() if v is not absent}}
        try:
            model.model_validate_json(json.dumps(payload), strict=True)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == validator.is_valid(payload), payload
