"""Email opt-out by one-click link (RFC 8058), and one-time webhook tokens."""

from __future__ import annotations

from bot.services import compliance, inbound, outbox
from bot.services.deps import Deps
from storage import buyers, contacts, kpis, tokens
from storage.database import Tx
from storage.enums import Channel


def address_of(deps: Deps, token: str) -> str | None:
    return outbox.address_from_token(deps, token)


async def opt_out_address(deps: Deps, address: str) -> None:
    """Every contact and buyer at this address stops getting email; a seller's conversation ends."""
    now = deps.clock.now()

    async def unit(tx: Tx) -> None:
        contact = await contacts.find(tx, phone=None, email=address)
        if contact is not None:
            await inbound.provider_opt_out(tx, deps, contact.id, channel=Channel.EMAIL, now=now)
        if await buyers.set_opted_out_by_email(tx, address, now):
            await kpis.record(tx, "optout:received", now, data={"channel": Channel.EMAIL, "buyer": True})
            buyer = await buyers.by_email(tx, address)
            if buyer is not None:
                await compliance.buyer_opted_out(tx, buyer.id, channel=Channel.EMAIL, message_id=None, now=now)

    await deps.db.transact(unit)


async def first_use_of_token(deps: Deps, token: str) -> bool:
    """True the first time a provider's webhook token is seen; a replayed token is refused."""
    now = deps.clock.now()
    return await deps.db.transact(lambda tx: tokens.first_use(tx, token[:200], now))
