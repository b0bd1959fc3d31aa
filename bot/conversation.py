"""The seller conversation as a pure function: ``decide(conversation, event) -> Decision``.

The service loads a contact's snapshot (a ``Conversation``), turns what happened into an
event, and stores what ``decide`` answers: the next snapshot and a tuple of effects, which
are plain data applied in order (so a confirmation listed after ``CancelQueued`` is not
itself cancelled). Nothing here reads a clock, a database or the network.

A seller's reply goes through fixed steps (docs/conversation.md draws the machine):

1. Opted out: only START (back in) and HELP (answered) are heard; everything else is
   ignored. STOP from any other state opts out at once.
2. HELP is answered in every state. START while subscribed changes nothing.
3. Facts the reply carries (timeline, a price, the answer to "what shape is it in?")
   are recorded whatever happens next.
4. A person has the conversation, the lead gave no consent, or the seller is angry: the
   bot says nothing (anger and no-consent hand the conversation to a person).
5. Otherwise ``TRANSITIONS[state][intent]`` names what to do and where to go.

A reply that the machine acts on also ends a running follow-up ladder: the seller
engaged, so ``contacted`` and ``nurture`` move on (to ``engaged`` at least).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from bot.intents import (
    Asked,
    Handoff,
    Intent,
    Language,
    Motivation,
    NegotiationMove,
    Occupancy,
    ReadFacts,
    Reading,
    Relationship,
)
from bot.ladder import Channel
from bot.offers import DEFAULT_STRATEGY, Move, OfferStrategy, Pricing, price_deal, respond_to_price
from bot.states import (
    DEAL_AGREED_STATES,
    LADDER_ACTIVE_STATES,
    OFFER_STATES,
    SellerState,
)

# The free-text answer to "what shape is the house in?" goes into the deal brief; a
# seller's essay does not need to.
MAX_CONDITION_LENGTH = 500


class Template(StrEnum):
    ACK = "seller_ack"
    ASK_CONDITION = "seller_ask_condition"
    ASK_TIMELINE = "seller_ask_timeline"
    ASK_PRICE = "seller_ask_price"
    OFFER = "seller_offer"
    COUNTER = "seller_counter"
    FINAL_OFFER = "seller_final_offer"
    ACCEPTED = "seller_accepted"
    HELP = "seller_help"
    OPTOUT_CONFIRM = "seller_optout_confirm"
    OPTIN_CONFIRM = "seller_optin_confirm"
    WRONG_NUMBER = "seller_wrong_number"
    NOT_INTERESTED = "seller_not_interested"
    ASK_INTEREST = "seller_ask_interest"
    CONFIRM_PRICE = "seller_confirm_price"
    HOLD = "seller_hold"
    OFFER_REMINDER = "seller_offer_reminder"
    ANYTHING_ELSE = "seller_anything_else"


_NO_VARIABLES: Mapping[str, object] = MappingProxyType({})


# --- the snapshot -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Facts:
    """What we know about the property and the seller's plans (the deal brief's part)."""

    condition: str | None = None
    timeline: str | None = None
    asking_price: int | None = None
    motivation: Motivation | None = None
    repairs: str | None = None  # what needs work, as the seller put it
    repair_cost: int | None = None  # the seller's repair figure (never the deal's repair_estimate)
    occupancy: Occupancy | None = None
    relationship: Relationship | None = None  # who writes

    def merged(self, newer: Facts) -> Facts:
        """These facts with every field ``newer`` knows replacing ours."""
        return dataclasses.replace(
            self,
            **{
                f.name: getattr(newer, f.name)
                for f in dataclasses.fields(newer)
                if getattr(newer, f.name) is not None
            },
        )


@dataclass(frozen=True, slots=True)
class OfferState:
    """The offer on the table: the ceiling, the opening, what we offer now, counters used."""

    mao: int
    opening: int
    current: int
    rounds: int


@dataclass(frozen=True, slots=True)
class Conversation:
    """One contact's conversation (with its current deal's numbers), as the service loads it.

    ``offer`` is the offer made to the seller, None until one is sent. ``asked`` is what
    the bot last asked, which the reply classifier reads answers against.
    """

    state: SellerState
    consent: bool
    needs_human: bool = False
    asked: Asked | None = None
    unknown_streak: int = 0  # unknown replies in a row
    facts: Facts = Facts()
    arv: int | None = None
    repair_estimate: int | None = None
    strategy: OfferStrategy = DEFAULT_STRATEGY
    offer: OfferState | None = None
    state_before_opt_out: SellerState | None = None
    language: Language = Language.EN  # what the seller is answered in

    def evolve(self, **changes: Any) -> Conversation:
        return dataclasses.replace(self, **changes)


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadSubmitted:
    """The lead was stored: start the ladder (with consent) or stay silent (without)."""


@dataclass(frozen=True, slots=True)
class ReplyReceived:
    """The seller wrote to us; ``reading`` is bot.intents.classify's view of it."""

    reading: Reading
    channel: Channel


@dataclass(frozen=True, slots=True)
class ProviderOptOut:
    """Twilio error 21610 or an email unsubscribe: opted out, no confirmation message."""

    channel: Channel


@dataclass(frozen=True, slots=True)
class HandoffRequested:
    """An operator takes the conversation over."""

    reason: str


@dataclass(frozen=True, slots=True)
class ResumeRequested:
    """An operator gives the conversation back to the bot."""


@dataclass(frozen=True, slots=True)
class DealRepriced:
    """An operator set the deal's numbers (the values after the change, None = unknown)."""

    arv: int | None
    repair_estimate: int | None


@dataclass(frozen=True, slots=True)
class DealMarketed:
    """Buyer matching alerted buyers to the accepted deal."""


@dataclass(frozen=True, slots=True)
class DealClosed:
    """The accepted deal closed."""


Event = (
    LeadSubmitted
    | ReplyReceived
    | ProviderOptOut
    | HandoffRequested
    | ResumeRequested
    | DealRepriced
    | DealMarketed
    | DealClosed
)


# --- effects ------------------------------------------------------------------------------


class LadderKind(StrEnum):
    SELLER = "seller"  # the market's follow-up ladder (intro, follow-ups)
    NURTURE = "nurture"  # bot.ladder.DEFAULT_NURTURE_LADDER: monthly, first touch a month out


@dataclass(frozen=True, slots=True)
class Send:
    """Queue one message from ``template``; the service adds the common variables.

    ``channel`` None means the channel the seller used. ``is_reply`` marks an answer to
    the seller's own message, which may use the policy's reply grace after hours.
    """

    template: str
    variables: Mapping[str, object] = field(default_factory=lambda: _NO_VARIABLES)
    channel: Channel | None = None
    is_reply: bool = True
    answer: str | None = None  # a question topic: its answer (bot.answers) goes first


@dataclass(frozen=True, slots=True)
class StartLadder:
    kind: LadderKind = LadderKind.SELLER


@dataclass(frozen=True, slots=True)
class StopLadder:
    """Cancel the contact's pending ladder steps for good."""

    reason: str


@dataclass(frozen=True, slots=True)
class PauseLadder:
    """Hold the pending steps while a person has the conversation."""


@dataclass(frozen=True, slots=True)
class ResumeLadder:
    """Release the steps PauseLadder held."""


@dataclass(frozen=True, slots=True)
class CancelQueued:
    """Cancel every outbound message queued for the contact and not yet sent."""

    reason: str


@dataclass(frozen=True, slots=True)
class SetNeedsHuman:
    reason: str


@dataclass(frozen=True, slots=True)
class ClearNeedsHuman:
    pass


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What this reply told us; None fields are unchanged (merge into the deal brief)."""

    facts: Facts


@dataclass(frozen=True, slots=True)
class RecordOffer:
    offer: OfferState


@dataclass(frozen=True, slots=True)
class Kpi:
    name: str
    data: Mapping[str, object] = field(default_factory=lambda: _NO_VARIABLES)


@dataclass(frozen=True, slots=True)
class MatchBuyers:
    """Hand the accepted deal to buyer matching."""

    accepted_price: int


Effect = (
    Send
    | StartLadder
    | StopLadder
    | PauseLadder
    | ResumeLadder
    | CancelQueued
    | SetNeedsHuman
    | ClearNeedsHuman
    | RecordFacts
    | RecordOffer
    | Kpi
    | MatchBuyers
)


@dataclass(frozen=True, slots=True)
class Decision:
    conversation: Conversation
    effects: tuple[Effect, ...]


def _send(template: Template, is_reply: bool = True, **variables: object) -> Send:
    return Send(template, MappingProxyType(variables), is_reply=is_reply)


def _kpi(name: str, **data: object) -> Kpi:
    return Kpi(name, MappingProxyType(data))


# --- qualifying questions -----------------------------------------------------------------

QUESTIONS: tuple[Asked, ...] = (Asked.CONDITION, Asked.TIMELINE, Asked.PRICE)
_QUESTION_TEMPLATE: Mapping[Asked, Template] = {
    Asked.CONDITION: Template.ASK_CONDITION,
    Asked.TIMELINE: Template.ASK_TIMELINE,
    Asked.PRICE: Template.ASK_PRICE,
}
_ASKED_BY_TEMPLATE: Mapping[str, Asked] = {
    **{template: asked for asked, template in _QUESTION_TEMPLATE.items()},
    Template.ASK_INTEREST: Asked.INTEREST,
}
_ANSWERED_BY: Mapping[Asked, Callable[[Facts], object]] = {
    # "needs a new roof, about 20k" answers "what shape is it in?" as well as a description.
    Asked.CONDITION: lambda facts: facts.condition or facts.repairs or facts.repair_cost,
    Asked.TIMELINE: lambda facts: facts.timeline,
    Asked.PRICE: lambda facts: facts.asking_price,
}


def _first_missing(facts: Facts, skip: Asked | None = None) -> Asked | None:
    return next((q for q in QUESTIONS if q is not skip and _ANSWERED_BY[q](facts) is None), None)


def next_question(conv: Conversation) -> Asked | None:
    """The next qualifying question in the order condition, timeline, price, skipping
    what the lead or the seller already told us; None when nothing is left to ask."""
    return _first_missing(conv.facts)


def _condition_answer(conv: Conversation, reading: Reading) -> str | None:
    # bot.intents reads anything but a control reply to "what shape is it in?" as UNKNOWN
    # with the text kept: the contract's closed intent list has no "answer" intent.
    if conv.asked is Asked.CONDITION and reading.intent is Intent.UNKNOWN:
        return reading.text.strip()[:MAX_CONDITION_LENGTH] or None
    return None


def _told(conv: Conversation, reading: Reading) -> Facts:
    """The facts this reply carries (fields it does not speak to stay None): everything the
    reader found in the whole message, the seller's price whatever the intent (a range as its
    midpoint, confirmed before it counts as firm)."""
    read = reading.facts
    # The reader keeps a real answer to "what shape is it in?" as the condition ("k" is none);
    # a reading made without facts falls back to the answer's text.
    substantial = len(reading.text.split()) > 1 or len(reading.text.strip()) > 4
    answer = _condition_answer(conv, reading) if read == ReadFacts() and substantial else None
    return Facts(
        condition=read.condition or answer,
        timeline=reading.timeline or read.timeline,
        asking_price=reading.amount,
        motivation=read.motivation,
        repairs=read.repairs,
        repair_cost=read.repair_cost,
        occupancy=read.occupancy,
        relationship=read.relationship,
    )


# A message of at least this many words shows the language the seller writes in; "ok" or
# "315" does not.
_LANGUAGE_EVIDENCE_WORDS = 3


def language_after(current: Language, reading: Reading) -> Language:
    """The language to answer in after this reply: French as soon as the seller writes French,
    back to English only on an English message of a few words."""
    if reading.language == Language.FR:
        return Language.FR
    if len(reading.text.split()) >= _LANGUAGE_EVIDENCE_WORDS:
        return reading.language
    return current


# --- what the machine does ----------------------------------------------------------------

Step = tuple[Conversation, list[Effect]]


def _hand_over(conv: Conversation, reason: str) -> Step:
    """A person takes over; the bot is silent until ResumeRequested (or DealRepriced
    gives a conversation waiting for numbers its offer)."""
    if conv.needs_human:
        return conv, []
    return conv.evolve(needs_human=True), [SetNeedsHuman(reason)]


def _offer_variables(amount: int, previous: int | None, mao: int) -> dict[str, object]:
    variables: dict[str, object] = {"offer": amount, "final": amount >= mao}
    if previous is not None:
        variables["previous_offer"] = previous
    return variables


def _pricing(conv: Conversation) -> Pricing:
    return price_deal(
        arv=conv.arv,
        repair_estimate=conv.repair_estimate,
        strategy=conv.strategy,
        asking_price=conv.facts.asking_price,
    )


def _make_offer(conv: Conversation, *, is_reply: bool) -> Step:
    """Price the deal (CONTRACT.md "Offer arithmetic") and send the opening offer, or wait
    in ``qualifying`` for a person when there is no ARV or the deal is not viable."""
    pricing = _pricing(conv)
    if pricing.reason is not None:
        return _hand_over(conv.evolve(state=SellerState.QUALIFYING, asked=None), pricing.reason)
    assert pricing.mao is not None and pricing.opening is not None  # viable means both are set
    offer = OfferState(mao=pricing.mao, opening=pricing.opening, current=pricing.opening, rounds=0)
    variables = _offer_variables(offer.current, None, offer.mao)
    return conv.evolve(state=SellerState.OFFER_SENT, asked=Asked.OFFER, offer=offer), [
        RecordOffer(offer),
        _send(Template.OFFER, is_reply, **variables),
        _kpi("offer:sent", amount=offer.current, round=0, final=variables["final"]),
    ]


def _advance(conv: Conversation, *, is_reply: bool, skip: Asked | None = None) -> Step:
    """Ask the next missing question, or make the offer when none is left."""
    question = _first_missing(conv.facts, skip)
    if question is None:
        return _make_offer(conv, is_reply=is_reply)
    return conv.evolve(state=SellerState.QUALIFYING, asked=question), [
        _send(_QUESTION_TEMPLATE[question], is_reply)
    ]


def _says_something(conv: Conversation, reading: Reading) -> bool:
    """An unknown reply that still told us a fact (or answered the condition question)."""
    return _told(conv, reading) != Facts()


def _qualify(conv: Conversation, reading: Reading) -> Step:
    if reading.intent is Intent.UNKNOWN and not _says_something(conv, reading):
        return _reprompt(conv, reading)
    conv = conv.evolve(unknown_streak=0)
    if reading.amount_range is not None and reading.amount is not None:
        return _confirm_price(conv, reading.amount)
    # A yes to "what price?" (or to "would $X work?") confirms the price we have, or asks
    # us to make the offer ("just make me an offer"): either way, do not ask again.
    confirmed = conv.asked is Asked.PRICE and reading.intent is Intent.INTERESTED
    price = reading.amount if reading.amount is not None else (conv.facts.asking_price if confirmed else None)
    if price is not None:
        accepted = _accept_named_price(conv, price)
        if accepted is not None:
            return accepted
    return _advance(conv, is_reply=True, skip=Asked.PRICE if confirmed else None)


def _confirm_price(conv: Conversation, amount: int) -> Step:
    """"mid 300s": recorded as its midpoint, and asked back before it counts as a price."""
    state = conv.state if conv.state in OFFER_STATES else SellerState.QUALIFYING
    return conv.evolve(state=state, asked=Asked.PRICE), [_send(Template.CONFIRM_PRICE, amount=amount)]


def _accept_named_price(conv: Conversation, price: int) -> Step | None:
    """CONTRACT.md: a price the seller names at or under mao, before any offer, is accepted
    at the seller's price (when the deal can be priced at all)."""
    pricing = _pricing(conv)
    if pricing.reason is not None or pricing.mao is None or price > pricing.mao:
        return None
    offer = OfferState(mao=pricing.mao, opening=price, current=price, rounds=0)
    return _accept(conv, offer, price)


def _accept(conv: Conversation, offer: OfferState, price: int) -> Step:
    accepted = dataclasses.replace(offer, current=price)
    return conv.evolve(state=SellerState.ACCEPTED, asked=None, offer=accepted), [
        StopLadder("accepted"),
        RecordOffer(accepted),
        _send(Template.ACCEPTED, accepted_price=price),
        _kpi("offer:accepted", price=price),
        MatchBuyers(price),
    ]


def _accept_current(conv: Conversation, reading: Reading) -> Step:
    """A yes to the offer on the table (or to "would $X work?" after a range: that price)."""
    offer = conv.offer
    if offer is None:
        return _hand_over(conv, "offer_missing")
    if conv.asked is Asked.PRICE and conv.facts.asking_price is not None:
        return _counter(conv.evolve(asked=Asked.OFFER), offer, conv.facts.asking_price)
    if reading.intent is Intent.INTERESTED and reading.move is not NegotiationMove.ACCEPT:
        # "thinking about it", "we're interested": warm, but not a yes to this number.
        return conv, [_pending_prompt(conv) or _send(Template.ACK)]
    if offer.current > offer.mao:
        return _hand_over(conv, "offer_above_mao")  # the deal was re-priced under our offer
    return _accept(conv, offer, offer.current)


def _negotiate(conv: Conversation, reading: Reading) -> Step:
    """The seller named a price (or asked for more without one) while an offer is out."""
    offer = conv.offer
    if offer is None:
        return _hand_over(conv, "offer_missing")
    if reading.amount is not None and reading.amount_range is not None:
        return _confirm_price(conv, reading.amount)
    if reading.amount is None:
        if reading.move is NegotiationMove.TOO_LOW:
            return _counter(conv, offer, None)  # "can you do better?": meet them part-way
        return conv.evolve(asked=Asked.PRICE), [_send(Template.ASK_PRICE)]
    return _counter(conv, offer, reading.amount)


def _by_move(conv: Conversation, reading: Reading) -> Step:
    """How the seller negotiates while an offer is out, whatever the intent says ("c'est trop
    bas" reads as a no, "ok deal" as a yes): a number is answered by the offer arithmetic,
    "too low" is met part-way or held at the ceiling, a bare "deal" accepts the offer."""
    if reading.move is NegotiationMove.ACCEPT and reading.amount is None:
        return _accept_current(conv, reading)
    return _negotiate(conv, reading)


def _counter(conv: Conversation, offer: OfferState, price: int | None) -> Step:
    """Answer ``price`` (None: "more, please") by CONTRACT.md's offer arithmetic: accept at or
    under mao, else half-way to it, mao on the last round; at the ceiling, hold with a reason."""
    response = respond_to_price(
        seller_price=offer.mao + 1 if price is None else price,
        last_offer=offer.current,
        mao=offer.mao,
        rounds_used=offer.rounds,
        strategy=conv.strategy,
    )
    if response.move is Move.ACCEPT and price is not None:
        return _accept(conv, offer, price)
    if response.move is Move.EXHAUSTED or response.amount is None:
        if offer.current > offer.mao:
            return _hand_over(conv, "offer_above_mao")
        held = conv.evolve(state=SellerState.NEGOTIATING, asked=Asked.OFFER)
        return held, [_send(Template.HOLD, offer=offer.current)]
    countered = OfferState(offer.mao, offer.opening, response.amount, response.round)
    variables = _offer_variables(countered.current, offer.current, offer.mao)
    template = Template.FINAL_OFFER if response.move is Move.FINAL else Template.COUNTER
    return conv.evolve(state=SellerState.NEGOTIATING, asked=Asked.OFFER, offer=countered), [
        RecordOffer(countered),
        _send(template, **variables),
        _kpi(
            "offer:sent", amount=countered.current, round=countered.rounds, final=variables["final"]
        ),
    ]


def _reprompt(conv: Conversation, reading: Reading) -> Step:
    """An unknown reply: ask the pending question again; the second in a row goes to a person."""
    streak = conv.unknown_streak + 1
    conv = conv.evolve(unknown_streak=streak)
    if streak >= 2:
        return _hand_over(conv, "unknown_twice")
    return conv, [_pending_prompt(conv) or _send(Template.ACK)]


def _pending_prompt(conv: Conversation) -> Send | None:
    """What the bot was waiting for, asked again (in other words: the service picks a
    phrasing the seller has not seen)."""
    if conv.asked in _QUESTION_TEMPLATE:
        return _send(_QUESTION_TEMPLATE[conv.asked])  # type: ignore[index]
    if conv.asked is Asked.OFFER and conv.offer is not None and conv.state in OFFER_STATES:
        return _send(Template.OFFER_REMINDER, offer=conv.offer.current)
    if conv.asked is Asked.INTEREST and conv.state in _INTEREST_STATES:
        return _send(Template.ASK_INTEREST)
    return None


# Where "would you consider an offer?" is the open question.
_INTEREST_STATES = frozenset(
    {SellerState.CONTACTED, SellerState.ENGAGED, SellerState.NURTURE, SellerState.NOT_INTERESTED}
)


def _follow_up(conv: Conversation) -> Send:
    """After answering a question: pick up where we were (the question still open, the
    offer on the table, the interest question), or invite more questions."""
    if conv.state is SellerState.QUALIFYING and conv.asked is not None:
        question = conv.asked if conv.asked in QUESTIONS and not _ANSWERED_BY[conv.asked](conv.facts) else None
        question = question or _first_missing(conv.facts)
        if question is not None:
            return _send(_QUESTION_TEMPLATE[question])
    if conv.state in _INTEREST_STATES:
        return _send(Template.ASK_INTEREST)
    return _pending_prompt(conv) or _send(Template.ANYTHING_ELSE)


def _answer(conv: Conversation, reading: Reading) -> Step:
    """A question: answered from the company's answers, then the open question again; one the
    reader could not place goes to a person, the question shown on the dashboard."""
    if reading.question_topic is None:
        return _hand_over(conv, _question_reason(reading))
    follow = _follow_up(conv)
    if follow.template in _ASKED_BY_TEMPLATE:
        conv = conv.evolve(asked=_ASKED_BY_TEMPLATE[follow.template])
    return conv, [dataclasses.replace(follow, answer=reading.question_topic.value)]


_MAX_REASON_TEXT = 160
# Told we have the wrong number, or never started: a question there is not ours to answer.
_SILENT_STATES = frozenset({SellerState.WRONG_NUMBER, SellerState.NEW, SellerState.NO_CONSENT})


def _question_reason(reading: Reading) -> str:
    text = " ".join(reading.text.split())[:_MAX_REASON_TEXT]
    return f"question: {text}" if text else Intent.QUESTION.value


def _with_answer(reading: Reading, step: Step) -> Step:
    """A reply that asks something besides (a price and "how fast can you close?"): its answer
    rides on the first message the act sends, or on a follow-up when the act sends none."""
    conv, effects = step
    topic = reading.question_topic
    if topic is None or conv.needs_human or reading.intent is Intent.QUESTION or conv.state in _SILENT_STATES:
        return step
    at = next((i for i, e in enumerate(effects) if isinstance(e, Send)), None)
    if at is None:
        answered, more = _answer(conv, reading)
        return answered, [*effects, *more]
    effects = list(effects)
    effects[at] = dataclasses.replace(effects[at], answer=topic.value)  # type: ignore[arg-type]
    return conv, effects


def _close(conv: Conversation, reading: Reading) -> Step:
    """The first no: a polite close, then the long-term nurture ladder."""
    return conv.evolve(asked=Asked.INTEREST), [
        CancelQueued("not_interested"),
        _send(Template.NOT_INTERESTED),
        StartLadder(LadderKind.NURTURE),
    ]


def _let_go(conv: Conversation, reading: Reading) -> Step:
    """No again, while in nurture: stop writing; they have had the polite close."""
    return conv.evolve(asked=None), [CancelQueued("not_interested")]


def _apologise(conv: Conversation, reading: Reading) -> Step:
    # The apology promises this number is never texted again; cancel what is queued first.
    return conv.evolve(asked=None), [
        StopLadder("wrong_number"),
        CancelQueued("wrong_number"),
        _send(Template.WRONG_NUMBER),
    ]


def _acknowledge(conv: Conversation, reading: Reading) -> Step:
    return conv, [_send(Template.ACK)]


def _hand_over_on(conv: Conversation, reading: Reading) -> Step:
    return _hand_over(conv, reading.intent.value)


def _note(conv: Conversation, reading: Reading) -> Step:
    return conv, []


class Act(StrEnum):
    QUALIFY = "qualify"  # record the answer; ask the next question or make the offer
    NEGOTIATE = "negotiate"  # answer a price by the offer arithmetic
    ACCEPT = "accept"  # a yes to the offer on the table
    CLOSE = "close"  # polite close and the nurture ladder
    LET_GO = "let_go"  # stop, silently
    APOLOGISE = "apologise"  # wrong number: sorry, and never again
    ANSWER = "answer"  # a question: the company's answer, then the open question again
    ACKNOWLEDGE = "acknowledge"  # "thanks, got it"
    REPROMPT = "reprompt"  # unknown: ask again; twice in a row, a person takes over
    HAND_OVER = "hand_over"  # a person takes over; the bot is silent
    NOTE = "note"  # keep the facts, say nothing


_ACTS: Mapping[Act, Callable[[Conversation, Reading], Step]] = {
    Act.QUALIFY: _qualify,
    Act.NEGOTIATE: _negotiate,
    Act.ACCEPT: _accept_current,
    Act.CLOSE: _close,
    Act.LET_GO: _let_go,
    Act.APOLOGISE: _apologise,
    Act.ANSWER: _answer,
    Act.ACKNOWLEDGE: _acknowledge,
    Act.REPROMPT: _reprompt,
    Act.HAND_OVER: _hand_over_on,
    Act.NOTE: _note,
}

# The states these acts may move to, when the rule does not name one (else: stay).
ACT_OUTCOMES: Mapping[Act, frozenset[SellerState]] = {
    # A price at or under mao is accepted at once, even before the offer.
    Act.QUALIFY: frozenset({SellerState.QUALIFYING, SellerState.OFFER_SENT, SellerState.ACCEPTED}),
    Act.NEGOTIATE: frozenset({SellerState.NEGOTIATING, SellerState.ACCEPTED}),
    Act.ACCEPT: frozenset({SellerState.ACCEPTED, SellerState.NEGOTIATING}),
}


@dataclass(frozen=True, slots=True)
class Rule:
    act: Act
    to: SellerState | None = None  # None: the act decides (ACT_OUTCOMES), else stays


# --- the table: (state, intent) -> (act, state) -------------------------------------------

_QUALIFY, _NOTE = Rule(Act.QUALIFY), Rule(Act.NOTE)


def _offer_rows(here: SellerState) -> dict[Intent, Rule]:
    return {
        Intent.PRICE: Rule(Act.NEGOTIATE),
        Intent.INTERESTED: Rule(Act.ACCEPT),
        Intent.TIMELINE: Rule(Act.ACKNOWLEDGE, here),
        Intent.NOT_INTERESTED: Rule(Act.CLOSE, SellerState.NURTURE),
        Intent.WRONG_NUMBER: Rule(Act.APOLOGISE, SellerState.WRONG_NUMBER),
        Intent.CALLBACK: Rule(Act.HAND_OVER, here),
        Intent.QUESTION: Rule(Act.ANSWER, here),
        Intent.UNKNOWN: Rule(Act.REPROMPT, here),
    }


def _agreed_rows(here: SellerState) -> dict[Intent, Rule]:
    # The deal is agreed: anything that could change it is for a person.
    return {
        Intent.PRICE: Rule(Act.HAND_OVER, here),
        Intent.NOT_INTERESTED: Rule(Act.HAND_OVER, here),
        Intent.WRONG_NUMBER: Rule(Act.HAND_OVER, here),
        Intent.CALLBACK: Rule(Act.HAND_OVER, here),
        Intent.QUESTION: Rule(Act.ANSWER, here),  # "what happens next?" has an answer
    }


# Intents not listed for a state: NOTE (facts kept, nothing said, state kept). OPT_OUT,
# OPT_IN and HELP never reach the table (steps 1-2 of the module doc).
TRANSITIONS: Mapping[SellerState, Mapping[Intent, Rule]] = {
    SellerState.CONTACTED: {
        Intent.INTERESTED: _QUALIFY,
        Intent.PRICE: _QUALIFY,
        Intent.TIMELINE: _QUALIFY,
        Intent.NOT_INTERESTED: Rule(Act.CLOSE, SellerState.NURTURE),
        Intent.WRONG_NUMBER: Rule(Act.APOLOGISE, SellerState.WRONG_NUMBER),
        Intent.CALLBACK: Rule(Act.HAND_OVER, SellerState.ENGAGED),
        Intent.QUESTION: Rule(Act.ANSWER, SellerState.ENGAGED),
        Intent.UNKNOWN: _QUALIFY,  # facts in it are an answer; else asked again
    },
    SellerState.NURTURE: {
        Intent.INTERESTED: _QUALIFY,
        Intent.PRICE: _QUALIFY,
        Intent.TIMELINE: _QUALIFY,
        Intent.NOT_INTERESTED: Rule(Act.LET_GO, SellerState.NOT_INTERESTED),
        Intent.WRONG_NUMBER: Rule(Act.APOLOGISE, SellerState.WRONG_NUMBER),
        Intent.CALLBACK: Rule(Act.HAND_OVER, SellerState.ENGAGED),
        Intent.QUESTION: Rule(Act.ANSWER, SellerState.ENGAGED),
        Intent.UNKNOWN: _QUALIFY,
    },
    SellerState.ENGAGED: {
        Intent.INTERESTED: _QUALIFY,
        Intent.PRICE: _QUALIFY,
        Intent.TIMELINE: _QUALIFY,
        Intent.NOT_INTERESTED: Rule(Act.CLOSE, SellerState.NURTURE),
        Intent.WRONG_NUMBER: Rule(Act.APOLOGISE, SellerState.WRONG_NUMBER),
        Intent.CALLBACK: Rule(Act.HAND_OVER, SellerState.ENGAGED),
        Intent.QUESTION: Rule(Act.ANSWER, SellerState.ENGAGED),
        Intent.UNKNOWN: _QUALIFY,
    },
    SellerState.QUALIFYING: {
        Intent.INTERESTED: _QUALIFY,
        Intent.PRICE: _QUALIFY,
        Intent.TIMELINE: _QUALIFY,
        Intent.UNKNOWN: _QUALIFY,  # the condition answer, or an unknown (reprompted)
        Intent.NOT_INTERESTED: Rule(Act.CLOSE, SellerState.NURTURE),
        Intent.WRONG_NUMBER: Rule(Act.APOLOGISE, SellerState.WRONG_NUMBER),
        Intent.CALLBACK: Rule(Act.HAND_OVER, SellerState.QUALIFYING),
        Intent.QUESTION: Rule(Act.ANSWER, SellerState.QUALIFYING),
    },
    **{state: _offer_rows(state) for state in OFFER_STATES},
    **{state: _agreed_rows(state) for state in DEAL_AGREED_STATES},
    # Back after a no: qualified again from what is known.
    SellerState.NOT_INTERESTED: {
        Intent.INTERESTED: _QUALIFY,
        Intent.PRICE: _QUALIFY,
        Intent.TIMELINE: _QUALIFY,
        Intent.WRONG_NUMBER: Rule(Act.APOLOGISE, SellerState.WRONG_NUMBER),
        Intent.CALLBACK: Rule(Act.HAND_OVER, SellerState.ENGAGED),
        Intent.QUESTION: Rule(Act.ANSWER, SellerState.ENGAGED),
    },
    # Told "will not text it again": whatever they write next, a person reads it.
    SellerState.WRONG_NUMBER: {
        Intent.INTERESTED: Rule(Act.HAND_OVER, SellerState.WRONG_NUMBER),
        Intent.PRICE: Rule(Act.HAND_OVER, SellerState.WRONG_NUMBER),
        Intent.TIMELINE: Rule(Act.HAND_OVER, SellerState.WRONG_NUMBER),
        Intent.CALLBACK: Rule(Act.HAND_OVER, SellerState.WRONG_NUMBER),
        Intent.QUESTION: Rule(Act.HAND_OVER, SellerState.WRONG_NUMBER),
    },
    SellerState.NEW: {},
    SellerState.NO_CONSENT: {},
    SellerState.OPTED_OUT: {},
}

# A reply the table does not answer (anger, a person has it, no consent) still ends the
# ladder: the seller has engaged.
ENGAGED_BY_ANY_REPLY: Mapping[SellerState, SellerState] = {
    SellerState.CONTACTED: SellerState.ENGAGED,
    SellerState.NURTURE: SellerState.ENGAGED,
}


# --- decide -------------------------------------------------------------------------------


def _opt_out(conv: Conversation, channel: Channel, *, confirm: bool) -> Decision:
    if conv.state is SellerState.OPTED_OUT:
        return Decision(conv, ())  # one confirmation, and nothing after it
    effects: list[Effect] = [
        StopLadder("opt_out"),
        CancelQueued("opt_out"),
        _kpi("optout:received", channel=channel.value, source="reply" if confirm else "provider"),
    ]
    if confirm:
        # Carrier practice: a STOP gets exactly one confirmation, on the channel it came by.
        effects.append(Send(Template.OPTOUT_CONFIRM, channel=channel))
    opted_out = conv.evolve(state=SellerState.OPTED_OUT, state_before_opt_out=conv.state)
    return Decision(opted_out, tuple(effects))


def _opt_in(conv: Conversation, channel: Channel) -> Decision:
    before = conv.state_before_opt_out
    # A ladder stopped by the opt-out is not restarted: the seller who wrote START is
    # talking to us now, so they are engaged.
    if before is None or before in LADDER_ACTIVE_STATES:
        before = SellerState.ENGAGED
    back = conv.evolve(state=before, state_before_opt_out=None)
    return Decision(
        back,
        (
            Send(Template.OPTIN_CONFIRM, channel=channel),
            _kpi("optin:received", channel=channel.value),
        ),
    )


def _on_reply(conv: Conversation, event: ReplyReceived) -> Decision:
    reading = event.reading
    conv = conv.evolve(language=language_after(conv.language, reading))
    if conv.state is SellerState.OPTED_OUT:
        if reading.intent is Intent.OPT_IN:
            return _opt_in(conv, event.channel)
        if reading.intent is Intent.HELP:
            return Decision(conv, (_send(Template.HELP),))
        return Decision(conv, ())
    if reading.intent is Intent.OPT_OUT:
        return _opt_out(conv, event.channel, confirm=True)
    if reading.intent is Intent.HELP:
        return Decision(conv, (_send(Template.HELP),))
    if reading.intent is Intent.OPT_IN:
        return Decision(conv, ())  # START while subscribed: nothing to undo

    told = _told(conv, reading)
    effects: list[Effect] = [RecordFacts(told)] if told != Facts() else []
    conv = conv.evolve(facts=conv.facts.merged(told))
    if conv.needs_human:
        step: Step = conv, []
    elif not conv.consent:
        step = _hand_over(conv, "no_consent")  # a person may answer; the bot may not
    elif reading.handoff is not None:
        step = _hand_over(conv, _handoff_reason(reading))
    elif reading.angry and not _answerable_question(reading):
        # A sharp question the company has an answer to ("is this a scam?") is answered.
        step = _hand_over(conv, "angry")
    else:
        step = _with_answer(reading, _by_table(conv, reading))
    after, more = step
    more = [*more, *(_kpi("question:answered", topic=e.answer) for e in more if isinstance(e, Send) and e.answer)]
    if after.state == conv.state and conv.state in ENGAGED_BY_ANY_REPLY:
        after = after.evolve(state=ENGAGED_BY_ANY_REPLY[conv.state])
    if conv.state in LADDER_ACTIVE_STATES and after.state != conv.state:
        effects.append(StopLadder("replied"))
    return Decision(after, (*effects, *more))


def _by_table(conv: Conversation, reading: Reading) -> Step:
    if reading.intent is not Intent.UNKNOWN:
        conv = conv.evolve(unknown_streak=0)
    if conv.state in OFFER_STATES and reading.move is not None:
        return _by_move(conv.evolve(unknown_streak=0), reading)
    rule = TRANSITIONS[conv.state].get(reading.intent, _NOTE)
    step = _ACTS[rule.act](conv, reading)
    if rule.to is not None:
        step = step[0].evolve(state=rule.to), step[1]
    return step


def _answerable_question(reading: Reading) -> bool:
    return reading.intent is Intent.QUESTION and reading.question_topic is not None


def _handoff_reason(reading: Reading) -> str:
    """The reason the dashboard shows: the handoff's name, with the number to call back."""
    assert reading.handoff is not None
    if reading.handoff is Handoff.CALL_REQUEST and reading.callback_phone:
        return f"{reading.handoff.value}: {reading.callback_phone}"
    return reading.handoff.value


def _on_lead(conv: Conversation) -> Decision:
    if conv.state is not SellerState.NEW:
        return Decision(conv, ())
    if not conv.consent:
        return Decision(conv.evolve(state=SellerState.NO_CONSENT), ())
    effects: list[Effect] = [StartLadder()]
    if conv.needs_human:
        effects.append(PauseLadder())  # a person already has this contact
    return Decision(conv.evolve(state=SellerState.CONTACTED, asked=Asked.INTEREST), tuple(effects))


def _on_handoff(conv: Conversation, reason: str) -> Decision:
    after, effects = _hand_over(conv, reason)
    if effects and conv.state in LADDER_ACTIVE_STATES:
        effects.append(PauseLadder())
    return Decision(after, tuple(effects))


def _waiting_for_numbers(conv: Conversation) -> bool:
    # _make_offer leaves exactly this shape when it cannot price: no question pending.
    return conv.state is SellerState.QUALIFYING and conv.asked is None


def _on_resume(conv: Conversation) -> Decision:
    """The bot takes the conversation back where it was: the ladder runs on, a pending
    question is asked again (or the offer made). An offer already out stands: the
    seller's next reply answers it, and repeating it after a person spoke would confuse."""
    if not conv.needs_human:
        return Decision(conv, ())
    conv = conv.evolve(needs_human=False, unknown_streak=0)
    effects: list[Effect] = [ClearNeedsHuman()]
    if conv.state in LADDER_ACTIVE_STATES:
        effects.append(ResumeLadder())
    elif conv.state is SellerState.QUALIFYING and conv.consent:
        conv, more = _advance(conv, is_reply=False)
        effects.extend(more)
    return Decision(conv, tuple(effects))


def _on_reprice(conv: Conversation, event: DealRepriced) -> Decision:
    conv = conv.evolve(arv=event.arv, repair_estimate=event.repair_estimate)
    if _waiting_for_numbers(conv) and conv.consent:
        return _offer_after_reprice(conv)
    if conv.state in OFFER_STATES and conv.offer is not None:
        return _rebase_offer(conv, conv.offer)
    return Decision(conv, ())


def _offer_after_reprice(conv: Conversation) -> Decision:
    """The operator supplied the numbers the conversation was waiting for: offer now."""
    pricing = _pricing(conv)
    if pricing.reason is not None:
        after, effects = _hand_over(conv, pricing.reason)
        return Decision(after, tuple(effects))
    effects: list[Effect] = [ClearNeedsHuman()] if conv.needs_human else []
    after, more = _make_offer(conv.evolve(needs_human=False), is_reply=False)
    return Decision(after, (*effects, *more))


def _rebase_offer(conv: Conversation, offer: OfferState) -> Decision:
    """New numbers while an offer is out: the ceiling moves; an offer already above the new
    ceiling cannot be walked back by the bot."""
    pricing = _pricing(conv)  # the asking price moves the opening, never the ceiling
    if pricing.reason is not None:
        after, effects = _hand_over(conv, pricing.reason)
        return Decision(after, tuple(effects))
    assert pricing.mao is not None  # viable means mao is set
    if offer.current > pricing.mao:
        after, effects = _hand_over(conv, "offer_above_mao")
        return Decision(after, tuple(effects))
    if pricing.mao == offer.mao:
        return Decision(conv, ())
    rebased = dataclasses.replace(offer, mao=pricing.mao)
    return Decision(conv.evolve(offer=rebased), (RecordOffer(rebased),))


def _on_deal_progress(
    conv: Conversation, sources: frozenset[SellerState], to: SellerState
) -> Decision:
    if conv.state not in sources:
        return Decision(conv, ())
    return Decision(conv.evolve(state=to), ())


def decide(conv: Conversation, event: Event) -> Decision:
    """The next snapshot and the effects to apply, in order, for ``event``."""
    match event:
        case ReplyReceived():
            return _on_reply(conv, event)
        case ProviderOptOut(channel=channel):
            return _opt_out(conv, channel, confirm=False)
        case LeadSubmitted():
            return _on_lead(conv)
        case HandoffRequested(reason=reason):
            return _on_handoff(conv, reason)
        case ResumeRequested():
            return _on_resume(conv)
        case DealRepriced():
            return _on_reprice(conv, event)
        case DealMarketed():
            return _on_deal_progress(conv, frozenset({SellerState.ACCEPTED}), SellerState.MARKETED)
        case DealClosed():
            return _on_deal_progress(
                conv, frozenset({SellerState.ACCEPTED, SellerState.MARKETED}), SellerState.CLOSED
            )


# --- the machine's transitions, as data for the diagram -----------------------------------

# The pseudo-state the diagram draws around every state but opted_out.
SUBSCRIBED = "subscribed"


@dataclass(frozen=True, slots=True)
class Transition:
    source: str
    target: str
    trigger: str


def transitions() -> Iterator[Transition]:
    """Every state change the machine can make (staying put is not a transition).

    docs/conversation.md draws exactly these; tests/bot/test_conversation.py keeps the
    two in step and checks that decide() never makes a change missing here.
    """
    for state, rows in TRANSITIONS.items():
        for intent, rule in rows.items():
            targets = {rule.to} if rule.to is not None else ACT_OUTCOMES.get(rule.act, set())
            for target in targets:
                if target != state:
                    yield Transition(state, target, intent.value)
    for state, target in ENGAGED_BY_ANY_REPLY.items():
        for trigger in ("unknown", "angry", "handoff", "no consent", "needs_human"):
            yield Transition(state, target, trigger)
    # While an offer is out the negotiation move decides, whatever the intent.
    for move in NegotiationMove:
        yield Transition(SellerState.OFFER_SENT, SellerState.NEGOTIATING, move.value)
        if move is not NegotiationMove.TOO_LOW:
            for state in OFFER_STATES:
                yield Transition(state, SellerState.ACCEPTED, move.value)
    yield Transition(SellerState.NEW, SellerState.CONTACTED, "LeadSubmitted (consent)")
    yield Transition(SellerState.NEW, SellerState.NO_CONSENT, "LeadSubmitted (no consent)")
    for trigger in ("ResumeRequested", "DealRepriced"):
        yield Transition(SellerState.QUALIFYING, SellerState.OFFER_SENT, trigger)
    yield Transition(SellerState.ACCEPTED, SellerState.MARKETED, "DealMarketed")
    yield Transition(SellerState.ACCEPTED, SellerState.CLOSED, "DealClosed")
    yield Transition(SellerState.MARKETED, SellerState.CLOSED, "DealClosed")
    yield Transition(SUBSCRIBED, SellerState.OPTED_OUT, Intent.OPT_OUT.value)
    yield Transition(SUBSCRIBED, SellerState.OPTED_OUT, "ProviderOptOut")
    yield Transition(SellerState.OPTED_OUT, SUBSCRIBED, Intent.OPT_IN.value)
