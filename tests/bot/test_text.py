import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.text import fold, fold_words


def test_fold_drops_case_and_accents() -> None:
    assert fold("ARRÊT") == "arret"
    assert fold("Intéressé") == "interesse"
    assert fold("Saint-Jérôme") == "saint-jerome"
    assert fold("plain ascii") == "plain ascii"


def test_fold_words_keeps_letters_and_digits_single_spaced() -> None:
    assert fold_words("  Saint-Jérôme, QC ") == "saint jerome qc"
    assert fold_words("Trois-Rivières (Centre)") == "trois rivieres centre"


@given(st.text())
def test_fold_is_idempotent_and_leaves_no_accent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert not any(unicodedata.combining(c) for c in once)
