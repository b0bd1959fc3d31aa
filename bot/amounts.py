"""Amounts in a seller's message: which number is the asking price and which the repairs.

Pure and table-driven, like bot.intents (which calls `read_amounts` on every message).
A message can hold several numbers ("The house needs about 50k of work (roof, windows,
kitchen). I'm relocating in 6 weeks. Looking for $340,000."); each is read in its context:

* Never money: phone numbers, dates ("march 15", "12/15"), street and unit numbers ("123 Main
  St", "#4"), years ("built in 1978"), durations, sizes, rents ("1800/mo").
* Not the seller's price: a repair figure ("50k of work", "needs 40k in repairs", "roof (~12k)"),
  an estimate ("Zillow says 520", "appraised at 410k", "neighbours sold for 450k"), what is
  owed or was paid ("I owe 180k", "bought it for 210k").
* The price: a cued number ("looking for $340,000", "I'd take 380k", "310 firm") beats an
  uncued one ("already sold, 310k"), and a number read as written beats one read through context.

The small-number rule: a number with a suffix (k, thousand, grand, mille, M, million) or of
10,000 or more is read as written. A bare number under 10,000 needs a price context: a cue word,
``price_context`` (the bot asked for the price, or is negotiating), a soft cue ("maybe 400",
"thinking 650", "autour de 400": 50..999 only), or standing alone in a list ("yes. needs work, 6
months, 350"). Under 10 it counts in hundreds of thousands ("3.5" -> 350,000), otherwise in
thousands ("350" -> 350,000); millions need a suffix ("1.2M"). Prices outside
10,000..100,000,000 are dropped.

Ranges: "mid 300s" (330-370k), "low 400's" (400-430k), "high 200s" (270-300k), "the 500s",
"300-350k", "$300k to $350k", "between 275 and 300": the price is the midpoint and the range
is kept, so the conversation confirms it instead of taking it as firm.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import Decimal

from text_to_num import alpha2digit

__all__ = ["NO_AMOUNTS", "Amounts", "read_amounts"]


@dataclass(frozen=True, slots=True)
class Amounts:
    price: int | None = None  # the asking price, whole dollars (a range's midpoint)
    price_range: tuple[int, int] | None = None
    price_sure: bool = False  # read as written or cued, not only through context
    repair_cost: int | None = None


NO_AMOUNTS = Amounts()

_MONTH_NAMES = (
    r"jan|january|janvier|feb|february|fevrier|march|mars|apr|april|avril|may|mai|june|juin"
    r"|july|juillet|aug|august|aout|sept?|september|septembre|oct|october|octobre|nov|november"
    r"|novembre|dec|december|decembre"
)
_STREETS = (
    r"st|street|ave|avenue|rd|road|dr|drive|blvd|boulevard|cres|crescent|ct|crt|ln|lane|terrace"
    r"|cir|circle|hwy|highway|pkwy|parkway|trail|sideroad"
)
# Spans that hold digits but never money; blanked out before numbers are read. Separate
# patterns, each with a plain first character: one alternation of them all costs 3 times more.
_NOT_MONEY_SPANS = tuple(
    re.compile(pattern, re.ASCII)
    for pattern in (
        r"(?<![\w+])(?=[+(\d])\+?1?[\s.-]?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b",  # a phone
        r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b\d{4}-\d{1,2}-\d{1,2}\b",  # 12/15, 2025-03-01
        rf"\b(?:{_MONTH_NAMES})\.?\s+\d{{1,2}}(?:st|nd|rd|th|er)?\b",  # march 15th
        rf"\b\d{{1,2}}(?:st|nd|rd|th|er)?\s+(?:{_MONTH_NAMES})\b",  # 15 mars
        rf"\b\d{{1,6}}\s+(?:[a-z]+\s+){{1,3}}(?:{_STREETS})\b",  # 123 main st
        r"\b\d{1,6},?\s+(?:rue|chemin|ch|rang|boul|route|montee)\b",  # 123 rue principale
        r"(?:#|\b(?:unit|apt|suite|lot|zip|postal code|mls))\W{0,3}\d+",  # unit 4, zip 90210
    )
)
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
# A number followed by one of these is a duration, a size, a rent or a time, never a price.
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:%|percent|days?|weeks?|wks?|months?|mos?|mths?|years?|yrs?|hours?|hrs?|mins?|minutes?"
    r"|am|pm|a\.m|p\.m|o ?clock|bed\w*|bd|br|bath\w*|ba|sq\w*|ft|feet|acres?|units?|doors?|kids?"
    r"|people|times|x|st|nd|rd|th|jours?|semaines?|mois|ans?|annees?|heures?|chambres?|pieds?"
    r"|de la|a month|per month|monthly|par mois|enfants?)\b"
    r"|\s*/\s*(?:mo|month|m|wk|week|yr|year|mois|an)\b",
    re.ASCII,
)
# ... and a bare number right after one of these is a time or a date ("call me at 5").
_NOT_MONEY_BEFORE = frozenset(
    {"at", "@", "by", "after", "before", "until", "till", "since", "in", "of", "vers", "a"}
)
_PRICE_WORD_BEFORE = re.compile(
    r"(?:(?:\bwant\w*|\bconsider\w*|\bneed\b|\bask\w*|\btak(?:e|ing)|\baccept|\bget|\bless than|\bat least"
    r"|\bminimum|\bmin|\bbottom|\bfor|\bwould do|\bdo|\bprice|\bhow about|\bwhat about"
    r"|\bcounter|\bgive me|\bprix|\bveux|\bvoudrais|\bau moins|\bmoins de|\bdemande\w*|\bpour"
    r"|\bunder|\bbelow|\blowest|\bgo|\bmake it|\bmeet (?:me |you |us )?at|\bmiddle at|\bsettle (?:at|for|on)"
    r"|\bprendrais|\bmontez a"
    r"|\bcest"
    r"|\bits|\bhoping for|\blooking at)"
    r"\W+(?:\w+\W+){0,2})$"  # the cue, then at most two words before the number
)
_PRICE_WORD_AFTER = re.compile(
    r"\s*\$?\s*(?:firm|final|obo|or best|minimum|min|bottom|dollars|bucks|cash|negotiable|neg|ono"
    r"|ferme|piasses|piastres|is my (?:price|bottom|final|number)|or nothing|it is|is fine"
    r"|would work|works)\b"
)
# A dollar sign marks money, but in a sentence about repairs the repairs' money ("roof ($15k quote)").
_DOLLAR_BEFORE = re.compile(r"\$\s*$")
_DOLLAR_AFTER = re.compile(r"\s*\$")
# Weaker cues: enough for a 3-digit number to mean thousands ("maybe 400", "thinking 650").
_SOFT_CUE_BEFORE = re.compile(
    r"\b(?:maybe|probably|around|about|roughly|approx\w*|like|thinking|hoping|expecting|ballpark"
    r"|autour de|environ|genre|peut etre)\W+$"
)
# Reading a repair figure: "50k of work", "40k in repairs", "30 000 $ de travaux", "40k to finish".
_REPAIR_AFTER = re.compile(
    r"\s*\+?\s*\$?\s*\)?\s*(?:(?:of|in|for|worth of|de|d|en|on|on the|in the)\s+)?"
    r"(?:(?:needed|necessary|urgent|major|minor|roof|structural|more|other)\s+)?"
    r"(?:work|wrk|repairs?|renos?|renovations?|fix\w*|updates|upgrades|travaux|reparations?)\b"
    r"|\s*\+?\s*\$?\s*(?:to|pour) (?:fix|repair|redo|renovate|reno|update|finish|bring|make it"
    r"|get it|refaire|reparer|renover|fixer|finir)\b"
)
_REPAIR_NOUNS = (
    r"repairs?|work|wrk|renos?|renovations?|fix\w*|travaux|reparations?|roof\w*|windows?|kitchen"
    r"|bathrooms?|foundation|furnace|hvac|plumbing|electrical|wiring|basement|floors?|flooring"
    r"|siding|paint\w*|mold|mould|septic|deck|driveway|drywall|insulation|carpets?|toiture|toit"
    r"|fenetres?|cuisine|salle de bains?|fondations?|plomberie|planchers?|fournaise"
)
_REPAIR_BEFORE = re.compile(rf"\b(?:{_REPAIR_NOUNS})\b(?:\W+\w+){{0,3}}\W*$")
_REPAIR_JUST_BEFORE = re.compile(rf"\b(?:{_REPAIR_NOUNS}|replac\w*|redo|needs? (?:\w+ )?(?:done|doing))\W*$")
_ESTIMATE = re.compile(
    r"\b(?:zillow|zestimate|redfin|housesigma|house sigma|realtor|realtors|trulia|mpac"
    r"|purplebricks|assess\w*|apprais\w*|evaluat\w*|valuation|valued|municipal\w*|online"
    r"|website|neighbou?rs?|next door|down the street|comps?|comparables|sold (?:for|at)"
    r"|listed (?:at|for)|list price|agent|broker|estimat\w*|bank says|role)\b"
)
_OWED_OR_PAID = re.compile(
    r"\b(?:owe\w*|owing|mortgage|balance|payoff|pay off|paid|bought|purchased|refinanc\w*|heloc"
    r"|loan|lien|taxes|hypotheque|dette|achete\w*|paye|rent|loyer|income)\b"
)
# Our own number quoted back: "you offered 250?? no way", "I accept your offer of 275".
_OURS = re.compile(
    r"\b(?:(?:you|u) (?:offered|said|quoted|offering)|your (?:offer|number|price)(?: of| is| was| at)?)\W*$"
)
_OWED_AFTER = re.compile(r"\s*(?:left|remaining|owing|owed|on (?:the|my) mortgage|de dette)\b")
_BETWEEN = re.compile(r"\b(?:between|entre)\W+$")
_RANGE_JOIN = re.compile(r"\s*\$?\s*(?:-|\u2013|to|a|\u00e0)\s*\$?\s*")
_RANGE_AND = re.compile(r"\s*\$?\s*(?:and|et)\s*\$?\s*")
# "mid 300s", "low 400's", "high 200s", "the 500s"
_BAND = re.compile(
    r"\b(?:(?P<pos>low|lower|mid|middle|high|upper)[\s-]*|(?:the|les) )"
    r"(?P<n>[1-9]\d{1,2})(?:k|,?000)?\s?'?s\b"
)
_BAND_SHARE = {
    None: (0.0, 1.0), "low": (0.0, 0.3), "lower": (0.0, 0.3), "mid": (0.3, 0.7),
    "middle": (0.3, 0.7), "high": (0.7, 1.0), "upper": (0.7, 1.0),
}  # fmt: skip
_STANDALONE = re.compile(r"[\s$?!~)(]*")
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
_A_MILLION = re.compile(r"^(?:\w+ ){0,2}a (?:mil|million)\b")  # "a mil", asked the price: not "a million texts"
# "a million texts", "a thousand times": a way of speaking, not an amount (asked the price, "a mil" is).
_A_MANY = re.compile(
    r"\ba (?:million|thousand|hundred|billion|mil)\b(?! (?:thousand|grand|k|and|dollars|bucks|cash|firm"
    r"|obo)\b)"
)
_WORD_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")  # "three-fifty"
_AND_A_HALF = re.compile(r"\b([1-9]) (?:and a half|et demie?)\b")  # "four and a half" -> 4.5
# A cheap first look: most messages hold no number at all.
_DIGIT = re.compile(r"\d")
_ANY_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|hundred|thousand|million|un|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|vingt"
    r"|trente|quarante|cinquante|soixante|cent|cents|mille|millions|half|demi|mil)\b"
)
# Sentences (and "but", "so"...) bound a number's context; commas bound its own clause.
_SENTENCE_BREAK = re.compile(
    r"[.;!?\n]+(?!\d)|\b(?:but|mais|though|however|so|then|sinon|alors|donc)\b"
)
_COMMA_BREAK = re.compile(r",(?!\d)")
_LETTER = re.compile(r"[a-z]")
_MIN_PRICE, _MAX_PRICE = 10_000, 100_000_000
_MIN_REPAIR, _MAX_REPAIR = 500, 10_000_000


@dataclass(frozen=True, slots=True)
class _Candidate:
    value: int
    explicit: bool  # read as written, no context needed ("400k", "400,000")
    cued: bool  # a price word next to it ("I'd take 380k", "400 firm")
    price_range: tuple[int, int] | None = None


class _Context:
    """Where each number sits: its sentence and its comma clause."""

    def __init__(self, text: str, price_context: bool) -> None:
        self.text = text
        self.price_context = price_context
        sentences = [(m.start(), m.end()) for m in _SENTENCE_BREAK.finditer(text)]
        commas = [(m.start(), m.end()) for m in _COMMA_BREAK.finditer(text)]
        self._sentence_starts = [end for _, end in sentences]
        self._sentence_ends = [start for start, _ in sentences]
        clauses = sorted(sentences + commas)
        self._clause_starts = [end for _, end in clauses]
        self._clause_ends = [start for start, _ in clauses]
        bounds = [0, *self._clause_starts]
        ends = [*self._clause_ends, len(text)]
        # some words beside it: "yes. needs work, 6 months, 350", "what my neighbour got, 480"
        self.list_like = any(_LETTER.search(text[a:b]) for a, b in zip(bounds, ends, strict=True))

    def sentence(self, start: int, end: int) -> tuple[str, str]:
        """The text of the sentence before `start` and after `end`."""
        return self._around(start, end, self._sentence_starts, self._sentence_ends)

    def clause(self, start: int, end: int) -> tuple[str, str]:
        return self._around(start, end, self._clause_starts, self._clause_ends)

    def _around(self, start: int, end: int, starts: list[int], ends: list[int]) -> tuple[str, str]:
        i = bisect_right(starts, start)
        j = bisect_left(ends, end)
        first = starts[i - 1] if i else 0
        last = ends[j] if j < len(ends) else len(self.text)
        return self.text[first:start], self.text[end:last]


def _value(match: re.Match[str]) -> Decimal:
    digits = re.sub(r"\D", "", match["num"])
    return Decimal(f"{digits}.{match['frac']}") if match["frac"] else Decimal(digits)


def _not_money(match: re.Match[str], text: str) -> bool:
    if match["suf"]:
        return False
    if _NOT_MONEY_AFTER.match(text, match.end()):
        return True
    # A bare year is never a price ("built in 1978", "new roof 2021"); "$1950" would be.
    year = len(match["num"]) == 4 and 1900 <= int(match["num"]) <= 2099 and not match["frac"]
    return year and not text[max(0, match.start() - 2) : match.start()].strip().endswith("$")


def _role(ctx: _Context, start: int, end: int) -> str:
    """'repair', 'other' (estimate, owed, paid) or 'price' for the number at text[start:end]."""
    sent_before, sent_after = ctx.sentence(start, end)
    clause_before, clause_after = ctx.clause(start, end)
    if _REPAIR_AFTER.match(sent_after):
        return "repair"
    if _ESTIMATE.search(clause_before) or _OWED_OR_PAID.search(clause_before) or _OURS.search(clause_before):
        return "other"
    if _OWED_AFTER.match(clause_after):
        return "other"
    if _worded(ctx.text, end, clause_before):
        return "price"
    if _alone(ctx, clause_before, clause_after) and not _REPAIR_JUST_BEFORE.search(sent_before):
        return "price"  # "yes. needs work, 6 months, 350"; but "roof needs replacing, $12,000"
    if _ESTIMATE.search(sent_before):
        return "other"
    if _REPAIR_BEFORE.search(sent_before):
        return "repair"
    return "price"


def _worded(text: str, end: int, clause_before: str) -> bool:
    """A price word next to the number: "I'd take 380k", "400 firm"."""
    return bool(_PRICE_WORD_BEFORE.search(clause_before[-30:]) or _PRICE_WORD_AFTER.match(text, end))


def _cued(text: str, start: int, end: int, clause_before: str) -> bool:
    """A price word or a dollar sign next to the number."""
    return _worded(text, end, clause_before) or bool(
        _DOLLAR_BEFORE.search(clause_before) or _DOLLAR_AFTER.match(text, end)
    )


def _alone(ctx: _Context, clause_before: str, clause_after: str) -> bool:
    """The number is its own clause in a list: "yes. needs work, 6 months, 350"."""
    return ctx.list_like and bool(
        _STANDALONE.fullmatch(clause_before) and _STANDALONE.fullmatch(clause_after)
    )


def _scaled(value: Decimal, suffix: str | None, *, context: bool, soft: bool) -> int | None:
    """Dollars for a number: as written with a suffix or from 10,000; else through context."""
    if suffix:
        return int(value * _MULTIPLIERS[suffix])
    if value >= _MIN_PRICE:
        return int(value)
    if context:
        return int(value * (100_000 if value < 10 else 1_000))
    if soft and 50 <= value < 1000:
        return int(value * 1_000)
    return None


def _single(m: re.Match[str], ctx: _Context) -> tuple[str, _Candidate] | None:
    text = ctx.text
    if _not_money(m, text):
        return None
    role = _role(ctx, m.start(), m.end())
    if role == "other":
        return None
    value, suffix = _value(m), m["suf"]
    clause_before, clause_after = ctx.clause(m.start(), m.end())
    if role == "repair":
        dollars = _scaled(value, suffix, context=value >= 10, soft=False)
        ok = dollars is not None and _MIN_REPAIR <= dollars <= _MAX_REPAIR
        return ("repair", _Candidate(dollars, True, False)) if ok and dollars else None
    cued = _cued(text, m.start(), m.end(), clause_before)
    last_word = clause_before.rsplit(None, 1)[-1] if clause_before.strip() else ""
    context = cued or (ctx.price_context and last_word not in _NOT_MONEY_BEFORE)
    soft = bool(_SOFT_CUE_BEFORE.search(clause_before)) or _alone(ctx, clause_before, clause_after)
    dollars = _scaled(value, suffix, context=context, soft=soft)
    if dollars is None or not _MIN_PRICE <= dollars <= _MAX_PRICE:
        return None
    return "price", _Candidate(dollars, bool(suffix) or value >= _MIN_PRICE, cued)


def _span(a: re.Match[str], b: re.Match[str], ctx: _Context) -> tuple[str, _Candidate] | None:
    """A range written "300-350k", "$300k to $350k", "between 275 and 300": a price range
    (its midpoint), or a repair range ("8-10k in work": its high end, the prudent figure)."""
    text = ctx.text
    gap = text[a.end() : b.start()]
    clause_before, _ = ctx.clause(a.start(), a.end())
    joined = _RANGE_JOIN.fullmatch(gap) or (
        _RANGE_AND.fullmatch(gap) and _BETWEEN.search(clause_before)
    )
    if not joined or _not_money(b, text):
        return None
    role = _role(ctx, a.start(), b.end())
    if role == "repair":
        high = _scaled(_value(b), b["suf"], context=True, soft=False)
        ok = high is not None and _MIN_REPAIR <= high <= _MAX_REPAIR
        return ("repair", _Candidate(high, True, False)) if ok and high else None
    if role != "price":
        return None
    suffix_b = b["suf"]
    suffix_a = a["suf"] or (suffix_b if _value(a) < _value(b) * 10 else None)
    cued = _cued(text, a.start(), b.end(), clause_before)
    context = cued or ctx.price_context or bool(suffix_b)
    soft = bool(_SOFT_CUE_BEFORE.search(clause_before) or _BETWEEN.search(clause_before))
    low = _scaled(_value(a), suffix_a, context=context, soft=soft)
    high = _scaled(_value(b), suffix_b, context=context, soft=soft)
    if low is None or high is None or not _MIN_PRICE <= low < high <= 2 * low <= 2 * _MAX_PRICE:
        return None
    explicit = bool(suffix_b) or _value(b) >= _MIN_PRICE
    return "price", _Candidate((low + high) // 2, explicit, cued, (low, high))


def _band(text: str, ctx: _Context) -> _Candidate | None:
    m = _BAND.search(text)
    if m is None or _role(ctx, m.start(), m.end()) != "price":
        return None
    n = int(m["n"])
    width = 10 ** (len(m["n"]) - 1) * 1_000
    base = n * 1_000
    share_low, share_high = _BAND_SHARE[m["pos"]]
    low, high = int(base + width * share_low), int(base + width * share_high)
    return _Candidate((low + high) // 2, True, True, (low, high))


def _blank(match: re.Match[str]) -> str:
    return " " * len(match[0])


def read_amounts(low: str, lang: str, *, price_context: bool) -> Amounts:
    """The asking price (or range) and the repair figure in `low` (folded text)."""
    if not _DIGIT.search(low) and not _ANY_NUMBER_WORD.search(low):
        return NO_AMOUNTS
    if _HALF_MILLION.search(low):
        return Amounts(500_000, None, True)
    if price_context and _A_MILLION.search(low):
        return Amounts(1_000_000, None, True)
    text = low
    for pattern in _NOT_MONEY_SPANS:
        text = pattern.sub(_blank, text)
    text = _A_MANY.sub(_blank, text)
    if _NUMBER_WORDS.search(text):
        text = alpha2digit(_WORD_HYPHEN.sub(" ", text), lang)
        text = _AND_A_HALF.sub(r"\1.5", _HUNDREDS_SPOKEN.sub(r"\1\2", text))
    ctx = _Context(text, price_context)
    prices: list[_Candidate] = []
    repairs: list[_Candidate] = []
    if band := _band(text, ctx):
        prices.append(band)
        text = _BAND.sub(_blank, text, count=1)
    matches = list(_NUMBER.finditer(text))
    used: set[int] = set()
    for i in range(len(matches) - 1):
        if span := _span(matches[i], matches[i + 1], ctx):
            (repairs if span[0] == "repair" else prices).append(span[1])
            used.update((i, i + 1))
    for i, m in enumerate(matches):
        if i not in used and (read := _single(m, ctx)):
            (repairs if read[0] == "repair" else prices).append(read[1])
    best = max(prices, key=lambda a: (a.cued, a.explicit), default=None)
    return Amounts(
        price=best.value if best else None,
        price_range=best.price_range if best else None,
        price_sure=bool(best and (best.cued or best.explicit)),
        repair_cost=max(r.value for r in repairs) if repairs else None,  # the total when they give one
    )
