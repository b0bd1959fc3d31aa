"""Issue 22's seller conversations, written as data (conversations.yaml), played through the
signed Twilio SMS webhook against one live app per engine.

Each conversation is its own seller (its own phone number), so one app serves them all without
cross-talk. After every seller turn the transcript (GET /api/contacts/{id}) is checked against
the turn's expectations; after every conversation, that no outbound text repeated an earlier one
word for word (the opt-out confirmation aside) and that no question was asked about something the
seller (or the lead) had already told us. Every failure is collected and reported at once.

A turn's keys (all but `say` optional):
  say: the seller's text            state: the seller state after it
  intent, amount (null: none read), topic: the reading shown for the inbound message
  facts: {name: value} each read from it ("*": any value)
  reply: true / false: whether the bot answers it (exactly one message, or none)
  template: the answer's template   has: a fragment (or list) the answer contains (any case)
  needs_human: bool                 reason: what needs_human_reason starts with
  language: the contact's language afterwards
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from tests.flows import settle, text_in, transcript

DATA = Path(__file__).with_name("conversations.yaml")
LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "arv": 500_000,
    "consent": True,
}
# What asks for what: once the seller (or the lead) told us, the question is not asked again.
ASKS = {"seller_ask_condition": "condition", "seller_ask_timeline": "timeline", "seller_ask_price": "price"}
TOLD_BY = {"condition": "condition", "repairs": "condition", "repair_cost": "condition",
           "timeline": "timeline", "amount": "price"}
LEAD_TELLS = {"condition": "condition", "asking_price": "price"}
NOT_REPEATED_EXEMPT = {"seller_optout_confirm"}


def conversations() -> list[dict[str, Any]]:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))["conversations"]


class Played:
    """One conversation's failures, named by conversation and turn."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failures: list[str] = []

    def check(self, ok: bool, where: str, what: str) -> None:
        if not ok:
            self.failures.append(f"{self.name} / {where}: {what}")


def _phone(index: int) -> str:
    return f"+1416555{index:04d}"


def _matches(expected: Any, actual: Any) -> bool:
    return expected == "*" and actual is not None or expected == actual


def _check_turn(played: Played, turn: dict[str, Any], view: dict[str, Any], new_out: list[dict[str, Any]]) -> None:
    where = f"{turn['say']!r}"
    inbound = [m for m in view["messages"] if m["direction"] == "in"][-1]
    checks = {"state": view["state"], "intent": inbound.get("intent"), "amount": inbound.get("amount"),
              "topic": inbound.get("question_topic"), "needs_human": view["needs_human"],
              "language": view.get("language")}
    for key, actual in checks.items():
        if key in turn:
            played.check(turn[key] == actual, where, f"{key} {actual!r}, expected {turn[key]!r}")
    for name, value in (turn.get("facts") or {}).items():
        got = (inbound.get("facts") or {}).get(name)
        played.check(_matches(value, got), where, f"fact {name} {got!r}, expected {value!r}")
    if "reason" in turn:
        reason = view.get("needs_human_reason") or ""
        played.check(reason.startswith(turn["reason"]), where, f"reason {reason!r}, expected {turn['reason']!r}…")
    if "reply" in turn:
        played.check(len(new_out) == (1 if turn["reply"] else 0), where,
                      f"{len(new_out)} answers: {[m['body'] for m in new_out]}")
    answer = new_out[-1] if new_out else None
    if "template" in turn:
        got = answer["template"] if answer else None
        played.check(got == turn["template"], where, f"template {got!r}, expected {turn['template']!r}")
    fragments = turn.get("has") or []
    for fragment in [fragments] if isinstance(fragments, str) else fragments:
        body = answer["body"] if answer else ""
        played.check(fragment.lower() in body.lower(), where, f"answer {body!r} lacks {fragment!r}")


def _check_whole(played: Played, lead: dict[str, Any], view: dict[str, Any]) -> None:
    seen: set[str] = set()
    told = {topic for field, topic in LEAD_TELLS.items() if lead.get(field) is not None}
    for message in view["messages"]:
        if message["direction"] == "in":
            told |= {TOLD_BY[name] for name in (message.get("facts") or {}) if name in TOLD_BY}
            continue
        if message["status"] == "cancelled":
            continue
        asked = ASKS.get(message["template"] or "")
        played.check(asked not in told, "whole", f"asked about {asked} again: {message['body']!r}")
        if message["template"] not in NOT_REPEATED_EXEMPT:
            played.check(message["body"] not in seen, "whole", f"repeated word for word: {message['body']!r}")
            seen.add(message["body"])


async def play(client: TestClient, clock: FakeClock, index: int, conversation: dict[str, Any]) -> list[str]:
    played = Played(conversation["name"])
    phone = _phone(index)
    lead = {**LEAD, **(conversation.get("lead") or {}), "phone": phone}
    response = await client.post("/api/leads", json=lead)
    assert response.status == 201, await response.text()
    contact_id = (await response.json())["contact_id"]
    await settle(client)
    for answer_check in conversation.get("start") or []:
        view = await transcript(client, contact_id)
        played.check(answer_check in view["messages"][-1]["body"], "intro", f"lacks {answer_check!r}")
    for turn in conversation["turns"]:
        before = len([m for m in (await transcript(client, contact_id))["messages"] if m["direction"] == "out"])
        clock.advance(timedelta(seconds=5))  # a seller takes a moment to answer
        reply = await text_in(client, phone, str(turn["say"]))
        played.check(reply.status == 200, repr(turn["say"]), f"webhook answered {reply.status}")
        await settle(client)
        view = await transcript(client, contact_id)
        new_out = [m for m in view["messages"] if m["direction"] == "out"][before:]
        _check_turn(played, turn, view, new_out)
    _check_whole(played, lead, await transcript(client, contact_id))
    return played.failures


async def test_the_seller_conversations_all_play_right(live: TestClient, clock: FakeClock) -> None:
    cases = conversations()
    assert len(cases) >= 60 and len({c["name"] for c in cases}) == len(cases)
    failures: list[str] = []
    for index, conversation in enumerate(cases):
        failures += await play(live, clock, index, conversation)
    right = len(cases) - len({f.split(" / ")[0] for f in failures})
    assert not failures, f"{right}/{len(cases)} conversations right:\n" + "\n".join(failures)


async def test_the_transcript_and_the_dashboard_show_what_was_read(live: TestClient) -> None:
    phone = _phone(9000)
    response = await live.post("/api/leads", json={**LEAD, "phone": phone})
    contact_id = (await response.json())["contact_id"]
    await settle(live)
    await text_in(live, phone, "Yes. It's vacant, needs about 40k of work. How fast can you close? 450k")
    await settle(live)
    view = await transcript(live, contact_id)
    said = [m for m in view["messages"] if m["direction"] == "in"][-1]
    assert said["amount"] == 450_000 and said["question_topic"] == "closing_speed"
    assert said["facts"]["occupancy"] == "vacant" and said["facts"]["repair_cost"] == 40_000
    assert view["language"] == "en" and "sending_number" in view and view["needs_human_reason"] is None
    deal = await (await live.get(f"/api/deals/{view['deal_id']}")).json()
    assert deal["seller"]["occupancy"] == "vacant" and deal["seller"]["repair_cost"] == 40_000
    assert deal["numbers"]["repair_estimate"] is None, "the seller's figure is theirs, not the deal's estimate"
    page = await (await live.get(f"/dashboard/contacts/{contact_id}")).text()
    assert "asks: closing speed" in page and "occupancy vacant" in page and "$450,000" in page


async def test_a_seller_who_never_answers_is_never_sent_the_same_text_twice(live: TestClient, clock: FakeClock) -> None:
    phone = _phone(9001)
    response = await live.post("/api/leads", json={**LEAD, "phone": phone})
    contact_id = (await response.json())["contact_id"]
    for _day in range(200):  # the whole follow-up ladder: the follow-ups, then a touch a month
        await settle(live)
        clock.advance(timedelta(days=1))
    view = await transcript(live, contact_id)
    sms = [m["body"] for m in view["messages"] if m["direction"] == "out" and m["channel"] == "sms"]
    assert len(sms) >= 8, sms
    assert len(set(sms)) == len(sms), "a repeated ladder text"
