"""The seller conversation states (CONTRACT.md "Seller states"; the enum is storage.enums') and the
groups the machine uses.

``needs_human`` is deliberately not a state: a person can take over a conversation in
any state, and when they give it back the conversation goes on from where it was.
"""

from __future__ import annotations

from storage.enums import SellerState

__all__ = ["DEAL_AGREED_STATES", "LADDER_ACTIVE_STATES", "OFFER_STATES", "SellerState"]


# States with a follow-up ladder running; any real reply from the seller ends it.
LADDER_ACTIVE_STATES: frozenset[SellerState] = frozenset(
    {SellerState.CONTACTED, SellerState.NURTURE}
)

# States where an offer is out and a price or a "yes" answers it.
OFFER_STATES: frozenset[SellerState] = frozenset({SellerState.OFFER_SENT, SellerState.NEGOTIATING})

# The deal is agreed: anything the seller says now goes to a person.
DEAL_AGREED_STATES: frozenset[SellerState] = frozenset(
    {SellerState.ACCEPTED, SellerState.MARKETED, SellerState.CLOSED}
)
