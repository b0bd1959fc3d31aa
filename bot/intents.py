"""Reply understanding: what a seller's inbound message means.

Pure and table-driven: `classify` turns one message (plus what the bot last
asked) into a `Reading`. The rules are ordered data; the first phase that
matches decides the intent, while the amount, timeline, language and anger
are always extracted so the caller sees them whatever the intent.

Phase order (first match wins):

1. opt-out: a carrier keyword as the whole message (1.0), or a clear stop
   phrase (0.95; hostile "go away" style phrases 0.9). Opt-out beats
   everything because a missed opt-out is a legal problem, a false one is not.
2. opt-in: YES/OUI only when already opted out; START/UNSTOP always.
3. HELP/INFO/AIDE as the whole message.
4. wrong number, 5. not interested (firm wording; a firm "no" with a
   price condition, "not selling for less than 400k", is a PRICE),
6. callback, 7. price, 8. timeline, 9. soft no ("nope", "not right now"),
10. interested, 11. question, 12. unknown.

`asked` (what the bot last asked) changes how bare answers read:

* PRICE / OFFER: a bare number is a price ("350" -> 350,000).
* CONDITION: anything that is not a control reply (opt-out/in, help, wrong
  number, firm no, callback, price, question) is the *answer*: intent
  UNKNOWN with confidence 0.8 and `text` set (a timeline in it is still
  extracted, but does not make it a TIMELINE). The contract's intent
  vocabulary is closed, so there is no "answer" intent; the state machine
  treats a non-control reply as the answer to the question it asked. A bare
  "yes"/"no" is an answer there too ("any repairs?" "no").
* Any other `asked`: an unmatched reply is UNKNOWN at 0.6 (probably an
  answer); with no `asked` it is UNKNOWN at 0.3.

The small-number rule for amounts (see `parse_amount`): sellers write
"3.5" for 350k and "350" for 350k. A number with a suffix (k, thousand,
grand, mille, M, mil, million) or a bare number of 10,000 or more is read
as written. A bare number under 10,000 is read only with a price context
(a "$", a cue word such as "want"/"no less than"/"firm", or asked PRICE or
OFFER): under 10 it counts in hundreds of thousands ("3.5" -> 350,000),
otherwise in thousands ("350" -> 350,000). So "1.2" is 120,000: millions
need a suffix ("1.2M"). Results outside 10,000..100,000,000 are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum

from text_to_num import alpha2digit

from bot.text import fold

__all__ = [
    "CARRIER_STOP_KEYWORDS",
    "Asked",
    "Handoff",
    "Intent",
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


class Asked(StrEnum):
    INTEREST = "interest"  # "would you consider an offer?"
    CONDITION = "condition"  # "what shape is the house in?"
    TIMELINE = "timeline"  # "how soon would you like to sell?"
    PRICE = "price"  # "what price would work for you?"
    OFFER = "offer"  # the bot just made an offer


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
    OTHER = "other"


class Relationship(StrEnum):
    """Who is writing, relative to the property."""

    OWNER = "owner"
    SPOUSE = "spouse"
    EXECUTOR = "executor"
    FAMILY = "family"
    TENANT = "tenant"
    NOT_OWNER = "not_owner"


class QuestionTopic(StrEnum):
    """What a seller's question is about; each topic has an answer in the knowledge base."""

    WHO = "who"  # who are you, what company
    HOW_GOT_NUMBER = "how_got_number"
    PROCESS = "process"  # how does it work
    FEES = "fees"  # commission, closing costs
    CLOSING_SPEED = "closing_speed"
    AGENT = "agent"  # are you a realtor
    LEGIT = "legit"  # is this a scam; also "am I texting a bot?"
    PROOF_OF_FUNDS = "proof_of_funds"
    OFFER_BASIS = "offer_basis"  # how did you get that number
    NEXT_STEPS = "next_steps"


class Handoff(StrEnum):
    """Why a person must take the conversation over."""

    LEGAL = "legal"  # lawyer, suing, attorney general
    HARASSMENT = "harassment"  # a harassment complaint
    DEATH_ESTATE = "death_estate"  # a death in the family, an estate, probate
    DIVORCE_DISPUTE = "divorce_dispute"  # divorce, an ex still living there, disputed ownership
    TENANT_DISPUTE = "tenant_dispute"  # a tenant who won't pay or leave
    CALL_REQUEST = "call_request"  # wants a phone call; `callback_phone` when they gave one
    ANGER = "anger"


class NegotiationMove(StrEnum):
    TOO_LOW = "too_low"  # "that's too low", "can you do better", "C'est trop bas"
    FIRM = "firm"  # "310 firm", "320 final": `amount` holds it
    CONDITIONAL = "conditional"  # "make it 450 and we have a deal"
    ACCEPT = "accept"  # "ok deal", "fine. 290 it is" (with `amount` when named)
    COUNTER = "counter"  # a plain number while negotiating


@dataclass(frozen=True, slots=True)
class ReadFacts:
    """The facts about the property and the seller read from one message (None: not said)."""

    condition: str | None = None  # short normalised text: "needs work", "good", "needs a roof"
    repairs: str | None = None  # what needs work: "roof, windows, kitchen"
    repair_cost: int | None = None  # whole dollars
    timeline: str | None = None  # as Reading.timeline
    amount: int | None = None  # the asking price, as Reading.amount
    occupancy: Occupancy | None = None
    motivation: Motivation | None = None
    relationship: Relationship | None = None

    def as_dict(self) -> dict[str, str | int]:
        """Only what was read, under the contract's names (plus `repair_cost`).

        A repair cost with no text is reported as `repairs` too ("50000"), so the
        contract's `repairs` is never missing when the seller spoke of repairs.
        """
        read: dict[str, str | int] = {
            f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None
        }
        if self.repairs is None and self.repair_cost is not None:
            read["repairs"] = str(self.repair_cost)
        return read


_NO_FACTS = ReadFacts()


@dataclass(frozen=True, slots=True)
class Reading:
    intent: Intent
    confidence: float  # 0..1
    amount: int | None = None  # the asking price in whole dollars, whatever the intent
    timeline: str | None = None  # normalised: "30 days", "asap", "3 months", "next year"
    language: str = "en"  # "en" | "fr"
    angry: bool = False  # profanity, hostility, threats: a person takes over
    text: str = ""  # the cleaned text, for the deal brief
    # "mid 300s", "300-350k": `amount` is then the midpoint, to be confirmed, not taken as firm
    amount_range: tuple[int, int] | None = None
    facts: ReadFacts = field(default=_NO_FACTS)  # everything read, price and timeline included
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
    return _Rule(intent, confidence, re.compile(f"{_WORD_START}(?:{union})"))


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
    r"\b(?:remove|delete|take|erase) (?:me|us|my (?:number|name|info\w*|phone|contact\w*|cell)"
    r"|this (?:number|phone))\b",
    r"\btake me off\b",
    r"\boff (?:your|ur|the|this) (?:\w+ )?list\b",
    r"\bunsubscri\w*",
    r"\bopt ?out\b",
    r"\b(?:dont|do not|never|dnt) (?:ever )?(?:contact|text|txt|message|msg|call|email|e mail"
    r"|write|reach out to) (?:me|us|this|again|anymore|here)\b",
    r"\bdo not (?:contact|call)\b",
    r"\bno more (?:texts|txts|messages|msgs|emails|contact|calls)\b",
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
    r"\bleave (?:me|us) alone\b",
    r"\bgo away\b",
    r"\b(?:f+|fu+c?k+|fck|fk|piss|bugger|sod|buzz|back) off\b",
    r"\b(?:f+|fu+c?k+|fck|fk|screw) (?:you|u|yourself|urself)\b",
    r"\bget lost\b",
    r"\b(?:ill|i will|gonna|going to|will) (?:report|block) (?:you|u|this|your)\b",
    r"\breporting (?:you|u|this)\b",
    r"\bthis is harass\w*|\bharassing me\b|\bstop harass\w*",
    r"\blaisse[zr]? (?:moi|nous) tranquilles?\b",
    r"\b(?:fichez|foutez|fiche|fous) (?:moi )?la paix\b",
)

_WRONG_NUMBER = _rule(
    Intent.WRONG_NUMBER,
    0.9,
    r"\bwrong (?:n(?:umb?e?r|um|o|br|mber|umner)\w*|person|persn|guy|lady|house|address|contact"
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
    r"\bnot (?:for sale|4 sale)\b",
    r"\b(?:not|never|no longer|aint|am not|arent|isnt|wont be) (?:selling|sell)\b"
    r"(?! (?:until|till|til|before|unless|for less|under|below|at that|at this|right now|yet))",
    r"\b(?:dont|do not|never) (?:want|plan|intend) to sell\b",
    r"\b(?:already|just|recently|we|i|has been|was|been|its|it s|it is|house is|home is"
    r"|property is) sold\b",
    r"\bsold (?:it|the (?:house|home|property|place)|already|last)\b",
    r"\b(?:under|in) contract\b",
    r"\b(?:already )?listed with\b|\balready listed\b",
    r"\b(?:keeping|keep) (?:it|the (?:house|home|property|place))\b",
    r"\bnot looking to sell\b",
    r"\bno interest\b",
    r"\bpas a vendre\b",
    r"\b(?:deja|cest|est|ete) vendue?s?\b",
    r"\b(?:je|on|nous) (?:ne )?(?:vend|vends|vendons) pas\b",
    r"\bpas (?:vendeur|vendeuse)\b",
)
# A firm no that still names the price that would change it is a price.
_PRICE_CONDITION = re.compile(
    r"\b(?:unless|less than|under|below|lower than|for less|at least|minimum|min"
    r"|if you (?:pay|offer|give)|moins de|moins que|en dessous|a moins)\b"
)

_CALLBACK = _rule(
    Intent.CALLBACK,
    0.85,
    r"\b(?<!you )(?<!u )(?:call|ring|phone|telephone) (?:me|us|my (?:cell|phone|number|husband"
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

_SOFT_NO = _rule(
    Intent.NOT_INTERESTED,
    0.75,
    r"^(?:(?:lol|haha\w*|um+|uh+|well|sorry|oh|hmm+|merci mais|thanks but|thx but) )*"
    r"(?!no (?:problem|prob|worries|idea|clue)|never mind|not sure)(?:no+|nope|nah+|nay|non|n"
    r"|never|no way|hell no|pass|ill pass|i will pass|im good|i m good"
    r"|all good|we re good|were good|not now|not right now|not at this time|not at the moment"
    r"|not yet|not today|no deal|pas maintenant|pas pour (?:le moment|linstant)|jamais"
    r"|pas vraiment)\b",
    r"\b(?:too low|to low|lowball\w*|insult\w*|not enough|way under|trop bas|ridicule)\b",
)

_INTERESTED_RULES = (
    _rule(
        Intent.INTERESTED,
        0.85,
        rf"\b{_INTERESTED_WORD}\b",
        r"\bwhat(?:s| is| would be| will be| would| do| is the| s)? ?(?:your|ur|the|you) "
        r"(?:offer|price|number|pay|paying)\b",
        r"\bwhat (?:are|r|would|will|could) (?:you|u) (?:offer|offering|pay|paying|give)\b",
        r"\b(?:ready|want|wanting|looking|thinking about|thinking of|would|might|may|could)"
        r" (?:to )?sell\w*\b",
        r"\b(?:if|when) the price is right\b|\bright price\b",
        r"\bhow much\b",
        r"\b(?:make|send|give) (?:me |us )?(?:an |a |the |your )?(?:best |cash )?"
        r"(?:offer|number)\b",
        r"\b(?:id|i d|i would|would|might|may|could|i can|will|open to) consider\b",
        r"\bopen to (?:offers|it|selling|an offer|that)\b",
        r"\b(?:tell me more|lets talk|lets chat|go ahead|sounds good|im listening"
        r"|for the right price)\b",
        r"\bdepends\b",
        r"\b(?:i |we )?(?:accept|accepted|agree|agreed)\b|\b(?:its a|you got a) deal\b",
        r"\b(?:quelle|quel) (?:est )?(?:votre|ton|ta) (?:offre|prix)\b",
        r"\b(?:combien|faites moi une offre|faites une offre|ca depend|pourquoi pas|peut etre"
        r"|daccord)\b",
    ),
    _rule(
        Intent.INTERESTED,
        0.75,
        r"^(?:(?:hi|hello|hey|good morning|good afternoon|good evening|bonjour|allo|salut) )*"
        r"(?:yes+|yess|yeah?|yea|yep|yup|ya|yah|ye|y|sure|ok|okay|okey|k|kk|maybe|perhaps"
        r"|absolutely|definitely|of course|deal|correct|possibly|probably|oui|ouais|certainement"
        r"|bien sur|dac)\b",
        r"\b(?:i|we) still own\b",
    ),
)

_QUESTION_START = re.compile(
    r"^(?:who|whos|what|whats|wat|wht|how|hows|why|when|where|which|whose|is|are|do|does|did|can"
    r"|could|would|will|should|qui|quoi|quel|quelle|quels|comment|pourquoi|quand|ou|est ce)\b"
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
    r"|arnaque\w*"
    r"|harcel\w*|fraude\w*|connard\w*|foutez|fous le camp)\b"
    r"|\bf[*#@$!]+\w*"
)

# --- amounts --------------------------------------------------------------

_PHONE = re.compile(r"\+?1?[\s.-]?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b", re.ASCII)
_NUMBER = re.compile(
    r"(?<![\w.,])"
    r"(?P<num>\d{1,3}(?:[,\u00a0\u202f ]\d{3})+(?![\d,])|\d+)"  # "400,000", "400 000", "400"
    r"(?:[.,](?P<frac>\d{1,2})(?!\d))?"  # "3.5", French "3,5"
    r"(?![:h]\d)"  # not a time of day ("5:30", "17h30")
    r"\s*(?P<suf>k|thousand|thou|grand|mille|milles|millions?|mil|mill|mln|mm|m)?(?:ish)?\b",
    re.ASCII,  # Arabic-Indic and other digits are not prices here
)
_MULTIPLIERS: dict[str, int] = {
    "k": 1_000, "thousand": 1_000, "thou": 1_000, "grand": 1_000, "mille": 1_000, "milles": 1_000,
    "m": 1_000_000, "mm": 1_000_000, "mil": 1_000_000, "mill": 1_000_000, "mln": 1_000_000,
    "million": 1_000_000, "millions": 1_000_000,
}  # fmt: skip
# A number followed by one of these is a duration, a size or a time, never money.
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:%|percent|days?|weeks?|wks?|months?|mos?|mths?|years?|yrs?|hours?|hrs?|mins?|minutes?"
    r"|am|pm|a\.m|p\.m|o ?clock|bed\w*|bd|br|bath\w*|ba|sq\w*|ft|feet|acres?|units?|doors?|kids?"
    r"|people|times|x|st|nd|rd|th|jours?|semaines?|mois|ans?|annees?|heures?|chambres?|pieds?"
    r"|de la)\b",
    re.ASCII,
)
# ... and a bare number right after one of these is a time or a date ("call me at 5").
_NOT_MONEY_BEFORE = frozenset(
    {"at", "@", "by", "after", "before", "until", "till", "since", "in", "of", "vers", "a"}
)
_PRICE_CUE_BEFORE = re.compile(
    r"(?:\$\s*|(?:\bwant\w*|\bneed\w*|\bask\w*|\btake|\baccept|\bget|\bless than|\bat least"
    r"|\bminimum|\bmin|\bbottom|\bfor|\bwould do|\bdo|\bprice|\bhow about|\bwhat about"
    r"|\bcounter|\bgive me|\bprix|\bveux|\bvoudrais|\bau moins|\bmoins de|\bdemande\w*|\bpour)"
    r"\W+(?:\w+\W+){0,2})$"  # the cue, then at most two words before the number
)
_PRICE_CUE_AFTER = re.compile(
    r"\s*(?:\$|firm|obo|or best|minimum|min|bottom|dollars|bucks|cash|negotiable|neg|ono|ferme"
    r"|piasses|piastres)\b|\s*\$"
)
# Spelled-out numbers, but not the "million" of "1.2 million": that one is a suffix.
_NUMBER_WORDS = re.compile(
    r"(?<![0-9])(?<![0-9] )\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty"
    r"|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|un|deux|trois|quatre"
    r"|cinq|six|sept|huit|neuf|dix|vingt|trente|quarante|cinquante|soixante|cent|cents|mille"
    r"|millions)\b"
)
# alpha2digit reads "three fifty" as "3 50" and "four twenty five thousand" as "4 25000":
# sellers mean 350 and 425000.
_HUNDREDS_SPOKEN = re.compile(r"\b([1-9]) ([1-9][0-9](?:000)?)\b")
_HALF_MILLION = re.compile(r"\bhalf (?:a )?mil(?:lion)?\b|\bun demi[- ]million\b")
_MIN_AMOUNT = 10_000
_MAX_AMOUNT = 100_000_000
_SMALL_PRICE_ASKS = frozenset({Asked.PRICE, Asked.OFFER})


@dataclass(frozen=True, slots=True)
class _Amount:
    value: int
    explicit: bool  # read as written, no context needed ("400k", "400,000")
    cued: bool  # a price word next to it ("I'd take 380k", "400 firm")


def _amount_of(match: re.Match[str], text: str, price_context: bool) -> _Amount | None:
    digits = re.sub(r"\D", "", match["num"])
    value = Decimal(f"{digits}.{match['frac']}") if match["frac"] else Decimal(digits)
    suffix = match["suf"]
    before = text[max(0, match.start() - 30) : match.start()]
    cued = bool(_PRICE_CUE_BEFORE.search(before) or _PRICE_CUE_AFTER.match(text, match.end()))
    if suffix:
        return _bounded(value * _MULTIPLIERS[suffix], explicit=True, cued=cued)
    if value >= _MIN_AMOUNT:
        return _bounded(value, explicit=True, cued=cued)
    if _NOT_MONEY_AFTER.match(text, match.end()):
        return None
    last_word = before.rsplit(None, 1)[-1] if before.strip() else ""
    if not cued and (not price_context or last_word in _NOT_MONEY_BEFORE):
        return None
    # The small-number rule: "3.5" means 350k, "350" means 350k.
    return _bounded(value * (100_000 if value < 10 else 1_000), explicit=False, cued=cued)


def _bounded(value: Decimal, *, explicit: bool, cued: bool) -> _Amount | None:
    amount = int(value)
    return _Amount(amount, explicit, cued) if _MIN_AMOUNT <= amount <= _MAX_AMOUNT else None


def _find_amount(low: str, lang: str, asked: Asked | None) -> _Amount | None:
    """The seller's price: cued beats uncued ("Zillow says 420k but I'd take 380k" is 380k),
    then read-as-written beats read-through-context, then the first one."""
    if _HALF_MILLION.search(low):
        return _Amount(500_000, explicit=True, cued=True)
    text = _PHONE.sub(" ", low)
    if _NUMBER_WORDS.search(text):
        text = _HUNDREDS_SPOKEN.sub(r"\1\2", alpha2digit(text, lang))
    price_context = asked in _SMALL_PRICE_ASKS
    found = [a for m in _NUMBER.finditer(text) if (a := _amount_of(m, text, price_context))]
    return max(found, key=lambda a: (a.cued, a.explicit), default=None)


def parse_amount(text: str, *, asked: Asked | None = None) -> int | None:
    """The price in `text` in whole dollars, or None (see the module doc for the small-number rule).

    "$400k", "400,000", "400 000 $", "four hundred thousand", "quatre cent mille",
    "400K firm", "1.2M" -> read as written; "I want 400", "no less than 3.5" -> 400,000 and
    350,000 through the cue word; a bare "350" only with asked=PRICE or OFFER.
    """
    low = fold(text.translate(_APOSTROPHES))
    found = _find_amount(low, _language(_words(low)), asked)
    return found.value if found else None


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


def _duration(m: re.Match[str]) -> str:
    unit = _UNITS[m["unit"]]
    low, high = m["n"], m["n2"]
    if low in _FEW:
        return f"a few {unit}s"
    first = _SMALL_NUMBERS.get(low) or int(low)
    if high:
        return f"{first}-{_SMALL_NUMBERS.get(high) or int(high)} {unit}s"
    return f"{first} {unit}" + ("s" if first != 1 else "")


def _relative(m: re.Match[str]) -> str:
    unit = m["unit"]
    period = _SEASONS.get(unit) or _UNITS[unit]
    return f"{'this' if m.groupdict().get('this') else 'next'} {period}"


_PERIOD = (
    r"(?P<unit>week|month|year|spring|summer|fall|autumn|winter|semaine|mois|annee|printemps"
    r"|automne|hiver)"
)


_TIMELINE_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(pattern), normalise)
    for pattern, normalise in (
        (
            r"\b(?:asap|a s a p|as soon as (?:possible|i can|we can|you can)|(?<!not )right away"
            r"|immediately|(?<!not )right now|yesterday|urgent\w*|sooner the better|tout de suite"
            r"|des que possible|le plus (?:tot|vite) possible|au plus vite|immediatement"
            r"|au plus tot)\b",
            lambda _m: "asap",
        ),
        (
            r"(?:^|\b(?:in|within|next|dans|d ici|dici|en|less than|under|about|around|maybe|like"
            r"|roughly|approx\w*|by|yes|sure|ok|oui|probably|need|needs|do|can do|give me|give us"
            r"|take|takes|only|at least|at most|max|the next|les prochains|prochains|or)\s+)"
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
            r"\b(?:by|in|this|next|until|till|before|after|around|the|au|cet|ce|d ici|avant|apres)"
            r"\s+(?:the\s+)?"
            r"(?P<season>spring|summer|fall|autumn|winter|printemps|automne|hiver|lete)\b",
            lambda m: _SEASONS[m["season"]],
        ),
        (
            r"\b(?:by|in|until|till|before|after|around|early|mid|late|end of|en|d ici|avant|apres"
            r"|fin|debut)\s+"
            r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b",
            lambda m: _MONTHS[m["month"]],
        ),
        (
            r"\b(?:no rush|no hurry|not in a (?:rush|hurry)|whenever|flexible|pas presse\w*"
            r"|rien ne presse|quand vous voulez)\b",
            lambda _m: "flexible",
        ),
        (r"\b(?:soon|bientot)\b", lambda _m: "soon"),
    )
)


def _find_timeline(words: str) -> str | None:
    for pattern, normalise in _TIMELINE_RULES:
        match = pattern.search(words)
        if match:
            return normalise(match)
    return None


# --- language -------------------------------------------------------------

# Words that only French replies use (no "est", "non", "la": they occur in English texts too).
_FRENCH = re.compile(
    r"\b(?:je|jai|jsuis|vous|pas|merci|oui|mois|semaines?|jours|bonjour|allo|salut|svp|stp"
    r"|maison|vendre|vendu|vendue|cest|appelez|appelle|mappeler|rappelez|mauvais|numero"
    r"|interessee?s?|combien|quoi|pourquoi|prix|mille|dans|arret\w*|aide|desabonn\w*|mecrivez"
    r"|plus tard|peut|printemps|automne|hiver|proprietaire|daccord|ouais|quatre|cent|deux|trois"
    r"|avec|pour|une|^non$|les|qui|etes|votre|vos|offre|moi|tranquille|lannee|annee|cette"
    r"|prochaine?|bientot|ans|avez|sont|nous|mes|tres|mais|aussi|jamais|toiture|cuisine|refaire"
    r"|le plus|ne \w+ (?:pas|plus))\b"
)


def _words(low: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", low.replace("'", "")).split())


def _language(words: str) -> str:
    # One unambiguous French word is enough: these messages are short.
    return "fr" if _FRENCH.search(words) else "en"


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


def classify(text: str, *, asked: Asked | None = None, opted_out: bool = False) -> Reading:
    """Read one inbound message. Never raises; see the module doc for the phases."""
    cleaned = _clean(text)
    low = fold(cleaned.translate(_APOSTROPHES))
    words = _words(low)
    key = keyword_form(text)
    language = _language(words)
    angry = bool(_ANGRY.search(words) or _ANGRY.search(low)) or any(
        e in cleaned for e in _ANGRY_EMOJI
    )
    found = _find_amount(low, language, asked)
    amount = found.value if found else None
    timeline = _find_timeline(words)

    def reading(intent: Intent, confidence: float) -> Reading:
        facts = ReadFacts(timeline=timeline, amount=amount) if amount or timeline else _NO_FACTS
        return Reading(intent, confidence, amount, timeline, language, angry, cleaned, facts=facts)

    if key in CARRIER_STOP_KEYWORDS:
        return reading(Intent.OPT_OUT, 1.0)
    if rule := _first((_OPT_OUT, _SOFT_OPT_OUT), words):
        return reading(rule.intent, rule.confidence)
    if opted_out and key in _OPT_IN_AFTER_OPT_OUT:
        return reading(Intent.OPT_IN, 1.0)
    if key in _OPT_IN_KEYWORDS:
        return reading(Intent.OPT_IN, 0.9)
    if key in _HELP_KEYWORDS:
        return reading(Intent.HELP, 1.0)
    if rule := _first((_WRONG_NUMBER, _FIRM_NO), words):
        if (
            rule.intent is Intent.NOT_INTERESTED
            and amount is not None
            and _PRICE_CONDITION.search(words)
        ):
            return reading(Intent.PRICE, 0.8)
        return reading(rule.intent, rule.confidence)
    if rule := _first((_CALLBACK,), words):
        return reading(rule.intent, rule.confidence)
    if found is not None:
        return reading(Intent.PRICE, 0.9 if found.explicit or found.cued else 0.75)
    question = bool(_QUESTION_END.search(cleaned) or _QUESTION_START.search(words))
    if asked is Asked.CONDITION:
        # The answer to "what shape is it in?" is whatever they said, yes/no included.
        if not question:
            return reading(Intent.UNKNOWN, 0.8 if cleaned else 0.0)
    elif timeline is not None:
        return reading(Intent.TIMELINE, 0.85)
    if rule := _first((_SOFT_NO, *_INTERESTED_RULES), words):
        return reading(rule.intent, rule.confidence)
    if any(e in cleaned for e in _NEGATIVE_EMOJI):
        return reading(Intent.NOT_INTERESTED, 0.6)
    if any(e in cleaned for e in _POSITIVE_EMOJI):
        return reading(Intent.INTERESTED, 0.7)
    if question:
        return reading(Intent.QUESTION, 0.7)
    if not cleaned:
        return reading(Intent.UNKNOWN, 0.0)
    return reading(Intent.UNKNOWN, 0.3 if asked is None else 0.6)
