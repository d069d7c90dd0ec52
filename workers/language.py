"""Language identification: the page's own hint, checked by py3langid (its model ships inside the package)."""

from __future__ import annotations

import logging
import re
from functools import cache

LOGGER = logging.getLogger(__name__)

# Below this many letters the identifier is unreliable (titles, captions): the page's own hint wins.
SHORT_TEXT = 200
# A Han, kana or Hangul character carries about a word, i.e. several Latin letters' worth of evidence.
CJK_WEIGHT = 4
# The identifier's normalised probability it needs to overrule a hint, or to be believed at all without one.
CONFIDENT = 0.9
# Enough text to decide; identification time grows linearly with length, and more so in a worker than alone:
# py3langid walks a 39 MB automaton a byte at a time, whose pages trafilatura has pushed out of the CPU's
# caches by then (about 1 ms a page in a worker, twice what the same calls take in a loop). On the corpus's
# 2,419 SemEval articles, identified with no hint, the true one, "en" and "fr", a sample of 1,000 characters
# and a lead of 300 give the very languages 2,000 and 500 give (and 2,000 gave 4,000's before).
SAMPLE_CHARS = 1000
# Most pages declare their language, and the identifier confirms it on a lead this long: the whole sample is
# identified only when the lead does not confirm the hint.
CHECK_CHARS = 300

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_HINT = re.compile(r"^[a-z]{2,3}$")


@cache
def _identifier():
    """The py3langid identifier with normalised probabilities, loaded once per process."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    LOGGER.debug("loading the py3langid model")
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _normalise_hint(hint: str | None) -> str | None:
    """`fr-FR`, `FR`, ` fr_ca ` -> `fr`; anything that is not a language code -> None."""
    if not hint:
        return None
    code = re.split(r"[-_]", hint.strip().lower(), maxsplit=1)[0]
    return code if _HINT.match(code) else None


def _confirms(lead: str, hint: str) -> bool:
    """Whether the identifier reads `lead` as the hinted language, confidently."""
    language, probability = _identifier().classify(lead)
    return language == hint and probability >= CONFIDENT


def _evidence(text: str) -> int:
    """Letters in `text`, a Han, kana or Hangul character counting CJK_WEIGHT.

    Only whether a sample has none, or SHORT_TEXT or more, matters: its lead usually settles that, at a fifth of
    the cost of counting all of it.
    """
    return len(_LETTER.findall(text)) + (CJK_WEIGHT - 1) * len(_CJK.findall(text))


def detect_language(text: str, hint: str | None = None) -> str | None:
    """The ISO 639-1 code of `text`: the hint on short text, the identifier on long text unless it is unsure.

    Args:
        text: the extracted article text.
        hint: the language the page declares (`<html lang>`, trafilatura's metadata), if any.

    Returns:
        A two-letter code, or None when there is neither a usable hint nor a confident identification.
    """
    hint = _normalise_hint(hint)
    sample = text[:SAMPLE_CHARS]
    letters = _evidence(sample[:2 * SHORT_TEXT])
    if letters < SHORT_TEXT:
        letters = _evidence(sample)
    if letters == 0:
        return hint
    if hint is not None and letters < SHORT_TEXT:
        return hint
    if hint is not None and _confirms(sample[:CHECK_CHARS], hint):
        return hint
    language, probability = _identifier().classify(sample)
    if hint is None or hint == language:
        return language if (probability >= CONFIDENT or letters >= SHORT_TEXT) else None
    if probability >= CONFIDENT:
        LOGGER.debug("page says %s, text reads as %s (p=%.2f): trusting the text", hint, language, probability)
        return language
    return hint
