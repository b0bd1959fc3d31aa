"""``dealbot demo``: the whole story, start to finish, on a throwaway database and a simulated clock.

The real app runs in this process on a loopback port, on a SQLite file in a
temporary folder, with dry-run transports; the demo drives it through the same
HTTP API and signed webhooks that operators and providers use, and moves the
clock by hand, sweeping the ladder and dispatching the outbox at each beat. It
reads nothing from the environment or a ``.env`` file: its settings are all
written here, so no configured Twilio or SMTP account is ever used.

The output is the same on every run: no ids, no wall-clock times, nothing
random is printed; messages are ordered by their simulated instants, and
within one instant the seller's words come before the bot's answer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from aiohttp import web
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from rich.console import Console
from twilio.request_validator import RequestValidator

from bot.clock import FakeClock
from bot.composition.app import TIMER, create_app
from bot.display import funnel_table, local_time, money
from bot.settings import Settings
from bot.transports.dryrun import DryRunEmail
from handlers import appkeys

# Monday 2 March 2026, 10:00 in Toronto: inside every default contact window.
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PUBLIC_URL = "http://dealbot.demo"
API_KEY = "demo-api-key-not-a-secret"
TWILIO_TOKEN = "demo-twilio-token"
EMAIL_SECRET = "demo-inbound-email-secret"
OUR_NUMBER = "+14165550100"
WIDTH = 100
# Our ids (storage.values.new_id) carry random bits: a message that quotes one would change every run.
RANDOM_ID = re.compile(r"\b[a-z]{2,4}_[0-9a-z]{26}\b")
WHEN_WIDTH = 20
WHO_WIDTH = 16

BUYERS: tuple[dict[str, Any], ...] = (
    {"name": "Northern Capital Homes", "email": "deals@northern-capital.example", "provinces": ["ON"],
     "markets": ["GTA"], "property_types": ["single_family"], "min_price": 300_000, "max_price": 700_000,
     "min_bedrooms": 2, "purchases_last_12m": 9},
    {"name": "Lakeshore Flip Co.", "email": "buy@lakeshore-flip.example", "provinces": ["ON"], "markets": [],
     "max_price": 650_000, "purchases_last_12m": 4},
    {"name": "Rideau Rentals", "email": "acquisitions@rideau-rentals.example", "provinces": ["ON"],
     "markets": ["Ottawa"], "max_price": 500_000, "purchases_last_12m": 6},
)
# Sellers type numbers any way they like; Twilio delivers their texts from the E.164 form.
JANE_MOBILE, BOB_MOBILE = "+14165550142", "+16475550199"
JANE = {
    "name": "Jane Tremblay", "phone": "(416) 555-0142", "email": "jane.tremblay@example.com",
    "address": "12 Elm St, Toronto, ON M4C 1A1", "property_type": "single_family", "bedrooms": 3,
    "arv": 820_000, "repair_estimate": 60_000, "source": "web_form", "consent": True,
}
# A seller who tells everything in one text: the bot asks nothing it was told.
MARIE_MOBILE = "+14165550177"
MARIE = {
    "name": "Marie Dubois", "phone": "416-555-0177", "address": "9 Cedar Cres, Toronto, ON M4B 2K9",
    "property_type": "single_family", "bedrooms": 4, "arv": 600_000, "source": "web_form", "consent": True,
}
BOB = {
    "name": "Bob Singh", "phone": "647.555.0199", "address": "48 Birch Ave, Toronto, ON M4V 1E1",
    "property_type": "townhouse", "arv": 700_000, "source": "web_form", "consent": True,
}


class DemoError(Exception):
    """The story could not go on: the app answered something the demo did not expect."""


class _DemoSettings(Settings):
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the demo says: never this machine's environment or .env (a real Twilio account).
        return (init_settings,)


def demo_settings(folder: Path) -> Settings:
    return _DemoSettings(
        DEALBOT_DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'demo.db'}",
        DEALBOT_API_KEY=API_KEY,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        DEALBOT_INBOUND_EMAIL_SECRET=EMAIL_SECRET,
        DEALBOT_EMAIL_FROM="offers@maplehomebuyers.example",
        DEALBOT_SMS_PER_SECOND=100,  # the pacer sleeps in real time; the demo has no carrier to protect
        DEALBOT_LOG_LEVEL="error",
    )


@dataclass(frozen=True, slots=True)
class Line:
    """One transcript entry, sortable into a stable order."""

    at: datetime
    rank: int  # within one instant: what arrived (0) before what we answered (1)
    who: str
    text: str

    @property
    def key(self) -> tuple[datetime, int, str, str]:
        return self.at, self.rank, self.who, self.text


class Demo:
    def __init__(self, out: TextIO, app: web.Application, session: aiohttp.ClientSession, base_url: str) -> None:
        self.out = out
        self.app = app
        self.session = session
        self.base_url = base_url
        self.clock: FakeClock = app[appkeys.CLOCK]  # type: ignore[assignment]
        self.zone = "America/Toronto"
        self.shown: set[str] = set()
        self.alerts_shown = 0
        self.sms_count = 0
        self.email_count = 0
        self.buyer_names: dict[str, str] = {}  # by email
        self.buyer_ids: dict[str, str] = {}  # names by id

    # -- printing -----------------------------------------------------------

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def heading(self, title: str) -> None:
        self.write()
        self.write(f"── {title} ".ljust(WIDTH, "─"))

    def line(self, at: datetime, who: str, text: str) -> None:
        when = local_time(at, self.zone).ljust(WHEN_WIDTH)
        prefix = f"{when} {who.ljust(WHO_WIDTH)} "
        body = RANDOM_ID.sub("…", " ".join(text.split()))  # one paragraph a message; ids are random
        wrapped = textwrap.wrap(body, WIDTH - len(prefix)) or [""]
        self.write(prefix + wrapped[0])
        for rest in wrapped[1:]:
            self.write(" " * len(prefix) + rest)

    def note(self, text: str) -> None:
        self.line(self.clock.now(), "·", text)

    # -- the app's public surface ---------------------------------------------

    async def api(self, method: str, path: str, payload: Any = None, *, expect: int = 200) -> Any:
        async with self.session.request(method, f"{self.base_url}{path}", json=payload) as response:
            body = await response.json(content_type=None)
            if response.status != expect:
                raise DemoError(f"{method} {path} answered {response.status}: {body}")
            return body

    async def text_from(self, phone: str, body: str) -> None:
        """The seller texts us: a Twilio webhook, signed as Twilio signs it."""
        self.sms_count += 1
        form = {"MessageSid": f"SM{self.sms_count:032x}", "From": phone, "To": OUR_NUMBER, "Body": body}
        url = "/webhooks/twilio/sms"
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + url, form)
        headers = {"X-Twilio-Signature": signature}
        async with self.session.post(f"{self.base_url}{url}", data=form, headers=headers) as r:
            if r.status != 200:
                raise DemoError(f"the SMS webhook answered {r.status}: {await r.text()}")
        await self.app[appkeys.BACKGROUND].drain()

    async def email_from(self, sender: str, body: str, *, subject: str, in_reply_to: str) -> None:
        """Someone answers our email: the inbound webhook in Mailgun's format, signed."""
        self.email_count += 1
        timestamp, token = str(int(time.time())), secrets.token_hex(16)  # freshness is checked on wall time
        form = {
            "sender": sender, "recipient": "offers@maplehomebuyers.example", "subject": subject,
            "body-plain": body, "stripped-text": body, "Message-Id": f"<reply-{self.email_count}@mail.example>",
            "In-Reply-To": in_reply_to, "timestamp": timestamp, "token": token,
            "signature": hmac.new(EMAIL_SECRET.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest(),
        }
        async with self.session.post(f"{self.base_url}/webhooks/email/inbound", data=form) as r:
            if r.status != 200:
                raise DemoError(f"the email webhook answered {r.status}: {await r.text()}")
        await self.app[appkeys.BACKGROUND].drain()

    async def settle(self, after: timedelta = timedelta(seconds=5)) -> None:
        """A few simulated seconds later: due ladder steps are queued and the outbox is sent."""
        self.clock.advance(after)
        await self.app[TIMER].settle_and_recover()
        while await self.app[appkeys.DISPATCHER].dispatch_due():
            pass

    def wait(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    # -- what happened --------------------------------------------------------

    async def show_conversation(self, contact_id: str, first_name: str) -> dict[str, Any]:
        """Print the contact's messages not printed yet, in order; return the contact."""
        contact = await self.api("GET", f"/api/contacts/{contact_id}")
        lines = []
        for message in contact["messages"]:
            if message["id"] in self.shown:
                continue
            self.shown.add(message["id"])
            at = datetime.fromisoformat(message["at"])
            if message["direction"] == "in":
                intent = message.get("intent")
                amount = f" {money(message['amount'])}" if message.get("amount") is not None else ""
                topic = f", asks: {message['question_topic']}" if message.get("question_topic") else ""
                lines.append(Line(at, 0, f"{first_name} → {message['channel']}",
                                  f"“{message['body']}” [{intent}{amount}{topic}]"))
            else:
                what = f"{message['subject']}: " if message.get("subject") else ""
                status = "" if message["status"] in ("sent", "delivered") else f"  ({message['status']})"
                lines.append(Line(at, 1, f"bot → {message['channel']}",
                                  f"{what}{message['body'] if message['channel'] == 'sms' else ''}{status}"))
        for entry in sorted(lines, key=lambda item: item.key):
            self.line(entry.at, entry.who, entry.text)
        return contact

    def buyer_alerts(self) -> Iterator[tuple[str, str]]:
        """(buyer name, subject) of the deal alerts sent since the last call, by name."""
        email = self.app[appkeys.DEPS].email
        assert isinstance(email, DryRunEmail)
        fresh = email.sent[self.alerts_shown:]
        self.alerts_shown = len(email.sent)
        alerts = [
            (self.buyer_names[r.message.to], r.message.subject) for r in fresh if r.message.to in self.buyer_names
        ]
        yield from sorted(alerts)

    # -- the story ------------------------------------------------------------

    async def run(self) -> None:
        self.write("dealbot demo: one seller from lead to cash buyers, one who says it all at once, one who opts out")
        self.write(f"(a throwaway database, dry-run SMS and email, a simulated clock; times in {self.zone})")
        await self.buyers()
        jane = await self.lead(JANE)
        await self.conversation(jane)
        await self.buyer_interest(jane)
        marie = await self.lead(MARIE)
        await self.everything_at_once(marie)
        bob = await self.lead(BOB)
        await self.opt_out(bob)
        await self.funnel()

    async def buyers(self) -> None:
        self.heading("Cash buyers on file")
        for buyer in BUYERS:
            created = await self.api("POST", "/api/buyers", buyer, expect=201)
            self.buyer_names[buyer["email"]] = buyer["name"]
            self.buyer_ids[created["id"]] = buyer["name"]
            area = ", ".join(buyer["markets"]) or "all of " + ", ".join(buyer["provinces"])
            self.note(f"{buyer['name']}: {area}, up to {money(buyer['max_price'])}, "
                      f"{buyer['purchases_last_12m']} purchases in 12 months")
        liquidity = await self.api("GET", "/api/liquidity?province=ON&market=GTA")
        self.note(f"GTA buyer liquidity: {liquidity['score']}/100 from {liquidity['active_buyers']} active buyers")

    async def lead(self, lead: dict[str, Any]) -> dict[str, Any]:
        self.heading(f"{lead['name']}: {lead['address']}")
        answer = await self.api("POST", "/api/leads", lead, expect=201)
        self.zone = answer["timezone"]
        offer = answer["offer"]
        priced = (f"MAO {money(offer['mao'])}, opening offer {money(offer['opening'])}"
                  if offer["mao"] is not None else f"not priced ({offer['not_priced']})")
        self.note(f"lead from the web form → {answer['province']} / {answer['market']} ({answer['timezone']}); "
                  f"ARV {money(lead['arv'])}; {priced}")
        steps = answer["ladder"]
        self.note(f"follow-up ladder: {len(steps)} steps, " + ", ".join(
            f"{s['template']} ({s['channel']})" for s in steps[:3]) + ", …")
        await self.settle()
        await self.show_conversation(answer["contact_id"], lead["name"].split()[0])
        return answer

    async def conversation(self, lead: dict[str, Any]) -> None:
        contact_id = lead["contact_id"]
        for pause, reply in (
            (timedelta(minutes=17), "Yes I'd consider selling. What's the process?"),
            (timedelta(minutes=6), "It needs a new roof and the kitchen is original"),
            (timedelta(minutes=3), "Do I have to pay any commission?"),
            (timedelta(minutes=4), "Within 2 months ideally"),
            (timedelta(minutes=9), "I was hoping for 600k"),
            (timedelta(minutes=22), "Could you do 550,000?"),
            (timedelta(minutes=15), "OK 500,000 and we have a deal"),
        ):
            self.wait(pause)
            await self.text_from(JANE_MOBILE, reply)
            await self.settle()
            await self.show_conversation(contact_id, "Jane")
        for name, subject in self.buyer_alerts():
            self.note(f"deal alert → {name} by email: {subject}")
        deal = await self.api("GET", f"/api/deals/{lead['deal_id']}")
        self.note(f"deal: accepted at {money(deal['offer']['accepted'])} (MAO {money(deal['offer']['mao'])}, "
                  f"{deal['offer']['rounds']} counter round(s)); {len(deal['matches'])} buyer(s) alerted; "
                  f"seller state {deal['state']}")

    async def buyer_interest(self, lead: dict[str, Any]) -> None:
        self.heading("A buyer answers the deal alert")
        first = BUYERS[0]
        email = self.app[appkeys.DEPS].email
        assert isinstance(email, DryRunEmail)
        alert = next((r.message for r in email.sent if r.message.to == first["email"]), None)
        if alert is None:
            raise DemoError(f"{first['name']} was not alerted to the deal")
        answer = "Interested. Send me the details and when we can walk through it."
        self.wait(timedelta(minutes=38))
        await self.email_from(alert.to, answer, subject=f"Re: {alert.subject}", in_reply_to=alert.message_id)
        self.line(self.clock.now(), f"{first['name'].split()[0]} → email", f"“{answer}”")
        deal = await self.api("GET", f"/api/deals/{lead['deal_id']}")
        for match in sorted(deal["matches"], key=lambda m: self.buyer_ids.get(m["buyer_id"], "")):
            self.note(f"match: {self.buyer_ids.get(match['buyer_id'], '?')} is {match['status']} "
                      f"(fit {match['score']:.2f})")

    async def everything_at_once(self, lead: dict[str, Any]) -> None:
        self.wait(timedelta(minutes=26))
        await self.text_from(
            MARIE_MOBILE,
            "Hi Sam, it's vacant and needs about 40k of work (roof and windows). "
            "We're relocating and need to sell within a month. Hoping for 450k.",
        )
        await self.settle()
        contact = await self.show_conversation(lead["contact_id"], "Marie")
        read = next(m for m in reversed(contact["messages"]) if m["direction"] == "in")
        facts = "; ".join(f"{name} {value}" for name, value in sorted(read["facts"].items()))
        deal = await self.api("GET", f"/api/deals/{lead['deal_id']}")
        self.note(f"read from one text: {facts}")
        self.note(f"nothing asked twice: seller state {deal['state']}, offer {money(deal['offer']['current'])}")

    async def opt_out(self, lead: dict[str, Any]) -> None:
        self.wait(timedelta(minutes=11))
        await self.text_from(BOB_MOBILE, "STOP")
        await self.settle()
        await self.show_conversation(lead["contact_id"], "Bob")
        confirmed_at = self.clock.now()
        self.wait(timedelta(days=1))
        await self.settle()
        contact = await self.show_conversation(lead["contact_id"], "Bob")
        later = [
            m for m in contact["messages"]
            if m["direction"] == "out" and m["status"] == "sent" and datetime.fromisoformat(m["at"]) > confirmed_at
        ]
        steps: dict[str, int] = {}
        for step in contact["ladder"]:
            steps[step["status"]] = steps.get(step["status"], 0) + 1
        ladder = ", ".join(f"{n} {status}" for status, n in sorted(steps.items()))
        self.note(f"a day later: Bob is {contact['state']}; messages sent after the confirmation: {len(later)}; "
                  f"his ladder: {ladder}")

    async def funnel(self) -> None:
        self.heading("KPI funnel")
        body = await self.api("GET", "/api/kpis/funnel")
        console = Console(file=self.out, width=WIDTH, color_system=None, highlight=False, emoji=False)
        console.print(funnel_table(body["funnel"], title=""))


@asynccontextmanager
async def _served(app: web.Application) -> Any:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def run(out: TextIO) -> None:
    with tempfile.TemporaryDirectory(prefix="dealbot-demo-") as folder:
        app = create_app(demo_settings(Path(folder)), clock=FakeClock(START), public_url=PUBLIC_URL, background=False)
        async with _served(app) as base_url, aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {API_KEY}"}
        ) as session:
            await Demo(out, app, session, base_url).run()
    out.flush()
