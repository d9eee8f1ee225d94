"""How a candidate entity is scored for a mention: name similarity, prior, type fit, context. Pure Python.

Every signal is in [0, 1] and the weights sum to 1, so scores stay in [0, 1]. Without context, a score is
NAME * similarity + PRIOR * prior + TYPE * type fit. With context, that part keeps 1 - CONTEXT of the
weight and the overlap between the context and the entity's description takes the rest.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

NAME_WEIGHT, PRIOR_WEIGHT, TYPE_WEIGHT = 0.6, 0.25, 0.15
CONTEXT_WEIGHT = 0.15

_WORD = re.compile(r"\w{3,}")
# Words longer than six letters are cut to their first six, a crude stem that makes "Belarusian" meet
# "Belarus" and "presidency" meet "president" without a language-specific stemmer.
_STEM = 6
# fmt: off
_STOPWORDS = frozenset((
    "the", "and", "for", "with", "from", "that", "this", "was", "were", "are", "has", "have", "had",
    "its", "his", "her", "their", "they", "them", "been", "not", "but", "who", "which", "whom", "what",
    "when", "where", "than", "then", "also", "into", "over", "under", "about", "after", "before",
    "since", "more", "most", "other", "some", "such", "only", "own", "same", "very", "can", "will",
    "would", "could", "should", "said", "says", "new", "one", "two", "first", "last", "all", "any",
    "each", "few", "per", "via",
))
# fmt: on


def name_similarity(key: str, alias_key: str) -> float:
    """Similarity of two normalised names in [0, 1]: 1 when equal, else rapidfuzz's normalised Indel ratio."""
    if key == alias_key:
        return 1.0
    return fuzz.ratio(key, alias_key) / 100


def type_fit(wanted: str | None, entity_type: str) -> float:
    """1 when the entity has the span's type, 0 when it has another, 0.5 when either is unknown."""
    if not wanted or not entity_type:
        return 0.5
    return float(wanted == entity_type)


def context_words(text: str) -> frozenset[str]:
    """The content words of a text, case-folded and stemmed, for overlap with descriptions."""
    words = (word.casefold() for word in _WORD.findall(text))
    return frozenset(word[:_STEM] for word in words if word not in _STOPWORDS)


def context_overlap(context: frozenset[str], description: str) -> float:
    """The share of the description's content words that the context also has, in [0, 1]."""
    described = context_words(description)
    if not described or not context:
        return 0.0
    return len(described & context) / len(described)


def score(*, similarity: float, prior: float, fit: float, overlap: float | None) -> float:
    """The candidate's score in [0, 1]; `overlap` is None when the caller gave no context."""
    base = NAME_WEIGHT * similarity + PRIOR_WEIGHT * prior + TYPE_WEIGHT * fit
    if overlap is None:
        return round(base, 4)
    return round((1 - CONTEXT_WEIGHT) * base + CONTEXT_WEIGHT * overlap, 4)
