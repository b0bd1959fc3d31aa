"""Cash buyers: one cleaning path for the API and the CSV import, storage of the buy box and its
areas, and an area's liquidity from SQL aggregates.

A buy box names provinces (codes or names) and markets (labels of those provinces). It is
stored as one ``buyer_areas`` row per listed market in each province, or one (province, '')
row when the buyer named no market there (the whole province), so a deal finds its buyers by
index: ``province = $1 AND market IN ($2, '')``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import email_validator

from bot import schemas
from bot.emails import normalise_email
from bot.geo import MARKETS, infer_province_market, normalise_province, province_country
from bot.liquidity import MAX_LISTED, Liquidity, buyer_weight, weight_sum_from_buckets
from bot.matching import normalise_property_type
from bot.phones import InvalidPhone, normalise_phone
from bot.refusals import Reason, Refusal, invalid, not_found
from bot.schemas import BuyerIn
from bot.services.deps import Deps
from bot.text import fold_words
from storage import buyers
from storage.buyers import Area, Buyer
from storage.database import Executor, Tx, UniqueViolation
from storage.scoring import PROPERTY_TYPES
from storage.values import is_id, new_id


class CleanBuyer(NamedTuple):
    """A buyer after every check: normalised email and phone, province codes, market labels,
    canonical property types, each list without repeats. A named tuple: an import makes
    100,000 of them (a frozen dataclass costs ~2 us more each)."""

    name: str
    email: str
    phone: str | None
    provinces: tuple[str, ...]
    markets: tuple[str, ...]
    property_types: tuple[str, ...]
    min_price: int | None
    max_price: int | None
    min_bedrooms: int | None
    max_repairs: int | None
    active: bool
    purchases_last_12m: int

    def record(self, *, buyer_id: str, now: datetime) -> Buyer:
        return Buyer(
            id=buyer_id,
            name=self.name,
            email=self.email,
            phone=self.phone,
            provinces=list(self.provinces),
            markets=list(self.markets),
            property_types=list(self.property_types),
            min_price=self.min_price,
            max_price=self.max_price,
            min_bedrooms=self.min_bedrooms,
            max_repairs=self.max_repairs,
            active=self.active,
            opted_out=False,
            purchases_last_12m=self.purchases_last_12m,
            is_test=False,
            created_at=now,
            updated_at=now,
        )

    def row(self, *, buyer_id: str, now: datetime) -> buyers.BoxRow:
        """``record(...)`` as ``storage.buyers.write_boxes`` takes it, without the record."""
        return (
            buyer_id, self.name, self.email, self.phone, self.provinces, self.markets,
            self.property_types, self.min_price, self.max_price, self.min_bedrooms,
            self.max_repairs, self.active, False, self.purchases_last_12m, False, now, now,
        )  # fmt: skip

    def compared(self) -> tuple[Any, ...]:
        """``storage.buyers.compared`` of the record this row makes, without making it."""
        return (self.name, *self[2:])  # every field but the email, in _COMPARED's order


def areas_of(buyer: Buyer) -> list[Area]:
    """One area per listed market of each province, or (province, '') for the whole province."""
    return list(_areas(tuple(buyer.provinces), tuple(buyer.markets)))


@functools.lru_cache(maxsize=4096)
def _areas(provinces: tuple[str, ...], markets: tuple[str, ...]) -> tuple[Area, ...]:
    return tuple(
        (province, market)
        for province in provinces
        for market in [m for m in markets if m in MARKETS.get(province, ())] or [""]
    )


def clean(body: BuyerIn) -> CleanBuyer:
    """Normalise what people type; refused as ``invalid`` with every bad field at once."""
    return _clean(
        body.name, body.email, body.phone, tuple(body.provinces), tuple(body.markets),
        tuple(body.property_types), body.min_price, body.max_price, body.min_bedrooms,
        body.max_repairs, body.active, body.purchases_last_12m,
    )  # fmt: skip


def _clean(
    name: str,
    raw_email: str,
    raw_phone: str | None,
    raw_provinces: tuple[str, ...],
    raw_markets: tuple[str, ...],
    raw_types: tuple[str, ...],
    low: int | None,
    high: int | None,
    min_bedrooms: int | None,
    max_repairs: int | None,
    active: bool,
    purchases: int,
) -> CleanBuyer:
    """``clean`` of a request's values, the model's checks passed."""
    fields: dict[str, str] = {}
    email = phone = None
    try:
        email = clean_email(raw_email)
    except ValueError as exc:
        fields["email"] = str(exc)
    provinces, markets, kinds, problems = _box(raw_provinces, raw_markets, raw_types)
    fields.update(problems)
    if raw_phone:
        region = (province_country(provinces[0]) if provinces else None) or "CA"
        try:
            phone = normalise_phone(raw_phone, region=region)
        except InvalidPhone as exc:
            fields["phone"] = str(exc)
    if low is not None and high is not None and low > high:
        fields["min_price"] = "must not be above max_price"
    if fields:
        raise invalid(fields)
    assert email is not None
    return CleanBuyer(
        name, email, phone, provinces, markets, kinds, low, high, min_bedrooms, max_repairs,
        active, purchases,
    )  # fmt: skip


@functools.lru_cache(maxsize=4096)
def _box(
    raw_provinces: tuple[str, ...], raw_markets: tuple[str, ...], raw_types: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Province codes, market labels and canonical types without repeats, and the first
    problem of each of the three fields; once per distinct box (a list repeats a few)."""
    fields: dict[str, str] = {}
    provinces: list[str] = []
    for raw in raw_provinces:
        code = _province_code(raw)
        if code is None:
            fields.setdefault("provinces", f"unknown province or state {raw!r}")
        elif code not in provinces:
            provinces.append(code)
    markets: list[str] = []
    for raw in raw_markets:
        label = resolve_market(raw, tuple(provinces))
        if isinstance(label, MarketProblem):
            fields.setdefault("markets", label.reason)
        elif label not in markets:
            markets.append(label)
    kinds: list[str] = []
    for raw in raw_types:
        kind = _canonical_type(raw)
        if kind is None:
            known = ", ".join(PROPERTY_TYPES)
            fields.setdefault("property_types", f"unknown property type {raw!r}; known: {known}")
        elif kind not in kinds:
            kinds.append(kind)
    return tuple(provinces), tuple(markets), tuple(kinds), tuple(fields.items())


_FIELDS = frozenset(BuyerIn.model_fields)


def _plain_text(value: Any, shortest: int, longest: int) -> bool:
    """A str BuyerIn takes as it is: nothing to strip, its length within bounds."""
    return type(value) is str and shortest <= len(value) <= longest and value.strip() == value


def _money(value: Any) -> bool:
    return value is None or (type(value) is int and 0 <= value <= schemas.MONEY_MAX)


def _as_tuple(value: Any) -> tuple[Any, ...] | None:
    kind = type(value)
    return value if kind is tuple else tuple(value) if kind is list else None


@functools.lru_cache(maxsize=4096)
def _plain_lists(
    provinces: tuple[Any, ...], markets: tuple[Any, ...], kinds: tuple[Any, ...]
) -> bool:
    """The three lists as BuyerIn takes them unchanged: counts and items within bounds."""
    return (
        1 <= len(provinces) <= schemas.BUYER_PROVINCES_MAX
        and len(markets) <= schemas.BUYER_MARKETS_MAX
        and len(kinds) <= schemas.BUYER_TYPES_MAX
        and all(_plain_text(item, 1, schemas.LIST_ITEM_MAX) for item in provinces)
        and all(_plain_text(item, 1, schemas.MARKET_MAX) for item in markets)
        and all(_plain_text(item, 1, schemas.LIST_ITEM_MAX) for item in kinds)
    )


def clean_plain(values: dict[str, Any]) -> CleanBuyer | None:
    """``clean(BuyerIn.model_validate(values))`` without the model, for values it would take
    unchanged (exact types, stripped text, every bound kept): the same buyer, or the same
    refusal. None for anything else (a missing or unknown field, a value the model would coerce,
    strip or refuse): the caller takes the model's path, errors and all. A property test
    holds the two paths to the same answer."""
    if not values.keys() <= _FIELDS:
        return None
    get = values.get
    name, email, phone = get("name"), get("email"), get("phone")
    low, high, repairs = get("min_price"), get("max_price"), get("max_repairs")
    beds, active, purchases = get("min_bedrooms"), get("active", True), get("purchases_last_12m", 0)
    provinces, markets = _as_tuple(get("provinces")), _as_tuple(get("markets", ()))
    kinds = _as_tuple(get("property_types", ()))
    if not (
        _plain_text(name, 1, schemas.SHORT_TEXT_MAX)
        and _plain_text(email, *schemas.EMAIL_LENGTH)
        and (phone is None or _plain_text(phone, 0, schemas.PHONE_MAX))
        and _money(low)
        and _money(high)
        and _money(repairs)
        and (beds is None or (type(beds) is int and 0 <= beds <= schemas.BEDROOMS_MAX))
        and type(active) is bool
        and type(purchases) is int
        and 0 <= purchases <= schemas.PURCHASES_MAX
        and provinces is not None
        and markets is not None
        and kinds is not None
        and _plain_lists(provinces, markets, kinds)
    ):
        return None
    return _clean(
        name, email, phone, provinces, markets, kinds, low, high, beds, repairs, active, purchases
    )


# A list repeats the same few provinces, markets and types 100,000 times: each spelling is
# worked out once (the functions are pure).
_province_code = functools.lru_cache(maxsize=4096)(normalise_province)
_canonical_type = functools.lru_cache(maxsize=4096)(normalise_property_type)

# The everyday address, recognised without email_validator's full Unicode path (which costs
# ~30 us an address, most of an import's budget): a lower-case ASCII dot-atom, LDH labels, an
# alphabetic top-level domain. What it accepts, email_validator accepts the same (a property
# test holds it to that); anything else goes to email_validator, errors and all.
_PLAIN_EMAIL = re.compile(
    r"(?P<local>[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*)@"
    r"(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]{2,24}))"
)
_SPECIAL_USE = frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def clean_email(raw: str) -> str:
    """``bot.emails.normalise_email``, faster for the common address; ValueError says why not."""
    text = raw.lower()
    found = _PLAIN_EMAIL.fullmatch(text)
    if (
        found is not None
        and len(text) <= 254
        and len(found["local"]) <= 64
        and "--" not in found["domain"]
        and found["tld"] not in _SPECIAL_USE
    ):
        return text
    return normalise_email(raw)


@dataclass(frozen=True, slots=True)
class MarketProblem:
    reason: str


_LABELS: dict[str, list[tuple[str, str]]] = {}
for _code, _labels in MARKETS.items():
    for _label in _labels:
        _LABELS.setdefault(fold_words(_label), []).append((_code, _label))


@functools.lru_cache(maxsize=4096)
def resolve_market(raw: str, provinces: tuple[str, ...]) -> str | MarketProblem:
    """The market label ``raw`` names in one of ``provinces`` ("montreal" -> "Montréal"; a city
    inside a market, "Toronto" or "Mississauga" -> "GTA"), or why it cannot be used."""
    known = _LABELS.get(fold_words(raw), [])
    for province, label in known:
        if province in provinces:
            return label
    for province in provinces:
        found_province, market = infer_province_market(province, raw)
        if found_province == province and market is not None:
            return market
    if known:
        elsewhere = ", ".join(sorted({p for p, _ in known}))
        return MarketProblem(f"market {raw!r} is in {elsewhere}: add that province to provinces")
    if not provinces:
        return MarketProblem(f"market {raw!r} needs its province in provinces")
    listed = "; ".join(f"{p}: {', '.join(MARKETS[p])}" for p in provinces if p in MARKETS) or "none"
    return MarketProblem(f"unknown market {raw!r} for {', '.join(provinces)} (markets: {listed})")


# --- storing ------------------------------------------------------------------------------


def conflict(existing_id: str) -> Refusal:
    return Refusal(Reason.CONFLICT, "a buyer with this email exists already", buyer_id=existing_id)


async def create(deps: Deps, cleaned: CleanBuyer) -> Buyer:
    """A new buyer; refused as a ``conflict`` (with the existing ``buyer_id``) when the email is taken."""
    buyer = cleaned.record(buyer_id=new_id(buyers.BUYER_PREFIX), now=deps.clock.now())

    async def unit(tx: Tx) -> Buyer:
        existing = await buyers.by_email(tx, buyer.email)
        if existing is not None:
            raise conflict(existing.id)
        await buyers.insert(tx, buyer, areas_of(buyer))
        return buyer

    try:
        return await deps.db.transact(unit)
    except UniqueViolation:
        # PostgreSQL: the same email was created by a concurrent request first.
        existing = await buyers.by_email(deps.db, buyer.email)
        raise conflict(existing.id if existing else "") from None


@dataclass(frozen=True, slots=True)
class Upserted:
    imported: int  # new buyers
    updated: int  # existing buyers that changed
    unchanged: int  # existing buyers already holding exactly this
    repeated: int  # rows whose email came again later in the same batch (the last one wins)


async def upsert_many(tx: Tx, rows: Sequence[CleanBuyer], *, now: datetime) -> Upserted:
    """Insert or replace buyers by email in the caller's unit; the last row of an email wins.
    A buyer already holding exactly this is not rewritten. An existing buyer keeps its id,
    created_at and opted_out (an opt-out outlives any list). UniqueViolation when a concurrent
    writer stored one of the new emails first: run the unit again (it reads afresh)."""
    latest = {row.email: row for row in rows}
    stored = await buyers.stored_boxes(tx, list(latest))
    new: list[tuple[buyers.BoxRow, tuple[Area, ...]]] = []
    changed: list[tuple[buyers.Stored, buyers.BoxRow, tuple[Area, ...]]] = []
    unchanged = 0
    for email, row in latest.items():
        held = stored.get(email)
        if held is None:
            new.append((row.row(buyer_id=new_id(buyers.BUYER_PREFIX), now=now), _areas(row.provinces, row.markets)))
        elif held.box != row.compared():
            box = row.row(buyer_id=held.id, now=now)
            changed.append((held, box, _areas(row.provinces, row.markets)))
        else:
            unchanged += 1
    await buyers.write_boxes(tx, new, changed)
    return Upserted(
        imported=len(new),
        updated=len(changed),
        unchanged=unchanged,
        repeated=len(rows) - len(latest),
    )


# --- liquidity ----------------------------------------------------------------------------


async def area_liquidity(db: Executor, *, province: str, market: str | None) -> Liquidity:
    """An area's liquidity (docs/liquidity.md) from two aggregate queries, never the buyers."""
    buckets, leaders = await buyers.area_activity(
        db, province=province, market=market, top=MAX_LISTED
    )
    return Liquidity.from_aggregates(
        sum(buckets.values()),
        weight_sum_from_buckets(buckets),
        [(buyer_id, buyer_weight(purchases)) for buyer_id, purchases in leaders],
    )


def liquidity_from_buckets(buckets: dict[int, int]) -> Liquidity:
    return Liquidity.from_aggregates(sum(buckets.values()), weight_sum_from_buckets(buckets))


# --- reading ------------------------------------------------------------------------------

# Whether a list's cursor is a buyer's id (the list pages by id).
is_buyer_id = functools.partial(is_id, prefix=buyers.BUYER_PREFIX)


async def page(
    deps: Deps,
    *,
    after: str | None,
    limit: int,
    province: str | None,
    market: str | None,
    active: bool | None,
    opted_out: bool | None,
    email: str | None,
) -> list[Buyer]:
    """One page of buyers in id order, filtered (a box covering the area, active, opted out, email)."""
    return await buyers.page(
        deps.db, after=after or "", limit=limit, province=province, market=market,
        active=active, opted_out=opted_out, email=email,
    )  # fmt: skip


async def get(deps: Deps, buyer_id: str) -> Buyer:
    buyer = await buyers.get(deps.db, buyer_id)
    if buyer is None:
        raise not_found("buyer")
    return buyer


async def liquidity(deps: Deps, *, province: str, market: str | None) -> Liquidity:
    return await area_liquidity(deps.db, province=province, market=market)
