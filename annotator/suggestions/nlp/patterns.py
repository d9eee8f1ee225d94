"""Token patterns of the gazetteer's rules: dates, and "Full Name (ACR)". Plain data for the span_ruler."""

from __future__ import annotations

from typing import Any

_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December", "Jan.", "Feb.", "Mar.", "Apr.", "Aug.", "Sept.", "Sep.", "Oct.", "Nov.", "Dec.",
]  # fmt: skip
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
    token_patterns = [
        [month, _DAY, {"ORTH": ",", "OP": "?"}, optional_year],
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
