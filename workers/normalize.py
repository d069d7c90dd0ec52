"""Text normalisation for duplicate comparison: wire boilerplate stripped, Unicode folded, words only.

The stored text stays as extracted; these functions only shape what the dedup signatures see.
"""

from __future__ import annotations

import logging
import re
import unicodedata

LOGGER = logging.getLogger(__name__)

# Agencies as they credit themselves in datelines and credit lines; the first marker found (by position) wins.
# Word boundaries matter: "AP" and "PA" only count in the "(AP)" form or a full credit line.
_WIRE_MARKERS: tuple[tuple[str, str], ...] = (
    ("AP", r"\(AP\)|\bAssociated Press\b"),
    ("Reuters", r"\(Reuters\)|\bThomson Reuters\b|\bReuters\b"),
    ("AFP", r"\(AFP\)|\bAgence France[- ]Presse\b|\bAFP\b"),
    ("dpa", r"\(dpa\)|\bDeutsche Presse-Agentur\b|\bdpa\b"),
    ("PA", r"\(PA\)|\bPA Media\b|\bPress Association\b"),
    ("ANSA", r"\(ANSA\)|\bANSA\b"),
    ("EFE", r"\(EFE\)|\bAgencia EFE\b|\bEFE\b"),
    ("Bloomberg", r"\(Bloomberg\)|\bBloomberg News\b"),
    ("UPI", r"\(UPI\)|\bUnited Press International\b"),
    ("Xinhua", r"\(Xinhua\)|\bXinhua\b"),
    ("Kyodo", r"\(Kyodo\)|\bKyodo News\b"),
    ("Yonhap", r"\(Yonhap\)|\bYonhap\b"),
    ("CP", r"\(CP\)|\bThe Canadian Press\b"),
    ("AAP", r"\(AAP\)|\bAustralian Associated Press\b"),
)
_WIRE_RE = re.compile("|".join(f"(?P<w{i}>{pattern})" for i, (_, pattern) in enumerate(_WIRE_MARKERS)))
# The literal text each alternative of a marker needs ("Agence France[- ]Presse" needs "Agence France"): a text
# holding none of them (most texts) is answered by C-speed substring tests, without the slow alternation regex.
_WIRE_LITERALS = tuple(
    {re.sub(r"\\b|\\", "", alternative).split("[")[0] for _, pattern in _WIRE_MARKERS for alternative in pattern.split("|")}
)
_AGENCY = r"AP|Reuters|AFP|dpa|PA|ANSA|EFE|Bloomberg|UPI|Xinhua|Kyodo|Yonhap|CP|AAP"

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
_BYLINE = re.compile(
    r"^(?:By|BY|Par|PAR|Von|Di|Por)\s+[A-ZÀ-Þ][\w.'-]*(?:\s+(?:[A-ZÀ-Þ][\w.'-]*|and|&|de|van|von|der|la|le)){0,6}"
    r"\s*(?:[,|/\u2013\u2014-]\s*[\w .'&-]{0,60})?$"
)
_BYLINE_INITIALS = frozenset("BPVD")
# Trailing "(Reporting by ...)" blocks and "(Photo: ...)" captions inside a paragraph.
_INLINE_CREDIT = re.compile(r"\((?:reporting|writing|editing|photo|image|credit)[^()]{0,200}\)", re.IGNORECASE)

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
    """The wire agency a text credits ('AP', 'Reuters', 'AFP', 'dpa', ...), or None."""
    text = text or ""
    match = _WIRE_RE.search(text) if any(literal in text for literal in _WIRE_LITERALS) else None
    if match is None:
        return None
    index = int(match.lastgroup[1:])
    return _WIRE_MARKERS[index][0]


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


def normalize_for_comparison(text: str) -> str:
    """Boilerplate-free, NFKC, case-folded text of words separated by single spaces."""
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
        for char in set(data.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")):
            if not char.isalnum():
                text = text.replace(char, " ")
    return " ".join(text.split())
