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
_DIGITS = re.compile(
    "[0-9]+"
)  # ASCII only: str.isdigit() also says yes to "²" and "١", which int() mishandles
_SIGNED_DIGITS = re.compile("-?[0-9]+")

# The largest offset a database column holds (PostgreSQL's integer). Texts are far shorter: a larger
# number can never be inside one, and is refused before it reaches a query.
OFFSET_MAX = 2**31 - 1


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


# The largest number a database key or counter holds (a signed 64-bit integer).
WHOLE_NUMBER_MAX = 2**63 - 1


def whole_number(text: str) -> int | None:
    """The number a request's text spells with the digits 0-9 (no sign, space or underscore), if a
    database integer can hold it; else None (for an id: no such row)."""
    if not _DIGITS.fullmatch(text) or len(text) > 20:
        return None
    number = int(text)
    return number if number <= WHOLE_NUMBER_MAX else None


def parse_offset(value: object, *, name: str, text: bool) -> int:
    """An offset sent in a request: a JSON integer, or digits where every value is `text` (forms).

    A string in a JSON body is refused, not coerced: the schema says integer, and a client sending "12"
    has a bug that coercion would hide. Whatever its size, a bad number is an OffsetError here, never a
    value that fails later inside the database.
    """
    shown = repr(value[:30] + "…" if isinstance(value, str) and len(value) > 30 else value)
    number: int | None = None
    if isinstance(value, str) and not text:
        raise OffsetError(f"'{name}' must be a JSON integer, not a string (got {shown}).")
    if isinstance(value, str):
        if not _SIGNED_DIGITS.fullmatch(value):
            raise OffsetError(f"'{name}' must be a whole number written with the digits 0-9 (got {shown}).")
        number = int(value) if len(value) <= 30 else None
    elif isinstance(value, float) and value.is_integer():
        number = int(value)  # JSON Schema counts 12.0 as an integer
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise OffsetError(f"'{name}' must be a whole number (got {shown}).")
    if number is None or not 0 <= number <= OFFSET_MAX:
        raise OffsetError(f"'{name}' must be a whole number from 0 to {OFFSET_MAX} (got {shown}).")
    return number


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
