"""Cash buyers: one cleaning path for the API and the CSV import, storage of the buy box and its
areas, and an area's liquidity from SQL aggregates.

A buy box names provinces (codes or names) and markets (labels of those provinces). It is
stored as one ``buyer_areas`` row per listed market in each province, or one (province, '')
row when the buyer named no market there (the whole province), so a deal finds its buyers by
index: ``province = $1 AND market IN ($2, '')``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.errors import ApiError, invalid
from bot.geo import MARKETS, infer_province_market, normalise_province, province_country
from bot.liquidity import MAX_LISTED, Liquidity, buyer_weight, weight_sum_from_buckets
from bot.matching import PROPERTY_TYPES, normalise_property_type
from bot.phones import InvalidPhone, normalise_phone
from bot.schemas import BuyerIn
from bot.services.deps import Deps
from bot.services.intake import normalise_email
from storage import buyers
from storage.buyers import AreaRow, Buyer
from storage.database import Executor, Tx, UniqueViolation
from storage.values import new_id


@dataclass(frozen=True, slots=True)
class CleanBuyer:
    """A buyer after every check: normalised email and phone, province codes, market labels,
    canonical property types, each list without repeats."""

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

    def same_as(self, other: Buyer) -> bool:
        """Whether ``other`` (stored) already holds exactly this: a re-import changes nothing."""
        return (
            other.name,
            other.phone,
            tuple(other.provinces),
            tuple(other.markets),
            tuple(other.property_types),
            other.min_price,
            other.max_price,
            other.min_bedrooms,
            other.max_repairs,
            other.active,
            other.purchases_last_12m,
        ) == (
            self.name,
            self.phone,
            self.provinces,
            self.markets,
            self.property_types,
            self.min_price,
            self.max_price,
            self.min_bedrooms,
            self.max_repairs,
            self.active,
            self.purchases_last_12m,
        )

    def record(self, *, buyer_id: str, now: datetime, created_at: datetime | None = None) -> Buyer:
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
            created_at=created_at or now,
            updated_at=now,
        )

    def areas(self) -> list[AreaRow]:
        """One row per listed market of each province, or (province, '') for the whole province."""
        rows = []
        for province in self.provinces:
            named = [m for m in self.markets if m in MARKETS.get(province, ())] or [""]
            rows.extend(
                AreaRow(self.email, province, market, self.property_types, self.purchases_last_12m)
                for market in named
            )
        return rows


def clean(body: BuyerIn) -> CleanBuyer:
    """Normalise what people type; 422 with every bad field at once."""
    fields: dict[str, str] = {}
    email = phone = None
    try:
        email = normalise_email(body.email)
    except ValueError as exc:
        fields["email"] = str(exc)
    provinces: list[str] = []
    for raw in body.provinces:
        code = normalise_province(raw)
        if code is None:
            fields.setdefault("provinces", f"unknown province or state {raw!r}")
        elif code not in provinces:
            provinces.append(code)
    markets: list[str] = []
    for raw in body.markets:
        label = resolve_market(raw, provinces)
        if isinstance(label, MarketProblem):
            fields.setdefault("markets", label.reason)
        elif label not in markets:
            markets.append(label)
    kinds: list[str] = []
    for raw in body.property_types:
        kind = normalise_property_type(raw)
        if kind is None:
            fields.setdefault(
                "property_types",
                f"unknown property type {raw!r}; known: {', '.join(PROPERTY_TYPES)}",
            )
        elif kind not in kinds:
            kinds.append(kind)
    if body.phone:
        region = (province_country(provinces[0]) if provinces else None) or "CA"
        try:
            phone = normalise_phone(body.phone, region=region)
        except InvalidPhone as exc:
            fields["phone"] = str(exc)
    if (
        body.min_price is not None
        and body.max_price is not None
        and body.min_price > body.max_price
    ):
        fields["min_price"] = "must not be above max_price"
    if fields:
        raise invalid(fields)
    assert email is not None
    return CleanBuyer(
        name=body.name,
        email=email,
        phone=phone,
        provinces=tuple(provinces),
        markets=tuple(markets),
        property_types=tuple(kinds),
        min_price=body.min_price,
        max_price=body.max_price,
        min_bedrooms=body.min_bedrooms,
        max_repairs=body.max_repairs,
        active=body.active,
        purchases_last_12m=body.purchases_last_12m,
    )


@dataclass(frozen=True, slots=True)
class MarketProblem:
    reason: str


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _fold(text: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(_NOT_ALNUM.sub(" ", plain.casefold()).split())


_LABELS: dict[str, list[tuple[str, str]]] = {}
for _province, _labels in MARKETS.items():
    for _label in _labels:
        _LABELS.setdefault(_fold(_label), []).append((_province, _label))


def resolve_market(raw: str, provinces: Sequence[str]) -> str | MarketProblem:
    """The market label ``raw`` names in one of ``provinces`` ("montreal" -> "Montréal"; a city
    inside a market, "Toronto" or "Mississauga" -> "GTA"), or why it cannot be used."""
    known = _LABELS.get(_fold(raw), [])
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


def conflict(existing_id: str) -> ApiError:
    return ApiError(409, "conflict", "a buyer with this email exists already", buyer_id=existing_id)


async def create(deps: Deps, cleaned: CleanBuyer) -> Buyer:
    """A new buyer; 409 ``conflict`` (with the existing ``buyer_id``) when the email is taken."""
    buyer = cleaned.record(buyer_id=new_id("by"), now=deps.clock.now())

    async def unit(tx: Tx) -> Buyer:
        existing = await buyers.by_email(tx, buyer.email)
        if existing is not None:
            raise conflict(existing.id)
        await buyers.insert(tx, buyer, cleaned.areas())
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
    An existing buyer keeps its id, created_at and opted_out (an opt-out outlives any list)."""
    latest = {row.email: row for row in rows}
    existing = {b.email: b for b in await buyers.by_emails(tx, list(latest))}
    changed: list[Buyer] = []
    areas: list[AreaRow] = []
    imported = unchanged = 0
    for email, row in latest.items():
        before = existing.get(email)
        if before is not None and row.same_as(before):
            unchanged += 1
            continue
        if before is None:
            imported += 1
        changed.append(
            row.record(
                buyer_id=before.id if before else new_id("by"),
                now=now,
                created_at=before.created_at if before else None,
            )
        )
        areas.extend(row.areas())
    await buyers.upsert_many(tx, changed, areas)
    return Upserted(
        imported=imported,
        updated=len(changed) - imported,
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
