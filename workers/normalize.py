"""Text normalisation for duplicate comparison: wire boilerplate stripped, Unicode folded, words only.

The stored text stays as extracted; these functions only shape what the dedup signatures see.
"""

from __future__ import annotations

import logging
import re
import unicodedata

LOGGER = logging.getLogger(__name__)

# The agencies a text can credit, each with the names it signs with: the short one of its datelines first.
_AGENCIES: dict[str, tuple[str, ...]] = {
    "AP": ("AP", "Associated Press"),
    "Reuters": ("Reuters", "Thomson Reuters"),
    "AFP": ("AFP", "Agence France-Presse", "Agence France Presse"),
    "dpa": ("dpa", "dpa-AFX", "Deutsche Presse-Agentur"),
    "PA": ("PA", "PA Media", "Press Association"),
    "ANSA": ("ANSA",),
    "EFE": ("EFE", "Agencia EFE"),
    "Bloomberg": ("Bloomberg", "Bloomberg News"),
    "UPI": ("UPI", "United Press International"),
    "Xinhua": ("Xinhua",),
    "Kyodo": ("Kyodo", "Kyodo News"),
    "Yonhap": ("Yonhap",),
    "CP": ("CP", "Canadian Press"),
    "AAP": ("AAP", "Australian Associated Press"),
}
_AGENCY_OF = {name: agency for agency, names in _AGENCIES.items() for name in names}
# Longest first, so that "Bloomberg News" is read whole and "Australian Associated Press" is not AP.
_NAMES = "|".join(re.escape(name) for name in sorted(_AGENCY_OF, key=len, reverse=True))
_AGENCY = "|".join(_AGENCIES)

_DASH = r"[-\u2010-\u2015\u2212:]"
# "PARIS (Reuters) - ", "WASHINGTON (AP) — ", "(AFP) — ", "BERLIN, Nov 3 (dpa) - ": a paragraph's opening credit.
_DATELINE_PREFIX = 60
_DATELINE_AGENCY = re.compile(rf"^[^\n()]{{0,{_DATELINE_PREFIX}}}\((?:{_AGENCY})\)\s*{_DASH}*\s*")
# "WASHINGTON — " or "LONDON, Nov. 3 -- ": an upper-case place at the start of the first paragraph.
_DATELINE_PLACE = re.compile(rf"^[A-ZÀ-Þ][A-ZÀ-Þ .'’/-]{{1,40}}(?:,[^\n]{{0,25}})?\s+{_DASH}{{1,2}}\s+")

# Paragraphs that are credits, navigation or furniture rather than the story's text: matched at their start.
_BOILERPLATE_START = re.compile(
    r"""^\W*(?:
        (?:additional\s+)?(?:reporting|writing|editing|compiled|fact-checking)\s+by\b
      | copyright\b | © | \(c\)\s*\d{4}
      | (?:related|read\s+more|more|see\s+also|also\s+read|watch|listen)\s*:
      | (?:photo|image|picture|video|credit|caption|photograph)s?\s*(?::|by\b)
      | (?:subscribe|follow\s+us|click\s+here|share\s+this|advertisement)\b
      | (?:the\s+)?(?:associated\s+press|reuters|afp)\s+(?:writers?|contributed|staff)
      | this\s+(?:story|article)\s+(?:was|has\s+been)\s+(?:updated|corrected|edited)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# Phrases that mark a short paragraph as furniture wherever they occur in it (all lower case).
_BOILERPLATE_PHRASES = ("all rights reserved", "may not be published", "may not be reproduced", "newsletter")
_SHORT_PARAGRAPH = 300

# "By Jane Doe and John Roe, Associated Press": capitalised names only, so "By the end of May, ..." stays.
_BYLINE_NAMES = (
    r"^(?:By|BY|Par|PAR|Von|Di|Por)\s+[A-ZÀ-Þ][\w.'-]*(?:\s+(?:[A-ZÀ-Þ][\w.'-]*|and|&|de|van|von|der|la|le)){0,6}"
)
_BYLINE_SEPARATOR = r"[,|/\u2013\u2014-]\s*"
_BYLINE = re.compile(rf"{_BYLINE_NAMES}\s*(?:{_BYLINE_SEPARATOR}[\w .'&-]{{0,60}})?$")
_BYLINE_INITIALS = frozenset("BPVD")
# Trailing "(Reporting by ...)" blocks and "(Photo: ...)" captions inside a paragraph.
_INLINE_CREDIT = re.compile(r"\((?:reporting|writing|editing|photo|image|credit)[^()]{0,200}\)", re.IGNORECASE)

# How a text credits an agency as its source; mere mentions ("told Reuters", "according to AFP", "Reuters
# reported") and photo credits ("Reuters/Corbis", "AFP/Getty Images") are none of these.
# "PARIS (Reuters) - ", "(AFP) — ", "BERLIN, 3. Dez (dpa) - ", "Madrid, 3 dic (EFE).- ", "Köln (dpa/lnw) - ".
_CREDIT_DATELINE = re.compile(
    rf"^[^\n()]{{0,{_DATELINE_PREFIX}}}\((?P<name>{_NAMES})(?:/[a-z]{{2,4}})?\)\.?\s*{_DASH}", re.M
)
# "By Jane Doe, Associated Press", "By JANE DOE | AP", "By Josh Boak, AP Economics Writer".
_CREDIT_BYLINE = re.compile(
    rf"{_BYLINE_NAMES}\s*{_BYLINE_SEPARATOR}(?:The\s+)?(?P<name>{_NAMES})"
    r"(?:\s+(?:[A-Z]\w+\s+)?(?:Writer|Correspondent|Reporter)s?)?\.?$",
    re.M,
)
# Reuters closes its stories with "(Reporting by Jane Doe; Editing by John Roe)".
_CREDIT_REUTERS_CLOSE = re.compile(
    r"(?:^|\()(?:Additional\s+)?(?:Reporting|Writing) by\b[^\n]*?;[^\n]*?\bEditing by\b", re.M
)
# "Copyright 2025 The Associated Press. All rights reserved.", "© Agence France-Presse", "(c) 2025 Reuters".
_CREDIT_COPYRIGHT = re.compile(
    rf"^\W*?(?:(?i:copyright)\b|©|\((?i:c)\))[^\n.:;]{{0,40}}?\b(?P<name>{_NAMES})\b(?!/)", re.M
)
# "The Associated Press contributed to this report.", "Associated Press writer Jane Doe contributed."
_CREDIT_CONTRIBUTED = re.compile(
    rf"^(?:The\s+)?(?P<name>{_NAMES})\s+(?:(?i:writers?|reporters?|correspondents?|staff)\b[^\n]{{0,200}}?\s)?"
    r"contributed\b",
    re.M,
)
_CREDITS: tuple[tuple[re.Pattern, str | None], ...] = (
    (_CREDIT_DATELINE, None),
    (_CREDIT_BYLINE, None),
    (_CREDIT_REUTERS_CLOSE, "Reuters"),
    (_CREDIT_COPYRIGHT, None),
    (_CREDIT_CONTRIBUTED, None),
)
# A line that is the credit alone: "AFP", "(AP)", "– Reuters", "Avec AFP", "mit dpa". Only at the text's edges
# (its first two lines, as the extractor often keeps the headline above it, and its last), where a credit
# stands; elsewhere such a line is more likely a photo's.
_CREDIT_ALONE = re.compile(rf"\W*(?:(?i:avec|with|mit)\s+)?(?:The\s+)?(?P<name>{_NAMES})\W*")
_HEAD_LINES = 2
# Literal text every credit needs: a text holding none (most texts) is answered by C-speed substring tests.
_CREDIT_LITERALS = (*_AGENCY_OF, "Editing by")
# Credits stand at a text's edges (dateline and byline at the top; sign-off, copyright and contribution lines at
# the bottom): only this many characters at each end are read. Reading whole texts cost 0.43 ms a page on
# average (AEB pages, ~4,500 characters) and up to 13 ms on long ones, where a byline-like line made the
# byline pattern backtrack.
_CREDIT_EDGE = 2500

# Scripts written without spaces between words (character ranges for a regex class): Han and kana, and Thai.
HAN_KANA = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f"
THAI = "\u0e00-\u0e7f"
# Compared character by character: a run of them between spaces would be one "word", and a Chinese article of
# 700 characters some 15 words, too few to be anyone's copy (MIN_WORDS in workers/dedup.py); its shingles are
# then runs of three characters, the usual unit for Chinese and Japanese near-duplicate detection.
UNSPACED = re.compile(f"[{HAN_KANA}{THAI}]")
# How many of those characters make a word on average (segmenters on the corpus: jieba and TinySegmenter 1.8,
# PyThaiNLP 4.3; Thai vowel signs, which comparison drops, included).
CHARS_PER_WORD = ((re.compile(f"[{HAN_KANA}]"), 1.8), (re.compile(f"[{THAI}]"), 4.3))

# Typographic apostrophes become "'"; typographic quotes, dashes and spaces become plain spaces. Done with
# str.replace (C speed) so that most English text is ASCII afterwards and takes the fast path below.
_APOSTROPHES = ("\u2019", "\u2018", "\u02bc", "\u201b", "\u2032", "\u00b4", "`")
_SPACES = ("\u00a0", "\u202f", "\u2007", "\u2009", "\u201c", "\u201d", "\u201e", "\u00ab", "\u00bb",
           "\u2013", "\u2014", "\u2026", "\u2022", "\u00b7")
# French and Italian elisions: the elided article or pronoun is dropped ("l'homme" -> "homme"), as search
# engines' elision filters do, so "l'Élysée" and "Élysée" compare equal.
_ELIDED = frozenset(
    "l d j m n s t c qu jusqu lorsqu puisqu quoiqu un dell all dall nell sull coll quell quest bell sant".split()
)
_ASCII_WORDS = bytes.maketrans(
    bytes(range(128)), bytes(c if chr(c).isalnum() else 32 for c in range(128))
)
_ASCII_BYTES = bytes(range(128))


def detect_wire(text: str) -> str | None:
    """The wire agency a text credits as its source ('AP', 'Reuters', 'AFP', 'dpa', ...), or None.

    The first credit in the text names it: a dateline, a byline, Reuters' reporting and editing line, a
    copyright or contribution line; failing those, an edge line that is the agency alone. An agency merely
    quoted or mentioned is not credited.
    """
    text = text or ""
    if len(text) > 2 * _CREDIT_EDGE:
        text = _edges(text)
    if not any(literal in text for literal in _CREDIT_LITERALS):
        return None
    found = [(match, agency) for pattern, agency in _CREDITS if (match := pattern.search(text))]
    if not found:
        return _credited_alone(text)
    match, agency = min(found, key=lambda pair: pair[0].start())
    return agency or _AGENCY_OF[match.group("name")]


def _edges(text: str) -> str:
    """The whole lines within _CREDIT_EDGE characters of each end of a long text (cut where a line is longer)."""
    head_end = text.rfind("\n", 0, _CREDIT_EDGE)
    tail_start = text.find("\n", len(text) - _CREDIT_EDGE) + 1
    return text[:head_end if head_end > 0 else _CREDIT_EDGE] + "\n" + text[tail_start or -_CREDIT_EDGE:]


def _credited_alone(text: str) -> str | None:
    """The agency of a first or last line that is the credit alone ("AFP", "(AP)", "– Reuters"), or None."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines[:_HEAD_LINES] + lines[-1:]:
        match = _CREDIT_ALONE.fullmatch(line)
        if match:
            return _AGENCY_OF[match.group("name")]
    return None


def _plain_marks(text: str) -> str:
    """Typographic apostrophes to "'", typographic quotes, dashes and special spaces to spaces."""
    for mark in _APOSTROPHES:
        if mark in text:
            text = text.replace(mark, "'")
    for mark in _SPACES:
        if mark in text:
            text = text.replace(mark, " ")
    return text


def _drop_elisions(text: str) -> str:
    """Remove elided articles and pronouns (l', d', qu', dell') before a word; other apostrophes split words."""
    if "'" not in text:
        return text
    pieces = text.split("'")
    out = []
    for piece, following in zip(pieces, pieces[1:]):
        head, _, last = piece.rpartition(" ")
        if last in _ELIDED and following[:1].isalnum():
            piece = head + " "
        out.append(piece)
    out.append(pieces[-1])
    return " ".join(out)


def _is_boilerplate(line: str) -> bool:
    """Whether a paragraph is a byline, credit, copyright, related-link, newsletter or caption line."""
    if (line[0] in _BYLINE_INITIALS and _BYLINE.match(line)) or _BOILERPLATE_START.match(line):
        return True
    if len(line) > _SHORT_PARAGRAPH:
        return False
    lowered = line.lower()
    return any(phrase in lowered for phrase in _BOILERPLATE_PHRASES)


def strip_boilerplate(text: str) -> str:
    """Drop bylines, datelines, credit, copyright, related-links, newsletter and caption paragraphs."""
    kept = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or _is_boilerplate(line):
            continue
        # The regexes run only where their opening character could be: most paragraphs have no "(".
        paren = line.find("(")
        if 0 <= paren <= _DATELINE_PREFIX:
            line = _DATELINE_AGENCY.sub("", line, count=1)
        if not kept:
            line = _DATELINE_PLACE.sub("", line, count=1)
        if paren >= 0:
            line = _INLINE_CREDIT.sub(" ", line)
        if line.strip():
            kept.append(line)
    return "\n".join(kept)


def comparison_words(normalized: str) -> float:
    """The words of a text passed through `normalize_for_comparison`: its tokens, a character of a script without
    spaces counting as its share of a word (CHARS_PER_WORD), so that a short Chinese text is short here too."""
    tokens = normalized.count(" ") + 1
    if normalized.isascii():
        return tokens
    for script, chars_per_word in CHARS_PER_WORD:
        chars = len(script.findall(normalized))
        tokens -= chars - chars / chars_per_word
    return tokens


def normalize_for_comparison(text: str) -> str:
    """Boilerplate-free, NFKC, case-folded text of words separated by single spaces (a Han, kana or Thai character
    is a word of its own)."""
    text = strip_boilerplate(text)
    if not text.isascii():
        text = _plain_marks(unicodedata.normalize("NFKC", text))
    text = _drop_elisions(text.casefold())
    # ASCII punctuation to spaces by a byte table (UTF-8 leaves bytes < 128 alone); then the few distinct
    # non-ASCII characters that are not letters or digits (what is left once the ASCII bytes are deleted:
    # UTF-8 sequences are bytes >= 128 only) are replaced one by one.
    # "surrogatepass": a lone surrogate (text decoded with surrogateescape) is a non-word character too.
    data = text.encode("utf-8", "surrogatepass")
    text = data.translate(_ASCII_WORDS).decode("utf-8", "surrogatepass")
    if not text.isascii():
        chars = set(data.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass"))
        for char in chars:
            if not char.isalnum():
                text = text.replace(char, " ")
        if any(UNSPACED.match(char) for char in chars):
            text = UNSPACED.sub(r" \g<0> ", text)
    return " ".join(text.split())
