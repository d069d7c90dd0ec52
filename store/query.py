"""The user query syntax, compiled once into an SQLite FTS5 MATCH string and a PostgreSQL tsquery string.

Syntax: words (all must match), "quoted phrases", prefixes `word*`, `OR` between alternatives, `NOT word`
or `-word` to exclude, and parentheses for grouping. Any character that is not a letter or a digit
separates words, so hostile input (quotes, FTS operators, NUL bytes) can never form SQL or FTS syntax;
the compiled strings are always passed to the database as bound parameters.

Policy: an empty (or blank) query compiles to None, meaning "no text filter". Text that cannot be searched
as asked raises InvalidQuery rather than quietly searching for less: no word at all (only punctuation,
symbols or operators), a word longer than MAX_WORD, more than MAX_TERMS words, more than MAX_INPUT
characters. A query whose words are all excluded (`-foo`) compiles to a TextQuery that matches nothing,
because neither FTS5 nor a GIN index can answer "everything except" cheaply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from store.base import InvalidQuery

LOGGER = logging.getLogger(__name__)

MAX_INPUT = 2000  # characters of a query
MAX_TERMS = 32  # words (phrase words included) in one query
MAX_WORD = 100  # characters of a word: longer ones are not language, and PostgreSQL limits lexemes
MAX_DEPTH = 8  # deeper parentheses are ignored (treated as separators)


@dataclass(frozen=True)
class Term:
    """One word, optionally a prefix."""

    word: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words that must appear consecutively."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class And:
    """All `pos` must match and none of `neg`."""

    pos: tuple
    neg: tuple = ()


@dataclass(frozen=True)
class Or:
    """Any of `items` matches."""

    items: tuple


@dataclass(frozen=True)
class TextQuery:
    """A compiled query: `fts` for FTS5 MATCH; `tsquery` and `ts_words` for PostgreSQL's wd_tsquery (migration
    0014), a to_tsquery() expression whose %s are the words, quoted there after unaccent: unaccent turns some
    letters into quotes (ʼ, ʻ, ŉ), which would break a lexeme quoted before it. Empty when nothing can match.

    `phrases` lists the phrases (words joined by spaces) every match must contain: those the query ANDs, not
    those under OR or NOT. PostgreSQL finds them by their adjacent word pairs (store/postgres.py).
    """

    fts: str
    tsquery: str
    ts_words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()

    @property
    def matches_nothing(self) -> bool:
        return not self.fts


NOTHING = TextQuery("", "")


def _check_word(word: str) -> str:
    if len(word) > MAX_WORD:
        raise InvalidQuery(f"a word longer than {MAX_WORD} characters cannot be searched: {word[:40]}...", "q")
    return word


def tokenize(text: str) -> list[tuple]:
    """Split a query into tokens: ('word', w, prefix), ('phrase', words), ('(',), (')',), ('OR',), ('NOT',)."""
    if len(text) > MAX_INPUT:
        raise InvalidQuery(f"a query longer than {MAX_INPUT} characters ({len(text)})", "q")
    tokens: list[tuple] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isalnum():
            j = i
            while j < n and text[j].isalnum():
                j += 1
            word, prefix = text[i:j], j < n and text[j] == "*"
            if word in ("OR", "NOT", "AND") and not prefix:
                if word != "AND":  # AND is implicit
                    tokens.append((word,))
            else:
                tokens.append(("word", _check_word(word), prefix))
            i = j + prefix
        elif ch == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            words = tuple(_check_word(w) for w in _words(text[i + 1:end]))
            if words:
                tokens.append(("phrase", words))
            i = end + 1
        elif ch == "-" and (i == 0 or not text[i - 1].isalnum()) and i + 1 < n and (
                text[i + 1].isalnum() or text[i + 1] in '"('):
            tokens.append(("NOT",))
            i += 1
        else:
            if ch in "()":
                tokens.append((ch,))
            i += 1
    return tokens


def _words(text: str) -> list[str]:
    """The letter/digit runs of `text`."""
    cleaned = "".join(ch if ch.isalnum() else " " for ch in text)
    return cleaned.split()


class _Parser:
    """Recursive descent over tokens: or := and ('OR' and)*; and := unary+; unary := NOT unary | atom."""

    def __init__(self, tokens: list[tuple]):
        self.tokens, self.pos, self.terms, self.depth = tokens, 0, 0, 0

    def peek(self) -> tuple | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse_or(self):
        items = [self.parse_and()]
        while self.peek() == ("OR",):
            self.pos += 1
            items.append(self.parse_and())
        items = [item for item in items if item is not None]
        if not items:
            return None
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self):
        pos, neg = [], []
        while (tok := self.peek()) is not None and tok not in (("OR",), (")",)):
            node, negated = self.parse_unary()
            if node is not None:
                (neg if negated else pos).append(node)
        if not pos:
            return None  # nothing positive to match: FTS5 has no unary NOT
        if len(pos) == 1 and not neg:
            return pos[0]
        return And(tuple(pos), tuple(neg))

    def parse_unary(self):
        negated = False
        while self.peek() == ("NOT",):
            self.pos += 1
            negated = not negated
        return self.parse_atom(), negated

    def parse_atom(self):
        tok = self.peek()
        if tok is None:
            return None
        self.pos += 1
        if tok == ("(",):
            if self.depth >= MAX_DEPTH:
                return None
            self.depth += 1
            node = self.parse_or()
            self.depth -= 1
            if self.peek() == (")",):
                self.pos += 1
            return node
        if tok[0] == "word":
            return self._count(Term(tok[1], tok[2]), 1)
        if tok[0] == "phrase":
            words = tok[1]
            return self._count(Phrase(words) if len(words) > 1 else Term(words[0]), len(words))
        return None  # a stray OR, NOT or ')'

    def _count(self, node, count: int):
        """`node`, counted against the term cap."""
        self.terms += count
        if self.terms > MAX_TERMS:
            raise InvalidQuery(f"more than {MAX_TERMS} words in a query", "q")
        return node


def to_fts5(node) -> str:
    """Render a node as an FTS5 MATCH expression (words quoted, so they are never operators)."""
    if isinstance(node, Term):
        return f'"{node.word}"' + ("*" if node.prefix else "")
    if isinstance(node, Phrase):
        return '"' + " ".join(node.words) + '"'
    if isinstance(node, Or):
        return "(" + " OR ".join(to_fts5(item) for item in node.items) + ")"
    expr = "(" + " AND ".join(to_fts5(item) for item in node.pos) + ")"
    if node.neg:
        expr += " NOT (" + " OR ".join(to_fts5(item) for item in node.neg) + ")"
    return "(" + expr + ")"


def to_tsquery(node, words: list[str]) -> str:
    """Render a node as a to_tsquery() template, a %s for each word, appended to `words` in order."""
    if isinstance(node, Term):
        words.append(node.word)
        return "%s" + (":*" if node.prefix else "")
    if isinstance(node, Phrase):
        words.extend(node.words)
        return "(" + " <-> ".join("%s" for _ in node.words) + ")"
    if isinstance(node, Or):
        return "(" + " | ".join(to_tsquery(item, words) for item in node.items) + ")"
    expr = " & ".join(to_tsquery(item, words) for item in node.pos)
    if node.neg:
        expr += " & !(" + " | ".join(to_tsquery(item, words) for item in node.neg) + ")"
    return "(" + expr + ")"


def required_phrases(node) -> tuple[str, ...]:
    """The phrases a match of `node` must contain: the node itself, or the phrases its AND requires."""
    if isinstance(node, Phrase):
        return (" ".join(node.words),)
    if isinstance(node, And):
        return tuple(phrase for item in node.pos for phrase in required_phrases(item))
    return ()


def compile_query(text: str | None) -> TextQuery | None:
    """Compile user query text; None means no text filter, NOTHING means no document can match.

    Raises:
        InvalidQuery: text that cannot be searched as asked (see the module's policy).
    """
    if not text or not text.strip():
        return None
    tokens = tokenize(text)
    if not any(tok[0] in ("word", "phrase") for tok in tokens):
        raise InvalidQuery(f"no word to search for in {text[:40]!r}: words are runs of letters and digits", "q")
    parser = _Parser(tokens)
    node = parser.parse_or()
    while parser.peek() is not None:  # a stray ')' ends parse_or early; keep the rest as more ANDed terms
        parser.pos += 1
        rest = parser.parse_or()
        if rest is not None:
            node = rest if node is None else And((node, rest))
    if node is None:
        LOGGER.debug("query %.80r has no positive term: matches nothing", text)
        return NOTHING
    ts_words: list[str] = []
    template = to_tsquery(node, ts_words)
    return TextQuery(to_fts5(node), template, tuple(ts_words), required_phrases(node))
