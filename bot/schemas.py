"""The API's request models: the same pydantic models validate requests and generate the OpenAPI document."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

# Leads with this source come from `dealbot smoke`: stored, but marked as test data.
SMOKE_SOURCE = "dealbot-smoke"

# Bounds that bot.services.buyers.clean_plain checks too, without the model (names, not copies).
MONEY_MAX = 1_000_000_000
SHORT_TEXT_MAX = 200
EMAIL_LENGTH = (3, 254)
PHONE_MAX = 40
MARKET_MAX = 80
LIST_ITEM_MAX = 60
BEDROOMS_MAX = 100
PURCHASES_MAX = 100_000
BUYER_PROVINCES_MAX = 64
BUYER_MARKETS_MAX = 100
BUYER_TYPES_MAX = 20

Money = Annotated[int, Field(ge=0, le=MONEY_MAX)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SHORT_TEXT_MAX)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


ConsentMethod = Literal["web_form", "sms_keyword", "verbal", "written", "inquiry", "existing_relationship", "import"]


class ConsentEvidenceIn(Strict):
    """How the seller agreed to be contacted, stored as written (never edited)."""

    method: ConsentMethod = Field(
        description="`inquiry` and `existing_relationship` are CASL's implied consent: for a Canadian recipient "
        "they lapse 6 months and 2 years after `captured_at`; `import` alone is not consent under CASL"
    )
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = Field(
        None, description="the disclosure the seller saw or heard, word for word"
    )
    source_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    ip: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    captured_at: AwareDatetime | None = Field(None, description="when consent was given; default: when the lead came")


class LeadIn(Strict):
    """A seller lead from a web form, a CRM or a CSV row."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Jane Tremblay",
                    "phone": "(416) 555-0142",
                    "email": "jane@example.com",
                    "address": "12 Elm St, Toronto, ON M4C 1A1",
                    "property_type": "single_family",
                    "bedrooms": 3,
                    "asking_price": 650000,
                    "arv": 820000,
                    "repair_estimate": 60000,
                    "source": "web_form",
                    "consent": True,
                }
            ]
        },
    )

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = None
    address: ShortText
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=12)] | None = None
    property_type: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    bedrooms: Annotated[int, Field(ge=0, le=100)] | None = None
    bathrooms: Annotated[float, Field(ge=0, le=100)] | None = None
    sqft: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    condition: LongText | None = None
    asking_price: Money | None = None
    arv: Money | None = None
    repair_estimate: Money | None = None
    source: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    consent: bool = Field(description="the seller agreed to be contacted (required; no automated message without it)")
    consent_evidence: ConsentEvidenceIn | None = Field(
        None, description="how consent was given; `consent: true` without it is the operator's assertion of express "
        "consent"
    )


Province = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]
Market = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MARKET_MAX)]


class PolicyIn(Strict):
    """A market's contact rules; the market's policy wins over its province's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "province": "ON",
                    "market": "GTA",
                    "timezone": "America/Toronto",
                    "windows": {"mon": ["09:00-20:00"], "tue": ["09:00-20:00"], "sat": ["10:00-18:00"], "sun": []},
                    "max_messages_per_day": 3,
                    "max_messages_per_24h": 3,
                    "holidays": ["2026-12-25"],
                    "reply_grace_minutes": 15,
                }
            ]
        },
    )

    province: Province
    market: Market | None = None
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    windows: dict[str, list[str]]
    max_messages_per_day: Annotated[int, Field(ge=1, le=100)] | None = None
    max_messages_per_24h: Annotated[
        int | None,
        Field(
            ge=1, le=100,
            description="rolling 24 hours, every channel; the legal cap of the recipient's jurisdictions wins when smaller",
        ),
    ] = None
    holidays: list[date] = Field(default_factory=list, max_length=400)
    reply_grace_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 15


class StrategyIn(Strict):
    """How offers are priced in a market (CONTRACT.md, offer arithmetic)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"province": "ON", "market": "GTA", "arv_pct": 0.7, "assignment_fee": 10000, "min_offer": 50000,
                 "max_offer": 900000, "round_to": 1000, "opening_pct": 0.9, "max_counter_rounds": 3}
            ]
        },
    )

    province: Province | None = None
    market: Market | None = None
    arv_pct: Annotated[Decimal, Field(gt=0, le=1, max_digits=6, decimal_places=4)] = Decimal("0.70")
    assignment_fee: Money = 10000
    min_offer: Money | None = None
    max_offer: Money | None = None
    round_to: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    opening_pct: Annotated[Decimal, Field(gt=0, le=1, max_digits=6, decimal_places=4)] = Decimal("0.90")
    max_counter_rounds: Annotated[int, Field(ge=1, le=20)] = 3


class LadderStepIn(Strict):
    delay: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12)]
    channel: Literal["sms", "email"]
    template: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]


class LadderIn(Strict):
    """A follow-up ladder: each step's delay counts from the step before (the first: from the lead)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "gta_fast", "province": "ON", "market": "GTA",
                 "steps": [{"delay": "0s", "channel": "sms", "template": "seller_intro"},
                           {"delay": "1d", "channel": "email", "template": "seller_email_intro"},
                           {"delay": "3d", "channel": "sms", "template": "seller_followup_1"}]}
            ]
        },
    )

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    province: Province | None = None
    market: Market | None = None
    steps: Annotated[list[LadderStepIn], Field(min_length=1, max_length=50)]


class DirectSmsIn(Strict):
    """Send now to a contact: a literal ``body``, or a ``template`` with ``vars``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"contact_id": "ct_01jabcdexyz", "body": "Hi Jane, Sam here. Still thinking it over?"}],
            # Exactly one of body and template is a string (null is as good as absent).
            "oneOf": [
                {"required": ["body"], "properties": {"body": {"type": "string"}}},
                {"required": ["template"], "properties": {"template": {"type": "string"}}},
            ],
        },
    )

    contact_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=1600)] | None = None
    template: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")] | None = None
    vars: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=50)

    @model_validator(mode="after")
    def _body_or_template(self) -> DirectSmsIn:
        if (self.body is None) == (self.template is None):
            raise ValueError("give either body or template")
        return self


class DirectEmailIn(DirectSmsIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"contact_id": "ct_01jabcdexyz", "subject": "Your property", "body": "Hi Jane, ..."}],
            # Either body with a subject, or template without a body (null is as good as absent).
            "oneOf": [
                {"required": ["body", "subject"],
                 "properties": {"body": {"type": "string"}, "subject": {"type": "string"}},
                 "not": {"required": ["template"], "properties": {"template": {"type": "string"}}}},
                {"required": ["template"], "properties": {"template": {"type": "string"}},
                 "not": {"required": ["body"], "properties": {"body": {"type": "string"}}}},
            ],
        },
    )

    subject: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\r\n]*$")] | None = None
    body: Annotated[str, StringConstraints(min_length=1, max_length=20000)] | None = None

    @model_validator(mode="after")
    def _subject_with_body(self) -> DirectEmailIn:
        if self.body is not None and self.subject is None:
            raise ValueError("an email body needs a subject")
        return self


ListItem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=LIST_ITEM_MAX)]


class BuyerIn(Strict):
    """A cash buyer and their buy box. ``provinces`` take codes or names ("ON", "Ontario");
    ``markets`` (empty: the whole of each province) are market labels of those provinces;
    ``property_types`` are normalised to one vocabulary (empty: any)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Northside Capital",
                    "email": "deals@northside.example",
                    "phone": "(416) 555-0199",
                    "provinces": ["ON"],
                    "markets": ["GTA", "Hamilton"],
                    "property_types": ["single_family", "semi_detached"],
                    "min_price": 300000,
                    "max_price": 900000,
                    "min_bedrooms": 2,
                    "max_repairs": 120000,
                    "active": True,
                    "purchases_last_12m": 6,
                }
            ]
        },
    )

    name: ShortText
    email: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=EMAIL_LENGTH[0], max_length=EMAIL_LENGTH[1])
    ]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=PHONE_MAX)] | None = None
    provinces: Annotated[list[ListItem], Field(min_length=1, max_length=BUYER_PROVINCES_MAX)]
    markets: Annotated[list[Market], Field(max_length=BUYER_MARKETS_MAX)] = Field(default_factory=list)
    property_types: Annotated[list[ListItem], Field(max_length=BUYER_TYPES_MAX)] = Field(default_factory=list)
    min_price: Money | None = None
    max_price: Money | None = None
    min_bedrooms: Annotated[int, Field(ge=0, le=BEDROOMS_MAX)] | None = None
    max_repairs: Money | None = None
    active: bool = True
    purchases_last_12m: Annotated[int, Field(ge=0, le=PURCHASES_MAX)] = 0


class AnswerIn(Strict):
    """A topic's answer; a language left out keeps the answer in force. Template variables as in messages."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "topic": "fees",
                    "text": "No fees, no commissions: {{ company }} pays the closing costs.",
                    "text_fr": "Aucuns frais ni commission : {{ company }} paie les frais de clôture.",
                }
            ]
        },
    )

    topic: str | None = Field(None, description="the path's topic, if given at all")
    text: str | None = Field(None, description="English; `company`, `agent_name`, `seller_name`, `address`, `city`")
    text_fr: str | None = Field(None, description="French, with the same variables")


SuppressionReason = Literal["internal_dnc", "national_dnc", "litigator", "reassigned", "operator"]


class SuppressionIn(Strict):
    """One do-not-contact entry: exactly one of `phone`, `email`, `area_code`."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"phone": "+14165550142", "reason": "litigator", "source": "blacklist-2026-03"}],
            # Exactly one of the three is a string (null is as good as absent).
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
                for name in ("phone", "email", "area_code")
            ],
        },
    )

    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = Field(
        None, description="any common format; stored as E.164"
    )
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = None
    area_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[2-9][0-9]{2}$")] | None = Field(
        None, description="a North American area code: every number in it"
    )
    reason: SuppressionReason
    source: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> SuppressionIn:
        given = [name for name in ("phone", "email", "area_code") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of phone, email, area_code")
        return self


EVENT_NAME = r"^([a-z][a-z0-9_]*:[a-z][a-z0-9_]*|contact\.updated|deal\.updated|message\.received)$"


class WebhookIn(Strict):
    """An outbound event subscription: where to POST, and which events."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True,
        json_schema_extra={"examples": [{"url": "https://crm.example.com/hooks/dealbot",
                                         "events": ["reply:received", "offer:accepted", "contact.updated"]}]},
    )

    url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s/$.?#][^\s\x00]*$")] = Field(
        description="http or https; each delivery is a JSON POST here"
    )
    events: list[Annotated[str, StringConstraints(pattern=EVENT_NAME)]] = Field(
        min_length=1, max_length=100,
        description="KPI names (`lead:created`, `reply:received`, …) and `contact.updated`, `deal.updated`, "
        "`message.received`",
    )
