"""The seller conversation states (CONTRACT.md "Seller states") and the groups the machine uses.

``needs_human`` is deliberately not a state: a person can take over a conversation in
any state, and when they give it back the conversation goes on from where it was.
"""

from __future__ import annotations

from enum import StrEnum


class SellerState(StrEnum):
    NEW = "new"  # lead stored, nothing decided yet
    NO_CONSENT = "no_consent"  # the lead came without consent: the bot never writes first
    CONTACTED = "contacted"  # the follow-up ladder is running; the seller has not replied
    ENGAGED = "engaged"  # the seller replied, but has not said yes to selling yet
    QUALIFYING = "qualifying"  # asking condition, timeline, price; or waiting for numbers
    OFFER_SENT = "offer_sent"  # our opening offer is out
    NEGOTIATING = "negotiating"  # we have countered at least once
    ACCEPTED = "accepted"  # agreed at a price; the deal goes to buyer matching
    MARKETED = "marketed"  # buyers have been alerted to the deal
    CLOSED = "closed"  # the deal is done
    NOT_INTERESTED = "not_interested"  # said no again while in nurture: nothing more is sent
    WRONG_NUMBER = "wrong_number"  # not the owner: apologised, never texted again
    OPTED_OUT = "opted_out"  # STOP or a provider opt-out: nothing but START/HELP answers
    NURTURE = "nurture"  # said no once: politely closed, long-term nurture ladder running


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
