"""Which pool number texts a contact first: pure, so it is tested with plain values.

A contact keeps the number it was first texted from (sticky sender); this module only makes
that first choice. A seller is likelier to answer a local number: a pool number with the
seller's area code wins, then one in the same province or state, then any. Among equals the
least loaded (fewest contacts) takes the contact, so a pool fills evenly and so sends evenly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

# Twilio codes that say the sender itself cannot send (not the recipient, not the message):
# 21606 the From number cannot send SMS, 21212 an invalid From number, 30032 a toll-free
# number not verified, 30034 a 10DLC number not registered to a campaign.
BROKEN_SENDER_CODES = frozenset({"21606", "21212", "30032", "30034"})


@dataclass(frozen=True, slots=True)
class PoolNumber:
    number: str  # E.164
    province: str | None  # the province or state of its area code, when known

    @property
    def area_code(self) -> str | None:
        return area_code(self.number)


def area_code(e164: str | None) -> str | None:
    """The NANP area code of a +1 number ("416"); None for any other number."""
    if e164 is None or not e164.startswith("+1") or len(e164) != 12:
        return None
    return e164[2:5]


def choose_number(
    pool: Sequence[PoolNumber],
    *,
    phone: str | None,
    province: str | None,
    loads: Mapping[str, int],
    out_of_pool: Collection[str] = (),
) -> str | None:
    """The number a contact (``phone``, ``province``) is first texted from; None if none can send."""
    usable = [n for n in pool if n.number not in out_of_pool]
    if not usable:
        return None
    code = area_code(phone)
    for tier in (
        [n for n in usable if code is not None and n.area_code == code],
        [n for n in usable if province is not None and n.province == province],
        usable,
    ):
        if tier:
            return min(tier, key=lambda n: (loads.get(n.number, 0), n.number)).number
    return None  # unreachable: the last tier is `usable`, which is not empty


def pool_rate(*, per_number: float, account: float, usable: int | None) -> float:
    """Messages a second the pool can send: the account's cap, or fewer when too few numbers can
    send (``usable`` None: no pool, one sender paced at the account's rate)."""
    if usable is None:
        return account
    return min(account, per_number * usable)


def eta_seconds(due: int, rate: float) -> float | None:
    """How long ``due`` messages take at ``rate`` a second; None when nothing can send."""
    if due == 0:
        return 0.0
    return due / rate if rate > 0 else None
