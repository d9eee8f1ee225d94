"""The lookup key of a name: what two spellings of the same name have in common. Pure Python."""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
# Typographic quotes and dashes vary between sources for the same name ("Belarus’" / "Belarus'").
_PUNCTUATION = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "‐": "-", "‑": "-", "–": "-", "—": "-"})


def normalize_alias(text: str) -> str:
    """Compatibility-fold, case-fold and collapse whitespace; keep letters and their accents."""
    folded = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION).casefold()
    return _WHITESPACE.sub(" ", folded).strip()
