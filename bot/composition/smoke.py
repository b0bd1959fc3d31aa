"""``dealbot smoke``: the nine checks of CONTRACT.md against a running server, through its public HTTP API only.

One line a step, ``PASS``/``FAIL`` with what was seen or why not; exit 0 only
when all nine pass. A step that needs an earlier one (the lead) fails with
"not run" when that one failed, and after a connection failure nothing more is
tried.

What it leaves behind is recognisable and harmless on a real server:

* the lead has source ``dealbot-smoke``, a ``smoke-`` name, an ``example.com``
  address and a phone number in the 555-01XX range that North American
  numbering keeps for fiction;
* its ladder is named ``smoke-ladder-<run>`` and has no province or market,
  so no real lead is ever given it;
* its buyer is named ``smoke-buyer <run>`` with a maximum price of 1, so it
  counts in the market's liquidity but never fits a real deal;
* the ON/GTA policy it creates (open all day) is deleted at the end; an
  existing ON/GTA policy is used as it is.

The law still closes the contact window at night, on Canadian statutory holidays
(and, for the smoke's Ontario lead, from 18:00 on weekends): run outside those
hours, the first message rightly waits. The steps that need it sent then say
``WAIT``, which message waits for which rule and when the window opens, and count
as passed: the server did what it must. The exit status is 0 only if every step
passed or waits for the window; a step that waits for anything else fails.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.schemas import SMOKE_SOURCE

SOURCE = SMOKE_SOURCE
PROVINCE, MARKET, ZONE = "ON", "GTA", "America/Toronto"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ARV, REPAIRS = 500_000, 40_000
SENT = ("sms:sent", "email:sent")
CHECKPOINTS = ("lead:created", "deal_brief:created", "backend:deal_created", "ladder:step_sent")
POLL_S = 0.25


class StepFailed(Exception):
    """A check did not hold; the message is the one-line reason."""


class Waiting(Exception):
    """The check cannot hold yet because the law closes the contact window now; the message
    says what waits, for which rule, until when. Not a failure."""


class Halt(StepFailed):
    """No later step can tell anything either; ``why`` says so on their lines."""

    why = "an earlier step failed"


class Unreachable(Halt):
    why = "the server did not answer"


class Refused(Halt):
    why = "the server refused the API key"


@dataclass(frozen=True, slots=True)
class StepResult:
    number: int
    title: str
    ok: bool
    detail: str
    waiting: bool = False  # ok because it waits for the contact window to open

    def line(self, total: int) -> str:
        word = "WAIT" if self.waiting else "PASS" if self.ok else "FAIL"
        return f"{word} {self.number}/{total} {self.title}: {self.detail}"


@dataclass(slots=True)
class _Found:
    """What earlier steps learnt, for later ones."""

    lead: dict[str, Any] | None = None
    created_policy_id: str | None = None
    notes: list[str] = field(default_factory=list)


class Smoke:
    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, api_key: str, *, wait_s: float = 30.0,
        run_id: str | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.wait_s = wait_s
        self.run_id = run_id or f"{int(time.time())}-{secrets.token_hex(2)}"
        self.found = _Found()

    @property
    def steps(self) -> tuple[tuple[str, Callable[[], Awaitable[str]], bool], ...]:
        """(title, check, needs the lead of step 4)."""
        return (
            ("runbook status", self.runbook_status, False),
            ("create the Ontario market policy", self.ontario_policy, False),
            ("create a follow-up ladder", self.follow_up_ladder, False),
            ("submit a lead", self.submit_lead, False),
            ("the lead's ladder was created", self.lead_ladder, True),
            ("its offer was computed", self.offer, True),
            ("liquidity was scored", self.liquidity, False),
            ("notifications were sent", self.notifications, True),
            ("the KPI trail holds the checkpoints of steps 4-8", self.kpi_trail, True),
        )

    async def run(self, report: Callable[[str], None]) -> list[StepResult]:
        results: list[StepResult] = []
        halted: str | None = None
        total = len(self.steps)
        for number, (title, check, needs_lead) in enumerate(self.steps, start=1):
            if halted is not None:
                result = StepResult(number, title, False, f"not run: {halted}")
            elif needs_lead and self.found.lead is None:
                result = StepResult(number, title, False, "not run: step 4 (submit a lead) failed")
            else:
                try:
                    result = StepResult(number, title, True, await check())
                except Waiting as exc:
                    result = StepResult(number, title, True, str(exc), waiting=True)
                except Halt as exc:
                    halted = exc.why
                    result = StepResult(number, title, False, str(exc))
                except StepFailed as exc:
                    result = StepResult(number, title, False, str(exc))
            results.append(result)
            report(result.line(total))
        if halted is None:
            await self.clean_up()
        for note in self.found.notes:
            report(f"note: {note}")
        passed = sum(r.ok and not r.waiting for r in results)
        waiting = sum(r.waiting for r in results)
        wait_note = f", {waiting} waiting for the contact window" if waiting else ""
        report(f"smoke: {passed}/{total} passed{wait_note} against {self.base_url} (run {self.run_id})")
        return results

    # -- HTTP ---------------------------------------------------------------

    async def call(
        self, method: str, path: str, *, payload: Any = None, expect: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        url = f"{self.base_url}{path}"
        try:
            async with self.session.request(
                method, url, json=payload, headers={**self.headers, **(headers or {})}
            ) as response:
                status, text = response.status, await response.text()
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise Unreachable(f"cannot reach {self.base_url}: {exc or type(exc).__name__}") from None
        body = _json_or_none(text)
        if status == 401:
            raise Refused(f"{method} {path} answered 401 {_error(body)}")
        if status not in expect:
            raise StepFailed(f"{method} {path} answered {status} {_error(body)}")
        if body is None and status != 204:
            raise StepFailed(f"{method} {path} answered {status} without a JSON body")
        return status, body

    # -- the nine steps -----------------------------------------------------

    async def runbook_status(self) -> str:
        _, body = await self.call("GET", "/runbook/status")
        database = body.get("database") or {}
        if not database.get("ok"):
            raise StepFailed(f"database not ok: {database.get('error', 'no detail')}")
        scheduler = body.get("scheduler") or {}
        if not scheduler.get("running"):
            raise StepFailed("the scheduler is not running")
        return (
            f"version {body.get('version')}, {database.get('engine')} at revision {database.get('revision')}, "
            f"scheduler running with {scheduler.get('pending_steps')} pending step(s), "
            f"transports sms={body.get('transports', {}).get('sms')} email={body.get('transports', {}).get('email')}"
        )

    async def ontario_policy(self) -> str:
        policy = {
            "province": PROVINCE, "market": MARKET, "timezone": ZONE,
            "windows": {day: ["00:00-24:00"] for day in DAYS}, "reply_grace_minutes": 15,
        }
        status, body = await self.call("POST", "/api/policies", payload=policy, expect=(201, 409))
        if status == 201:
            self.found.created_policy_id = body["id"]
            _, stored = await self.call("GET", f"/api/policies/{body['id']}")
            if stored.get("timezone") != ZONE or stored.get("market") != MARKET:
                raise StepFailed(f"the stored policy differs from what was sent: {stored}")
            return f"created {PROVINCE}/{MARKET} policy {body['id']} (open all day for the smoke; removed at the end)"
        existing = await self.find_policy()
        if existing is None:
            raise StepFailed(f"409 for {PROVINCE}/{MARKET} but no such policy is listed")
        return f"a {PROVINCE}/{MARKET} policy exists already ({existing['id']}, {existing['timezone']}): using it"

    async def find_policy(self) -> dict[str, Any] | None:
        cursor = ""
        while True:
            _, page = await self.call("GET", f"/api/policies?limit=1000{'&cursor=' + cursor if cursor else ''}")
            for policy in page.get("policies", []):
                if policy.get("province") == PROVINCE and policy.get("market") == MARKET:
                    return policy
            cursor = page.get("next_cursor") or ""
            if not cursor:
                return None

    async def follow_up_ladder(self) -> str:
        steps = [
            {"delay": "0s", "channel": "sms", "template": "seller_intro"},
            {"delay": "1d", "channel": "email", "template": "seller_email_intro"},
            {"delay": "3d", "channel": "sms", "template": "seller_followup_1"},
        ]
        name = f"smoke-ladder-{self.run_id}"
        _, body = await self.call("POST", "/api/ladders", payload={"name": name, "steps": steps}, expect=(201,))
        _, stored = await self.call("GET", f"/api/ladders/{body['id']}")
        if stored.get("name") != name or len(stored.get("steps", [])) != len(steps):
            raise StepFailed(f"the stored ladder differs from what was sent: {stored}")
        return f"created {name} ({body['id']}, {len(steps)} steps; no area, so no real lead is given it)"

    async def submit_lead(self) -> str:
        lead = {
            "name": f"smoke-seller {self.run_id}",
            "phone": f"416-555-01{secrets.randbelow(100):02d}",
            "email": f"smoke-seller-{self.run_id}@example.com",
            "address": "100 Queen St W, Toronto, ON M5H 2N2",
            "property_type": "single_family",
            "bedrooms": 3,
            "arv": ARV,
            "repair_estimate": REPAIRS,
            "source": SOURCE,
            "consent": True,
        }
        key = {"Idempotency-Key": f"{SOURCE}-{self.run_id}"}
        _, body = await self.call("POST", "/api/leads", payload=lead, expect=(201,), headers=key)
        _, again = await self.call("POST", "/api/leads", payload=lead, expect=(201,), headers=key)
        if again != body:
            raise StepFailed("repeating the request with its Idempotency-Key gave a different answer")
        place = (body.get("province"), body.get("market"), body.get("timezone"))
        if place != (PROVINCE, MARKET, ZONE):
            raise StepFailed(f"Toronto address placed in {place}, expected {(PROVINCE, MARKET, ZONE)}")
        self.found.lead = body
        return (
            f"lead {body['lead_id']}: contact {body['contact_id']}, deal {body['deal_id']} in {PROVINCE}/{MARKET} "
            f"({ZONE}), state {body.get('state')}; an Idempotency-Key repeat gave the same answer"
        )

    async def lead_ladder(self) -> str:
        lead = self._lead()
        steps = lead.get("ladder") or []
        if not steps:
            raise StepFailed(f"the lead has no ladder (state {lead.get('state')})")
        missing = [s for s in steps if not s.get("due_at") or not s.get("status")]
        if missing:
            raise StepFailed(f"{len(missing)} step(s) without due_at/status")
        _, contact = await self.call("GET", f"/api/contacts/{lead['contact_id']}")
        listed = {s["id"] for s in contact.get("ladder", [])}
        if not {s["id"] for s in steps} <= listed:
            raise StepFailed("the contact's ladder does not list the lead's steps")
        first = steps[0]
        return (
            f"{len(steps)} steps; first {first['template']} by {first['channel']} due {first['due_at']} "
            f"({first['status']})"
        )

    async def offer(self) -> str:
        lead = self._lead()
        _, deal = await self.call("GET", f"/api/deals/{lead['deal_id']}")
        offer = deal.get("offer") or {}
        mao, opening = offer.get("mao"), offer.get("opening")
        if not isinstance(mao, int) or not isinstance(opening, int):
            raise StepFailed(f"no offer computed: {offer}")
        if not 0 < opening <= mao:
            raise StepFailed(f"opening {opening} is not within (0, mao {mao}]")
        if await self.default_strategy():
            # CONTRACT.md's defaults: arv_pct 0.70, fee 10000, opening 0.90 of mao rounded down to 1000.
            expected_mao = ARV * 70 // 100 - REPAIRS - 10_000
            expected_opening = expected_mao * 90 // 100 // 1000 * 1000
            if (mao, opening) != (expected_mao, expected_opening):
                raise StepFailed(
                    f"mao {mao}, opening {opening}; the default strategy gives {expected_mao}, {expected_opening}"
                )
            return f"mao {mao}, opening {opening} (default strategy: ARV x 0.70 - repairs - fee)"
        return f"mao {mao}, opening {opening} (this server's {PROVINCE} strategy)"

    async def default_strategy(self) -> bool:
        """True when no strategy covers ON/GTA, so the contract's defaults apply and can be checked exactly."""
        _, page = await self.call("GET", "/api/offer-strategies?limit=1000")
        return not any(
            s.get("province") == PROVINCE and (s.get("market") or MARKET) == MARKET
            for s in page.get("strategies", [])
        )

    async def liquidity(self) -> str:
        buyer = {
            "name": f"smoke-buyer {self.run_id}",
            "email": f"smoke-buyer-{self.run_id}@example.com",
            "provinces": [PROVINCE],
            "markets": [MARKET],
            "max_price": 1,
            "active": True,
            "purchases_last_12m": 1,
        }
        _, created = await self.call("POST", "/api/buyers", payload=buyer, expect=(201,))
        _, body = await self.call("GET", f"/api/liquidity?province={PROVINCE}&market={MARKET}")
        score, active = body.get("score"), body.get("active_buyers")
        if not isinstance(score, int) or not 0 <= score <= 100:
            raise StepFailed(f"score {score!r} is not a whole number from 0 to 100")
        if not isinstance(active, int) or active < 1:
            raise StepFailed(f"active_buyers {active!r}: the smoke buyer {created.get('id')} was not counted")
        detail = f"{PROVINCE}/{MARKET} scores {score}/100 from {active} active buyer(s)"
        detail += f" (smoke buyer {created.get('id')})"
        if self.found.lead is not None:
            _, deal = await self.call("GET", f"/api/deals/{self.found.lead['deal_id']}")
            score = deal.get("liquidity_score")
            detail += "; the deal is not scored yet" if score is None else f"; the deal scores {score}"
        return detail

    async def notifications(self) -> str:
        lead = self._lead()
        deadline = time.monotonic() + self.wait_s
        while True:
            events = await self.trail(lead["deal_id"])
            sent = [e for e in events if e["name"] in SENT]
            if sent:
                data = sent[0].get("data") or {}
                return f"{data.get('template') or 'a message'} {sent[0]['name'].split(':')[0]} at {sent[0]['at']}"
            held = _held_for_the_window(events)
            if held is not None:
                raise Waiting(held)
            if time.monotonic() >= deadline:
                raise StepFailed(f"nothing sent within {self.wait_s:g}s: {await self.why_not_sent(lead)}")
            await asyncio.sleep(POLL_S)

    async def why_not_sent(self, lead: dict[str, Any]) -> str:
        _, contact = await self.call("GET", f"/api/contacts/{lead['contact_id']}")
        out = [m for m in contact.get("messages", []) if m.get("direction") == "out"]
        if out:
            last = out[-1]
            return f"last message {last.get('template')} is {last.get('status')} ({last.get('error_reason')})"
        steps = contact.get("ladder") or []
        if steps:
            first = steps[0]
            return f"first step {first['template']} is {first['status']}, due {first['due_at']}"
        return f"no message and no ladder; state {contact.get('state')}, needs_human {contact.get('needs_human')}"

    async def kpi_trail(self) -> str:
        events = await self.trail(self._lead()["deal_id"])
        names = [e["name"] for e in events]
        missing = [n for n in CHECKPOINTS if n not in names]
        held = None if any(n in names for n in SENT) else _held_for_the_window(events)
        if not any(n in names for n in SENT) and held is None:
            missing.append(" or ".join(SENT))
        if missing:
            raise StepFailed(f"missing {', '.join(missing)}; the trail has {', '.join(names) or 'nothing'}")
        if names[0] != "lead:created":
            raise StepFailed(f"the trail starts with {names[0]}, not lead:created")
        shown = [n for n in names if n in CHECKPOINTS or n in SENT]
        trail = f"{', '.join(dict.fromkeys(shown))} ({len(events)} events for the deal)"
        if held is not None:
            raise Waiting(f"{trail}; no send yet: {held}")
        return trail

    async def trail(self, deal_id: str) -> list[dict[str, Any]]:
        _, body = await self.call("GET", f"/api/kpis?deal_id={deal_id}&limit=1000")
        return list(body.get("events", []))

    def _lead(self) -> dict[str, Any]:
        assert self.found.lead is not None  # run() skips the steps that need it
        return self.found.lead

    async def clean_up(self) -> None:
        policy_id = self.found.created_policy_id
        if policy_id is None:
            return
        try:
            await self.call("DELETE", f"/api/policies/{policy_id}", expect=(204,))
        except StepFailed as exc:
            self.found.notes.append(f"could not remove the smoke's policy {policy_id}: {exc}")
        else:
            self.found.notes.append(f"removed the smoke's {PROVINCE}/{MARKET} policy {policy_id}")


WINDOW_REASONS = ("outside_contact_window", "cap_24h")


def _held_for_the_window(events: list[dict[str, Any]]) -> str | None:
    """What waits for the contact window, for which rule, until when; None if nothing does."""
    for event in reversed(events):
        data = event.get("data") or {}
        held = event["name"] in ("ladder:step_deferred", "message:blocked_by_policy")
        if held and data.get("reason") in WINDOW_REASONS:
            until = data.get("deferred_until") or data.get("due_at") or "an unknown time"
            what = data.get("template") or f"message {data.get('message_id') or data.get('step_id')}"
            rule = f"{data['reason']}, rule {data.get('rule')}"
            return f"{what} waits for the contact window ({rule}); it opens at {until}"
    return None


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _error(body: Any) -> str:
    if isinstance(body, dict) and "error" in body:
        fields = body.get("fields")
        return f"{body['error']}: {body.get('detail', '')}" + (f" {fields}" if fields else "")
    return "(no error body)"


def _print(line: str) -> None:
    print(line, flush=True)


async def run(base_url: str, api_key: str, *, wait_s: float = 30.0, report: Callable[[str], None] = _print) -> bool:
    """Run the nine steps; True when all passed."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        results = await Smoke(session, base_url, api_key, wait_s=wait_s).run(report)
    return all(r.ok for r in results)
