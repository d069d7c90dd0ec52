"""The query syntax compiler: one parse, two renderings, hostile input reduced to words."""

from __future__ import annotations

import re

import pytest

from store.base import InvalidQuery
from store.query import MAX_INPUT, MAX_TERMS, MAX_WORD, NOTHING, compile_query


def tsquery(text: str) -> str:
    """The to_tsquery() string PostgreSQL's wd_tsquery makes of `text`, for words that unaccent leaves alone."""
    tq = compile_query(text)
    return tq.tsquery % tuple(f"'{word}'" for word in tq.ts_words)


def test_words_are_anded_and_quoted():
    tq = compile_query("kharkiv zelensky")
    assert tq.fts == '(("kharkiv" AND "zelensky"))'
    assert tsquery("kharkiv zelensky") == "('kharkiv' & 'zelensky')"


def test_phrase_prefix_or_and_not_render_for_both_engines():
    tq = compile_query('"new york" ukr* OR kyiv -moscow')
    assert tq.fts == '((("new york" AND "ukr"*)) OR (("kyiv") NOT ("moscow")))'
    assert tsquery('"new york" ukr* OR kyiv -moscow') == "((('new' <-> 'york') & 'ukr':*) | ('kyiv' & !('moscow')))"


@pytest.mark.parametrize("text, phrases", [
    ('"new york"', ("new york",)),
    ('"new york" ukr* "city hall"', ("new york", "city hall")),
    ('("new york" mayor) "city hall"', ("new york", "city hall")),
    ('"new york" OR kyiv', ()),
    ('kyiv -"new york"', ()),
    ('"york"', ()),
])
def test_required_phrases_are_only_those_every_match_contains(text, phrases):
    assert compile_query(text).phrases == phrases


def test_parentheses_group_alternatives():
    assert tsquery("(paris OR berlin) summit") == "(('paris' | 'berlin') & 'summit')"


def test_hyphen_inside_a_word_is_a_separator_not_a_negation():
    assert tsquery("covid-19") == "('covid' & '19')"


@pytest.mark.parametrize("text", ["", None, "   ", "\t\n"])
def test_empty_query_means_no_text_filter(text):
    assert compile_query(text) is None


@pytest.mark.parametrize("text", ['"', '""', "***", "()", ")))(((", "OR", "NOT", ":::", "\x00", "🚀", "* OR *"])
def test_query_without_a_word_is_refused_not_read_as_everything(text):
    with pytest.raises(InvalidQuery, match="no word to search for") as raised:
        compile_query(text)
    assert raised.value.param == "q"


@pytest.mark.parametrize("text", [f"police {'a' * (MAX_WORD + 1)}", f'"police {"a" * (MAX_WORD + 1)}"',
                                  " ".join(f"w{i}" for i in range(MAX_TERMS + 1)), "police " * (MAX_INPUT // 7 + 1)])
def test_query_too_long_to_search_as_asked_is_refused_not_shortened(text):
    with pytest.raises(InvalidQuery):
        compile_query(text)


@pytest.mark.parametrize("text", ["-moscow", "NOT moscow", "NOT (a OR b)"])
def test_query_of_only_excluded_words_matches_nothing(text):
    assert compile_query(text) is NOTHING
    assert NOTHING.matches_nothing


@pytest.mark.parametrize("text", ['a"b', "NEAR(a b, 2)", "title:x", "x\x00y", "a' OR '1'='1", "{a b}", "^a + b",
                                  'x" OR 1=1 --', "a AND AND OR OR b", "é*ü*"])
def test_hostile_input_compiles_to_quoted_alphanumeric_words(text):
    tq = compile_query(text)
    assert tq is not None
    # Between the quotes only letters, digits and spaces; outside only our operators.
    assert all(re.fullmatch(r"[\w ]+", word) for word in re.findall(r'"([^"]*)"', tq.fts))
    assert re.sub(r'"[^"]*"', "", tq.fts).replace("AND", "").replace("OR", "").replace("NOT", "").strip("()* ") == ""
    assert "\x00" not in tq.tsquery and all(word.isalnum() for word in tq.ts_words)


def test_words_up_to_the_caps_are_all_searched():
    tq = compile_query(" ".join(f"w{i}" for i in range(MAX_TERMS - 1)) + " " + "a" * MAX_WORD)
    assert tq.fts.count('"') == 2 * MAX_TERMS
    assert len(tq.ts_words) == MAX_TERMS
