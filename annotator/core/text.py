"""Showing users' text shorter without changing it."""

from __future__ import annotations

import unicodedata


def shorten(text: str, limit: int) -> str:
    """At most `limit` code points of `text`, ending in "…" when cut.

    Unlike Django's `truncatechars`, the text is never normalised (NFC would turn a decomposed "é" into
    another string, which then no longer matches the article it came from), and a cut never leaves a
    combining mark without the letter it belongs to.
    """
    if len(text) <= limit:
        return text
    cut = max(limit - 1, 0)
    while cut > 0 and unicodedata.combining(text[cut]):
        cut -= 1
    return text[:cut] + "…"


# Right-to-left letters and the bidi controls: what can reorder the words around a name in a sentence.
_BIDI_CLASSES = {"R", "AL", "RLE", "LRE", "RLO", "LRO", "PDF", "RLI", "LRI", "FSI", "PDI"}


def isolate(name: str) -> str:
    """`name` ready to go into a sentence: between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE when it
    has right-to-left letters or bidi controls, as Unicode's bidi algorithm (UAX #9) advises for text of
    unknown direction; else unchanged. A file named "x\\u202egnp.exe" then cannot reverse the rest of
    "1 error in x\\u202egnp.exe; nothing was imported." on the page, in a log or in an API client."""
    if name.isascii():  # no right-to-left letter and no bidi control is ASCII
        return name
    if any(unicodedata.bidirectional(char) in _BIDI_CLASSES for char in name):
        return f"\u2068{name}\u2069"
    return name
