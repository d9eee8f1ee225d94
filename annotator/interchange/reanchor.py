"""Moving offsets from a text to an edited version of it, by a diff of the two; pure Python.

The diff runs over lines first (fast, and edits rarely cross many lines), then over the characters of
each changed stretch of lines, when it is small enough for that to be quick. An offset inside an
unchanged stretch moves with it; a start inside a changed stretch goes to the start of what replaced
it and an end to its end, so a span whose words were edited covers the edited words. Text inserted
exactly at a span's edge stays outside the span.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum
from itertools import accumulate

# Character diffs are quadratic in the worst case: only changed stretches up to this size get one.
MAX_CHARACTER_DIFF = 4000
# Unchanged lines shorter than this between two changes are no anchor (a blank line matches any blank
# line): the changes on both sides and they are diffed as one stretch, by characters.
MIN_ANCHOR = 200


class Fit(StrEnum):
    EXACT = "exact"  # the same text, maybe elsewhere
    CHANGED = "changed"  # kept where the diff puts it, but the text there is different
    LOST = "lost"  # nothing of it is left


@dataclass(frozen=True)
class Moved:
    start: int
    end: int
    fit: Fit
    fragments: tuple[tuple[int, int], ...] = ()


def _opcodes(old: str, new: str) -> list[tuple[str, int, int, int, int]]:
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    old_at = [0, *accumulate(len(line) for line in old_lines)]
    new_at = [0, *accumulate(len(line) for line in new_lines)]
    line_ops = SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes()
    result: list[tuple[str, int, int, int, int]] = []
    for tag, a1, a2, b1, b2 in _changed_stretches(
        [(tag, old_at[i1], old_at[i2], new_at[j1], new_at[j2]) for tag, i1, i2, j1, j2 in line_ops]
    ):
        if tag == "replace" and (a2 - a1) + (b2 - b1) <= MAX_CHARACTER_DIFF:
            inner = SequenceMatcher(None, old[a1:a2], new[b1:b2], autojunk=False).get_opcodes()
            result.extend((t, a1 + x1, a1 + x2, b1 + y1, b1 + y2) for t, x1, x2, y1, y2 in inner)
        else:
            result.append((tag, a1, a2, b1, b2))
    return result


def _changed_stretches(
    ops: list[tuple[str, int, int, int, int]],
) -> list[tuple[str, int, int, int, int]]:
    """Line opcodes (in characters) with each run of changes and the short unchanged lines between them
    made one "replace", while it stays small enough for a character diff.

    A line split by an insertion shows up as a deleted line, a few matching (often blank) lines and an
    inserted one; diffed apart, the words of the deleted line would be lost although they are still there.
    """
    result: list[tuple[str, int, int, int, int]] = []
    pending: tuple[int, int, int, int] | None = None
    for index, (tag, a1, a2, b1, b2) in enumerate(ops):
        if tag == "equal":
            followed_by_change = index + 1 < len(ops)
            short = (a2 - a1) < MIN_ANCHOR
            if pending is not None and short and followed_by_change:
                pa1, _, pb1, _ = pending
                if (ops[index + 1][2] - pa1) + (ops[index + 1][4] - pb1) <= MAX_CHARACTER_DIFF:
                    pending = (pa1, a2, pb1, b2)
                    continue
            if pending is not None:
                result.append(("replace", *pending))
                pending = None
            result.append((tag, a1, a2, b1, b2))
        elif pending is None:
            pending = (a1, a2, b1, b2)
        else:
            pending = (pending[0], a2, pending[2], b2)
    if pending is not None:
        result.append(("replace", *pending))
    return result


class OffsetMap:
    """Maps offsets of `old` to offsets of `new`."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new
        # Only stretches that cover old text can hold an offset; pure insertions sit between them.
        self._ops = [op for op in _opcodes(old, new) if op[2] > op[1]]
        self._starts = [op[1] for op in self._ops]
        self._ends = [op[2] for op in self._ops]

    def start(self, offset: int) -> int:
        if not self._ops or offset >= len(self.old):
            return len(self.new)
        tag, a1, _, b1, _ = self._ops[bisect_right(self._starts, offset) - 1]
        return b1 + (offset - a1) if tag == "equal" else b1

    def end(self, offset: int) -> int:
        if not self._ops or offset <= 0:
            return 0
        tag, a1, _, b1, b2 = self._ops[bisect_left(self._ends, offset)]
        return b1 + (offset - a1) if tag == "equal" else b2

    def span(self, start: int, end: int, fragments: tuple[tuple[int, int], ...] = ()) -> Moved:
        """Where a span goes, and how well it fits there (its text compared before and after)."""
        pieces = fragments or ((start, end),)
        moved = [(self.start(a), self.end(b)) for a, b in pieces]
        kept = [(a, b) for a, b in moved if a < b]
        if not kept:
            return Moved(moved[0][0], moved[0][0], Fit.LOST)
        same = len(kept) == len(pieces) and all(
            self.old[a:b] == self.new[x:y] for (a, b), (x, y) in zip(pieces, kept, strict=True)
        )
        if not same and not fragments:
            # A diff can cut an unchanged word where an edit next to it repeats its letters ("Minsk"
            # after inserting "M" may come out as "MMinsk"): the same words right there are the span.
            nearby = self._nearest(self.old[start:end], kept[0][0], kept[-1][1])
            if nearby is not None:
                return Moved(nearby, nearby + (end - start), Fit.EXACT)
        return Moved(
            kept[0][0], kept[-1][1], Fit.EXACT if same else Fit.CHANGED, tuple(kept) if fragments else ()
        )

    def _nearest(self, surface: str, start: int, end: int) -> int | None:
        """Where `surface` occurs in the new text within its own length of [start, end), closest to start."""
        low, high = max(start - len(surface), 0), min(end + len(surface), len(self.new))
        found, at = [], self.new.find(surface, low, high)
        while at != -1:
            found.append(at)
            at = self.new.find(surface, at + 1, high)
        return min(found, key=lambda position: abs(position - start), default=None)
