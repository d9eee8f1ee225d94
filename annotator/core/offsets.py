"""The offsets contract, in one place. Pure Python: import formats use it too.

Offsets everywhere are half-open Unicode code point indices into the stored text, as Python slices
them. Browsers count UTF-16 code units instead, so what the page sends is converted here, and what a
source file carries is remapped when its line endings are normalised at import.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?")


class OffsetError(ValueError):
    """An offset or a text that breaks the contract."""


def check_text(text: str) -> None:
    """Refuse what the contract does not store: NUL characters and lone surrogates."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return
    char = found.group()
    what = "a NUL character" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"
    line = text.count("\n", 0, found.start()) + 1
    raise OffsetError(f"The text contains {what} at offset {found.start()} (line {line}).")


def check_offsets(*, text_length: int, start: int, end: int) -> None:
    """Refuse a span that is empty, reversed or outside the text."""
    if start < 0 or end < 0:
        raise OffsetError(f"Offsets cannot be negative (got start={start}, end={end}).")
    if start >= end:
        raise OffsetError(f"A span needs start < end (got start={start}, end={end}).")
    if end > text_length:
        raise OffsetError(
            f"The span [{start}, {end}) ends after the text, which has {text_length} characters."
        )


class Utf16Index:
    """Converts between code point and UTF-16 offsets of one text, in O(log n) per offset.

    Only characters outside the Basic Multilingual Plane (emoji, many CJK extensions...) take two
    UTF-16 units, so remembering where they are is enough.
    """

    def __init__(self, text: str) -> None:
        self.length = len(text)
        self._astral = [match.start() for match in _ASTRAL.finditer(text)]
        # Where each astral character starts, counted in UTF-16 units.
        self._astral_utf16 = [position + i for i, position in enumerate(self._astral)]

    @property
    def utf16_length(self) -> int:
        return self.length + len(self._astral)

    def to_utf16(self, offset: int) -> int:
        if not 0 <= offset <= self.length:
            raise OffsetError(f"Offset {offset} is outside the text (0 to {self.length}).")
        return offset + bisect_left(self._astral, offset)

    def from_utf16(self, offset: int) -> int:
        if not 0 <= offset <= self.utf16_length:
            raise OffsetError(f"UTF-16 offset {offset} is outside the text (0 to {self.utf16_length}).")
        before = bisect_left(self._astral_utf16, offset)
        if before and self._astral_utf16[before - 1] + 1 == offset:
            raise OffsetError(f"UTF-16 offset {offset} falls between the two halves of a surrogate pair.")
        return offset - before


@dataclass(frozen=True)
class NormalizedText:
    """A text with its line endings normalised to \\n, and the map from the source's offsets to its own."""

    text: str
    removed: tuple[int, ...]  # source offsets of the \r characters dropped from \r\n pairs

    def to_normalized(self, offset: int) -> int:
        """Map a code point offset of the source text to the same place in the normalised text.

        An offset between the \\r and \\n of a pair maps to the \\n that remains.
        """
        return offset - bisect_left(self.removed, offset)

    def to_source(self, offset: int) -> int:
        """Map an offset of the normalised text back to the source: the first source offset that maps to it.

        So a \n that came from \r\n maps back to its \r, and a span of the normalised text maps back to
        the source span that normalises to it.
        """
        position = offset
        # Each removed \r before the answer shifts it by one; the smallest fixed point is the answer.
        while True:
            shifted = offset + bisect_left(self.removed, position)
            if shifted == position:
                return position
            position = shifted


def normalize_newlines(text: str) -> NormalizedText:
    """Turn \\r\\n and lone \\r into \\n; nothing else changes (no Unicode normalisation)."""
    if "\r" not in text:
        return NormalizedText(text, ())
    removed = tuple(match.start() for match in _NEWLINES.finditer(text) if match.group() == "\r\n")
    return NormalizedText(_NEWLINES.sub("\n", text), removed)
