"""Comparison normalisation: boilerplate, Unicode and elisions are folded away; wire credits are detected."""

from workers.normalize import detect_wire, normalize_for_comparison, strip_boilerplate


def test_datelines_of_each_agency_are_stripped():
    for lead in ("PARIS (Reuters) - ", "WASHINGTON (AP) \u2014 ", "(AFP) \u2014 ", "BERLIN, Nov 3 (dpa) - ", "LONDON \u2014 "):
        assert normalize_for_comparison(lead + "The minister resigned on Tuesday.") == "the minister resigned on tuesday"


def test_credit_copyright_related_newsletter_and_caption_lines_are_dropped():
    text = "\n".join([
        "By JANE DOE and JOHN ROE, Associated Press",
        "The minister resigned on Tuesday.",
        "Related: Minister under pressure",
        "Sign up for our daily newsletter",
        "Photo: John Smith/Getty Images",
        "Reporting by Jane Doe; Editing by Bob Roe",
        "Copyright 2025 The Associated Press. All rights reserved.",
    ])
    assert strip_boilerplate(text) == "The minister resigned on Tuesday."


def test_sentences_that_merely_start_like_bylines_are_kept():
    assert strip_boilerplate("By the end of May, prices rose.") == "By the end of May, prices rose."


def test_unicode_quotes_spaces_and_case_fold_to_the_same_words():
    assert normalize_for_comparison("The \u201cBIG\u201d\u00a0deal\u202fwasn\u2019t") == normalize_for_comparison(
        'the "big" deal wasn\'t'
    )


def test_french_and_italian_elisions_are_dropped():
    assert normalize_for_comparison("L\u2019\u00c9lys\u00e9e a dit qu\u2019il viendra dell\u2019Italia") == (
        "\u00e9lys\u00e9e a dit il viendra italia"
    )


def test_non_ascii_punctuation_and_lone_surrogates_separate_words():
    text = "caf\u00e9\u00a1 \u00bfS\u00ed? 10\u20ac\u2122 a\ud800b"
    assert normalize_for_comparison(text) == "caf\u00e9 s\u00ed 10 tm a b"  # NFKC makes \u2122 "TM"


def test_wire_agency_is_detected_from_dateline_or_credit():
    assert detect_wire("WASHINGTON (AP) \u2014 The Senate...") == "AP"
    assert detect_wire("PARIS (Reuters) - Prices fell.") == "Reuters"
    assert detect_wire("Text.\nCopyright Agence France-Presse") == "AFP"
    assert detect_wire("A local council meeting ran late.") is None
