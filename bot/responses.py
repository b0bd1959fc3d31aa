"""The API's other shapes: what handlers answer, and the query strings and forms they read by hand.

Request bodies are in ``bot.schemas`` (the handlers validate with them). These models
document the rest for the OpenAPI document (``handlers.openapi``); the schemathesis run and
``tests/test_openapi.py`` check real answers against them, so a field added to a view
without its model here fails a test instead of drifting. Answers forbid extra fields
for that reason; provider forms allow them (Twilio and Mailgun send many we ignore).
Vocabularies come from where they are defined (``storage`` statuses, ``bot`` enums),
never retyped.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from bot.intents import Intent
from bot.ladder import Channel
from bot.offers import NotPriced
from bot.states import SellerState
from storage.buyers import BUYER_PREFIX
from storage.ladders import LADDER_PREFIX, StepStatus
from storage.matches import MatchStatus
from storage.messages import Status as MessageStatus
from storage.policies import POLICY_PREFIX, STRATEGY_PREFIX
from storage.values import id_pattern

Id = Annotated[str, Field(min_length=1, examples=["ct_01jabcdexyz"])]
Cursor = Annotated[
    str | None, Field(description="pass as `cursor` for the next page; null on the last page")
]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors --------------------------------------------------------------------------------


class ErrorOut(Out):
    """Every error: a stable machine `error` code and a human `detail`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "error": "not_found",
                    "detail": "contact not found",
                    "request_id": "9f2c4e1ab3d07c55",
                }
            ]
        },
    )

    error: str = Field(
        description="machine-readable code, e.g. `invalid`, `not_found`, `unauthorized`"
    )
    detail: str = Field(description="what went wrong, for a person")
    fields: dict[str, str] | None = Field(
        None,
        description="422 only: each bad input (dotted path, header or query name) with its problem",
    )
    request_id: str | None = Field(
        None, description="also in the X-Request-Id header; quote it when asking for help"
    )


class OutsideWindowOut(ErrorOut):
    """429 `outside_contact_window` (or `cap_24h`): try at `next_window_opens_at` (`Retry-After`: in seconds)."""

    model_config = ConfigDict(extra="forbid")

    next_window_opens_at: AwareDatetime
    rule: str | None = Field(
        None,
        description="the rule that closed the window: a jurisdiction code (`FL`, `ON`, the federal floors `US`, "
        "`CA`; California is `US-CA`; see `GET /api/jurisdictions`) or `policy` (the market's own policy)",
    )
    rule_detail: str | None = Field(
        None, description="why that rule closed it: `hours`, `closed_day` (e.g. a Sunday ban), `holiday` or `cap`"
    )


class JurisdictionOut(Out):
    """The legal contact rules in force for a province, territory, state or DC, or a federal floor."""

    code: str = Field(description="`ON`, `FL`…; the federal floors `CA` and `US`; California is `US-CA`")
    name: str
    country: str = Field(description="`CA` or `US`")
    floor: str | None = Field(description="the federal floor this adds to (`CA`, `US`); null for a floor")
    windows: dict[str, list[str]] = Field(
        description="in force (the floor's included), `HH:MM-HH:MM` per day in the recipient's local time; "
        "a banned day is empty"
    )
    holidays_banned: bool = Field(description="no messages on the statutory holidays of `holiday_calendar`")
    holiday_calendar: str | None = Field(description="the holidays package's calendar: `CA-ON`, `US-AL`, `CA`…")
    max_messages_per_24h: int | None = Field(description="rolling 24 hours, every channel; null: no legal cap")
    consent_required: bool = Field(
        description="only express consent evidence (`web_form`, `sms_keyword`, `verbal`, `written`) allows a text"
    )
    version: str = Field(description="this rule's version; every sent message records the versions that allowed it")
    sources: list[str] = Field(description="where the rule comes from (the floor's sources included)")
    notes: str


class JurisdictionList(Out):
    jurisdictions: list[JurisdictionOut]
    table_version: str


# --- health and runbook --------------------------------------------------------------------


class HealthOut(Out):
    status: Literal["ok"]


class RunbookStatus(BaseModel):
    """The operator's view; open to new sections (each part of the system adds its own)."""

    model_config = ConfigDict(extra="allow")

    version: str
    uptime_s: float
    transports: dict[str, str | None] = Field(
        description="the SMS and email transport in use (`dryrun`, `twilio`, `smtp`)"
    )
    database: dict[str, Any] = Field(
        description="`engine`, `ok`, `revision`, `latest` (or `error` when not ok)"
    )
    scheduler: dict[str, Any] | None = Field(
        None,
        description="`running`, `pending_steps`, `next_due`, `stuck_steps`, `armed_jobs`, …",
    )
    outbox: dict[str, Any] | None = Field(None, description="`depth`, `sent_by_this_process`")
    inbound: dict[str, Any] | None = Field(
        None,
        description="`unread_sms`: SMS answered and stored, not read yet (every server's); "
        "`reading_in_this_process`: readings queued or running here",
    )
    event_loop: dict[str, Any] | None = Field(
        None,
        description="event-loop stalls in this process: `max_stall_ms`, `stalls_over_100ms`, …",
    )
    sending: dict[str, Any] | None = Field(
        None,
        description="`numbers`: the pool, each `number`, `status` (`active`, `broken`, `retired`), `contacts`, "
        "`error_code`, `broken_at`; `rates`: `per_number`, `account` (messages a second, every server together); "
        "`campaign`: SMS `due_now` (`first`: replies and web leads, `backlog`: imports, `steps_due`), "
        "`rate_per_second`, `eta_s`, `done_by`, and `line`, the same in words",
    )


class SendingNumberOut(Out):
    number: str = Field(description="E.164")
    status: str = Field(description="`active`, `broken` (out of the pool, texts held) or `retired` (contacts moved)")
    contacts: int
    error_code: str | None = Field(description="Twilio's code that broke it")
    broken_at: datetime | None
    area_code: str | None
    province: str | None = Field(description="the province or state of its area code")


class NumbersOut(Out):
    numbers: list[SendingNumberOut]


class ReassignedOut(Out):
    number: str
    moved: int = Field(description="contacts moved off the number")
    to: dict[str, int] = Field(description="how many went to each number")


# --- leads, contacts, deals ----------------------------------------------------------------


class ScheduledStep(Out):
    """One step of a contact's ladder, as the scheduler keeps it."""

    id: Id
    position: int
    channel: Channel
    template: str
    due_at: AwareDatetime
    status: StepStatus
    message_id: str | None


class LeadOffer(Out):
    mao: int | None
    opening: int | None
    not_priced: NotPriced | None = Field(
        description="why there is no offer yet (a person decides); null when priced"
    )


class LeadCreated(Out):
    """What the lead became. A repeat with the same `Idempotency-Key` answers these bytes again."""

    lead_id: Id
    contact_id: Id
    deal_id: Id
    province: str | None
    market: str | None
    timezone: str | None
    state: str = Field(description="the seller state (CONTRACT.md, seller states)")
    needs_human: bool
    offer: LeadOffer
    ladder: list[ScheduledStep]


class OutboundEntry(Out):
    id: Id
    direction: Literal["out"]
    channel: Channel
    at: AwareDatetime = Field(description="sent, else queued")
    body: str
    status: MessageStatus
    template: str | None
    subject: str | None
    error_code: str | None
    error_reason: str | None


class InboundEntry(BaseModel):
    """A reply; what the reader understood rides along (`amount` for a price, `timeline`, …)."""

    model_config = ConfigDict(extra="allow")

    id: Id
    direction: Literal["in"]
    channel: Channel
    at: AwareDatetime
    body: str
    status: MessageStatus
    intent: Intent | None = Field(description="null until the reply has been read (within moments)")
    amount: int | None = Field(None, description="the seller's price read from it (whole dollars), whatever the intent")
    facts: dict[str, str | int] | None = Field(
        None,
        description="what was read from it: `condition`, `repairs`, `repair_cost`, `timeline`, `amount`, "
        "`occupancy`, `motivation`, `relationship` (only those it spoke to)",
    )
    question_topic: str | None = Field(None, description="what it asked about (`fees`, `legit`, …), if it asked")


TranscriptEntry = Annotated[OutboundEntry | InboundEntry, Field(discriminator="direction")]


class ContactOut(Out):
    id: Id
    name: str
    phone: str | None = Field(description="E.164")
    email: str | None
    state: str
    consent: bool
    opted_out: bool
    needs_human: bool
    needs_human_reason: str | None = Field(
        description="why a person has it: `legal`, `death_estate`, `call_request: +1…`, `question: <the question>`, …"
    )
    language: Literal["en", "fr"] = Field(description="what the seller is written to in")
    sending_number: str | None = Field(description="the number this person is texted from (E.164), when known")
    country: str | None
    province: str | None
    market: str | None
    timezone: str | None
    deal_id: str | None
    sending_number: str | None = Field(
        description="the pool number (E.164) this contact is texted from and kept on (sticky sender); null "
        "before the first text, or without a pool"
    )
    ladder: list[ScheduledStep]
    messages: list[TranscriptEntry] = Field(
        description="the transcript, both directions, oldest first"
    )
    created_at: AwareDatetime
    updated_at: AwareDatetime


class DealProperty(Out):
    address: str
    city: str | None
    region: str | None
    postal_code: str | None
    province: str | None
    market: str | None
    timezone: str | None
    property_type: str | None
    bedrooms: int | None
    bathrooms: float | None
    sqft: int | None


class DealSeller(Out):
    condition: str | None
    timeline: str | None
    motivation: str | None
    asking_price: int | None
    repairs: str | None = Field(description="what needs work, as the seller said it")
    repair_cost: int | None = Field(description="the seller's repair figure (the deal's `repair_estimate` stays the operator's)")
    occupancy: str | None = Field(description="`vacant`, `owner`, `tenant`")
    relationship: str | None = Field(description="who writes: `owner`, `spouse`, `executor`, `family`, `tenant`, `not_owner`")


class DealNumbers(Out):
    arv: int | None
    repair_estimate: int | None
    asking_price: int | None
    mao: int | None
    opening: int | None


class DealOffer(Out):
    mao: int | None
    opening: int | None
    current: int | None
    rounds: int
    accepted: int | None


class MatchOut(Out):
    buyer_id: Id
    score: float
    status: MatchStatus
    message_id: str | None
    updated_at: AwareDatetime


class DealOut(Out):
    id: Id
    contact_id: Id
    lead_id: str | None
    status: str
    state: str | None
    needs_human: bool
    needs_human_reason: str | None
    property: DealProperty
    seller: DealSeller
    numbers: DealNumbers
    offer: DealOffer
    liquidity_score: float | None
    matches: list[MatchOut]
    created_at: AwareDatetime
    updated_at: AwareDatetime


# --- market rules --------------------------------------------------------------------------


class PolicyOut(Out):
    id: Id
    province: str
    market: str | None
    timezone: str
    windows: dict[str, list[str]] = Field(
        description="every day, `HH:MM-HH:MM` in the market's local time"
    )
    holidays: list[date]
    max_messages_per_day: int | None
    max_messages_per_24h: int | None = Field(
        description="rolling 24 hours, every channel; the legal cap wins when smaller"
    )
    reply_grace_minutes: int
    created_at: AwareDatetime
    updated_at: AwareDatetime


class PolicyList(Out):
    policies: list[PolicyOut]
    next_cursor: Cursor


class StrategyOut(Out):
    id: Id
    province: str | None
    market: str | None
    arv_pct: float
    assignment_fee: int
    min_offer: int | None
    max_offer: int | None
    round_to: int
    opening_pct: float
    max_counter_rounds: int
    created_at: AwareDatetime


class StrategyList(Out):
    strategies: list[StrategyOut]
    next_cursor: Cursor


class LadderStepOut(Out):
    delay: str = Field(description="canonical form: `90s`, `15m`, `2h`, `3d`")
    channel: Channel
    template: str


class LadderOut(Out):
    id: Id
    name: str
    province: str | None
    market: str | None
    steps: list[LadderStepOut]
    created_at: AwareDatetime


class LadderList(Out):
    ladders: list[LadderOut]
    next_cursor: Cursor


# --- answers to seller questions ----------------------------------------------------------


class AnswerOut(Out):
    topic: str = Field(examples=["fees"])
    text: str = Field(description="English, a template with the messages' variables")
    text_fr: str = Field(description="French, the same variables")
    is_default: bool = Field(description="true: the product's answer; false: the company's own")


class AnswerList(Out):
    answers: list[AnswerOut] = Field(description="one per topic, in a fixed order")


# --- buyers --------------------------------------------------------------------------------


class BuyerOut(Out):
    id: Id
    name: str
    email: str
    phone: str | None = Field(description="E.164")
    provinces: list[str]
    markets: list[str] = Field(description="empty: the whole of each province")
    property_types: list[str] = Field(description="empty: any")
    min_price: int | None
    max_price: int | None
    min_bedrooms: int | None
    max_repairs: int | None
    active: bool
    opted_out: bool
    purchases_last_12m: int
    created_at: AwareDatetime
    updated_at: AwareDatetime


class BuyerList(Out):
    buyers: list[BuyerOut]
    next_cursor: Cursor


class BuyerConflictOut(ErrorOut):
    """409 `conflict`: a buyer with this email exists already; `buyer_id` names it."""

    model_config = ConfigDict(extra="forbid")

    buyer_id: str


class LiquidityOut(Out):
    province: str
    market: str | None
    score: Annotated[int, Field(ge=0, le=100)]
    active_buyers: int
    computed_from: dict[str, Any] = Field(
        description="the model, its formula and parameters, and the inputs it used"
    )


# --- messages and KPIs ---------------------------------------------------------------------


class MessageAccepted(Out):
    """Queued in the outbox; the send-time checks (window, opt-out) still have the last word."""

    message_id: Id
    status: MessageStatus


class KpiEventOut(Out):
    id: int
    name: str
    at: AwareDatetime
    contact_id: str | None
    deal_id: str | None
    data: dict[str, Any]


class KpiTrail(Out):
    events: list[KpiEventOut]
    next_cursor: Cursor


class FunnelStep(Out):
    name: str
    count: int = Field(description="events of this name")
    reach: int = Field(description="deals (or contacts) that reached this checkpoint")
    conversion: float | None = Field(
        description="reach over the checkpoint before's, along the main path (at most 1)"
    )


class FunnelOut(BaseModel):
    """A count per KPI name (`"lead:created": 12`), and `funnel`: the checkpoints in order."""

    model_config = ConfigDict(extra="allow")
    # Typed extras: every other top-level member is a KPI count.
    __pydantic_extra__: dict[str, int] = Field(init=False)

    funnel: list[FunnelStep]


# --- query strings (the handlers read them by hand; these describe them) -------------------


class PageQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    cursor: str | None = Field(None, description="`next_cursor` of the page before")


def _id_cursor(prefix: str) -> Any:
    # Empty is as good as absent (the first page), as for every query parameter.
    return Field(None, pattern=f"^$|{id_pattern(prefix)}", description="`next_cursor` of the page before")


class PolicyQuery(PageQuery):
    cursor: str | None = _id_cursor(POLICY_PREFIX)


class StrategyQuery(PageQuery):
    cursor: str | None = _id_cursor(STRATEGY_PREFIX)


class LadderQuery(PageQuery):
    cursor: str | None = _id_cursor(LADDER_PREFIX)


class KpiQuery(PageQuery):
    cursor: str | None = Field(
        None, pattern=r"^[0-9]{0,18}$", description="`next_cursor` of the page before"
    )
    name: str | None = Field(None, description="one KPI name, e.g. `lead:created`")
    contact_id: str | None = None
    deal_id: str | None = None
    since: AwareDatetime | None = Field(None, description="ISO 8601 with an offset")


class FunnelQuery(BaseModel):
    since: AwareDatetime | None = Field(None, description="ISO 8601 with an offset")


# Flags are read as true/false, 1/0 or yes/no, in any case.
Flag = Annotated[
    str | None,
    Field(None, pattern=r"^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|1|0)$"),
]


class BuyerQuery(PageQuery):
    cursor: str | None = _id_cursor(BUYER_PREFIX)
    province: str | None = Field(None, description="code or name: buyers whose buy box covers it")
    market: str | None = Field(None, description="a market of that province")
    active: Flag = None
    opted_out: Flag = None
    email: str | None = None


class LiquidityQuery(BaseModel):
    province: str = Field(description="code or name")
    market: str | None = Field(None, description="without it, every buyer in the province counts")


class HandoffQuery(BaseModel):
    reason: str | None = Field(
        None, description="why a person takes over (kept, at most 200 characters)"
    )


# --- provider webhooks (form bodies) -------------------------------------------------------


class TwilioInboundForm(BaseModel):
    """What Twilio posts for an inbound SMS (the fields dealbot reads; Twilio sends more)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "MessageSid": "SM0123456789abcdef0123456789abcdef",
                    "AccountSid": "AC" + "0" * 32,
                    "From": "+14165550142",
                    "To": "+16475550100",
                    "Body": "Yes, what's your offer?",
                    "NumMedia": "0",
                }
            ]
        },
    )

    MessageSid: str = Field(description="a repeat of a MessageSid is stored once")
    From: str
    To: str | None = None
    Body: str | None = Field(None, description="kept up to 20,000 characters")
    SmsSid: str | None = None
    AccountSid: str | None = None
    MessagingServiceSid: str | None = None
    NumMedia: str | None = None


class TwilioStatusForm(BaseModel):
    """Twilio's status callback for a message we sent (`StatusCallback`)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "MessageSid": "SM0123456789abcdef0123456789abcdef",
                    "MessageStatus": "undelivered",
                    "ErrorCode": "21610",
                    "AccountSid": "AC" + "0" * 32,
                }
            ]
        },
    )

    MessageSid: str
    MessageStatus: str | None = Field(
        None, description="`queued` … `delivered`, `undelivered`, `failed`"
    )
    SmsStatus: str | None = None
    ErrorCode: str | None = Field(
        None, description="`21610`: the recipient replied STOP to the carrier; opted out"
    )
    AccountSid: str | None = None


class MailgunInboundForm(BaseModel):
    """Mailgun's forward format; `signature` is hex HMAC-SHA256 of `timestamp` + `token`."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "sender": "jane@example.com",
                    "recipient": "reply+abc123@dealbot.example",
                    "subject": "Re: Your property",
                    "body-plain": "Yes, call me.\n\n> quoted",
                    "stripped-text": "Yes, call me.",
                    "Message-Id": "<20260303190000.1@mail.example.com>",
                    "In-Reply-To": "<dl_01j@dealbot.example>",
                    "timestamp": "1772564400",
                    "token": "2f0c9a8e7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a",
                    "signature": "6c1f…hex",
                }
            ]
        },
    )

    sender: str
    recipient: str
    subject: str | None = None
    body_plain: str | None = Field(None, alias="body-plain")
    stripped_text: str | None = Field(
        None, alias="stripped-text", description="preferred over body-plain"
    )
    message_id: str = Field(alias="Message-Id")
    in_reply_to: str | None = Field(
        None, alias="In-Reply-To", description="threads the reply to our message"
    )
    message_headers: str | None = Field(
        None,
        alias="message-headers",
        description="JSON list of [name, value]; auto-replies and bounces are ignored",
    )
    timestamp: str = Field(description="Unix seconds; more than 5 minutes off is refused")
    token: str = Field(description="used once: a replayed token is refused")
    signature: str


class EmailInboundOut(Out):
    status: Literal["stored", "duplicate", "ignored"]
    message_id: str | None = None
    reason: str | None = Field(
        None,
        description="why ignored: `own_mail`, `bounce_sender`, `auto_submitted`, `auto_reply`",
    )


# --- the dashboard's forms -----------------------------------------------------------------


class LoginForm(BaseModel):
    """An operator's email and password (`dealbot users add`), or the API key; with the login page's
    CSRF token (its hidden `csrf` field). A session cookie is the answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"csrf": "the login page's token", "email": "ops@example.com", "password": "their password"},
                {"csrf": "the login page's token", "api_key": "the DEALBOT_API_KEY"},
            ]
        }
    )

    csrf: str
    email: str | None = None
    password: str | None = None
    api_key: str | None = None


class DashboardForm(BaseModel):
    """A dashboard button: the page's CSRF token (not with a bearer header), where to go next."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"csrf": "the page's token", "next": "/dashboard"}]}
    )

    csrf: str | None = None
    next: str | None = Field(
        None, description="`/dashboard` or the contact's page; anything else is ignored"
    )


# --- compliance ------------------------------------------------------------------------------


class SuppressionOut(Out):
    """A do-not-contact entry; the address is under its kind's name (`phone`, `email` or `area_code`)."""

    id: int
    kind: Literal["phone", "email", "area_code"]
    phone: str | None = Field(None, description="E.164")
    email: str | None = None
    area_code: str | None = None
    reason: Literal["internal_dnc", "national_dnc", "litigator", "reassigned", "operator"]
    source: str | None
    consumer_opt_out: bool = Field(description="the person's own opt-out: only their START lifts it")
    contact_id: str | None
    message_id: str | None = Field(description="the message that carried an opt-out")
    created_at: AwareDatetime


class SuppressionList(Out):
    suppressions: list[SuppressionOut]
    next_cursor: Cursor


class SuppressionQuery(PageQuery):
    """Filters: the entries of any number, email or area code given (none: the whole list)."""

    cursor: str | None = Field(None, pattern=r"^$|^[0-9]{1,18}$", description="`next_cursor` of the page before")
    phone: str | None = Field(None, description="only the entries of this number (any common format)")
    email: str | None = None
    area_code: str | None = Field(None, pattern=r"^$|^[2-9][0-9]{2}$")


class ComplianceStatusOut(Out):
    consent_allowed: bool
    consent_reason: Literal["no_consent", "consent_required", "consent_expired"] | None
    consent_basis: str | None = Field(description="the evidence method that allows sending (`asserted`: the flag)")
    consent_expires_at: AwareDatetime | None
    suppressed: bool
    suppression_reason: str | None
    opted_out: bool


class ComplianceOut(Out):
    """One person's audit trail (also `dealbot compliance export --phone N`)."""

    contact_id: Id
    phone: str | None
    email: str | None
    country: str | None
    province: str | None
    timezone: str | None
    canadian: bool = Field(description="CASL applies (a Canadian property or number)")
    status: ComplianceStatusOut
    consent_evidence: list[dict[str, Any]] = Field(
        description="as written, oldest first: `method`, `text`, `source_url`, `ip`, `captured_at`, `recorded_at`, "
        "`lead_id`, `message_id` (a START), `lapses_at` (CASL)"
    )
    sent: list[dict[str, Any]] = Field(
        description="each outbound message that went: `message_id`, `channel`, `to`, `template`, `status`, "
        "`sent_at`, `local_sent_at` (the recipient's zone), `origin`, `is_reply`, `allowed_by` (jurisdictions and "
        "rule versions)"
    )
    blocks: list[dict[str, Any]] = Field(
        description="each send a rule stopped: `at`, `local_at`, `reason`, `channel`, `message_id`, `template`, "
        "`direct`, `list` (for `suppressed`)"
    )
    opt_outs: list[dict[str, Any]] = Field(
        description="`took_effect_at`, `via`, `message_id` and `message` (what carried it), `covers` (the "
        "addresses listed), `lifted_at`, `lifted_by`"
    )
    suppressions: list[SuppressionOut] = Field(description="list entries (not the person's own) covering them")
    built_at: AwareDatetime


# --- the operator's inbox (forms of the dashboard's pages) ----------------------------------


def _page_form(schema: dict[str, Any] | None = None, **example: str) -> ConfigDict:
    """A dashboard form's documented example (its fields, with the page's CSRF token), and any
    rule its fields' types cannot say."""
    return ConfigDict(json_schema_extra={"examples": [{"csrf": "the page's token", **example}], **(schema or {})})


# What a person types for money: "450000", "$450,000", "450 000", "450k", "1.2M", "450000 CAD"; empty: unknown.
AmountText = Annotated[str, Field(pattern=r"^$|^\$?[0-9][0-9,. ]*[kKmM]?( ?(CAD|USD|cad|usd))?$", max_length=40)]
CountText = Annotated[str, Field(pattern=r"^$|^[0-9]{1,4}$")]
# Text typed in a page: anything but NUL (no stored text can hold it).
FormText = Annotated[str, Field(pattern=r"^[^\x00]*$")]
QueryText = Annotated[FormText, Field(max_length=200)]


class InboxQuery(BaseModel):
    """The conversation list's filters: a search box (name, phone in any format, email, address)
    and checkboxes."""

    q: QueryText | None = Field(None, description="a piece of a name, email or address; or a phone in any format")
    needs_human: Literal["1"] | None = None
    unread: Literal["1"] | None = None
    state: str | None = Field(None, pattern="^$|^(" + "|".join(state.value for state in SellerState) + ")$")
    market: QueryText | None = None


class BuyersQuery(BaseModel):
    q: QueryText | None = Field(None, description="a piece of a buyer's name or email")
    edit: QueryText | None = Field(None, description="a buyer's id: the form shows that buyer, to edit")


class TranscriptQuery(BaseModel):
    after: QueryText = Field("", description="the id of the last message the page shows")


class TranscriptAfter(Out):
    """Messages newer than the page's last one, as the contact's transcript gives them."""

    messages: list[TranscriptEntry]


class ConversationRef(Out):
    id: Id
    unread: bool
    at: AwareDatetime = Field(description="the last activity")


class ConversationsNow(Out):
    """The list as the open page compares it with what it shows."""

    conversations: list[ConversationRef]


class ReplyForm(DashboardForm):
    """A person's message to the seller: free text (`body`), or a `template` with extra variables
    (`name=value` lines); exactly one of the two is filled in."""

    model_config = _page_form(
        {"oneOf": [{"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
                   for name in ("body", "template")]},
        channel="sms", body="Hi Jane, Sam here.",
    )

    channel: Literal["sms", "email"] = "sms"
    body: FormText | None = Field(None, max_length=1600)
    template: str | None = Field(None, pattern=r"^$|^[a-z0-9_]{1,64}$")
    vars: FormText | None = Field(None, max_length=4000, description="one `name=value` a line")
    subject: FormText | None = Field(None, max_length=200)
    queue: Literal["1"] | None = Field(None, description="outside the window: queue it for when the window opens")

    @model_validator(mode="after")
    def _body_or_template(self) -> ReplyForm:
        if bool(self.body and self.body.strip()) == bool(self.template):
            raise ValueError("write a message or choose a template (not both)")
        return self


class NoteForm(DashboardForm):
    model_config = _page_form(body="Wants to close by June")

    body: str = Field(max_length=4000, pattern=r"^[^\x00]*[^\x00\s][^\x00]*$", description="not blank")


class RepriceForm(DashboardForm):
    model_config = _page_form(arv="820000", repair_estimate="60k")

    arv: AmountText | None = None
    repair_estimate: AmountText | None = None


class MatchForm(DashboardForm):
    model_config = _page_form(status="interested")

    status: Literal[MatchStatus.INTERESTED, MatchStatus.PASSED]


class BuyerForm(DashboardForm):
    """The buyers page's add/edit form: lists are comma-separated."""

    model_config = _page_form(
        name="Northside Capital", email="deals@northside.example", provinces="ON", markets="GTA, Hamilton",
        max_price="900k",
    )

    name: FormText = Field(min_length=1, max_length=200)
    email: FormText = Field(min_length=3, max_length=254)
    phone: FormText | None = Field(None, max_length=40)
    provinces: FormText | None = Field(None, max_length=400)
    markets: FormText | None = Field(None, max_length=2000)
    property_types: FormText | None = Field(None, max_length=400)
    min_price: AmountText | None = None
    max_price: AmountText | None = None
    min_bedrooms: CountText | None = None
    max_repairs: AmountText | None = None
    purchases_last_12m: CountText | None = None


class BuyerActiveForm(DashboardForm):
    model_config = _page_form(active="0")

    active: Literal["0", "1"]


class BuyerUploadForm(DashboardForm):
    model_config = _page_form(file="name,email,provinces\\nNorthside,deals@northside.example,ON\\n")

    file: bytes = Field(description="the CSV, as `dealbot import buyers` reads it")



class WebhookOut(Out):
    """An outbound event subscription (the secret only in the answer that created it)."""

    id: str
    url: str
    events: list[str]
    created_at: AwareDatetime


class WebhookCreated(WebhookOut):
    """The new subscription and its signing secret: shown this once, keep it."""

    secret: str = Field(description="signs each delivery: `Dealbot-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "
                        "\"<t>.<body>\">` (docs/webhooks.md)")


class WebhookList(Out):
    webhooks: list[WebhookOut]
    next_cursor: Cursor


class WebhookTry(Out):
    at: AwareDatetime
    status: int | None = Field(description="the receiver's HTTP status; null when none came (timeout, no connection)")
    error: str | None
    ms: int


class WebhookDeliveryOut(Out):
    id: str = Field(description="the payload's `id`: the same on every try (the receiver dedupes on it)")
    event: str
    contact_id: str | None
    status: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    created_at: AwareDatetime
    next_attempt_at: AwareDatetime | None
    finished_at: AwareDatetime | None
    last_status: int | None
    last_error: str | None
    tries: list[WebhookTry]


class WebhookDeliveryList(Out):
    deliveries: list[WebhookDeliveryOut]
    next_cursor: Cursor


class WebhookQuery(PageQuery):
    cursor: str | None = _id_cursor("wh")


class DeliveryQuery(PageQuery):
    cursor: str | None = Field(None, pattern=r"^$|^[0-9]{1,18}$", description="`next_cursor` of the page before")
