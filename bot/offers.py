"""Offer arithmetic: the maximum allowable offer, the opening offer, and counter-offers.

CONTRACT.md "Offer arithmetic" is the authority; this module is its executable form.
Money is whole currency units (int); percentages are Decimal so no float ever touches a
price. Every amount is rounded *down*: we never offer a unit more than the rules allow.

Edge cases decided here (the contract is silent on them):

* A mao of 0 or less is not viable even with no ``min_offer`` set: there is nothing to offer.
* An opening that rounds down to nothing (a mao smaller than one ``round_to`` step) opens
  at mao itself.
* The asking price wins only when it is *under* the computed opening; an asking price
  between the opening and mao does not change the opening (the conversation, through
  respond_to_price, accepts it when the seller names it).
* A counter whose half-way point, rounded down to ``round_to``, would not move above the last
  offer goes straight to mao as the FINAL offer: repeating an offer is not a counter.
* Once mao has been offered (``last_offer >= mao``), or the rounds are used up, a seller
  still above mao gets EXHAUSTED: the caller holds at mao or hands the deal to a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum


class OfferStrategyError(ValueError):
    """An invalid strategy; ``fields`` maps each bad field to what is wrong."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()))


@dataclass(frozen=True, slots=True)
class OfferStrategy:
    """A market's offer rules. Construction validates (OfferStrategyError on bad values)."""

    arv_pct: Decimal = Decimal("0.70")
    assignment_fee: int = 10000
    min_offer: int | None = None
    max_offer: int | None = None
    round_to: int = 1000
    opening_pct: Decimal = Decimal("0.90")
    max_counter_rounds: int = 3

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise OfferStrategyError unless: 0 < arv_pct <= 1, 0 < opening_pct <= 1 (both
        Decimal, never float), assignment_fee >= 0, round_to >= 1, min_offer >= 0,
        max_offer >= 1, min_offer <= max_offer, max_counter_rounds >= 1 (the contract's
        last round offers mao, so a strategy without rounds could never reach it)."""
        errors: dict[str, str] = {}
        for name in ("arv_pct", "opening_pct"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                errors[name] = "must be a decimal number"
            elif not Decimal(0) < value <= Decimal(1):
                errors[name] = "must be above 0 and at most 1"
        minimums = {
            "assignment_fee": 0,
            "round_to": 1,
            "min_offer": 0,
            "max_offer": 1,
            "max_counter_rounds": 1,
        }
        for name, minimum in minimums.items():
            value = getattr(self, name)
            if value is None and name in ("min_offer", "max_offer"):
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                errors[name] = "must be a whole number"
            elif value < minimum:
                errors[name] = f"must be at least {minimum}"
        if (
            "min_offer" not in errors
            and "max_offer" not in errors
            and self.min_offer is not None
            and self.max_offer is not None
            and self.min_offer > self.max_offer
        ):
            errors["min_offer"] = "must not be above max_offer"
        if errors:
            raise OfferStrategyError(errors)


DEFAULT_STRATEGY = OfferStrategy()


class NotPriced(StrEnum):
    """Why a deal has no offer; either way a person decides."""

    NO_ARV = "no_arv"  # no after-repair value: nothing to compute from
    NOT_VIABLE = "not_viable"  # mao under min_offer (or not positive)


@dataclass(frozen=True, slots=True)
class Pricing:
    """A deal's numbers. ``mao`` is kept when not viable, for the person who decides."""

    mao: int | None
    opening: int | None
    reason: NotPriced | None

    @property
    def viable(self) -> bool:
        return self.reason is None


class Move(StrEnum):
    """Our answer to a seller's price."""

    ACCEPT = "accept"  # at the seller's price, which is at or under mao
    COUNTER = "counter"  # a new offer half-way to mao
    FINAL = "final"  # mao itself: the last counter
    EXHAUSTED = "exhausted"  # nothing left to offer; hold at mao or hand to a person


@dataclass(frozen=True, slots=True)
class Response:
    move: Move
    amount: int | None  # None only for EXHAUSTED
    round: int  # counter rounds used after this move


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _round_down(amount: int, step: int) -> int:
    return amount - amount % step


def _require_non_negative(**amounts: int | None) -> None:
    for name, amount in amounts.items():
        if amount is not None and amount < 0:
            raise ValueError(f"{name} must not be negative")


def price_deal(
    *,
    arv: int | None,
    repair_estimate: int | None,
    strategy: OfferStrategy,
    asking_price: int | None = None,
) -> Pricing:
    """mao and the opening offer for a deal, or why there is none."""
    _require_non_negative(arv=arv, repair_estimate=repair_estimate, asking_price=asking_price)
    if arv is None:
        return Pricing(mao=None, opening=None, reason=NotPriced.NO_ARV)
    mao = _floor(arv * strategy.arv_pct) - (repair_estimate or 0) - strategy.assignment_fee
    if strategy.max_offer is not None:
        mao = min(mao, strategy.max_offer)
    if mao <= 0 or (strategy.min_offer is not None and mao < strategy.min_offer):
        return Pricing(mao=mao, opening=None, reason=NotPriced.NOT_VIABLE)
    opening = _round_down(_floor(mao * strategy.opening_pct), strategy.round_to) or mao
    if strategy.min_offer is not None:
        opening = max(opening, strategy.min_offer)
    if asking_price is not None and asking_price < opening:
        opening = asking_price  # the seller asks for less than we would open with
    return Pricing(mao=mao, opening=opening, reason=None)


def respond_to_price(
    *, seller_price: int, last_offer: int, mao: int, rounds_used: int, strategy: OfferStrategy
) -> Response:
    """Our next move when the seller names ``seller_price`` after our ``last_offer``."""
    _require_non_negative(
        seller_price=seller_price, last_offer=last_offer, mao=mao, rounds_used=rounds_used
    )
    if seller_price <= mao:
        return Response(Move.ACCEPT, seller_price, rounds_used)
    if rounds_used >= strategy.max_counter_rounds or last_offer >= mao:
        return Response(Move.EXHAUSTED, None, rounds_used)
    this_round = rounds_used + 1
    half_way = _round_down(last_offer + (mao - last_offer) // 2, strategy.round_to)
    if this_round == strategy.max_counter_rounds or half_way <= last_offer:
        return Response(Move.FINAL, mao, this_round)
    return Response(Move.COUNTER, half_way, this_round)
