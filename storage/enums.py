"""The closed sets the records carry: what a text column may hold, as an enum.

Rows are turned into these at the storage boundary (``Record.from_row``), so code past it
compares and matches members, never spelled-out strings. The domain re-exports them
(bot.states.SellerState, bot.ladder.Channel, bot.intents.Asked, Intent and Language,
bot.message_facts' facts, bot.consent.Method): storage depends on nothing above it.
The tables' own statuses and kinds live beside their records (messages.Status, ladders.StepStatus,
matches.MatchStatus, sending_numbers.NumberStatus, suppressions.SuppressionKind and SuppressionReason,
webhooks.DeliveryStatus), a deal's property type in storage.scoring (the buyers' bit order).
"""

from __future__ import annotations

from enum import StrEnum


class Asked(StrEnum):
    """The question the bot asked last (a contact's ``asked``): it tells how the next reply reads.
    bot.intents re-exports it."""

    INTEREST = "interest"  # "would you consider an offer?"
    CONDITION = "condition"  # "what shape is the house in?"
    TIMELINE = "timeline"  # "how soon would you like to sell?"
    PRICE = "price"  # "what price would work for you?"
    OFFER = "offer"  # the bot just made an offer


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class ConsentMethod(StrEnum):
    """How consent was given (a consent evidence's ``method``); bot.consent re-exports it as Method."""

    WEB_FORM = "web_form"
    SMS_KEYWORD = "sms_keyword"
    VERBAL = "verbal"
    WRITTEN = "written"
    INQUIRY = "inquiry"
    EXISTING_RELATIONSHIP = "existing_relationship"
    IMPORT = "import"
    ASSERTED = "asserted"  # not accepted as input: the flag without evidence


class DealStatus(StrEnum):
    OPEN = "open"  # a lead's deal: the conversation is pricing it
    ACCEPTED = "accepted"  # the seller agreed at a price; buyers are being matched
    MARKETED = "marketed"  # at least one buyer was alerted


# What a seller's message means (an inbound message's ``intent``); bot.intents re-exports it.
# A comment, not a docstring: the OpenAPI document would publish a docstring.
class Intent(StrEnum):
    OPT_OUT = "opt_out"  # stop contacting this person, on every channel
    OPT_IN = "opt_in"  # consent given again after an opt-out
    HELP = "help"  # carrier HELP/INFO: answer with who we are and how to stop
    WRONG_NUMBER = "wrong_number"  # not the owner / not the person we meant
    NOT_INTERESTED = "not_interested"  # owner, but no (or offer rejected)
    INTERESTED = "interested"  # yes, maybe, "what's your offer?"
    PRICE = "price"  # names a price; `amount` holds it
    TIMELINE = "timeline"  # says when; `timeline` holds it
    CALLBACK = "callback"  # wants a phone call from a person
    QUESTION = "question"  # asks something we did not classify further
    UNKNOWN = "unknown"  # anything else, including answers to CONDITION


class Language(StrEnum):
    """What a seller is written to in (a contact's ``language``; None: not known yet, English)."""

    EN = "en"
    FR = "fr"


# What a seller told us about the property and themselves (a deal's facts); bot.message_facts reads
# them from messages and re-exports them.


class Occupancy(StrEnum):
    VACANT = "vacant"
    OWNER = "owner"  # the owner lives there
    TENANT = "tenant"  # rented out


class Motivation(StrEnum):
    RELOCATING = "relocating"
    INHERITED = "inherited"
    DIVORCE = "divorce"
    BEHIND_ON_PAYMENTS = "behind_on_payments"
    DOWNSIZING = "downsizing"
    HEALTH = "health"
    LANDLORD_TIRED = "landlord_tired"
    OTHER = "other"  # retiring, needs the money


class Relationship(StrEnum):
    """Who is writing, relative to the property."""

    OWNER = "owner"
    SPOUSE = "spouse"
    EXECUTOR = "executor"  # also a liquidator or a power of attorney
    FAMILY = "family"
    TENANT = "tenant"
    NOT_OWNER = "not_owner"


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
