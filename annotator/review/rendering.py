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
from operator import attrgetter, itemgetter
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


_start_of = attrgetter("start")


def render_blocks(
    text: str, blocks: Sequence[Block], marks: Sequence[Mark], *, oob: bool = False
) -> list[SafeString]:
    """Several blocks (in text order) in one sweep over the marks sorted by start."""
    ordered = sorted(marks, key=_start_of)
    rendered: list[SafeString] = []
    carried: list[Mark] = []
    position = 0
    for block in blocks:
        carried = [m for m in carried if m.end > block.start]
        while position < len(ordered) and ordered[position].start < block.end:
            if ordered[position].end > block.start:
                carried.append(ordered[position])
            position += 1
        # `carried` is what render_block would pick: the marks over the block, sorted by start.
        rendered.append(render_block(text, block, carried, oob=oob, inside=True))
    return rendered


def render_block(
    text: str, block: Block, marks: Sequence[Mark], *, oob: bool = False, inside: bool = False
) -> SafeString:
    """One block as HTML. `marks` may include marks outside the block; they are ignored (`inside`: the
    caller gives only marks over the block, sorted by start).

    With `oob`, the block carries htmx's out-of-band attribute, to replace its old self on the page.

    Marks that overlap no other mark (most of them) are written whole, in one piece each; only a run of
    overlapping marks is cut into segments. The HTML is the same either way: a lone mark's range holds
    no other boundary, so it is one segment.
    """
    block_start, block_end = block.start, block.end
    if not inside:
        marks = sorted((m for m in marks if m.start < block_end and m.end > block_start), key=_start_of)
    body = text[block_start:block_end]
    # Text without &, < or > escapes to itself: most blocks of news skip escaping altogether.
    plain = "&" not in body and "<" not in body and ">" not in body
    parts = [_opening(block, oob=oob)]
    position, count, i = block_start, len(marks), 0
    while i < count:
        first = marks[i]
        left = first.start if first.start > block_start else block_start
        right = first.end if first.end < block_end else block_end
        j = i + 1
        while j < count and marks[j].start < right:  # overlaps the run so far: one run
            if marks[j].end > right:
                right = marks[j].end if marks[j].end < block_end else block_end
            j += 1
        if left > position:
            segment = text[position:left]
            parts.append(segment if plain else escape(segment, quote=False))
        segment = text[left:right]
        if not plain:
            segment = escape(segment, quote=False)
        if j == i + 1:
            before, after = _tag_parts(first.type_id, first.suggestion, first.linked, first.related)
            labelled = _label_attribute(first.label) if first.start == left else ""
            parts.append(f'<mark class="{before}0{after}{first.item}"{labelled}>{segment}</mark>')
        else:
            _render_run(parts, text, marks[i:j], left, right, plain)
        position, i = right, j
    if position < block_end:
        segment = text[position:block_end]
        parts.append(segment if plain else escape(segment, quote=False))
    parts.append("</div>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text above went through escape()


def _render_run(parts: list[str], text: str, run: Sequence[Mark], low: int, high: int, plain: bool) -> None:
    """Overlapping marks over [low, high): every place where one starts or ends cuts a segment, and each
    segment is wrapped in the marks that cover it, longest outermost.

    The marks are put in their layering order once for the run: the marks over any segment, taken in
    that order, are its layers (the order is each mark's own key, not the segment's)."""
    cuts = {low, high}
    for mark in run:
        cuts.add(mark.start if mark.start > low else low)
        cuts.add(mark.end if mark.end < high else high)
    # Each mark's tag apart from its depth, worked out once per mark rather than per segment.
    layered = sorted((_shape(mark) for mark in run), key=_layer_key)
    for left, right in pairwise(sorted(cuts)):
        segment = text[left:right] if plain else escape(text[left:right], quote=False)
        opening = []
        depth = 0
        for _, start, end, before_depth, after_depth, label in layered:
            if start <= left < end:
                labelled = label if start == left else ""
                opening.append(
                    f'<mark class="{before_depth}{depth if depth < 4 else 4}{after_depth}{labelled}>'
                )
                depth += 1
        if depth:
            parts.append(f"{''.join(opening)}{segment}{'</mark>' * depth}")
        else:
            parts.append(segment)


def _shape(mark: Mark) -> tuple[tuple[int, int, str], int, int, str, str, str]:
    """A mark's layering key (longest first, then by start), its range, its tag's text before and after
    the depth, and its label attribute: the tag is `<mark class="{before}{depth}{after}{label}>` with the
    label on the mark's first segment only, as `Mark.classes` and the item and label attributes would
    write it."""
    before, after = _tag_parts(mark.type_id, mark.suggestion, mark.linked, mark.related)
    return (
        (mark.start - mark.end, mark.start, mark.item),
        mark.start,
        mark.end,
        before,
        f'{after}{mark.item}"',
        _label_attribute(mark.label),
    )


_layer_key = itemgetter(0)


@lru_cache(maxsize=4096)
def _tag_parts(type_id: int, suggestion: bool, linked: str, related: bool) -> tuple[str, str]:
    """A mark's class list up to its depth, and from its depth to its item's id: a page has few kinds."""
    after = " sugg" if suggestion else " span"
    if linked:
        after += f" link-{linked}"
    if related:
        after += " rel"
    return f"m et-{type_id} d", f'{after}" data-item="'


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
