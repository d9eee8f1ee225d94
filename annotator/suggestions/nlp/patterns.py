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
    month = {"ORTH": {"IN": _MONTHS}}
    lone_month = {"ORTH": {"IN": [m for m in _MONTHS if m != "May"]}}  # "may" is a verb at a sentence start
    weekday = {"ORTH": {"IN": _WEEKDAYS}}
    token_patterns = [
        [month, _DAY],
        [month, _DAY, {"ORTH": ","}, _YEAR],
        [month, _DAY, _YEAR],
        [_DAY, month],
        [_DAY, month, _YEAR],
        [month, _YEAR],
        [lone_month],
        [weekday],
        [{"LOWER": {"IN": ["last", "next", "this", "past", "coming", "previous"]}},
         {"LOWER": {"IN": [*_PERIODS, *(d.lower() for d in _WEEKDAYS)]}}],
        [{"LOWER": "recent"}, {"LOWER": {"IN": ["days", "weeks", "months", "years", "decades"]}}],
        [{"LIKE_NUM": True}, {"LOWER": {"IN": _UNITS}}],
        [{"LIKE_NUM": True}, {"LOWER": {"IN": _UNITS}}, {"LOWER": "ago"}],
        [{"LOWER": {"IN": ["today", "yesterday", "tomorrow"]}}],
        [{"TEXT": {"REGEX": r"^(1[5-9]|20)\d0s$"}}],
    ]  # fmt: skip
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
