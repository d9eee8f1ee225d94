"""Token patterns of the gazetteer's rules: dates, and "Full Name (ACR)". Plain data for the span_ruler."""

from __future__ import annotations

from typing import Any

_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December", "Jan.", "Feb.", "Mar.", "Apr.", "Aug.", "Sept.", "Sep.", "Oct.", "Nov.", "Dec.",
]  # fmt: skip
# Without the full stop ("Oct 19", as wires and headlines write them): only before a day ("Jan" alone is
# a name, "Mar" a word).
_SHORT_MONTHS = ["Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec"]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_UNITS = ["day", "days", "week", "weeks", "weekend", "weekends", "month", "months", "year", "years",
          "decade", "decades", "century", "centuries", "hour", "hours"]  # fmt: skip
_PERIODS = ["week", "weekend", "month", "year", "decade", "century", "spring", "summer", "autumn", "fall",
            "winter", "quarter"]  # fmt: skip
_DAY = {"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])(st|nd|rd|th)?$"}}
_YEAR = {"TEXT": {"REGEX": r"^(1[5-9]|20)\d\d$"}}


def date_patterns() -> list[dict[str, Any]]:
    """Few patterns, each with optional parts: the Matcher's cost grows with the number of patterns (on
    news, each costs about as much as tokenising). Matches that end in a comma and a lone "May" (a verb
    at a sentence start) are dropped by the pipeline."""
    month = {"ORTH": {"IN": _MONTHS}}
    optional_year = {**_YEAR, "OP": "?"}
    relative = ["last", "next", "this", "past", "coming", "previous", "recent"]
    periods = [*_PERIODS, *(p + "s" for p in _PERIODS), *(d.lower() for d in _WEEKDAYS)]
    month_before_day = {"ORTH": {"IN": [*_MONTHS, *_SHORT_MONTHS]}}
    token_patterns = [
        [month_before_day, _DAY, {"ORTH": ",", "OP": "?"}, optional_year],
        [_DAY, month, optional_year],
        [month, optional_year],
        [{"LOWER": {"IN": [*(d.lower() for d in _WEEKDAYS), "today", "yesterday", "tomorrow"]}}],
        [{"LOWER": {"IN": relative}}, {"LOWER": {"IN": periods}}],
        [{"LIKE_NUM": True}, {"LOWER": {"IN": _UNITS}}, {"LOWER": "ago", "OP": "?"}],
    ]
    after = [
        {"LOWER": {"IN": ["in", "since", "until", "by", "from", "before", "after", "during", "of"]}},
        _YEAR,
    ]
    patterns: list[dict[str, Any]] = [
        {"label": "DATE", "pattern": p, "id": "rule:date"} for p in token_patterns
    ]
    patterns.append({"label": "DATE", "pattern": after, "id": "rule:date-after"})
    return patterns


def acronym_pattern() -> dict[str, Any]:
    word = r"^(?:[A-Z][\w’'.&-]*|of|the|for|and|on|in|de|du|la|&)$"
    return {
        "label": "ORG",
        "id": "rule:name-acronym",
        "pattern": [
            {"IS_TITLE": True},
            {"TEXT": {"REGEX": word}, "OP": "*"},
            {"ORTH": "("},
            {"TEXT": {"REGEX": r"^[A-Z][A-Z0-9&.-]{1,9}$"}},
            {"ORTH": ")"},
        ],
    }


def is_weak_name(tokens: Any) -> bool:
    """Whether a gold mention's tokens make a poor pattern: nothing in them looks like a name. A word
    looks like one when it starts with a capital (or a digit) and is not a stop word written as an
    ordinary word: "The", "He" and "May" are weak, "US" and "IT" in capitals are not, "government" is.
    Scripts without case count as names (nothing to tell them by)."""
    words = [token for token in tokens if not token.is_punct and not token.is_space]
    if not words or all(len(token.text) == 1 and not token.is_alpha for token in words):
        return True
    for token in words:
        text = token.text
        if not any(ch.isalpha() for ch in text):
            if any(ch.isdigit() for ch in text) and len(words) > 1:
                continue  # "Apollo 11": the number is part of a longer name
            continue
        if not (text.isupper() or text.islower() or text.istitle() or text[0].isupper()):
            return False  # no case in this script
        if text.islower():
            continue
        if token.is_stop and not (text.isupper() and len(text) > 1):
            continue
        return False
    return True
