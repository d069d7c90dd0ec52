"""Comparison normalisation: boilerplate, Unicode and elisions are folded away; wire credits are detected."""

import lxml.html
import pytest

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


# A headline that mentions an agency which did not write the story, ahead of the credit of the one that did.
HEADLINE_MENTION = "Talks stalled, officials told Xinhua"


@pytest.mark.parametrize(("body", "agency"), [
    ("PARIS (Reuters) - Prices fell on Monday.", "Reuters"),
    ("WASHINGTON (AP) \u2014 The Senate voted.", "AP"),
    ("(AFP) \u2014 Le ministre a d\u00e9missionn\u00e9.", "AFP"),
    ("BERLIN, 3. Dez (dpa) - Die Preise fielen.", "dpa"),
    ("K\u00f6ln (dpa/lnw) - Die Preise fielen.", "dpa"),
    ("Madrid, 3 dic (EFE).- Los precios bajaron.", "EFE"),
    ("By Jane Doe | AP\nThe Senate voted.", "AP"),
    ("By JANE DOE and JOHN ROE, Associated Press\nThe Senate voted.", "AP"),
    ("The Senate voted.\n(Reporting by Jane Doe; Editing by John Roe)", "Reuters"),
    ("The Senate voted.\nCopyright 2025 The Associated Press. All rights reserved.", "AP"),
    ("Le ministre a d\u00e9missionn\u00e9.\n\u00a9 Agence France-Presse", "AFP"),
    ("The Senate voted.\nAssociated Press writer Jane Doe contributed to this report.", "AP"),
    ("(AP)\nThe Senate voted.", "AP"),
    ("Le ministre a d\u00e9missionn\u00e9.\n\u2013 AFP", "AFP"),
])
def test_agency_is_credited_from_its_dateline_byline_or_credit_line_not_an_earlier_mention(body, agency):
    assert detect_wire(f"{HEADLINE_MENTION}\n{body}") == agency


@pytest.mark.parametrize("mention", [
    "The minister is under house arrest, a senior political source told Reuters.",
    "Prices rose by 3 per cent, according to AFP.",
    "Reuters reported that the deal was priced at the top of its range.",
    "The Lord Mayor says the City does not employ enough disabled people. Reuters/Corbis",
    "Rescuers carry a body on a stretcher during the recovery operation (AFP/Getty)",
    "Indonesian Navy divers arrive at the airport in Pangkalan Bun, Indonesia (AP)",
    "06.48 Reuters - INDONESIA SEARCH AND RESCUE AGENCY SAYS BODY RECOVERED",
])
def test_agency_quoted_or_in_a_photo_credit_is_not_credited(mention):
    assert detect_wire(f"Minister resigns\n{mention}\nThe council meets again on Monday.") is None


def test_real_story_quoting_reuters_credits_no_agency(corpus):
    page = lxml.html.fromstring((corpus / "readability" / "telegraph" / "expected.html").read_bytes())
    text = "\n".join(p.text_content() for p in page.iter("p"))
    assert "told Reuters" in text and detect_wire(text) is None


@pytest.mark.parametrize(("head", "tail", "agency"), [
    ("PARIS (Reuters) - Prices fell on Monday.", "The council meets again.", "Reuters"),
    ("Prices fell on Monday.", "Copyright 2025 The Associated Press. All rights reserved.", "AP"),
    ("Prices fell on Monday.", "\u2013 AFP", "AFP"),
])
def test_a_long_text_is_credited_from_the_lines_at_its_edges_only(head, tail, agency):
    middle = "\n".join(f"Paragraph {n} of the report, long enough to matter, says little." * 3 for n in range(200))
    assert detect_wire(f"Minister resigns\n{head}\n{middle}\n{tail}") == agency
    assert detect_wire(f"Minister resigns\nPrices fell.\n{middle}\nWASHINGTON (AP) \u2014 Mid-text.\n{middle}\nEnd.") is None


def test_every_agency_credited_is_one_the_store_filters_on():
    from store.records import WIRES
    from workers.normalize import _AGENCIES

    assert set(_AGENCIES) == set(WIRES)
