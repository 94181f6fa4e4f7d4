"""Logical keyword sets for reasoning analysis, kept as data.

Each language is one JSON file in the ``keywords/`` folder beside this
module, named by its language code (``en.json``) and mapping a lower-case
word to its weight. Adding a language means adding a file: a task's
``language`` field picks the set, and English (the seed's
``LOGICAL_KEYWORDS``, seed section 7.3) is used for any language without one.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

DEFAULT_LANGUAGE = "en"
KEYWORDS_DIR = Path(__file__).with_name("keywords")


@dataclass(frozen=True)
class KeywordHits:
    """The logical keywords found in one text."""

    count: int
    score: float


@lru_cache(maxsize=8192)  # a pure function of the word; reasoning texts repeat words a lot
def normalise_word(word: str) -> str:
    """A word as keyword matching sees it (docs/metrics.md's tokenisation fix):
    lower-cased, leading and trailing ASCII punctuation stripped, so that
    "Therefore," and "because." count."""
    return word.lower().strip(string.punctuation)


def score_keywords(text: str, weights: Mapping[str, float]) -> KeywordHits:
    """Count and weigh the keywords among ``text.split()``'s words."""
    found = [weights[word] for word in map(normalise_word, text.split()) if word in weights]
    # Summed in word order, as the seed's generator expression does, so the
    # float result is the same to the last bit.
    return KeywordHits(count=len(found), score=sum(found))


def keyword_weights(language: str | None = None, directory: Path = KEYWORDS_DIR) -> Mapping[str, float]:
    """The keyword set for a language code ("en", "en-GB", "pt_BR").

    An exact match wins, then the primary subtag ("en" for "en-GB"), then
    English.
    """
    sets = _load_sets(directory)
    code = (language or DEFAULT_LANGUAGE).strip().lower().replace("_", "-")
    for candidate in (code, code.split("-")[0], DEFAULT_LANGUAGE):
        if candidate in sets:
            return sets[candidate]
    raise LookupError(f"no keyword set for {language!r} and no default {DEFAULT_LANGUAGE}.json in {directory}")


def available_languages(directory: Path = KEYWORDS_DIR) -> list[str]:
    return sorted(_load_sets(directory))


@lru_cache(maxsize=8)
def _load_sets(directory: Path) -> Mapping[str, Mapping[str, float]]:
    return MappingProxyType({path.stem.lower(): _load_set(path) for path in sorted(directory.glob("*.json"))})


def _load_set(path: Path) -> Mapping[str, float]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a keyword set is a JSON object of word -> weight")
    weights: dict[str, float] = {}
    for word, weight in raw.items():
        if normalise_word(word) != word or not word:
            raise ValueError(f"{path}: {word!r} must be written as matching sees it: {normalise_word(word)!r}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValueError(f"{path}: the weight of {word!r} must be a number >= 0")
        weights[word] = float(weight)
    return MappingProxyType(weights)
