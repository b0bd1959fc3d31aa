"""What a seller's message tells about the property and the seller, beyond its intent.

Pure and table-driven, like bot.intents (which calls these on every message and re-exports
the closed sets). Each table is ordered: the first entry that matches wins, so the more
specific or the more urgent reading comes first ("a retirement home" is health, not the
"retiring" of other; a tenant writing is a tenant even when the message also says "not the
owner"). Patterns run on the "words" form of bot.intents: folded (no case, no accents),
apostrophes removed ("don't" -> "dont", "c'est" -> "cest"), other punctuation a space.

* condition: one of "needs major work", "poor", "needs work", "fair", "good", "updated";
  "needs work" too when repairs or a repair figure were read without a condition word; the
  seller's own words (80 characters at most) when they answer "what shape is it in?" with
  nothing this table knows.
* repairs: the items that need work, in the order written, in English ("roof, windows,
  kitchen"): an item counts when its sentence says it needs work ("needs", "leaks", "shot",
  "à refaire"...) and it is not itself said to be new or redone ("updated kitchen").
* occupancy, motivation, relationship: closed sets (storage.enums', re-exported here: a deal
  stores them).
* question topics: the knowledge base's topics; "am I texting a bot?" is LEGIT.
* handoffs: why a person must take over; the call request and anger are decided by
  bot.intents (they depend on the intent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Generic, TypeVar

from storage.enums import Motivation, Occupancy, Relationship

__all__ = [
    "Handoff",
    "Motivation",
    "Occupancy",
    "QuestionTopic",
    "ReadFacts",
    "Relationship",
    "handoff_reason",
    "question_topic",
    "read_facts",
    "with_condition_answer",
]


class QuestionTopic(StrEnum):
    """What a seller's question is about; each topic has an answer in the knowledge base."""

    WHO = "who"  # who are you, what company
    HOW_GOT_NUMBER = "how_got_number"  # also "why are you texting me?"
    PROCESS = "process"  # how does it work
    FEES = "fees"  # commission, closing costs
    CLOSING_SPEED = "closing_speed"
    AGENT = "agent"  # are you a realtor
    LEGIT = "legit"  # is this a scam; also "am I texting a bot?"
    PROOF_OF_FUNDS = "proof_of_funds"
    OFFER_BASIS = "offer_basis"  # how did you come up with that number
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


@dataclass(frozen=True, slots=True)
class ReadFacts:
    """The facts about the property and the seller read from one message (None: not said)."""

    condition: str | None = None  # short normalised text: "needs work", "good", "updated"
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


NO_FACTS = ReadFacts()


_T = TypeVar("_T")
# Where a word starts in the "words" form (only a-z, 0-9, "$" and "#" remain): what a leading \b
# means there, and a third cheaper for re to look for than \b (measured over the reply corpus).
WORD_START = r"(?<![a-z0-9])"


@dataclass(frozen=True, slots=True)
class _Table(Generic[_T]):
    """Ordered (value, pattern) entries as one regex: a named group per entry behind one shared
    word start, which costs about half of searching the patterns one by one. Compiled once: the
    entries alone are kept as text (`_gate` joins them), since compiling costs start-up time."""

    values: tuple[_T, ...]
    patterns: tuple[str, ...]
    union: re.Pattern[str]


def _table(*entries: tuple[_T, str]) -> _Table[_T]:
    union = re.compile(
        WORD_START + "(?:" + "|".join(f"(?P<e{n}>{p})" for n, (_, p) in enumerate(entries)) + r")\b"
    )
    if union.groups != len(entries):
        raise ValueError("table patterns use (?:...) only, so each entry is its own group")
    return _Table(tuple(v for v, _ in entries), tuple(p for _, p in entries), union)


def _gate(*tables: _Table[object]) -> re.Pattern[str]:
    """One search that tells whether any entry of `tables` can match (most messages: none)."""
    return re.compile(WORD_START + "(?:" + "|".join(p for t in tables for p in t.patterns) + r")\b")


def _first(table: _Table[_T], words: str) -> _T | None:
    """The value of the first entry, in the table's order, that matches anywhere in `words`."""
    best: int | None = None
    for match in table.union.finditer(words):
        n = int(match.lastgroup[1:])  # type: ignore[index]
        if best is None or n < best:
            best = n
            if n == 0:
                break
    return None if best is None else table.values[best]


# --- condition and repairs ------------------------------------------------

_CONDITIONS = _table(
    (
        "needs major work",
        r"needs? (?:a lot of|lots of|alot of|major|serious|tons of|a ton of|significant|a full)"
        r" (?:work|repairs|reno\w*|tlc)|needs everything|gut (?:job|reno\w*)|tear ?down|full reno"
        r"|major repairs|uninhabitable|beaucoup de (?:travaux|reparations)|gros travaux"
        r"|tout (?:est )?a refaire",
    ),
    (
        "poor",
        r"(?:rough|bad|poor|terrible|awful|horrible) (?:shape|condition)|falling apart|run ?down"
        r"|mauvais etat|en ruine|delabree?",
    ),
    (
        "needs work",
        r"needs? (?:some |a bit of |a little |minor |a little bit of |a few )?(?:work|wrk|repairs?"
        r"|updating|updates|tlc|love|fixing|fixing up)|fixer(?: upper)?|handyman special"
        r"|besoin de (?:travaux|reparations|renovations?|amour)|besoin damour|travaux a faire|a renover"
        r"|a retaper",
    ),
    (
        "fair",
        r"(?:fair|ok|okay|decent|average|livable) (?:shape|condition)|in decent|(?:dated|old) but"
        r" (?:solid|ok|okay|good|clean|livable)|etat correct|pas pire",
    ),
    (
        "good",
        r"(?:good|great|excellent|perfect|mint|amazing|nice|very good) (?:shape|condition)"
        r"|move in ready|turn ?key|well (?:maintained|kept)|bon etat|excellent etat|impeccable",
    ),
    (
        "updated",
        r"(?:fully |completely |recently |newly )?(?:renovated|updated|remodeled|remodelled"
        r"|renovee?)|refait a neuf|(?:was|were|got|been|recently) (?:redone|replaced|renovated|updated)",
    ),
)
_REPAIR_ITEMS = (
    ("roof", r"roofs?|roofing|shingles|toiture|toit"),
    ("windows", r"windows?|fenetres?"),
    ("kitchen", r"kitchen|cuisine"),
    ("bathroom", r"bathrooms?|salles? de bains?"),
    ("foundation", r"foundation|fondations?"),
    ("furnace", r"furnace|fournaise"),
    ("heating", r"heating|chauffage|boiler"),
    ("hvac", r"hvac|air conditioning|climatisation"),
    ("plumbing", r"plumbing|plomberie|pipes"),
    ("electrical", r"electrical|wiring|electricite|electrique"),
    ("basement", r"basement|sous sol"),
    ("floors", r"floors?|flooring|planchers?"),
    ("siding", r"siding|revetement"),
    ("paint", r"paint|painting|peinture"),
    ("water damage", r"water damage|degats? d eau"),
    ("mold", r"mold|mould|moisissures?"),
    ("septic", r"septic|fosse septique"),
    ("deck", r"deck|balcon"),
    ("drywall", r"drywall|gypse"),
    ("insulation", r"insulation|isolation"),
    ("water heater", r"water heater|chauffe eau"),
    ("carpet", r"carpets?|tapis"),
    ("gutters", r"gutters?|gouttieres?"),
    ("chimney", r"chimney|cheminee"),
)
_ITEM = re.compile(
    "|".join(rf"\b(?P<i{n}>{pattern})\b" for n, (_, pattern) in enumerate(_REPAIR_ITEMS))
)
_NEEDS_WORK = re.compile(
    r"\b(?:needs?|needed|repair\w*|fix\w*|redo|replac\w*|leak\w*|flood\w*|broken|bad|shot|dated|issues?"
    r"|problems?|(?<!years )(?<!year )(?<!yrs )(?<!yr )(?<!ans )old"
    r"|damaged?|rott\w*|rotten|crack\w*|worn|trashed|sagg\w*|falling|a refaire|refaire|reparer"
    r"|changer|brisee?s?|endommag\w*|travaux|fuit|coule|usee?s?|pourri\w*|besoin)\b"
)
_DONE_BEFORE = re.compile(
    r"\b(?:updated|renovated|remodeled|redone|replaced|newer|brand new|refaite?s?|renovee?s?"
    r"|neuve?s?)\s+$|(?<!\ba )(?<!\ban )\bnew\s+$"
)
_DONE_AFTER = re.compile(
    r"\s+(?:is |was |are |were )?(?:new|updated|redone|replaced|done|neuve?s?|refaite?s?)\b"
)
_SENTENCES = re.compile(r"[.;!?\n]+|\b(?:but|mais)\b")
_WORD_NOISE = re.compile(r"[^a-z0-9$#]+")


def _repairs(low: str) -> str | None:
    found: list[str] = []
    for sentence in _SENTENCES.split(low):
        words = " ".join(_WORD_NOISE.sub(" ", sentence.replace("'", "")).split())
        if not _NEEDS_WORK.search(words):
            continue
        for m in _ITEM.finditer(words):
            name = _REPAIR_ITEMS[int(m.lastgroup[1:])][0]  # type: ignore[index]
            done = _DONE_BEFORE.search(words, 0, m.start()) or _DONE_AFTER.match(words, m.end())
            if not done and name not in found:
                found.append(name)
    return ", ".join(found) if found else None


# --- occupancy, motivation, relationship ------------------------------------

_OCCUPANCY = _table(
    (
        None,  # "we stopped renting it out": no longer rented, and nothing said of now
        r"(?:stopped|quit|no longer) (?:renting|leasing)",
    ),
    (
        Occupancy.TENANT,
        r"tenants?|tenanted|evict\w*|renters?|rented(?: out)?|rental|leased|lease|rent(?:ed|ing)? it out"
        r"|(?:i|we) (?:just |only )?rent (?:here|this|it|the)|locataires?|louee?|en location"
        r"|(?:month|monthly|mo) rent|pays? rent|paying rent|loyer",
    ),
    (
        Occupancy.VACANT,
        r"vacante?s?|empty(?! nest)|unoccupied|(?:nobody|no one|noone|nobodys|no ones)"
        r" (?:lives|lived|living|is living|there|been)"
        r"|vide|inoccupee?|personne (?:n y )?(?:habite|vit|reste)",
    ),
    (
        Occupancy.OWNER,
        r"(?:i|we) (?:still )?(?:live|living|reside) (?:there|here|in it|in the house|in the home)"
        r"|(?:i|we) live there|owner occupied|j habite|on habite|nous habitons|j y habite"
        r"|on y habite|on y reste",
    ),
)
_MOTIVATION = _table(
    (
        Motivation.BEHIND_ON_PAYMENTS,
        r"behind (?:\w+ ){0,3}(?:on|with) (?:the |my |our )?(?:mortgage|payments?|taxes|property taxes)"
        r"|foreclos\w*|power of sale|missed (?:payments|mortgage payments)"
        r"|(?:cant|cannot|can t) (?:afford|make|keep up with) (?:the |my |our )?(?:payments|mortgage)|arrears"
        r"|en retard (?:sur|de|dans) (?:la |les |mes |l ?)?(?:hypotheque|paiements?|taxes)"
        r"|saisie|reprise de finance",
    ),
    (Motivation.DIVORCE, r"divorc\w*|separat(?:ed|ing|ion)|split up|se separe\w*|separee?s"),
    (
        Motivation.INHERITED,
        r"inherit\w*|herit\w*|(?<!real )estate|probate|succession|executor|l?executrice"
        r"|liquidat(?:eur|rice)"
        r"|late (?:mother|father|mom|dad|husband|wife|parents?|aunt|uncle|grand\w*)s?",
    ),
    (
        Motivation.HEALTH,
        r"health|medical|hospital|nursing home|retirement home|assisted living|long term care"
        r"|care home|sante|malad\w*|chsld|residence pour (?:aines|personnes agees)|cancer|stroke"
        r"|dementia|alzheimer\w*",
    ),
    (
        Motivation.LANDLORD_TIRED,
        r"(?:tired|sick) of (?:being a landlord|being landlords|landlording|tenants|renting|dealing with"
        r" tenants|the tenants)"
        r"|done (?:being a landlord|with tenants)|tanne\w* (?:des|de mes|de nos|d avoir des) locataires"
        r"|fatigue\w* (?:des locataires|d etre proprio\w*)",
    ),
    (
        Motivation.DOWNSIZING,
        r"downsiz\w*|too big (?:for us|now)|empty nest\w*|kids (?:are gone|moved out|have moved)"
        r"|smaller (?:place|home|house)|plus petit|trop grande",
    ),
    (
        Motivation.RELOCATING,
        r"relocat\w*|moving (?:to|out of (?:state|province|town|the country)|for (?:work|a job)"
        r"|away|across)|(?:were|we re|im|i m|we are|i am) moving|job transfer|transferred"
        r"|new job|(?:got|has|have|took|accepted|found) a (?:new )?job (?:in|at|out|offer)"
        r"|demenag\w*|transfert|mutation",
    ),
    (
        Motivation.OTHER,
        r"retir(?:ing|ed|ement)(?! home)|need (?:the )?(?:cash|money)|besoin d argent",
    ),
)
_RELATIVES = (
    r"mom|moms|mother|mothers|dad|dads|father|fathers|parents|grand\w*|brother|brothers|sister"
    r"|sisters|aunt|aunts|uncle|uncles|son|sons|daughter|daughters"
)
_RELATIONSHIP = _table(
    (
        Relationship.TENANT,
        r"(?:i|we) (?:just |only )?rent (?:here|this (?:place|house|home|unit|apartment)|it(?! out)|the"
        r" (?:place|house|home|unit|basement|apartment)|from)|(?:im|i m|i am) (?:a |the |just a )?"
        r"(?:tenant|renter)|(?:im|i m|i am|were|we re|we are) renting|je suis (?:le |la |un |une )?"
        r"locataire|jsuis locataire|(?:on est|nous sommes) locataires?",
    ),
    (
        Relationship.EXECUTOR,
        r"(?:co )?executors?|executrix|estate trustee|liquidat(?:eur|rice)|l?execut(?:eur|rice) testamentaire"
        r"|power of attorney",
    ),
    (
        Relationship.SPOUSE,
        r"this is (?:his|her) (?:wife|husband)|(?:im|i m|i am) (?:his|her) (?:wife|husband)"
        r"|my (?:husband|wife|hubby) (?:owns|says|said|handles|is the owner|bought)"
        r"|my (?:late )?(?:husband|wife) (?:passed|died|owned)"
        r"|in my (?:husbands|wifes) name|my (?:husbands|wifes) (?:house|name)"
        r"|je suis (?:sa femme|son mari|sa conjointe|son conjoint)|mon mari (?:dit|est le"
        r" proprietaire)|ma (?:femme|conjointe) (?:dit|est la proprietaire)",
    ),
    (
        Relationship.FAMILY,
        rf"(?:its|it s|this is|the house is|house is) (?:my )?(?:late )?(?:{_RELATIVES}) (?:house|home|place)"
        rf"|my (?:late )?(?:{_RELATIVES}) (?:house|home|place|owns|owned|moved|passed|died|is in|was in"
        r"|went)|(?:his|her) (?:son|daughter)"
        r"|la maison de (?:ma|mon|mes)|je suis (?:sa fille|son fils)",
    ),
    (
        Relationship.NOT_OWNER,
        r"not the owner|(?:i|we) (?:dont|do not|dnt|doesnt|never|no longer|didnt) own|never owned"
        r"|not (?:my|our) (?:house|home|property)|pas (?:le |la )?proprietaire",
    ),
    (
        Relationship.OWNER,
        r"(?:im|i m|i am|were|we re|we are) the owners?|owner here|(?:this is|its|it s) (?:\w+ )?the owner"
        r"|(?:i|we) (?:still )?own"
        r" (?:it|the house|the home|the property|that|\d+)|still own (?:it|the|that)"
        r"|je suis (?:toujours |encore )?(?:le |la )?proprietaire",
    ),
)


# --- questions ------------------------------------------------------------

# Each pattern is a question by its wording; `_TOPIC_NOUNS` below ask only in a question.
_TOPICS = _table(
    (
        QuestionTopic.HOW_GOT_NUMBER,
        r"how (?:did|d|do|does) (?:you|u|ya|yall|you guys) (?:get|got|find|have) (?:my|this|our)"
        r"|hw (?:did|d|do) (?:you|u) (?:get|got|find)|howd (?:you|u) get|how (?:you|u) (?:got|get) (?:my"
        r"|this)|who gave (?:you|u) (?:my|this|our)"
        r"|how (?:did|d) (?:you|u) find (?:me|us|my|this)|whered (?:you|u) (?:get|find)"
        r"|where (?:did|d|do) (?:you|u)"
        r" (?:get|find|pull|got) (?:my|this|our)|how do (?:you|u) know (?:my|where|about|who)"
        r"|(?:why|y) (?:are|r|do|did) (?:you|u) (?:keep )?(?:texting|txting|messaging|contacting"
        r"|writing|sending|reaching)|comment (?:avez vous|vous avez|as tu|t as)(?: eu)? (?:eu )?"
        r"(?:mon|mes|notre)|ou (?:avez vous|vous avez|as tu) (?:pris|eu|trouve|obtenu) (?:mon|mes)"
        r"|pourquoi (?:vous )?(?:mecrivez|me textez|me contactez|mecrire)",
    ),
    (
        QuestionTopic.OFFER_BASIS,
        r"can (?:it|the offer|the price|that) change|(?:is|will) (?:the|your) (?:offer"
        r"|price) (?:be )?(?:final"
        r"|firm|change)|"
        r"how (?:did|do|d) (?:you|u) (?:come up with|get|arrive at|calculate|figure|work out"
        r"|determine|get to) (?:that|the|this|your) (?:number|price|offer|figure|amount)|(?:how|howd)"
        r" (?:did |do |d )?(?:you|u) (?:come up with|arrive at|calculate|get to) (?:that |this )?"
        r"(?:\$?\d+\w*)|how (?:did|do|d) (?:you|u) (?:calculate|figure|come up with|arrive at|work out"
        r"|determine) (?:that|this|it)|why (?:is |s )?(?:it |that |this |your offer |the offer |your price"
        r"|the price |your number )?(?:so |that |this )?low|what s (?:that"
        r"|this|it|your offer) based on|whats (?:that|this|it) based on|what is (?:that|this)"
        r" based on|based on what|where (?:did|does) (?:that|this|the) (?:number|price|offer) come"
        r" from|where (?:did|does|do) your (?:number|price|offer|figure) come from|comment (?:vous etes"
        r"|avez vous)"
        r" (?:arrive\w*|calcule\w*|trouve) (?:a )?(?:ce|cette|votre) (?:chiffre|prix|montant"
        r"|offre)|sur quoi (?:vous )?(?:vous basez|est basee?)",
    ),
    (
        QuestionTopic.NEXT_STEPS,
        r"what (?:happens|comes) (?:next|now|after\w*|then|if i (?:say yes|accept|agree))"
        r"|whats next|what s next|what is next|next steps?"
        r"|then what|what now|what do (?:i|we) (?:do|need to do) (?:now|next)|et ensuite"
        r"|et apres|(?:pis|et) (?:apres|ensuite|quoi apres)|prochaines? etapes?|quelle est la suite"
        r"|cest quoi la suite|on fait quoi",
    ),
    (
        QuestionTopic.PROCESS,
        r"what if (?:the )?(?:inspection|appraisal|something)|(?:would|do|will) (?:you|u) (?:buy|take) (?:it"
        r" |houses? |homes? |properties )?(?:with|that|as is|in any)"
        r"|(?:do|must) (?:i|we) (?:need|have) to (?:clean|fix|repair|empty)"
        r"|how (?:does|do|would|will) (?:\w+ ){0,4}(?:work|go)|whats the process|what s the process"
        r"|what is the process|(?:explain|tell me about) the process|(?:take|walk) (?:me|us) through"
        r"|explain how|how do (?:you|u) (?:buy|do"
        r" this|do it)|what are the steps|comment (?:ca|cela) (?:marche|fonctionne|se passe)"
        r"|cest quoi le processus|quel est le processus|comment vous (?:procedez|fonctionnez)"
        r"|(?:is there|will there be|do (?:you|u) (?:do|need|want)|do (?:i|we) need|any|y a t il|y a tu"
        r"|ya tu)"
        r" (?:an? |une |des )?inspections?",
    ),
    (
        QuestionTopic.CLOSING_SPEED,
        r"(?:can|could) we close (?:after|before|in|on|by|within)|"
        r"how (?:fast|quick|quickly|soon) (?:can|could|would|will|do|does|is)|how long (?:does|do"
        r"|would|will|till|until|to|before)|when (?:can|could|would) (?:you|u|we) close"
        r"|combien de temps|how quickly|how fast|(?:timeline|time) to close"
        r"|closing timeline|(?:pouvez vous|vous pouvez|pourriez vous|vous pourriez) (?:acheter|fermer"
        r"|conclure|passer chez le notaire) (?:rapidement|vite|bientot|dans)|(?:can|could|would) (?:you"
        r"|u) (?:close|buy it|buy|do it|move) (?:in|within|by|before"
        r"|fast|quickly|quick|soon|this)",
    ),
    (
        QuestionTopic.LEGIT,
        r"(?:is|this) (?:this|it) (?:a )?(?:scam|legit|real|legitimate|for real|joke|serious|spam)"
        r"|is this a real (?:company|person|offer|business)|(?:whats|what s|wats|what is) the catch"
        r"|is there a catch|any catch|(?:you|u|ya)(?: guys)? (?:legit|real|a scam|for real)"
        r"|^(?:a |an )?(?:scam|legit|real person|bot|robot|human|ai|automated|spam|fraud)$"
        r"|too good to be true|cest quoi la pogne|is this (?:ai|a person|a human)"
        r"|(?:je parle|on parle|je texte|je jase|je parle tu) (?:a|avec) (?:un |une )?(?:robot|machine|humain"
        r"|vraie? personne|ordinateur|bot|ia)"
        r"|how (?:do|can|would) (?:i|we) know (?:this|that|you|youre|you re|it) (?:is |are |re )?(?:legit"
        r"|real"
        r"|legitimate|not a scam)|(?:are|r) (?:you|u) (?:a |an )?(?:real"
        r"|legit|scam\w*|bot|robot|human|person|ai|machine|automated|computer)|(?:am i|are we)"
        r" (?:even )?(?:texting|talking|chatting|speaking) (?:to |with )?(?:a |an )?(?:bot|robot"
        r"|machine|computer|human|person|real|ai)|(?:is this|this is) (?:a |an )?(?:bot|robot"
        r"|automated|ai)|(?:cest|c est|est ce que cest|est ce) (?:tu |ti )?(?:une |un )?(?:arnaque|robot"
        r"|fraude|serieux|vrai\w*|bot)|(?:etes vous|es tu|tes) (?:un |une )?(?:robot|vrai\w*|humain"
        r"|personne|bot)",
    ),
    (
        QuestionTopic.PROOF_OF_FUNDS,
        r"(?:will|do|would|can) (?:you|u) pay (?:in |with |all )?cash|"
        r"proof of funds|(?:do|can|will|does) (?:you|u|ya|your company) (?:actually |even |really )?"
        r"(?:have|got) (?:the )?(?:cash|money|funds|financing)|prove (?:you|u) (?:have|got)"
        r"|(?:you|u) (?:actually |even |really )(?:have|got) (?:the )?(?:cash|money|funds)"
        r"|proof (?:you|u|that you) (?:have|got)|show me (?:proof|the money|the funds)"
        r"|how (?:are|will|would|r|do) (?:you|u)"
        r" (?:pay|paying|finance|financing|fund)|cash or (?:financing|mortgage|loan)|(?:are|r)"
        r" (?:you|u) (?:a )?cash buyers?|preuve de fonds|(?:avez vous|as tu|vous avez) (?:les |l )?l?"
        r"(?:fonds|argent|financement|cash)|comment (?:allez vous|vous allez) payer",
    ),
    (
        QuestionTopic.WHO,
        r"^(?:sorry |um+ |uh+ |hi |hey |wait )?who$|^(?:sorry |um+ |uh+ |wait )?who (?:i|is)"
        r"|what makes (?:you|u) different|are (?:you|u) the (?:ones|people|guys|company) (?:who|that)"
        r"|(?:who|whos) (?:tf |the (?:hell|heck|f) )?(?:is|are|am|r|dis|this|s this|is this|do you"
        r" (?:work|represent)|do u|texting|asking)|whos (?:this|dis|that)|who dis|what (?:company"
        r"|business|firm|outfit)|qui (?:etes vous|est ce|parle|ecrit|est la|etes|es tu)|cest qui"
        r"|c est qui|(?:quelle|quel) (?:compagnie|entreprise|societe)|vous etes qui|t es qui"
        r"|name of (?:your|the) (?:company|business)|(?:votre|ta) (?:compagnie"
        r"|entreprise|societe|business)",
    ),
)
# Words that ask only in a question ("any fees?", "need to see the house first?"); said plainly
# ("no commission, I know", "we'll clean it out first") they ask nothing.
_TOPIC_NOUNS = _table(
    (
        QuestionTopic.FEES,
        r"fees?|commissions?|closing costs?|moving (?:costs?|expenses)|hidden (?:costs|fees)|charges?"
        r"|do i (?:have to )?pay (?:anything|any|for)|cost me anything|any costs|who pays|frais|couts?"
        r"|does it cost",
    ),
    (
        QuestionTopic.PROCESS,
        r"(?:need|want|have) to see (?:the house|it|the property|inside)|stay (?:in (?:the house|it) )?"
        r"(?:for \w+ \w+ )?(?:after|past) clos\w*|rent back|leaseback|clean (?:it )?out"
        r"|leave (?:stuff|things|furniture|items|belongings|anything) behind",
    ),
    (QuestionTopic.OFFER_BASIS, r"change after (?:the )?inspection|renegotiat\w*"),
    (QuestionTopic.LEGIT, r"back out"),
    (QuestionTopic.CLOSING_SPEED, r"closing (?:date|time)"),
    (QuestionTopic.WHO, r"company name|your company|your name|votre nom"),
    (
        QuestionTopic.AGENT,
        r"(?:are|r|is) (?:you|u|this|ya|yall|y all)(?: guys)? (?:a |an |with a |the )?(?:realtors?"
        r"|agents?|real estate agents?|brokers?|investors?|wholesalers?)|(?:etes vous|es tu|tes|vous etes"
        r"|cest) (?:un |une |des )?(?:agent|courtier|agente)s?|are you licensed|^(?:you|u|ya) (?:a |an )?"
        r"(?:realtor|agent|broker)s?|(?:list|listing) (?:it|my house|the house|on (?:the )?mls)|on the mls",
    ),
)


def question_topic(words: str, *, is_question: bool) -> QuestionTopic | None:
    """The topic of what the message asks: its asking words anywhere, or in a question (a question
    mark, a question word first) the words that ask only there."""
    return _first(_TOPICS, words) or (_first(_TOPIC_NOUNS, words) if is_question else None)


# --- handoffs -------------------------------------------------------------

_HANDOFFS = _table(
    (
        Handoff.LEGAL,
        r"lawyers?|(?<!power of )attorney\w*|legal action|lawsuit|(?:ill|i ll|i will|will|going to|gonna"
        r"|to) sue|sue (?:you|u|your|them)|suing|sued|(?:take|see) (?:you|u) (?:to|in)"
        r" court|cease and desist|tcpa|class action|avocate?s?|poursuite\w*|poursuivre"
        r"|mise en demeure",
    ),
    (
        Handoff.HARASSMENT,
        r"harass\w*|harcel\w*|report(?:ing|ed)? (?:you|u|this|your)|(?:file|filing|filed|make|making"
        r"|made|lodge|lodged) a complaint|complain(?:ing)? to|fcc|crtc|bbb|better business bureau"
        r"|(?:call|calling|called) the (?:police|cops)|(?:porter|deposer) plainte",
    ),
    (
        Handoff.DEATH_ESTATE,
        r"pass(?:ed)? away|(?:mom|dad|mother|father|husband|wife|parents?|son|daughter|brother|sister"
        r"|grand\w*|aunt|uncle|owner) (?:just |recently )?(?:passed|died|is dead)|(?:he|she) (?:just "
        r"|recently )?"
        r"(?:passed away|died|is dead|passed(?! the| an? | it| on the| all| inspection| his| her| my| our))"
        r"|death(?! trap)"
        r"|deceased|funeral|lost (?:my|our) (?:mom|dad|mother|father|husband|wife|son"
        r"|daughter|brother|sister|parents?)|(?<!real )estate|probate|late (?:mother|father|mom|dad"
        r"|husband|wife|parents?|aunt|uncle|brother|sister|grand\w*)s?|decede\w*|deces|succession"
        r"|est morte?|homologation",
    ),
    (
        Handoff.DIVORCE_DISPUTE,
        r"but (?:my )?(?:wife|husband|spouse|partner|brother|sister) (?:doesnt|does not|wont|won t|dont"
        r"|isnt)|"
        r"(?:wife|husband|spouse|partner|brother|sister|co owner) (?:doesnt|does not|wont|won t|dont|isnt|is"
        r" not) (?:want|agree|on board)|"
        r"divorc\w*|separat(?:ed|ing|ion)|split up|se separe\w*|separee?s|my ex|(?:cant|can t|cannot"
        r"|dont|do not|couldnt) agree|disagree\w*"
        r"|ex (?:wife|husband|wifes|husbands)"
        r"|disput\w*|(?:wont|won t|refuses? to|doesnt want to) (?:sign|agree)|litige"
        r"|mon ex|ma ex|conteste\w*",
    ),
    (
        Handoff.TENANT_DISPUTE,
        r"(?:tenants?|renters?|locataires?) (?:\w+ ){0,2}(?:wont|won t|will not|refuses? to"
        r"|refusing to|doesnt|dont|hasnt|havent|stopped|never|not) (?:pay|paid|paying|(?:leave"
        r"|leaving|move|moving)(?! (?:out )?(?:until|till|til|before|in|at the end)))|evict\w*|squatt\w*"
        r"|landlord and tenant board|ltb|tribunal"
        r" administratif du logement|regie du logement|(?:locataires?) (?:\w+ ){0,2}(?:paie|paye"
        r"|paient|payent) (?:pas|plus)|expuls\w*|not paying (?:the )?rent|behind on rent",
    ),
)


def handoff_reason(words: str) -> Handoff | None:
    """A reason in the words themselves (not the call request nor anger: see bot.intents)."""
    return _first(_HANDOFFS, words)


# --- facts ----------------------------------------------------------------

_ANY_FACT = _gate(_CONDITIONS, _OCCUPANCY, _MOTIVATION, _RELATIONSHIP)  # type: ignore[arg-type]
_NOT_A_CONDITION = re.compile(
    r"^(?:yes|yeah|yep|ya|no|nope|nah|ok|okay|k|sure|maybe|idk|dunno|not sure|oui|non|lol|hmm+)$"
)
_CONDITION_ANSWER_LENGTH = 80
# What a plain answer to "what shape is it in?" opens with: "pretty good, new roof last year".
_CONDITION_WORDS = _table(
    (
        "good",
        r"^(?:its |it s |it is |the house is |house is |shes |she s |in )?(?:pretty |really |very |real "
        r"|super )?(?:good|great|excellent|fine|nice|perfect|amazing|solid|bon|tres bon|excellent)",
    ),
    (
        "fair",
        r"^(?:its |it s |it is |the house is |house is |in )?(?:ok|okay|decent|fair|average|alright"
        r"|not bad|so so|correct|pas pire|moyen|passable)",
    ),
    (
        "poor",
        r"^(?:its |it s |it is |the house is |house is |in )?(?:pretty |really |very )?(?:rough|bad|poor"
        r"|terrible|awful|not good|not great|mauvais)",
    ),
)


def read_facts(
    low: str,
    words: str,
    *,
    amount: int | None,
    timeline: str | None,
    repair_cost: int | None,
) -> ReadFacts:
    """Every fact in the message (its price, timeline and repair figure read by the caller)."""
    repairs = _repairs(low) if _NEEDS_WORK.search(words) else None
    condition = occupancy = motivation = relationship = None
    if _ANY_FACT.search(words):
        condition = _first(_CONDITIONS, words)
        occupancy = _first(_OCCUPANCY, words)
        motivation = _first(_MOTIVATION, words)
        relationship = _first(_RELATIONSHIP, words)
    if condition is None and (repairs or repair_cost):
        condition = "needs work"
    if not (condition or occupancy or motivation or relationship or amount or timeline):
        return NO_FACTS
    return ReadFacts(
        condition, repairs, repair_cost, timeline, amount, occupancy, motivation, relationship
    )


def with_condition_answer(facts: ReadFacts, answer: str, words: str) -> ReadFacts:
    """The seller's own words as the condition when they answer "what shape is it in?" with
    nothing the condition table knows (a yes or a no is not a condition)."""
    if facts.condition is not None or not answer or _NOT_A_CONDITION.match(words):
        return facts
    said = _first(_CONDITION_WORDS, words)
    return replace(facts, condition=said or answer[:_CONDITION_ANSWER_LENGTH])
