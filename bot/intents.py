"""Reply understanding: what a seller's inbound message means.

Pure and table-driven: `classify` turns one message (plus what the bot last
asked) into a `Reading`. The rules are ordered data; the first phase that
matches decides the intent, while everything else is read from the whole
message whatever the intent: the asking price (and a range), the timeline,
the facts (condition, repairs and their cost, occupancy, motivation, who is
writing: bot.message_facts), the question's topic, why a person must take
over, the negotiation move, the language and anger.

Phase order (first match wins):

1. opt-out: a carrier keyword as the whole message (1.0), a clear stop
   phrase (0.95; hostile "go away" style phrases 0.9), a stop word that is
   a clause of its own ("Not selling. STOP") or stands as its own word in a
   short message ("actually STOP", "ok arrêtez"; not "don't stop", "bus
   stop", "stop by"). Opt-out beats everything: a missed opt-out is a legal
   problem.
2. opt-in: YES/OUI only when already opted out; START/UNSTOP always.
3. HELP/INFO/AIDE as the whole message.
4. wrong number (the writer rents the place, "I just rent here", is one),
5. not interested (firm wording; a firm "no" with a price condition, "not
   selling for less than 400k", is a PRICE), 6. callback, 7. price,
8. a question with a known topic (unless it opens with a yes: "Yes, who is
   this?" is interested), 9. asking for our number ("what are you
   offering?") is interested, 10. timeline, 11. soft no ("nope", "not right
   now", and "that's too low": a negotiation move, see `_move`),
12. interested, 13. a question nobody can place, 14. unknown.

`asked` (what the bot last asked) changes how bare answers read:

* PRICE / OFFER: a bare number is a price ("350" -> 350,000); with OFFER a
  number is a counter (or an acceptance: "fine. 290 it is"), a yes accepts.
* CONDITION: anything that is not a control reply (opt-out/in, help, wrong
  number, firm no, callback, price, question) is the *answer*: intent
  UNKNOWN with confidence 0.8 and `text` set (a timeline in it is still
  extracted, but does not make it a TIMELINE), and its words are the
  condition when the condition table knows none of them. The contract's
  intent vocabulary is closed, so there is no "answer" intent; the state
  machine treats a non-control reply as the answer to the question it asked.
  A bare "yes"/"no" is an answer there too ("any repairs?" "no").
* Any other `asked`: an unmatched reply is UNKNOWN at 0.6 (probably an
  answer); with no `asked` it is UNKNOWN at 0.3.

Amounts are read by bot.amounts (the small-number rule, the roles: a repair
figure, an estimate, a phone, a date or a street number is never the price).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.amounts import NO_AMOUNTS, Amounts, read_amounts
from bot.message_facts import (
    NO_FACTS,
    WORD_START,
    Handoff,
    Motivation,
    Occupancy,
    QuestionTopic,
    ReadFacts,
    Relationship,
    handoff_reason,
    question_topic,
    read_facts,
    with_condition_answer,
)
from bot.phones import InvalidPhone, normalise_phone
from bot.text import fold
from storage.enums import Asked, Intent, Language

__all__ = [
    "CARRIER_STOP_KEYWORDS",
    "Asked",
    "Handoff",
    "Intent",
    "Language",
    "Motivation",
    "NegotiationMove",
    "Occupancy",
    "QuestionTopic",
    "ReadFacts",
    "Reading",
    "Relationship",
    "classify",
    "keyword_form",
    "parse_amount",
]


class NegotiationMove(StrEnum):
    TOO_LOW = "too_low"  # "that's too low", "can you do better", "C'est trop bas"
    FIRM = "firm"  # "310 firm", "320 final": `amount` holds it
    CONDITIONAL = "conditional"  # "make it 450 and we have a deal"
    ACCEPT = "accept"  # "ok deal", "fine. 290 it is" (with `amount` when named)
    COUNTER = "counter"  # a plain number while negotiating


@dataclass(frozen=True, slots=True)
class Reading:
    intent: Intent
    confidence: float  # 0..1
    amount: int | None = None  # the asking price in whole dollars, whatever the intent
    timeline: str | None = None  # normalised: "30 days", "asap", "3 months", "next year"
    language: Language = Language.EN
    angry: bool = False  # profanity, hostility, threats: a person takes over
    text: str = ""  # the cleaned text, for the deal brief
    # "mid 300s", "300-350k": `amount` is then the midpoint, to be confirmed, not taken as firm
    amount_range: tuple[int, int] | None = None
    facts: ReadFacts = field(default=NO_FACTS)  # everything read, price and timeline included
    question_topic: QuestionTopic | None = None  # what they asked (None: nothing, or unplaceable)
    handoff: Handoff | None = None  # a person must take over, and why
    callback_phone: str | None = None  # E.164, when they asked for a call and gave a number
    move: NegotiationMove | None = None  # how the message negotiates, if it does


# --- normalisation ---------------------------------------------------------

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_NOT_WORD = re.compile(r"[^a-z0-9$#]+")


def keyword_form(text: str) -> str:
    """The form a whole message is compared to carrier keywords in.

    Case, accents, spaces, punctuation and emoji are dropped: "Stop 🛑",
    " stop." and "STOP!!" all become "stop"; "opt out" becomes "optout".
    """
    return _NOT_KEY.sub("", fold(text))


# Keywords that carriers (CTIA / CRTC) and the TCPA treat as opt-out when
# they are the whole message; French ones for Quebec.
CARRIER_STOP_KEYWORDS: frozenset[str] = frozenset(
    {
        "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke",
        "optout", "arret", "arrete", "arretez", "arreter",
    }
)  # fmt: skip
_OPT_IN_KEYWORDS = frozenset({"start", "unstop"})
_OPT_IN_AFTER_OPT_OUT = _OPT_IN_KEYWORDS | {"yes", "y", "oui"}
_HELP_KEYWORDS = frozenset({"help", "info", "aide"})


@dataclass(frozen=True, slots=True)
class _Rule:
    intent: Intent
    confidence: float
    pattern: re.Pattern[str]


_WORD_START = r"\b"


def _rule(intent: Intent, confidence: float, *patterns: str) -> _Rule:
    r"""One regex for a list of phrases, each starting at a word (\b...) or at ^.

    Speed: classify runs on every inbound message, and one alternation behind a
    shared leading \b is tried at word starts only, instead of every pattern at
    every position.
    """
    if bad := [p for p in patterns if not p.startswith((_WORD_START, "^"))]:
        raise ValueError(f"phrase patterns must start with {_WORD_START} or ^: {bad}")
    union = "|".join(f"(?:{p.removeprefix(_WORD_START)})" for p in patterns)
    return _Rule(intent, confidence, re.compile(f"{WORD_START}(?:{union})"))


# Phrase rules run on the "words" form: folded, apostrophes removed
# ("don't" -> "dont", "m'écrivez" -> "mecrivez"), other punctuation -> space.

_STOP_WORDS = r"(?:stop+|quit|end|cancel|unsubscribe|remove|arret\w*)"
# Words that may surround a stop word without changing what it means: "no. stop it now".
_FILLER = (
    r"(?:please|pls|plz|now|it|all|already|thanks|thank you|thx|immediately|right now|asap|stop+"
    r"|no|just|ok|okay|omg|seriously|svp|merci|stp)"
)

_OPT_OUT = _rule(
    Intent.OPT_OUT,
    0.95,
    rf"^(?:{_FILLER} )*{_STOP_WORDS}(?: {_FILLER})*$",
    r"\b(?<!dont )(?<!do not )(?:stop|quit|cease|enough with) (?:the )?"
    r"(?:texting|txting|texing|messaging|msging|contacting|calling|sending|bothering|emailing"
    r"|spamming|harass\w*|writing|texts|messages|msgs|emails)\b",
    r"\b(?:remove|delete|erase|lose) (?:my|this) #",
    r"\b(?:remove|delete|erase) (?:me|us|my (?:number|num|name|info\w*|phone|contact\w*|cell)"
    r"|this (?:number|phone))\b",
    r"\btake (?:my (?:number|name|info\w*|phone|contact\w*|cell)|this (?:number|phone)) (?:off|out)\b",
    r"\btake me off\b",
    r"\boff (?:your|ur|the|this) (?:\w+ )?list\b",
    r"\bunsub\w*",
    r"^(?:stpo|sotp|srop|stpp|sstop)$",  # a stop typed in a hurry
    r"\bopt ?out\b",
    r"\b(?:dont|do not|never|dnt) (?:ever )?(?:contact|text|txt|message|msg|call|email|e mail"
    r"|write|reach out to) (?:me|us|this|again|anymore|here|(?:my|our) (?:\w+ )?(?:father|mother|dad|mom"
    r"|husband|wife|parents?|family|son|daughter|grand\w*))\b",
    r"\bdo not (?:contact|call|text|txt|message|email)\b",
    r"\b(?:ne )?veux plus (?:recevoir|avoir) (?:de |vos |des |d )?(?:messages|textos?|appels|courriels"
    r"|sms)\b",
    r"\bno more (?:texts|txts|messages|msgs|emails|contact|calls)\b",
    r"\b(?:dont|do not|dnt) want (?:any )?(?:more )?(?:of )?(?:your |these |the )?(?:texts|txts|messages"
    r"|msgs|calls|emails|contact)\b",
    r"\bplus de (?:messages|textos?|courriels|appels|sms)\b",
    r"\blose (?:my|this) (?:number|contact|email)\b",
    r"\b(?:do not call|dnc) (?:list|registry)\b",
    r"\b(?:desabonn\w*|desinscri\w*)",
    r"\bne (?:m ?|me )(?:ecrivez|ecris|contactez|contacte|textez|texte|appelez"
    r"|envoyez) (?:\w+ )?plus\b",
    r"\bne plus me (?:contacter|texter|ecrire|appeler)\b",
    r"\barret(?:ez|e|er) (?:de |d )?(?:m|me|mecrire|mappeler|mecrire|mtexter|me \w+)\b",
    r"\b(?:retirez|enlevez|supprimez|effacez|retire|enleve) (?:moi|mon (?:numero|nom|courriel))\b",
)
# Hostile or indirect ways to say stop: still an opt-out (the TCPA honours
# any reasonable way of revoking consent), a shade less certain.
_SOFT_OPT_OUT = _rule(
    Intent.OPT_OUT,
    0.9,
    r"\bleave (?:me|us|my \w+|them|her|him) alone\b",
    r"\bgo away\b",
    r"\b(?:f+|fu+c?k+|fck|fk|piss|bugger|sod|buzz|back) off\b",
    r"\b(?:f+|fu+c?k+|fck|fk|screw) (?:you|u|yourself|urself)\b",
    r"\bget lost\b",
    r"\b(?:ill|i will|gonna|going to|will) (?:report|block) (?:you|u|this|your)\b",
    r"\breporting (?:you|u|this)\b",
    r"\bthis is harass\w*|\bharassing me\b|\bstop harass\w*",
    r"\blaisse[zr]? (?:moi|nous) tranquilles?\b",
    r"\blache[zr]? (?:moi|nous)\b",
    r"\b(?:fichez|foutez|fiche|fous) (?:moi )?la paix\b",
)
# A stop word that is a whole clause of the message: "Not selling. STOP", "no thanks, please stop".
_STOP_CLAUSE = re.compile(rf"(?:{_FILLER} )*{_STOP_WORDS}(?: {_FILLER})*")
_CLAUSE_BREAK = re.compile(r"[.,!?;:\n]+")
# A carrier keyword standing as its own word in a short message ("actually STOP", "I said
# stop", "ok arrêtez") is an opt-out, unless the words around it give it another sense:
# "don't stop", "bus stop", "stop by", "arrêt de bus", "arrête pas".
_SHORT_MESSAGE_WORDS = 8
_STOP_TOKEN = re.compile(
    r"\b(?:stop+|stopall|unsubscribe|optout|arret|arrete|arretez|arreter|desabonne\w*)\b"
)
_NOT_A_STOP_BEFORE = re.compile(
    r"\b(?:dont|do not|didnt|never|cant|cannot|wont|couldnt|shouldnt|bus|full|pit|truck|rest|next"
    r"|last|first|one|a|the|ne|n|un|l|ever)\s+$"
)
_NOT_A_STOP_AFTER = re.compile(
    r"\s+(?:by|in|over|sign|signs|light|lights|at|being|thinking|worrying|pas|de bus|d autobus"
    r"|dautobus)\b"
)
# In capitals it stands out even in a longer message: "STOP this is the 3rd time I asked you".
_UPPER_STOP = re.compile(r"\b(?:STOP+|STOPALL|UNSUBSCRIBE|CANCEL|QUIT|END|REVOKE|ARR[EÊ]T(?:EZ)?)\b")
_UPPER_STOP_MESSAGE_WORDS = 15
# ... unless the next word makes it a noun or an object: "END OF MONTH works", "CANCEL the lease".
_UPPER_NOT_AFTER = re.compile(
    r"\s+(?:of|the|my|this|that|our|date|unit|lease|by|in|sign|showing|appointment|meeting)\b", re.I
)
_NEGATED_STOP = re.compile(r"\b(?:dont|do not|never|cant|wont|didnt) (?:stop|cancel|quit|end)\b")


def _stop_anywhere(cleaned: str, low: str, words: str) -> bool:
    """A stop keyword as its own word or clause, beyond the phrase rules (see above)."""
    if not _STOP_TOKEN.search(words) and not _UPPER_STOP.search(cleaned):
        return False
    length = words.count(" ") + 1
    if any(_STOP_CLAUSE.fullmatch(_words(part)) for part in _CLAUSE_BREAK.split(low)):
        return True
    if length <= _SHORT_MESSAGE_WORDS:
        for m in _STOP_TOKEN.finditer(words):
            before = _NOT_A_STOP_BEFORE.search(words, 0, m.start())
            if not before and not _NOT_A_STOP_AFTER.match(words, m.end()):
                return True
    if length > _UPPER_STOP_MESSAGE_WORDS or _NEGATED_STOP.search(words):
        return False
    return any(not _UPPER_NOT_AFTER.match(cleaned, m.end()) for m in _UPPER_STOP.finditer(cleaned))


_WRONG_NUMBER = _rule(
    Intent.WRONG_NUMBER,
    0.9,
    r"\b(?:wrong|wrng|worng|wromg) (?:n(?:umb?e?r|um|o|br|mber|umner)\w*|person|persn|guy|lady|house|address"
    r"|contact"
    r"|people|one)\b",
    r"\bwrong ?#|^wrong$",
    r"\b(?:you|u) (?:have|got|ve got|has) the wrong\b",
    r"\b(?:i|we) (?:dont|do not|dnt|doesnt|never|no longer|didnt) (?:own|owned|live)\b",
    r"\bnot (?:my|our|the) (?:house|home|property|place|land|lot)\b",
    r"\bnever (?:owned|lived)\b",
    r"\bno (?:one|body) (?:here )?(?:by|with|named) that name\b",
    r"\b(?:dont|do not) know (?:any \w+|him|her|them|that person)\b",
    r"\b(?:mauvais|faux) (?:numero|num|no|#)\b",
    r"\bpas le bon (?:numero|num|no|monde|personne)\b",
    r"\b(?:je ne suis|jsuis|je suis) pas (?:le |la )?proprietaire\b",
    r"\bne suis pas (?:le |la )?proprietaire\b",
    r"\bvous (?:vous )?(?:etes trompe|avez le mauvais)\w*",
    r"\berreur de (?:numero|num)\b",
    r"\b(?:im|i m|i am|were|we re|we are) not (?:the |an )?owners?\b|\bnot the owner\b",
)

_INTERESTED_WORD = r"(?:int?e?re?s+t?e?d|intrest\w*|intersted|interseted|interes+ee?s?)"
_FIRM_NO = _rule(
    Intent.NOT_INTERESTED,
    0.9,
    rf"\b(?:not|no|nt|dont|no longer|never|pas|plus|nit|noy) (?:really |at all |very |that "
    rf"|too )?{_INTERESTED_WORD}\b",
    r"\buninterested\b",
    r"\bno (?:thanks|thank you|thx|thanx|ty|tks)\b",
    r"\bnon merci\b",
    r"\b(?:not|isnt|is not|aint) (?:for sale|4 sale)\b",
    r"\b(?:not|never|no longer|aint|am not|arent|isnt|wont be) (?:selling|sell)\b"
    r"(?! (?:until|till|til|before|unless|for less|under|below|at (?:that|this) (?:price|number)))",
    r"\b(?:dont|do not|never) (?:want|plan|intend) to sell\b",
    r"\b(?:already|just|recently|we|i|has been|was|been|its|it s|it is|house is|home is"
    r"|property is) sold\b",
    r"\bsold (?:it|the (?:house|home|property|place)|already|last)\b",
    r"\b(?:under|in) contract\b",
    r"\b(?:already )?listed with\b|\balready listed\b|\b(?:its|it s|it is|house is|were|we re"
    r"|we are) listed\b|\blisted (?:\w+ ){0,5}with (?:a |an |my |our )?(?:realtor|agent|broker)\b",
    r"\b(?<!she wants to )(?<!he wants to )(?:keeping|keep) (?:it|the (?:house|home|property"
    r"|place))\b",
    r"\bnot looking to sell\b",
    r"\bno interest\b",
    r"\bpas a vendre\b",
    r"\b(?:deja|cest|est|ete) vendue?s?\b",
    r"\b(?:je|on|nous) (?:ne )?(?:vend|vends|vendons) pas\b",
    r"\bpas (?:vendeur|vendeuse)s?\b",
    r"\b(?:staying put|stay put|not going anywhere|(?:were|we re|we are|im|i m|i am) not moving"
    r"(?! (?:until|till|before|for))|we love it here|on reste|on garde"
    r"|nous restons|on demenage pas|(?:decided|going|want|plan|planning) to (?:stay|keep it)"
    r"|(?:were|we re|we are|im|i m|i am) staying(?! (?:until|till|til|through|for (?:a|another|\d)))"
    r"|live here forever|forever home|(?:not|arent|isnt|wont be|am not) ready to sell"
    r"|decided not to sell)\b",
)
# A firm no that still names the price that would change it is a price.
_PRICE_CONDITION = re.compile(
    r"\b(?:unless|less than|under|below|lower than|for less|at least|minimum|min"
    r"|if you (?:pay|offer|give)|moins de|moins que|en dessous|a moins)\b"
)

_CALLBACK = _rule(
    Intent.CALLBACK,
    0.85,
    r"\b(?<!you )(?<!u )(?<!not )(?<!dont )(?<!never )(?:call|ring|phone|telephone) (?:me|us|my (?:cell|phone"
    r"|number|husband"
    r"|wife|son|daughter))\b",
    r"\b(?:give|gimme|gimmie) (?:me |us )?a (?:call|ring|buzz)\b",
    r"\bcall (?:back|anytime|any time|tomorrow|tonight|later|this|after|before|at|on|around"
    r"|in the)\b",
    r"\b(?:can|cn|could|would|will|pls|please|plz) (?:you |u |ya |someone |somebody )?"
    r"(?:call|phone|ring)\b",
    r"\b(?:rather|prefer to|prefer|better to|easier to) (?:talk|speak|chat|discuss)\b",
    r"\b(?:talk|speak|chat) (?:on|by|over) (?:the )?phone\b",
    r"\b(?:prefer|rather have) (?:a )?(?:phone )?call\b",
    r"\b(?:reach me at|my (?:cell|number|phone) is)\b",
    r"\b(?:appelez|appelle|appeler|rappelez|rappelle|rappeler|telephonez|mappeler|mappelez|mappelle"
    r"|me rappeler|me telephoner)\b",
)

# "That's too low" is a negotiation move (see `_move`), and a no when nothing is on the table.
_TOO_LOW_WORDS = (
    r"\b(?:too low|to low|way low|lowball\w*|insult\w*|not enough|way under|do better"
    r"|better than that|need more than that|more than that|go higher|best you can do"
    r"|(?:is that|thats|that s) (?:the |your )?best(?: offer)?|(?:thats|that s|what a|is this) (?:a )?joke"
    r"|(?:you re|youre|are you|u r|ur) (?:joking|kidding)|meet (?:me )?(?:halfway|half way|in the middle)"
    r"|split the difference|do (?:any |a little |a bit |much |way )better"
    r"|(?:i|we) need (?:a lot |a bit |way |much )?more(?! time| info\w*| details| days| weeks)"
    r"|come up (?:a bit|a little"
    r"|some|more|higher)|trop bas"
    r"|pas assez|trop peu|faire mieux|monter un peu|ridicule|lower than (?:i|we) (?:hoped|expected|wanted"
    r"|thought)|too little|expecting more|hoped for more|(?:way|pretty|really|so) off|not for that (?:price"
    r"|number|amount)|at that price)\b"
)
# Pushing for more while an offer is on the table: "what's your best offer?", "any wiggle room?".
_PUSH = re.compile(
    r"\b(?:(?:your|the) (?:best|final|highest|top) (?:offer|price|number)|wiggle room|any room"
    r"|any flexibility|flexib\w* on (?:the )?price|(?:can|could) (?:you|u) (?:go|do) (?:higher|more|better)"
    r"|(?:is that|thats|that s) (?:it|all)\b)"
)
_SOFT_NO = _rule(
    Intent.NOT_INTERESTED,
    0.75,
    r"^(?:(?:lol|lmao|lmfao|rofl|haha\w*|um+|uh+|well|sorry|oh|hmm+|merci mais|thanks but|thx but) )*"
    r"(?!no (?:problem|prob|worries|idea|clue|complaints|issues|problems)|never mind|not sure)(?:no+|nope"
    r"|nah+|naw|nay|non|n|nty|no ty"
    r"|(?:prob|probably|prolly|def|definitely|likely|most likely) not|not rn"
    r"|never|no way|hell no|pass|ill pass|i will pass|im good|i m good"
    r"|all good|we re good|were good|not now|not right now|not at this time|not at the moment"
    r"|not yet|not today|no deal|not for a while|not any ?time soon|pas maintenant"
    r"|pas pour (?:le moment|linstant)|jamais"
    r"|pas vraiment)\b",
    _TOO_LOW_WORDS,
    r"\bno way\b(?! to\b)",
    r"\b(?:(?:maybe|possibly|perhaps) (?:later|down the road|in the future|someday|one day)|later maybe"
    r"|down the road)\b",
)

_INTERESTED_RULES = (
    _rule(
        Intent.INTERESTED,
        0.85,
        rf"\b{_INTERESTED_WORD}\b",
        r"\b(?:what|wat|wht)(?:s| is| would be| will be| would| do| is the| s)? ?(?:your|ur|the|you) "
        r"(?:best |final |cash |top )?(?:offer|price|number|pay|paying)\b",
        r"\b(?:what|wat|wht) (?:exactly |actually )?(?:are |r |would |will |could )?(?:you|u) (?:offer"
        r"|offering"
        r"|pay|paying|give)\b",
        r"\b(?:ready|want|wanting|looking|thinking about|thinking of|would|might|may|could|need"
        r"|have|got) (?:to )?sell\w*\b",
        r"\b(?:i|we|ya|yeah|yes|maybe) (?:might|could|may) be\b(?! \w+ing)|^(?:it )?(?:might|could"
        r"|may) be$|\bmight be ready\b",
        r"\b(?:thinking about it|been thinking|possibly|hear (?:you|u|ya) out|still buying"
        r"|open to it|what do you have in mind|lets hear it|je pourrais|on y pense"
        r"|hear (?:an |your |the )?offer|(?:id|i d|i would|we d|wed|would) (?:listen|entertain)"
        r"|entertain (?:an )?offer|(?:talked|thought|talking|considering|considered|discussing"
        r"|discussed) (?:about |of )?sell\w*|(?:pourrait|pourrions|pourrais) y (?:penser|reflechir)"
        r"|you tell me|your call|sounds (?:great|perfect)|(?:want|like) (?:it )?gone|want out|get rid of it"
        r"|(?:no idea|not sure|dont know|idk) what (?:its|it s|it is|the house is) worth|whatever(?:s"
        r"| is)? fair"
        r"|fair (?:market )?(?:value|price)|market value|what (?:its|it s|it is) worth|let you make"
        r"|make (?:the |a )?first offer|(?:what s|whats|what is) it worth|dites moi"
        r"|(?:ill|i ll|i will|well|we ll|we will) take it|sounds fair|fair enough|works for me|that works"
        r"|ca me va|cest correct|on y songe|on y reflechit|(?:est|es) a vendre|offer still (?:good|available"
        r"|stand\w*|valid|open|on the table)"
        r"|still (?:buying|interested|looking to buy)|decided to sell|(?:meaning|planning|plan|intend"
        r"|intending|going|gonna) to sell|(?:were|we re|we are|im|i m|i am)"
        r" (?:finally )?ready\b(?! to (?:stay|keep))|(?:like|love|prefer) to sell|(?:je|on) serai[st]?"
        r" (?:vendeur|vendeuse|vendeurs|interesse\w*)"
        r"|(?:faut|doit|doivent|veut|voulons|veux|voudrait|voudrions|aimerait|aimerais|pret a"
        r"|prets a|pense a|pensons a) vendre"
        r"|ca se pourrait|je suis ouverte?|on est ouverts?)\b",
        r"\b(?:if|when) the price is right\b|\bright price\b",
        r"\b(?:how|hw|hoe) much\b",
        r"\b(?<!no )(?<!not a )(?<!big )deal\b(?! breaker)|\b(?:youve|you ve|you have|weve|we ve"
        r"|we have) got a deal\b",
        r"\b(?:make|send|give) (?:me |us )?(?:an |a |the |your )?(?:best |cash )?"
        r"(?:offer|number)\b",
        r"\b(?:id|i d|i would|wed|we d|we would|would|might|may|could|i can|will|open to) consider\b",
        r"\bopen to (?:offers|it|selling|an offer|that)\b",
        r"\b(?:tell me more|lets talk|lets chat|go ahead|sounds good|im listening"
        r"|for the right price)\b",
        r"\bdepends\b",
        r"\b(?<!wont )(?<!not )(?<!cant )(?<!cannot )(?<!dont )(?:i |we )?(?:accept|accepted|agree|agreed)\b"
        r"|\b(?:its a|you got a) deal\b|\b(?:jaccepte|marche conclu|ca marche)\b",
        r"\b(?:quelle|quel) (?:est )?(?:votre|ton|ta) (?:offre|prix)\b",
        r"\b(?:combien|faites moi une offre|faites une offre|ca depend|pourquoi pas|peut etre"
        r"|daccord)\b",
    ),
    _rule(
        Intent.INTERESTED,
        0.75,
        r"^(?:(?:hi|hello|hey|good morning|good afternoon|good evening|bonjour|allo|salut|idk"
        r"|dunno|i guess|hmm+|um+|well) )*"
        r"(?:yes+|yess|yeah?|yea|yeh|yep|yup|ya(?! (?:tu|t il|ti|til|des|du|un|une|quelque)\b)|yah|ye"
        r"|y(?! (?:a|r|u|do|you|would|is|are)\b)|sure|ok|okay|okey|k|kk|maybe|mayb|maybee|perhaps"
        r"|absolutely|definitely|of course|deal|correct|possibly|probably|fine|alright|aight"
        r"|guess so|kinda|kind of|sort of|sorta|i guess|eventually|its possible|it s possible"
        r"|could happen|oui|ouais|certainement"
        r"|bien sur|dac)\b",
        r"\b(?:i|we) still own\b",
    ),
)

_QUESTION_START = re.compile(
    r"^(?:(?:so|ok|okay|and|but|hey|hi|um|well|just|curious|quick question|also|et|mais|alors)"
    r" )*(?:who|whos|what|whats|wat|wats|wht|how|hows|howd|why|when|where|which|whose|is|are|r"
    r"|do|does|did|can|could|would|will|should|qui|quoi|quel|quelle|quels|comment|pourquoi"
    r"|quand|ou|est ce|cest quoi|y a tu|y a t il|ca prend|avez vous|etes vous|pouvez vous)\b"
)
_QUESTION_END = re.compile(r"\?[\W_]*$")

_POSITIVE_EMOJI = ("👍", "👌", "✅", "🤝", "🙂", "😊", "😀", "😃", "💯", "🙌")
_NEGATIVE_EMOJI = ("👎", "🚫", "❌", "🙅")
_ANGRY_EMOJI = ("🖕", "🤬", "😡", "😠", "💩")

_ANGRY = re.compile(
    r"\b(?:fu+c?k\w*|fck\w*|fuk\w*|fk|f off|wtf|tf|stfu|shit\w*|bullshit|asshole\w*|ass|bitch\w*"
    r"|bastard\w*"
    r"|idiot\w*|moron\w*|scum\w*|piss\w*|damn you|screw (?:you|off)|go to hell|harass\w*"
    r"|report(?:ing)? (?:you|u|this|your)|scam\w*|fraud\w*|spam\w*|sue (?:you|u)|tcpa"
    r"|call(?:ing)? the (?:police|cops)"
    r"|merde|putain|crisse|criss|tabarnak|tabarnac|tabarouette|ostie|osti|calisse|va chier"
    r"|arnaque\w*|what the (?:hell|heck)|the worst|how dare|sick of (?:you|u|these|your)"
    r"|(?:what s|whats|what is) (?:your|ur) (?:problem|deal)|shove it|get a life|prey\w* on|pathetic"
    r"|disgusting|crooks?|vultures?|liars?"
    r"|thie(?:f|ves)|leech\w*|scumbags?|bloodsuckers?"
    r"|predators?|voleurs?|escrocs?|fraudeurs?|rapaces?"
    r"|harcel\w*|fraude\w*|connard\w*|foutez|fous le camp)\b"
    r"|\bf[*#@$!]+\w*"
)

# --- amounts --------------------------------------------------------------

_SMALL_PRICE_ASKS = frozenset({Asked.PRICE, Asked.OFFER})


def parse_amount(text: str, *, asked: Asked | None = None) -> int | None:
    """The price in `text` in whole dollars, or None (see the module doc for the small-number rule).

    "$400k", "400,000", "400 000 $", "four hundred thousand", "quatre cent mille",
    "400K firm", "1.2M" -> read as written; "I want 400", "no less than 3.5" -> 400,000 and
    350,000 through the cue word; a bare "350" only with asked=PRICE or OFFER.
    """
    low = fold(text.translate(_APOSTROPHES))
    price_context = asked in _SMALL_PRICE_ASKS
    return read_amounts(low, _language(_words(low)), price_context=price_context).price


# --- timelines ------------------------------------------------------------

_SMALL_NUMBERS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "un": 1, "une": 1, "two": 2, "deux": 2, "couple": 2, "couple of": 2,
    "a couple": 2, "a couple of": 2,
    "three": 3, "trois": 3, "four": 4, "quatre": 4, "five": 5, "cinq": 5, "six": 6, "seven": 7,
    "sept": 7, "eight": 8, "huit": 8, "nine": 9, "neuf": 9, "ten": 10, "dix": 10, "eleven": 11,
    "onze": 11, "twelve": 12, "douze": 12,
}  # fmt: skip


def _by_word(table: dict[str, str]) -> dict[str, str]:
    """{"month": "month mo mois"} -> {"month": "month", "mo": "month", "mois": "month"}."""
    return {word: name for name, words in table.items() for word in words.split()}


_UNITS = _by_word(
    {
        "day": "day days jour jours",
        "week": "week weeks wk wks semaine semaines",
        "month": "month months mo mos mth mths mois",
        "year": "year years yr yrs an ans annee annees",
    }
)
_SEASONS = _by_word(
    {
        "spring": "spring printemps",
        "summer": "summer ete lete",
        "fall": "fall autumn automne",
        "winter": "winter hiver",
    }
)
_MONTHS = _by_word(
    {
        "january": "january jan janvier",
        "february": "february feb fevrier",
        "march": "march mars",
        "april": "april apr avril",
        "may": "may mai",
        "june": "june juin",
        "july": "july juillet",
        "august": "august aug aout",
        "september": "september sept septembre",
        "october": "october oct octobre",
        "november": "november nov novembre",
        "december": "december dec decembre",
    }
)
_FEW = ("a few", "few", "quelques")
# Four digits at most: enough for "90 days", and int() never sees a huge string.
_COUNT = r"\d{1,4}|" + "|".join(sorted((*_SMALL_NUMBERS, *_FEW), key=len, reverse=True))
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))


# Longer than any seller's timeline: "$1,200/month" is a rent, not 200 months.
_LONGEST = {"day": 365, "week": 104, "month": 60, "year": 30}


def _duration(m: re.Match[str]) -> str | None:
    unit = _UNITS[m["unit"]]
    low, high = m["n"], m["n2"]
    if low in _FEW or high in _FEW:  # "a few weeks", "2 or a few weeks"
        return f"a few {unit}s"
    first = _SMALL_NUMBERS.get(low) or int(low)
    last = (_SMALL_NUMBERS.get(high) or int(high)) if high else first
    if last > _LONGEST[unit]:
        return None
    if high:
        return f"{first}-{last} {unit}s"
    return f"{first} {unit}" + ("s" if first != 1 else "")


def _relative(m: re.Match[str]) -> str:
    unit = m["unit"]
    period = _SEASONS.get(unit) or _UNITS[unit]
    return f"{'this' if m.groupdict().get('this') else 'next'} {period}"


_PERIOD = (
    r"(?P<unit>week|month|year|spring|summer|fall|autumn|winter|semaine|mois|annee|printemps"
    r"|automne|hiver)"
)


_TIMELINE_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]], ...] = tuple(
    (re.compile(pattern), normalise)
    for pattern, normalise in (
        (
            r"\b(?:asap|a s a p|as soon as (?:possible|i can|we can|you can)|(?<!not )right away"
            r"|immediately|(?<!not )(?:sell|selling|move|moving|close|closing|ready|out|go|do it"
            r"|need it|want it|buy it) right now"
            r"|yesterday|urgent\w*|sooner the better|tout de suite"
            r"|(?:sell|move|close|vendre|partir) (?:fast|quick|quickly|vite|rapidement)"
            r"|des que possible|le plus (?:tot|vite) possible|au plus vite|immediatement"
            r"|au plus tot)\b",
            lambda _m: "asap",
        ),
        (
            r"(?:^|(?<!rent )(?<!paid )(?<!pay )\b(?:in|within|next|dans|d ici|dici|en|less than"
            r"|under|about|around|maybe|like|roughly|approx\w*|by|yes|sure|ok|oui|probably|need"
            r"|needs|do|can do|give me|give us|take|takes|only|at least|at most|max|the next|so|say"
            r"|les prochains|prochains|or)\s+)"
            r"(?:the\s+)?(?:next\s+)?"
            rf"(?P<n>{_COUNT})(?:(?:\s*(?:-|to|or|a|ou)\s*"
            rf"|\s+)(?P<n2>{_COUNT}))?\s*(?P<unit>{_UNIT})\b"
            r"(?! (?:old|ago|now|since))",
            _duration,
        ),
        (rf"\b(?:next|(?P<this>this)) {_PERIOD}\b", _relative),
        (rf"\b(?:le|la|l) {_PERIOD} prochaine?\b", _relative),
        (rf"\b(?P<this>cette|ce|cet) {_PERIOD}\b", _relative),
        (r"\b(?:lan|lannee) prochaine?\b", lambda _m: "next year"),
        (r"\blete prochain\b", lambda _m: "next summer"),
        (
            r"\b(?:end of|fin de|fin d|fin)\s?(?:the |l |la )?(?:year|annee|lannee)\b|\byear end\b",
            lambda _m: "end of year",
        ),
        (
            r"\b(?:end of|fin du|fin de|fin)\s?(?:the |this |le |ce )?(?:month|mois)\b",
            lambda _m: "end of month",
        ),
        (
            r"(?<!passed )(?<!died )(?<!bought )(?<!passed in )(?<!died in )\b(?:by|in|this|next|until|till"
            r"|before|after|around|the|au|cet"
            r"|ce|d ici|avant|apres|end of|fin de l|fin de|dici)"
            r"\s+(?:the\s+)?"
            r"(?P<season>spring|summer|fall|autumn|winter|printemps|automne|hiver|lete)\b",
            lambda m: _SEASONS[m["season"]],
        ),
        (
            # not a past month: "my wife passed away in january", "we bought in march"
            r"(?<!passed away )(?<!passed )(?<!died )(?<!bought )(?<!moved out )(?<!moved in )"
            r"\b(?:by|in|until|till|before|after|around|early|mid|late|end of|en|d ici|avant|apres"
            r"|fin|debut|jusquen|jusqua|jusquau)\s+"
            r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b",
            lambda m: _MONTHS[m["month"]],
        ),
        (
            r"\b(?:no rush|no hurry|not in a (?:rush|hurry)|whenever|flexible|pas presse\w*"
            r"|rien ne presse|quand vous voulez)\b",
            lambda _m: "flexible",
        ),
        (r"\b(?<!how )(?<!as )(?:soon|bientot)\b", lambda _m: "soon"),
        (
            r"\b(?:after|post) (?:christmas|xmas|the holidays|new year\w*)|\bapres (?:noel|les fetes)",
            lambda _m: "january",
        ),
        (
            r"\bbefore (?:christmas|xmas|the holidays)|\bavant (?:noel|les fetes)",
            lambda _m: "december",
        ),
        # a season or a month that opens the message: "spring would be ideal", "june works"
        (
            r"^(?:\w+ ){0,2}?(?:early |late |mid |in the |the )?(?P<season>spring|summer|fall|autumn"
            r"|winter|printemps|ete|automne|hiver)\b",
            lambda m: _SEASONS[m["season"]],
        ),
        (
            r"^(?:\w+ ){0,2}?(?:early |late |mid |end of |fin )?(?P<month>"
            + "|".join(sorted(set(_MONTHS) - {"may", "mars", "march", "dec", "oct", "nov", "jan"}, key=len,
                              reverse=True))
            + r")\b(?! (?:\d|st|nd|rd|th))",
            lambda m: _MONTHS[m["month"]],
        ),
    )
)


_DURATION, _ = _TIMELINE_RULES[1]
_UNIT_WORD = re.compile(rf"\b(?:{_UNIT})\b")


# A word that every timeline rule needs one of: one cheap search (a sixth of the rules') tells
# most messages apart, which name no time at all. tests/bot/test_intents.py holds it to the rules.
_TIMELINE_HINT = re.compile(
    WORD_START + r"(?:asap|a s a p|soon|possible|right|away|immediately|now|yesterday|urgent\w*|sooner|suite|vite"
    r"|fast|quick\w*|rapidement|tot|day|days|weeks?|wks?|months?|mos?|mths?|years?|yrs?|jours?|semaines?"
    r"|mois|an|ans|annees?|lan|lannee|spring|summer|fall|autumn|winter|printemps|ete|lete|automne|hiver"
    r"|jan\w*|feb\w*|march|mars|apr\w*|may|mai|june?|juin|july|jul|juillet|aug\w*|aout|sept?\w*|oct\w*"
    r"|nov\w*|dec\w*|fevrier|avril|rush|hurry|whenever|flexible|presse\w*|bientot|christmas|xmas|holidays"
    r"|noel|fetes)\b"
)


def _find_timeline(words: str, low: str) -> str | None:
    return _timeline_by_rules(words, low) if _TIMELINE_HINT.search(words) else None


def _timeline_by_rules(words: str, low: str) -> str | None:
    for pattern, normalise in _TIMELINE_RULES:
        match = pattern.search(words)
        if match and (timeline := normalise(match)):
            # "not in a rush, 6-12 months": the months say more than the rush
            return (_duration_clause(low) or timeline) if timeline == "flexible" else timeline
    return _duration_clause(low) if _UNIT_WORD.search(words) else None


def _duration_clause(low: str) -> str | None:
    """A duration that is a clause of its own: "yes. needs work, 6 months, 350"."""
    if _CLAUSE_BREAK.search(low):
        for part in _CLAUSE_BREAK.split(low):
            if (match := _DURATION.match(_words(part))) and (timeline := _duration(match)):
                return timeline
    return None


# --- language -------------------------------------------------------------

# Words that only French replies use (no "est", "non", "la": they occur in English texts too).
_FRENCH = re.compile(
    WORD_START + r"(?:je|jai|jsuis|vous|pas|merci|oui|mois|semaines?|jours|bonjour|allo|salut|svp|stp"
    r"|maison|vendre|vendu|vendue|cest|appelez|appelle|mappeler|rappelez|mauvais|numero"
    r"|interessee?s?|combien|quoi|pourquoi|prix|mille|dans|arret\w*|aide|desabonn\w*|mecrivez"
    r"|plus tard|peut|printemps|automne|hiver|proprietaire|daccord|ouais|quatre|cent|deux|trois"
    r"|avec|pour|une|^non$|les|qui|etes|votre|vos|offre|moi|tranquille|lannee|annee|cette"
    r"|prochaine?|bientot|ans|avez|sont|nous|mes|tres|mais|aussi|jamais|toiture|cuisine|refaire"
    r"|le plus|ne \w+ (?:pas|plus)|jaccepte|conclu|ferme|trop|pourrait|pense|immobilier|entre"
    r"|veux|jen|hypotheque|mere|frais|quil|fonds|courtier|ensuite|etape|locataires?|avocat"
    r"|chiffre|montez|regle|dernier|prendrais|mieux|assez|decedee?|succession|demenag\w*|travaux"
    r"|autour|vacante|separe|penser|piasses|piastres|pis|apres|songe|etat|sous sol|habite|encore|contactez"
    r"|ecrivez"
    r"|textez|appelez"
    r"|comment (?:ca|vous|avez))\b"
)


def _words(low: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", low.replace("'", "")).split())


def _language(words: str) -> Language:
    # One unambiguous French word is enough: these messages are short.
    return Language.FR if _FRENCH.search(words) else Language.EN


# --- classify -------------------------------------------------------------


def _clean(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(_CONTROL.sub(" ", text).split())


def _first(rules: tuple[_Rule, ...], words: str) -> _Rule | None:
    for rule in rules:
        if rule.pattern.search(words):
            return rule
    return None


# --- negotiation moves ----------------------------------------------------

_TOO_LOW = re.compile(_TOO_LOW_WORDS)
_FIRM = re.compile(
    r"\b(?:firm|final|bottom line|non ?negotiable|not negotiable|not a (?:penny|dollar|cent)"
    r" (?:less|under|below)|take it or leave it|or nothing|lowest (?:i d|id|i would|ill|i will"
    r"|we d|wed|i can|we can) (?:go|do|take)|ferme|dernier prix|pas (?:un sou|une cenne) de moins"
    r"|cest mon prix|as low as (?:i|we|ill|i ll|well|we ll)(?: will| can| would)? go|deal is (?:dead"
    r"|off) (?:if|unless)|(?:if|unless) (?:you|u) (?:cant|can t|dont|won t"
    r"|wont)"
    r" (?:do|pay|meet|match)|(?:cest|is|thats|that s) (?:mon|my) (?:minimum|min|plancher)|is (?:the"
    r"|my) lowest"
    r"|(?:wont|won t|will not|cant|can t|not going to|not gonna)"
    r" (?:go |take |accept |do )?(?:any )?(?:lower|less|below|under))\b"
)
_CONDITIONAL = re.compile(
    r"\b(?:and|then|pis|et) (?:we (?:have|ve got|got)|you (?:have|ve got|got)|its|it s|thats"
    r"|that s|cest|c est) (?:a )?(?:deal|yours|sold|done|regle|vendu|a vous)\b"
    r"|\b(?:and|then) (?:were|we re) done\b|\b(?:if|si) (?:you|u|vous) (?:can )?(?:do|pay|offer"
    r"|go|come up|get|montez|payez|offrez|allez)\b.*\b(?:deal|yours|regle|vendu|done|sold|sign|accept"
    r"|take it)\b"
)
_ACCEPT_AMOUNT = re.compile(
    r"\b(?:it is|works|is fine|sounds good|(?<!no )deal(?! is (?:dead|off)| breaker)|agreed|fine|ok|okay"
    r"|daccord|ca marche)\b"
)
_ACCEPT = re.compile(
    r"\b(?:(?<!no )deal|(?<!if i )(?<!after i )(?<!when i )(?<!once i )accept\w*|marche conclu|jaccepte"
    r"|(?:ill|i ll|i will|well|we ll|we will) take it|send (?:the |me the )?(?:paperwork"
    r"|papers|contract)|where do i sign)\b"
)
# ... and, with an offer on the table, any assent.
_ASSENT = re.compile(
    r"\b(?:agreed|lets do it|sounds good|sounds great|sounds perfect|perfect|great|sounds fair|fair enough"
    r"|works for me|that works|go ahead|daccord"
    r"|ca marche|ca me va|cest correct|parfait)\b"
)
_YES = _INTERESTED_RULES[1]
_NO_WAY = re.compile(r"\bno way\b(?! to\b)")
# Asking for our number is interest, whatever else the message says (a date, a tenancy).
_ASKS_OUR_OFFER = re.compile(
    r"\bwhat (?:are|r|would|will|could) (?:you|u) (?:offer|offering|pay|paying|give)\b"
    r"|\b(?:what|wat|wht)(?:s| is) (?:your|ur|the) offer\b|\bhow much (?:would|will|could|can|are|r)"
    r" (?:you|u)\b|\b(?:quelle|quel) (?:est )?(?:votre|ton|ta) (?:offre|prix)\b"
    r"|\bcombien (?:vous )?(?:m )?offre"
)


def _move(words: str, amount: int | None, asked: Asked | None) -> NegotiationMove | None:
    """How the message negotiates. A counter or an acceptance needs an offer on the table."""
    negotiating = asked is Asked.OFFER
    if amount is not None:
        if _FIRM.search(words):
            return NegotiationMove.FIRM
        if _CONDITIONAL.search(words):
            return NegotiationMove.CONDITIONAL
        if not negotiating:
            return None
        if not _TOO_LOW.search(words) and _ACCEPT_AMOUNT.search(words):
            return NegotiationMove.ACCEPT
        return NegotiationMove.COUNTER
    if _TOO_LOW.search(words) or (negotiating and (_NO_WAY.search(words) or _PUSH.search(words))):
        return NegotiationMove.TOO_LOW
    if _ACCEPT.search(words):
        return NegotiationMove.ACCEPT
    if negotiating and (_ASSENT.search(words) or _YES.pattern.search(words)):
        return NegotiationMove.ACCEPT
    return None


# --- classify -------------------------------------------------------------

_PHONE_IN_TEXT = re.compile(r"(?:\+?1[\s.-]?)?\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b", re.ASCII)


def _callback_phone(cleaned: str) -> str | None:
    """The number a seller asks to be called on, in E.164, if they gave a real one."""
    match = _PHONE_IN_TEXT.search(cleaned)
    if match is None:
        return None
    try:
        return normalise_phone(match[0])
    except InvalidPhone:
        return None


@dataclass(frozen=True, slots=True)
class _Message:
    """One message in every form the phases read."""

    cleaned: str
    low: str  # folded, apostrophes kept: amounts read punctuation
    words: str  # the phrase rules' form
    language: Language
    key: str  # the carrier keyword form
    asked: Asked | None
    amounts: Amounts
    timeline: str | None
    facts: ReadFacts  # all but the condition given as an answer (see classify)
    question: bool
    topic: QuestionTopic | None


def _message(text: str, asked: Asked | None) -> _Message:
    cleaned = _clean(text)
    low = fold(cleaned.translate(_APOSTROPHES))
    words = _words(low)
    language = _language(words)
    question = bool(_QUESTION_END.search(cleaned) or _QUESTION_START.search(words))
    topic = question_topic(words, is_question=question)
    amounts = read_amounts(low, language, price_context=asked in _SMALL_PRICE_ASKS)
    if topic is QuestionTopic.OFFER_BASIS:  # "how did you come up with 210?" quotes our number
        amounts = NO_AMOUNTS
    timeline = _find_timeline(words, low)
    if timeline == "flexible" and amounts.price and asked is not Asked.TIMELINE:
        timeline = None  # "450k but I'm flexible": on the price, not the date
    facts = read_facts(
        low, words, amount=amounts.price, timeline=timeline, repair_cost=amounts.repair_cost
    )
    return _Message(
        cleaned=cleaned,
        low=low,
        words=words,
        language=language,
        key=keyword_form(text),
        asked=asked,
        amounts=amounts,
        timeline=timeline,
        facts=facts,
        question=question,
        topic=topic,
    )


def _control(msg: _Message, opted_out: bool) -> tuple[Intent, float] | None:
    """Phases 1-3: opt-out, opt-in, help."""
    if msg.key in CARRIER_STOP_KEYWORDS:
        return Intent.OPT_OUT, 1.0
    if rule := _first((_OPT_OUT, _SOFT_OPT_OUT), msg.words):
        return rule.intent, rule.confidence
    if _stop_anywhere(msg.cleaned, msg.low, msg.words):
        return Intent.OPT_OUT, 0.95
    if opted_out and msg.key in _OPT_IN_AFTER_OPT_OUT:
        return Intent.OPT_IN, 1.0
    if msg.key in _OPT_IN_KEYWORDS:
        return Intent.OPT_IN, 0.9
    if msg.key in _HELP_KEYWORDS:
        return Intent.HELP, 1.0
    return None


def _reply(msg: _Message) -> tuple[Intent, float]:
    """Phases 4-12, once the message is not a control keyword."""
    words, price = msg.words, msg.amounts.price
    if msg.facts.relationship is Relationship.TENANT:  # "I just rent here"
        return Intent.WRONG_NUMBER, 0.85
    if rule := _first((_WRONG_NUMBER, _FIRM_NO), words):
        if rule.intent is Intent.NOT_INTERESTED and price and _PRICE_CONDITION.search(words):
            return Intent.PRICE, 0.8
        return rule.intent, rule.confidence
    if rule := _first((_CALLBACK,), words):
        return rule.intent, rule.confidence
    if price is not None:
        return Intent.PRICE, 0.9 if msg.amounts.price_sure else 0.75
    if msg.asked is Asked.OFFER and _PUSH.search(words):  # "what's your best offer?": not yet a yes
        return Intent.NOT_INTERESTED, 0.7
    if msg.topic is not None and not _YES.pattern.search(words):
        return Intent.QUESTION, 0.85
    if _ASKS_OUR_OFFER.search(words):  # "tenanted until June 30. What are you offering?"
        return Intent.INTERESTED, 0.85
    if msg.asked is Asked.CONDITION:
        # The answer to "what shape is it in?" is whatever they said, yes/no included.
        if not msg.question:
            return Intent.UNKNOWN, 0.8 if msg.cleaned else 0.0
    elif msg.timeline is not None:
        return Intent.TIMELINE, 0.85
    if rule := _first((_SOFT_NO, *_INTERESTED_RULES), words):
        return rule.intent, rule.confidence
    if any(e in msg.cleaned for e in _NEGATIVE_EMOJI):
        return Intent.NOT_INTERESTED, 0.6
    if any(e in msg.cleaned for e in _POSITIVE_EMOJI):
        return Intent.INTERESTED, 0.7
    if msg.question:
        return Intent.QUESTION, 0.7
    if not msg.cleaned:
        return Intent.UNKNOWN, 0.0
    return Intent.UNKNOWN, 0.3 if msg.asked is None else 0.6


def _handoff(msg: _Message, intent: Intent, angry: bool) -> Handoff | None:
    if reason := handoff_reason(msg.words):
        return reason
    if intent is Intent.CALLBACK:
        return Handoff.CALL_REQUEST
    if angry and intent is not Intent.OPT_OUT and msg.topic is None:
        return Handoff.ANGER
    return None


def classify(text: str, *, asked: Asked | None = None, opted_out: bool = False) -> Reading:
    """Read one inbound message. Never raises; see the module doc for the phases."""
    msg = _message(text, asked)
    intent, confidence = _control(msg, opted_out) or _reply(msg)
    cleaned, words = msg.cleaned, msg.words
    angry = bool(_ANGRY.search(words) or _ANGRY.search(msg.low)) or any(
        e in cleaned for e in _ANGRY_EMOJI
    )
    price = msg.amounts.price
    facts = msg.facts
    if asked is Asked.CONDITION and intent is Intent.UNKNOWN:  # the answer to "what shape?"
        facts = with_condition_answer(facts, cleaned, words)
    return Reading(
        intent,
        confidence,
        price,
        msg.timeline,
        msg.language,
        angry,
        cleaned,
        amount_range=msg.amounts.price_range,
        facts=facts,
        question_topic=msg.topic,
        handoff=_handoff(msg, intent, angry),
        callback_phone=_callback_phone(cleaned) if intent is Intent.CALLBACK else None,
        move=_move(words, price, asked),
    )
