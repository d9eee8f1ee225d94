"""The article text as HTML: blocks of text with spans and suggestions as nested, overlapping marks.

The text is cut into blocks (at line breaks when it can be) so that an action re-renders only the
blocks it touched. Inside a block, every place where a mark starts or ends cuts a segment; each
segment is wrapped in the marks that cover it, longest outermost, so nested and crossing spans both
show. Built as strings rather than through templates: a 1 MB article has thousands of segments.
Everything that comes from users is escaped here, so the result is marked safe here and templates
never need `|safe`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from itertools import pairwise
from typing import NamedTuple

from django.utils.safestring import SafeString, mark_safe

BLOCK_SIZE = 2000  # code points; a block is re-rendered whole when anything in it changes


@dataclass(frozen=True)
class Block:
    index: int
    start: int
    end: int
    starts_line: bool  # begins at the start of the text or right after a line break
    ends_line: bool  # ends with a line break, or at the end of the text

    @property
    def dom_id(self) -> str:
        return f"blk-{self.index}"

    @property
    def is_flow(self) -> bool:
        """A block cut mid-line must flow inline with its neighbours, or the page would break the line."""
        return not (self.starts_line and self.ends_line)


def split_blocks(text: str, size: int = BLOCK_SIZE) -> list[Block]:
    """Cut the text into blocks of about `size` code points, after a line break wherever possible."""
    cuts = []
    start, length = 0, len(text)
    while start < length:
        end = length if length - start <= size + size // 2 else _cut_near(text, start, size)
        cuts.append((start, end))
        start = end
    return [
        Block(
            index=i,
            start=s,
            end=e,
            starts_line=s == 0 or text[s - 1] == "\n",
            ends_line=e == length or text[e - 1] == "\n",
        )
        for i, (s, e) in enumerate(cuts)
    ]


def _cut_near(text: str, start: int, size: int) -> int:
    """Where to end a block that starts at `start`: after a paragraph break, a line break or a space."""
    low, high = start + size // 2, start + size + size // 2
    for separator in ("\n\n", "\n"):
        found = text.rfind(separator, low, start + size)
        if found == -1:
            found = text.find(separator, start + size, high)
        if found != -1:
            return found + len(separator)
    found = text.find(" ", start + size, high)
    return found + 1 if found != -1 else start + size


def blocks_touching(blocks: Sequence[Block], ranges: Iterable[tuple[int, int]]) -> list[Block]:
    """The blocks that overlap any of the [start, end) ranges (an empty range touches its block)."""
    starts = [block.start for block in blocks]
    touched: set[int] = set()
    for start, end in ranges:
        first = max(bisect_right(starts, start) - 1, 0)
        last = max(bisect_left(starts, max(end, start + 1)) - 1, first)
        touched.update(range(first, last + 1))
    return [blocks[i] for i in sorted(touched)]


class Mark(NamedTuple):
    """Something drawn over the text: an annotated span (`s<id>`) or a pending suggestion (`g<id>`).

    A named tuple rather than a frozen dataclass: a page makes one per span and suggestion, and a
    frozen dataclass sets each field through `object.__setattr__`, several times slower."""

    item: str
    start: int
    end: int
    type_id: int
    label: str
    suggestion: bool = False
    linked: str = ""  # "kb" or "nil" for spans with a link
    related: bool = False  # takes part in a relation

    def classes(self, depth: int) -> str:
        names = ["m", f"et-{self.type_id}", f"d{min(depth, 4)}"]
        names.append("sugg" if self.suggestion else "span")
        if self.linked:
            names.append(f"link-{self.linked}")
        if self.related:
            names.append("rel")
        return " ".join(names)


def render_blocks(
    text: str, blocks: Sequence[Block], marks: Sequence[Mark], *, oob: bool = False
) -> list[SafeString]:
    """Several blocks (in text order) in one sweep over the marks sorted by start."""
    ordered = sorted(marks, key=lambda m: m.start)
    rendered: list[SafeString] = []
    carried: list[Mark] = []
    position = 0
    for block in blocks:
        carried = [m for m in carried if m.end > block.start]
        while position < len(ordered) and ordered[position].start < block.end:
            if ordered[position].end > block.start:
                carried.append(ordered[position])
            position += 1
        rendered.append(render_block(text, block, carried, oob=oob))
    return rendered


def render_block(text: str, block: Block, marks: Sequence[Mark], *, oob: bool = False) -> SafeString:
    """One block as HTML. `marks` may include marks outside the block; they are ignored.

    With `oob`, the block carries htmx's out-of-band attribute, to replace its old self on the page.
    """
    inside = [m for m in marks if m.start < block.end and m.end > block.start]
    cuts = {block.start, block.end}
    for mark in inside:
        cuts.add(max(mark.start, block.start))
        cuts.add(min(mark.end, block.end))
    boundaries = sorted(cuts)
    by_start: dict[int, list[Mark]] = {}
    for mark in inside:
        by_start.setdefault(max(mark.start, block.start), []).append(mark)
    # What each mark's tag says apart from its depth, worked out once per mark rather than per segment.
    shapes = {id(mark): _shape(mark) for mark in inside}
    active: list[Mark] = []
    parts = [_opening(block, oob=oob)]
    for left, right in pairwise(boundaries):
        active = [m for m in active if m.end > left] + by_start.get(left, [])
        segment = escape(text[left:right], quote=False)
        if not active:
            parts.append(segment)
            continue
        # Longest outermost, so that a nested span sits inside the span that contains it.
        layers = sorted(active, key=lambda m: shapes[id(m)][0]) if len(active) > 1 else active
        opening = []
        for depth, mark in enumerate(layers):
            _, before_depth, after_depth, label = shapes[id(mark)]
            labelled = label if mark.start == left else ""
            opening.append(f'<mark class="{before_depth}{min(depth, 4)}{after_depth}{labelled}>')
        parts.append("".join(opening) + segment + "</mark>" * len(layers))
    parts.append("</div>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text above went through escape()


def _shape(mark: Mark) -> tuple[tuple[int, int, str], str, str, str]:
    """A mark's sort key, its tag's text before and after the depth, and its label attribute: the tag is
    `<mark class="{before}{depth}{after}{label}>` with the label on the mark's first segment only, as
    `Mark.classes` and the item and label attributes would write it."""
    after = " sugg" if mark.suggestion else " span"
    if mark.linked:
        after += f" link-{mark.linked}"
    if mark.related:
        after += " rel"
    return (
        (mark.start - mark.end, mark.start, mark.item),
        f"m et-{mark.type_id} d",
        f'{after}" data-item="{mark.item}"',
        _label_attribute(mark.label),
    )


@lru_cache(maxsize=4096)
def _label_attribute(label: str) -> str:
    return f' data-label="{escape(label)}"'  # labels repeat ("PERSON 0.90"): escaped once per process


def _opening(block: Block, *, oob: bool = False, lazy: bool = False) -> str:
    flow = " flow" if block.is_flow else ""
    out_of_band = ' hx-swap-oob="true"' if oob else ""
    not_loaded = ' data-lazy="1"' if lazy else ""
    return (
        f'<div class="blk{flow}" id="{block.dom_id}" data-s="{block.start}" data-e="{block.end}"'
        f"{not_loaded}{out_of_band}>"
    )


def render_plain_blocks(text: str, blocks: Sequence[Block], *, oob: bool = False) -> list[SafeString]:
    """Blocks whose annotations are not loaded yet: their text alone, marked `data-lazy`.

    The text is all there (readable, selectable with the right offsets, found by the browser's search
    and sized as it will be), so the page only has to add the marks when a block comes into view.
    """
    rendered = []
    for block in blocks:
        body = escape(text[block.start : block.end], quote=False)
        rendered.append(mark_safe(f"{_opening(block, oob=oob, lazy=True)}{body}</div>"))  # noqa: S308 - escaped
    return rendered
