"""Text folding: the one way free text is compared, whatever its case and accents.

Every table that matches what people type (intents, places, markets, headers, property
types) folds both sides with ``fold`` (or ``fold_words``), so "ARRÊT", "arrêt" and "arret"
are one key wherever they are looked up.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

NOT_ALNUM: Final = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without accents: "ARRÊT" -> "arret", "Intéressé" -> "interesse"."""
    if text.isascii():  # the common case costs one check, not a normalisation
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def fold_words(text: str, noise: re.Pattern[str] = NOT_ALNUM) -> str:
    """``fold``, then every run of ``noise`` (all but ASCII letters and digits) one space,
    trimmed: "Saint-Jérôme " -> "saint jerome"."""
    return " ".join(noise.sub(" ", fold(text)).split())
