"""The ``buyers`` and ``buyer_areas`` tables: cash buyers and their buy boxes.

``buyers`` is the record. ``buyer_areas`` holds one row per (province, market) a buyer takes
(market '' = the whole province) with a copy of the numbers the match rule needs, so the
matching and liquidity queries read one key range of one table and never join per buyer.
Both are written here, in the caller's unit of work: the area rows take their bounds and
``eligible`` from the buyers row itself (found by email), and migration 0003's trigger keeps
``eligible`` in step whenever anything changes ``active`` or ``opted_out``.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.database import Database, Engine, Executor, Query, json_array, json_rows
from storage.scoring import (
    ACTIVITY_WEIGHT,
    AREA_WEIGHT,
    NEUTRAL,
    PRICE_WEIGHT,
    PROPERTY_TYPES,
    PURCHASES_CAP,
    TYPE_WEIGHT,
    DealFacts,
    activity,
)
from storage.sqlite import adapt as sqlite_adapt
from storage.values import Record, contains_pattern

BUYER_PREFIX = "by"  # ids: new_id(BUYER_PREFIX)
COLUMNS = (
    "id, name, email, phone, provinces, markets, property_types, min_price, max_price, "
    "min_bedrooms, max_repairs, active, opted_out, purchases_last_12m, is_test, created_at, "
    "updated_at"
)
_B_COLUMNS = ", ".join("b." + c.strip() for c in COLUMNS.split(","))


def _engines(name: str, template: str) -> Query:
    """A query whose engines differ only in spelling: ``{least}`` (LEAST, or SQLite's
    two-argument MIN) and ``{in_list}`` (membership in the list given as $1: a JSON array
    on SQLite, a text[] on PostgreSQL)."""
    return Query(
        name,
        template.format(least="MIN", in_list="IN (SELECT value FROM json_each($1))"),
        postgresql=template.format(least="LEAST", in_list="= ANY($1::text[])"),
    )


@dataclass(frozen=True, slots=True)
class Buyer(Record):
    id: str
    name: str
    email: str
    phone: str | None
    provinces: list[str]
    markets: list[str]
    property_types: list[str]
    min_price: int | None
    max_price: int | None
    min_bedrooms: int | None
    max_repairs: int | None
    active: bool
    opted_out: bool
    purchases_last_12m: int
    is_test: bool
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in Buyer.__dataclass_fields__ if n != "is_test"}


Area = tuple[str, str]  # (province, market); market '' = the whole province

GET = Query("buyers.get", f"SELECT {COLUMNS} FROM buyers WHERE id = $1")
BY_EMAIL = Query("buyers.by_email", f"SELECT {COLUMNS} FROM buyers WHERE email = $1")
SET_OPTED_OUT = Query(
    "buyers.set_opted_out",
    "UPDATE buyers SET opted_out = TRUE, updated_at = $2 WHERE id = $1",
)
SET_OPTED_OUT_BY_EMAIL = Query(
    "buyers.set_opted_out_by_email",
    "UPDATE buyers SET opted_out = TRUE, updated_at = $2 WHERE email = $1",
)
INSERT = Query(
    "buyers.insert",
    f"INSERT INTO buyers ({COLUMNS}) VALUES "
    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
)
_REPLACED = (
    "name", "phone", "provinces", "markets", "property_types", "min_price", "max_price",
    "min_bedrooms", "max_repairs", "active", "purchases_last_12m", "updated_at",
)  # fmt: skip
# Re-import replaces the box (UPDATE_BOX); id, opted_out, is_test and created_at stay (an
# opt-out outlives any re-import of an old list).
DELETE_AREAS = _engines(
    "buyers.delete_areas",
    "DELETE FROM buyer_areas WHERE buyer_id {in_list}",
)
INSERT_AREA = Query(
    "buyers.insert_area",
    "INSERT INTO buyer_areas (province, market, buyer_id, eligible, min_price, max_price, "
    "min_bedrooms, max_repairs, type_mask, purchases_last_12m, activity) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
)
_COMPARED = (
    "name", "phone", "provinces", "markets", "property_types", "min_price", "max_price",
    "min_bedrooms", "max_repairs", "active", "purchases_last_12m",
)  # fmt: skip
STORED_BOXES = _engines(
    "buyers.stored_boxes",
    f"SELECT id, email, opted_out, {', '.join(_COMPARED)} FROM buyers WHERE email {{in_list}}",
)
# A changed buyer keeps its id, created_at, opted_out and is_test; $1 is the id.
UPDATE_BOX = Query(
    "buyers.update_box",
    "UPDATE buyers SET " + ", ".join(f"{c} = ${n}" for n, c in enumerate(_REPLACED, 2)) + " WHERE id = $1",
)


async def get(db: Executor, buyer_id: str) -> Buyer | None:
    row = await db.fetch_one(GET, buyer_id)
    return Buyer.from_row(row) if row else None


async def by_email(db: Executor, email: str) -> Buyer | None:
    row = await db.fetch_one(BY_EMAIL, email)
    return Buyer.from_row(row) if row else None


async def set_opted_out(db: Executor, buyer_id: str, at: datetime) -> None:
    await db.execute(SET_OPTED_OUT, buyer_id, at)


async def set_opted_out_by_email(db: Executor, email: str, at: datetime) -> int:
    """Every buyer at the address (an unsubscribe link); the number of buyers changed."""
    return await db.execute(SET_OPTED_OUT_BY_EMAIL, email, at)


@dataclass(frozen=True, slots=True)
class Stored:
    """What an upsert needs of a buyer already stored: its id, its opt-out, its box."""

    id: str
    opted_out: bool
    box: tuple[Any, ...]  # compared(): the fields a re-import may change


async def stored_boxes(db: Executor, emails: Sequence[str]) -> dict[str, Stored]:
    """``{email: Stored}`` of the buyers already stored among ``emails``."""
    rows = await db.fetch_all(STORED_BOXES, list(emails))
    return {
        r["email"]: Stored(r["id"], bool(r["opted_out"]), tuple(_hashable(r[c]) for c in _COMPARED))
        for r in rows
    }


def compared(buyer: Buyer) -> tuple[Any, ...]:
    """The buyer's own fields, lists as tuples, as ``stored_boxes`` gives them."""
    return tuple(_hashable(getattr(buyer, c)) for c in _COMPARED)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


async def insert(db: Executor, buyer: Buyer, areas: Sequence[Area]) -> None:
    """A new buyer and its areas; UniqueViolation when the email is taken."""
    await db.execute(INSERT, *buyer.values())
    await db.execute_many(INSERT_AREA, [_area_row(buyer, buyer.id, False, a) for a in areas])


# A buyer row as ``write_boxes`` takes it: the columns in COLUMNS order, lists as tuples.
BoxRow = tuple[Any, ...]
_ID, _ACTIVE = 0, 11


async def write_boxes(
    db: Executor,
    new: Sequence[tuple[BoxRow, Sequence[Area]]],
    changed: Sequence[tuple[Stored, BoxRow, Sequence[Area]]],
) -> None:
    """In the caller's unit of work: insert ``new`` buyers (UniqueViolation if one exists
    after all: a concurrent writer; the caller reads again and retries), and replace the box
    of each ``changed`` stored buyer, which keeps its id, created_at and opted_out. Area rows
    are written for both (a changed buyer's are rewritten)."""
    if db.engine is Engine.POSTGRESQL:
        await _write_boxes_postgresql(db, new, changed)
        return
    ready = _sqlite_row
    if new:
        await db.execute_many(INSERT, [_sqlite_box(row) for row, _ in new])
    if changed:
        replaced = [COLUMN_INDEX[c] for c in _REPLACED]
        await db.execute_many(
            UPDATE_BOX, [ready((s.id, *(row[i] for i in replaced))) for s, row, _ in changed]
        )
        await db.execute(DELETE_AREAS, [s.id for s, _, _ in changed])
    area_rows = [
        (*area, row[_ID], *_area_values(row, False))
        for row, areas in new
        for area in areas
    ]
    area_rows += [
        (*area, held.id, *_area_values(row, held.opted_out))
        for held, row, areas in changed
        for area in areas
    ]
    if area_rows:
        # In key order: the inserts walk each (province, market) range once, not at random.
        area_rows.sort(key=_area_key)
        await db.execute_many(INSERT_AREA, area_rows)


def _area_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[:3]


COLUMN_INDEX = {name.strip(): n for n, name in enumerate(COLUMNS.split(","))}

# PostgreSQL: one statement per table and batch, the rows given as one JSON array of row
# arrays (jsonb_array_elements), instead of a statement per row (executemany). Not arrays per
# column (unnest): asyncpg checks each element of an array parameter against abstract base
# classes, ~0.5 us a value, where json.dumps encodes the whole batch in C. Lists stay JSON
# arrays (the jsonb columns); instants travel as text.
_PG_TYPES = {
    "id": "text", "name": "text", "email": "text", "phone": "text", "provinces": "jsonb",
    "markets": "jsonb", "property_types": "jsonb", "min_price": "bigint", "max_price": "bigint",
    "min_bedrooms": "integer", "max_repairs": "bigint", "active": "boolean",
    "opted_out": "boolean", "purchases_last_12m": "integer", "is_test": "boolean",
    "created_at": "timestamptz", "updated_at": "timestamptz",
}  # fmt: skip
_NAMES = tuple(COLUMN_INDEX)


INSERT_MANY_PG = Query(
    "buyers.insert_many",
    f"INSERT INTO buyers ({COLUMNS}) SELECT * FROM {json_rows(_NAMES, _PG_TYPES)}",
)
UPDATE_MANY_PG = Query(
    "buyers.update_many",
    "UPDATE buyers b SET " + ", ".join(f"{c} = r.{c}" for c in _REPLACED)
    + f" FROM {json_rows(('id', *_REPLACED), _PG_TYPES)} WHERE b.id = r.id",
)
_AREA_NAMES = (
    "province", "market", "buyer_id", "eligible", "min_price", "max_price", "min_bedrooms",
    "max_repairs", "type_mask", "purchases_last_12m", "activity",
)  # fmt: skip
_AREA_TYPES = {
    **_PG_TYPES, "province": "text", "market": "text", "buyer_id": "text", "eligible": "boolean",
    "type_mask": "bigint", "activity": "float8",
}  # fmt: skip
INSERT_AREAS_PG = Query(
    "buyers.insert_areas",
    f"INSERT INTO buyer_areas ({', '.join(_AREA_NAMES)}) SELECT * FROM {json_rows(_AREA_NAMES, _AREA_TYPES)}",
)


async def _write_boxes_postgresql(
    db: Executor,
    new: Sequence[tuple[BoxRow, Sequence[Area]]],
    changed: Sequence[tuple[Stored, BoxRow, Sequence[Area]]],
) -> None:
    if new:
        await db.execute(INSERT_MANY_PG, json_array([row for row, _ in new]))  # instants as text, lists as arrays
    if changed:
        picked = [COLUMN_INDEX[c] for c in _REPLACED]
        updates = [(held.id, *(row[i] for i in picked)) for held, row, _ in changed]
        await db.execute(UPDATE_MANY_PG, json_array(updates))
        await db.execute(DELETE_AREAS, [s.id for s, _, _ in changed])
    area_rows = [(*area, row[_ID], *_area_values(row, False)) for row, areas in new for area in areas]
    area_rows += [
        (*area, held.id, *_area_values(row, held.opted_out)) for held, row, areas in changed for area in areas
    ]
    if area_rows:
        await db.execute(INSERT_AREAS_PG, json_array(area_rows))


def _area_values(row: BoxRow, opted_out: bool) -> tuple[Any, ...]:
    """An area row's columns after (province, market, buyer_id), from the buyer's row."""
    purchases = row[13]
    return (
        bool(row[_ACTIVE]) and not opted_out, row[7], row[8], row[9], row[10],
        type_mask(row[6]), purchases, activity(purchases),
    )  # fmt: skip


def _sqlite_row(row: BoxRow) -> tuple[Any, ...]:
    """A row as the SQLite layer would adapt it, with each list and instant adapted once per
    distinct value (the same few lists and one instant repeat through a batch)."""
    return tuple([cell if type(cell) not in _SQLITE_CELL else _SQLITE_CELL[type(cell)](cell) for cell in row])


def _sqlite_box(row: BoxRow) -> tuple[Any, ...]:
    """``_sqlite_row`` of a whole buyer row, cell by position (no per-cell dispatch)."""
    (buyer_id, name, email, phone, provinces, markets, kinds, low, high, beds, repairs, active,
     opted_out, purchases, is_test, created_at, updated_at) = row  # fmt: skip
    return (
        buyer_id, name, email, phone, _sqlite_list(provinces), _sqlite_list(markets),
        _sqlite_list(kinds), low, high, beds, repairs, int(active), int(opted_out), purchases,
        int(is_test), _sqlite_value(created_at), _sqlite_value(updated_at),
    )  # fmt: skip


def _sqlite_list(value: Any) -> Any:
    return _sqlite_value(value if type(value) is tuple else tuple(value))


@functools.lru_cache(maxsize=4096)
def _sqlite_value(value: Any) -> Any:
    """What the SQLite layer makes of a list (given as a tuple) or an instant: its own
    adapter, called once per distinct value instead of once per row."""
    return sqlite_adapt(list(value) if isinstance(value, tuple) else value)


_SQLITE_CELL: dict[type, Any] = {
    tuple: _sqlite_value,
    list: lambda value: _sqlite_value(tuple(value)),
    datetime: _sqlite_value,
    bool: int,
}


def _area_row(buyer: Buyer, buyer_id: str, opted_out: bool, area: Area) -> tuple[Any, ...]:
    province, market = area
    return (
        province, market, buyer_id, buyer.active and not opted_out, buyer.min_price,
        buyer.max_price, buyer.min_bedrooms, buyer.max_repairs, type_mask(buyer.property_types),
        buyer.purchases_last_12m, activity(buyer.purchases_last_12m),
    )  # fmt: skip


def type_mask(property_types: Sequence[str]) -> int:
    """The column's encoding of a buyer's canonical types; 0 = any type."""
    return _type_mask(tuple(property_types))


@functools.lru_cache(maxsize=4096)
def _type_mask(property_types: tuple[str, ...]) -> int:
    mask = 0
    for kind in property_types:
        mask |= type_bit(kind)
    return mask


def type_bit(property_type: str | None) -> int:
    """A deal type's bit; 0 for unknown (it rules nobody out); a name outside the vocabulary
    gets a bit no buyer has, so only any-type buyers take it (as ``fits`` does)."""
    if property_type is None:
        return 0
    if property_type in PROPERTY_TYPES:
        return 1 << PROPERTY_TYPES.index(property_type)
    return 1 << len(PROPERTY_TYPES)


# --- listing ------------------------------------------------------------------------------


async def page(
    db: Executor,
    *,
    after: str,
    limit: int,
    province: str | None = None,
    market: str | None = None,
    active: bool | None = None,
    opted_out: bool | None = None,
    email: str | None = None,
    text: str | None = None,
) -> list[Buyer]:
    """Buyers by id after the cursor. ``province`` (and ``market``): buyers whose box covers
    it; ``text``: a lower-case piece of the name or email. Filters are fixed SQL fragments;
    only values are parameters."""
    clauses, args = ["b.id > $1"], [after]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if province is not None:
        area = f"a.province = {arg(province)}"
        if market is not None:
            area += f" AND a.market IN ({arg(market)}, '')"
        clauses.append(f"EXISTS (SELECT 1 FROM buyer_areas a WHERE a.buyer_id = b.id AND {area})")
    for column, value in (("active", active), ("opted_out", opted_out), ("email", email)):
        if value is not None:
            clauses.append(f"b.{column} = {arg(value)}")
    if text is not None:
        pattern = arg(contains_pattern(text))
        clauses.append(f"(lower(b.name) LIKE {pattern} ESCAPE '\\' OR b.email LIKE {pattern} ESCAPE '\\')")
    where = " AND ".join(clauses)
    sql = f"SELECT {_B_COLUMNS} FROM buyers b WHERE {where} ORDER BY b.id LIMIT {arg(limit)}"
    return [Buyer.from_row(r) for r in await db.fetch_all(sql, *args)]


# --- matching -----------------------------------------------------------------------------
#
# bot.matching.fits as a WHERE clause over a deal's area rows. Parameters: $1 province, $2
# market ('' when unknown), $3 buyer price, $4 the deal type's bit (0 when unknown: it rules
# nobody out), $5 bedrooms (NULL when unknown), $6 repair estimate (unknown counts as 0).
_FITS = (
    "province = $1 AND market IN ($2, '') AND eligible "
    "AND (min_price IS NULL OR min_price <= $3) AND (max_price IS NULL OR max_price >= $3) "
    "AND (type_mask = 0 OR $4 = 0 OR (type_mask & $4) <> 0) "
    "AND (min_bedrooms IS NULL OR CAST($5 AS INTEGER) IS NULL "
    "OR CAST($5 AS INTEGER) >= min_bedrooms) "
    "AND (max_repairs IS NULL OR $6 <= max_repairs)"
)
def _real(value: float) -> str:
    # Doubles on both engines (a bare 0.25 is NUMERIC on PostgreSQL): each term rounds as in Python.
    return f"CAST({value!r} AS DOUBLE PRECISION)"


def _score_sql() -> str:
    """bot.matching.fit_score over a fitting row, term by term in the same order, so the
    doubles come out bit-equal (the row's price range holds the price: never negative)."""
    one, zero, neutral = _real(1.0), _real(0.0), _real(NEUTRAL)
    price = (
        f"(CASE WHEN min_price IS NULL OR max_price IS NULL THEN {neutral} "
        f"WHEN max_price <= min_price THEN (CASE WHEN $3 = min_price THEN {one} ELSE {zero} END) "
        f"ELSE {one} - CAST(ABS(2 * $3 - min_price - max_price) AS DOUBLE PRECISION) "
        "/ (max_price - min_price) END)"
    )
    area = f"(CASE WHEN market = '' THEN {neutral} ELSE {one} END)"
    kind = f"(CASE WHEN type_mask = 0 THEN {neutral} WHEN $4 <> 0 THEN {one} ELSE {zero} END)"
    return (
        f"{_real(PRICE_WEIGHT)} * {price} + {_real(AREA_WEIGHT)} * {area} "
        f"+ {_real(TYPE_WEIGHT)} * {kind} + {_real(ACTIVITY_WEIGHT)} * activity"
    )


# One scan for both: the fitting rows (score key and capped purchases) are materialised
# once, then read twice: the first $7 in ``rank``'s order, and every one counted by
# min(purchases, cap). Rows with a buyer_id are the shortlist (fit = the score key); rows
# without are the buckets (fit = capped purchases, n = buyers).
_MATCH = (
    "WITH fitting AS MATERIALIZED (SELECT buyer_id, {key} AS fit, "
    f"{{least}}(purchases_last_12m, {PURCHASES_CAP}) AS p FROM buyer_areas WHERE {_FITS}) "
    "SELECT buyer_id, fit, n FROM (SELECT buyer_id, fit, CAST(NULL AS BIGINT) AS n FROM fitting "
    "ORDER BY fit DESC, buyer_id LIMIT $7) shortlist "
    "UNION ALL SELECT NULL, p, count(*) FROM fitting GROUP BY p"
)
# The score key rounds to 4 places: SQLite's CAST truncates, PostgreSQL's rounds, so floor() there.
_MATCH_KEYS = {
    "sqlite": {"key": f"CAST(({_score_sql()}) * 10000 + 0.5 AS INTEGER)", "least": "MIN"},
    "postgresql": {"key": f"floor(({_score_sql()}) * 10000 + 0.5)", "least": "LEAST"},
}


def _match_query(name: str, bound: str) -> Query:
    template = _MATCH.replace("WHERE province = $1", f"WHERE {bound}province = $1")
    sqlite, postgresql = (template.format(**_MATCH_KEYS[engine]) for engine in ("sqlite", "postgresql"))
    return Query(name, sqlite, postgresql=postgresql)


MATCH = _match_query("buyers.match", "")
# The same over the buyers before / from a split point ($8): the two halves of a large market
# are scanned at once, on two connections (SQLite's two reader threads, two pool connections).
MATCH_BELOW = _match_query("buyers.match_below", "buyer_id < $8 AND ")
MATCH_FROM = _match_query("buyers.match_from", "buyer_id >= $8 AND ")
# A market this large is matched in two halves; the split point, its median buyer id, is kept
# for SPLIT_TTL_S (only the halves' balance depends on it, never the answer).
SPLIT_AT = 20_000
SPLIT_TTL_S = 300.0
AREA_SIZE = Query("buyers.area_size", "SELECT count(*) FROM buyer_areas WHERE province = $1 AND market = $2")
AREA_MEDIAN = Query(
    "buyers.area_median",
    "SELECT buyer_id FROM buyer_areas WHERE province = $1 AND market = $2 ORDER BY buyer_id LIMIT 1 OFFSET $3",
)
_splits: weakref.WeakKeyDictionary[Database, dict[tuple[str, str], tuple[float, str | None]]] = (
    weakref.WeakKeyDictionary()
)
BY_IDS = _engines("buyers.by_ids", f"SELECT {COLUMNS} FROM buyers WHERE id {{in_list}}")


def _deal_args(deal: DealFacts) -> tuple[Any, ...]:
    assert deal.province is not None, "an unplaced deal fits nobody: do not ask"
    return (
        deal.province,
        deal.market or "",
        deal.buyer_price,
        type_bit(deal.property_type),
        deal.bedrooms,
        deal.repair_estimate or 0,
    )


async def match(db: Executor, deal: DealFacts, *, limit: int) -> tuple[list[Buyer], dict[int, int]]:
    """The ``limit`` best-fitting buyers by index and SQL score, best first (the fitting rows in
    ``rank``'s order: the score rounded to 4 places, then id; the caller re-checks and re-ranks
    them with bot.matching, the database only narrows the field), and ``{min(purchases, cap):
    buyers}`` over every buyer whose box fits, from one scan of the deal's key range (then the
    shortlist's buyers by id). Outside a unit of work, a market of ``SPLIT_AT`` buyers or more
    is scanned as two halves at once: each half's best ``limit`` hold the best ``limit`` of all,
    and the buckets add up."""
    args = (*_deal_args(deal), limit)
    split = await _split_point(db, deal.province or "", deal.market or "") if isinstance(db, Database) else None
    if split is None:
        rows = await db.fetch_all(MATCH, *args)
    else:
        below, above = await asyncio.gather(
            db.fetch_all(MATCH_BELOW, *args, split), db.fetch_all(MATCH_FROM, *args, split)
        )
        rows = [*below, *above]
    fits: list[tuple[Any, str]] = []
    buckets: dict[int, int] = {}
    for row in rows:
        if row["buyer_id"] is None:
            bucket = int(row["fit"])
            buckets[bucket] = buckets.get(bucket, 0) + int(row["n"])
        else:
            fits.append((row["fit"], row["buyer_id"]))
    shortlist = {buyer_id: fit for fit, buyer_id in sorted(fits, key=lambda f: (-f[0], f[1]))[:limit]}
    if not shortlist:
        return [], buckets
    found = [Buyer.from_row(r) for r in await db.fetch_all(BY_IDS, list(shortlist))]
    found.sort(key=lambda b: (-shortlist[b.id], b.id))
    return found, buckets


async def _split_point(db: Database, province: str, market: str) -> str | None:
    """The median buyer id of a market of ``SPLIT_AT`` buyers or more (None below), cached."""
    known = _splits.setdefault(db, {})
    now = time.monotonic()
    cached = known.get((province, market))
    if cached is not None and cached[0] > now:
        return cached[1]
    size = int(await db.fetch_val(AREA_SIZE, province, market))
    split = await db.fetch_val(AREA_MEDIAN, province, market, size // 2) if size >= SPLIT_AT else None
    known[(province, market)] = (now + SPLIT_TTL_S, split)
    return split


# --- liquidity of an area -----------------------------------------------------------------
#
# A market's buyers are its own rows and its province's '' rows (one row per buyer in each):
# each half is read from the buyer_areas_liquidity index, eligible buyers heaviest first
# (activity rises with capped purchases), counted by weight without a sort and listed top
# first without reading the rest. A province alone may hold several rows of one buyer: those
# are grouped per buyer (a scan of the province).
_IN_MARKET = "province = $1 AND market = $2 AND eligible = TRUE"
MARKET_BUCKETS = _engines(
    "buyers.market_buckets",
    f"SELECT {{least}}(MIN(purchases_last_12m), {PURCHASES_CAP}) AS p, count(*) AS n "
    f"FROM buyer_areas WHERE {_IN_MARKET} GROUP BY activity",
)
MARKET_TOP = _engines(
    "buyers.market_top",
    f"SELECT buyer_id, {{least}}(purchases_last_12m, {PURCHASES_CAP}) AS p FROM buyer_areas "
    f"WHERE {_IN_MARKET} ORDER BY activity DESC, buyer_id LIMIT $3",
)
_PER_BUYER = (
    f"SELECT buyer_id, {{least}}(MAX(purchases_last_12m), {PURCHASES_CAP}) AS p "
    "FROM buyer_areas WHERE province = $1 AND eligible = TRUE GROUP BY buyer_id"
)
PROVINCE_BUCKETS = _engines(
    "buyers.province_buckets",
    f"SELECT p, count(*) AS n FROM ({_PER_BUYER}) per_buyer GROUP BY p",
)
PROVINCE_TOP = _engines("buyers.province_top", f"{_PER_BUYER} ORDER BY p DESC, buyer_id LIMIT $2")


async def area_activity(
    db: Executor, *, province: str, market: str | None, top: int
) -> tuple[dict[int, int], list[tuple[str, int]]]:
    """``({min(purchases, cap): buyers}, [(buyer_id, min(purchases, cap)), ...])`` of the
    eligible buyers covering the area: every bucket, and at least the ``top`` heaviest
    (the caller keeps the first ``top``); a province alone counts every buyer in it."""
    if market is None:
        buckets = await db.fetch_all(PROVINCE_BUCKETS, province)
        leaders = await db.fetch_all(PROVINCE_TOP, province, top)
    else:
        buckets, leaders = [], []
        for part in (market, ""):
            buckets += await db.fetch_all(MARKET_BUCKETS, province, part)
            leaders += await db.fetch_all(MARKET_TOP, province, part, top)
    counts: dict[int, int] = {}
    for row in buckets:
        counts[int(row["p"])] = counts.get(int(row["p"]), 0) + int(row["n"])
    return counts, [(r["buyer_id"], int(r["p"])) for r in leaders]
