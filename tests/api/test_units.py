"""Pure helpers of the API: date parameters, the word diff, the token check."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.app import token_matches
from api.diff import compare_copy, word_diff
from api.params import parse_when
from store.records import Copy, Document

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("value, expected", [
    ("2024-02-29", datetime(2024, 2, 29, tzinfo=UTC)),
    ("2024-02-29T08:30", datetime(2024, 2, 29, 8, 30, tzinfo=UTC)),
    ("2024-02-29T08:30:00+02:00", datetime(2024, 2, 29, 8, 30, tzinfo=timezone(timedelta(hours=2)))),
    ("2024-02-29T08:30:00Z", datetime(2024, 2, 29, 8, 30, tzinfo=UTC)),
    ("90m", NOW - timedelta(minutes=90)),
    ("7d", NOW - timedelta(days=7)),
    ("2w", NOW - timedelta(weeks=2)),
])
def test_parse_when_reads_iso_dates_and_spans_back_from_now(value, expected):
    assert parse_when(value, now=NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "7 days", "-1d", "2024-02-30", ""])
def test_parse_when_rejects_what_is_not_a_date(value):
    with pytest.raises(ValueError):
        parse_when(value, now=NOW)


def test_word_diff_marks_replaced_deleted_and_inserted_words():
    old, new = "the miners will strike on monday".split(), "miners will not strike on tuesday".split()
    assert word_diff(old, new) == [("delete", "the"), ("equal", "miners will"), ("insert", "not"),
                                   ("equal", "strike on"), ("delete", "monday"), ("insert", "tuesday")]


def test_token_matches_bearer_and_basic_password_only():
    basic = base64.b64encode(b"anyone:tok").decode()
    assert token_matches("Bearer tok", "tok") and token_matches(f"Basic {basic}", "tok")
    assert not token_matches("Bearer tok2", "tok") and not token_matches("tok", "tok")
    assert not token_matches(None, "tok") and not token_matches("Basic !!notbase64", "tok")


def _doc(doc_id: str, text: str, relation: str = "original") -> Document:
    return Document(id=doc_id, url=f"https://x.example/{doc_id}", title=None, text=text, source="x.example",
                    fetched=NOW, relation=relation)


def _copy(doc: Document) -> Copy:
    return Copy(id=doc.id, url=doc.url, source=doc.source, title=None, published=None, language="en",
                relation=doc.relation, similarity=0.9)


def test_compare_copy_ignores_words_past_the_compared_opening():
    words = [f"w{i}" for i in range(200)]
    canonical = _doc("a", " ".join(words))
    rewritten = _doc("b", " ".join(["new", "lede"] + words[5:]), "near")
    view = compare_copy(canonical, _copy(rewritten), rewritten)
    assert view.segments[0] == ("delete", "w0 w1 w2 w3 w4") and view.segments[1] == ("insert", "new lede")
    assert view.segments[-1][0] == "equal" and view.words_delta == -3


def test_compare_copy_keeps_an_addition_at_the_end_of_a_short_text():
    canonical, longer = _doc("a", "short text here"), _doc("b", "short text here and a correction", "near")
    view = compare_copy(canonical, _copy(longer), longer)
    assert view.segments == [("equal", "short text here"), ("insert", "and a correction")]
    same = _doc("c", "short text here", "exact")
    assert compare_copy(canonical, _copy(same), same).identical_lead
