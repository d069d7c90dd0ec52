"""The query syntax compiler: one parse, two renderings, hostile input reduced to words."""

from __future__ import annotations

import re

import pytest

from store.query import MAX_TERMS, NOTHING, compile_query


def test_words_are_anded_and_quoted():
    tq = compile_query("kharkiv zelensky")
    assert tq.fts == '(("kharkiv" AND "zelensky"))'
    assert tq.tsquery == "('kharkiv' & 'zelensky')"


def test_phrase_prefix_or_and_not_render_for_both_engines():
    tq = compile_query('"new york" ukr* OR kyiv -moscow')
    assert tq.fts == '((("new york" AND "ukr"*)) OR (("kyiv") NOT ("moscow")))'
    assert tq.tsquery == "((('new' <-> 'york') & 'ukr':*) | ('kyiv' & !('moscow')))"


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
    assert compile_query("(paris OR berlin) summit").tsquery == "(('paris' | 'berlin') & 'summit')"


def test_hyphen_inside_a_word_is_a_separator_not_a_negation():
    assert compile_query("covid-19").tsquery == "('covid' & '19')"


@pytest.mark.parametrize("text", ["", None, '"', '""', "***", "()", ")))(((", "OR", "NOT", ":::", "\x00", "a" * 100_000])
def test_query_without_usable_words_means_no_text_filter(text):
    assert compile_query(text) is None


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
    assert "\x00" not in tq.tsquery


def test_number_of_terms_is_capped():
    tq = compile_query(" ".join(f"w{i}" for i in range(1000)))
    assert tq.fts.count('"') == 2 * MAX_TERMS
