"""Language identification on real pages: the hint, the identifier, and who wins when they disagree."""

import pytest

from workers.language import detect_language


@pytest.fixture(scope="module")
def newspaper(corpus):
    return corpus / "newspaper" / "text"


@pytest.mark.parametrize(
    ("name", "language"), [("arabic.txt", "ar"), ("chinese.txt", "zh"), ("spanish.txt", "es"), ("cnn.txt", "en")]
)
def test_real_pages_are_identified_without_a_hint(newspaper, name, language):
    assert detect_language((newspaper / name).read_text(encoding="utf-8")) == language


def test_french_seed_article_is_french(seed_dir):
    assert detect_language((seed_dir / "article-fr.txt").read_text(encoding="utf-8"), hint="fr") == "fr"


def test_long_text_overrules_a_wrong_page_hint(seed_dir, newspaper):
    assert detect_language((seed_dir / "article-fr.txt").read_text(encoding="utf-8"), hint="en") == "fr"
    assert detect_language((newspaper / "arabic.txt").read_text(encoding="utf-8"), hint="en-US") == "ar"


def test_short_text_keeps_the_page_hint(seed_dir):
    first_words = (seed_dir / "article-fr.txt").read_text(encoding="utf-8")[:60]
    assert detect_language(first_words, hint="fr-FR") == "fr"
    assert detect_language("Breaking: Ok", hint="de") == "de"


def test_page_hint_is_normalised_to_a_two_letter_code(newspaper):
    text = (newspaper / "spanish.txt").read_text(encoding="utf-8")
    assert detect_language(text, hint=" ES_mx ") == "es"


def test_short_cjk_text_counts_as_long_enough_to_overrule_the_hint(newspaper):
    assert detect_language((newspaper / "japanese.txt").read_text(encoding="utf-8"), hint="en") == "ja"


def test_text_without_letters_falls_back_to_the_hint():
    assert detect_language("2020 — 12:30 · 42 %", hint="it") == "it"
    assert detect_language("", hint=None) is None
