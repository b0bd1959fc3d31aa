"""The company's answers to seller questions: one per topic, in English and French.

An answer is a small template with the variables every seller message has (``company``,
``agent_name``, ``seller_name``, ``address``, ``city``), rendered in the same sandbox as the
message templates (bot.templates). The product ships a default for every topic; an operator
replaces one with ``PUT /api/answers/{topic}`` (the service stores it, storage/answers.py).
The bot answers briefly and then picks up the question it was asking, so an answer is one
or two sentences and never asks anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from bot.intents import Language, QuestionTopic

# The topics a seller's question is read as, in the order the API lists them.
TOPICS: Final[tuple[str, ...]] = tuple(topic.value for topic in QuestionTopic)

# The variables an answer may use: those every seller message has (outbox.common_variables
# without the numbers, which are not known in every state).
ANSWER_VARIABLES: Final[frozenset[str]] = frozenset({"company", "agent_name", "seller_name", "address", "city"})

# An answer is the first part of one SMS; the question that follows needs room too.
MAX_ANSWER_LENGTH: Final = 400


@dataclass(frozen=True, slots=True)
class Answer:
    topic: str
    text: str
    text_fr: str
    is_default: bool = True

    def in_language(self, language: Language | None) -> str:
        return self.text_fr if language == Language.FR else self.text


_DEFAULTS_EN: Final = {
    "who": "This is {{ agent_name }} with {{ company }}. We're a local company that buys houses directly "
    "from owners, for cash.",
    "how_got_number": "Your number came up in public property records and marketing lists for homes in the "
    "area. If you'd rather not hear from {{ company }}, reply STOP and we won't text again.",
    "process": "It's simple: a few quick questions about the house, then {{ company }} makes you a cash offer. "
    "No showings, no repairs, and you pick the closing date.",
    "fees": "No fees and no commissions: {{ company }} buys directly, so the offer is what you get. "
    "We cover the usual closing costs.",
    "closing_speed": "{{ company }} can close in as little as 2-3 weeks, or later if you need more time. "
    "You choose the date.",
    "agent": "We're not real estate agents and we don't list houses. {{ company }} buys them directly "
    "with our own funds.",
    "legit": "Fair question! You're texting with {{ company }}'s assistant for {{ agent_name }}, a real person "
    "who reads every conversation. We're a real local buyer, and everything is in a written purchase "
    "agreement you can have a lawyer review.",
    "proof_of_funds": "Yes, {{ company }} pays cash, and we'll send proof of funds with our written offer.",
    "offer_basis": "Our offer is based on what similar homes nearby sold for, minus the repairs the house "
    "needs and our costs. {{ company }} is happy to walk you through the numbers.",
    "next_steps": "Next, {{ company }} sends a written offer. If it works for you, we sign, a title company "
    "or lawyer handles the closing, and you get paid at closing.",
}

_DEFAULTS_FR: Final = {
    "who": "Ici {{ agent_name }} de {{ company }}. Nous sommes une entreprise locale qui achète des maisons "
    "directement aux propriétaires, comptant.",
    "how_got_number": "Votre numéro vient des registres publics et de listes de propriétés du secteur. "
    "Si vous préférez ne plus avoir de nouvelles de {{ company }}, répondez ARRET.",
    "process": "C'est simple : quelques questions sur la maison, puis {{ company }} vous fait une offre "
    "comptant. Pas de visites, pas de réparations, et vous choisissez la date.",
    "fees": "Aucuns frais ni commission : {{ company }} achète directement, l'offre est ce que vous recevez. "
    "Nous payons les frais de clôture habituels.",
    "closing_speed": "{{ company }} peut conclure en 2 à 3 semaines, ou plus tard si vous avez besoin de "
    "temps. Vous choisissez la date.",
    "agent": "Nous ne sommes pas des courtiers et nous n'inscrivons pas de maisons. {{ company }} achète "
    "directement, avec ses propres fonds.",
    "legit": "Bonne question! Vous écrivez à l'assistant de {{ agent_name }} chez {{ company }}, une vraie "
    "personne qui lit chaque conversation. Tout est dans une promesse d'achat écrite que votre notaire "
    "peut vérifier.",
    "proof_of_funds": "Oui, {{ company }} paie comptant, et nous joignons une preuve de fonds à notre offre "
    "écrite.",
    "offer_basis": "Notre offre se base sur les ventes de maisons semblables du secteur, moins les "
    "réparations et nos frais. {{ company }} peut vous expliquer les chiffres.",
    "next_steps": "Ensuite, {{ company }} vous envoie une offre écrite. Si elle vous convient, on signe, le "
    "notaire s'occupe de la vente et vous êtes payé à la signature.",
}

DEFAULTS: Final = MappingProxyType(
    {topic: Answer(topic, _DEFAULTS_EN[topic], _DEFAULTS_FR[topic]) for topic in TOPICS}
)


def merged(stored: dict[str, Answer]) -> list[Answer]:
    """Every topic's answer in TOPICS order: the operator's where stored, else the default."""
    return [stored.get(topic, DEFAULTS[topic]) for topic in TOPICS]
