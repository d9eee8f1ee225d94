"""Label Studio HyperText: an HTML task as the text a browser shows, and its regions' places in that text.

Label Studio places a HyperText region by an XPath to a text node plus an offset inside it (`start`,
`startOffset`, `end`, `endOffset`), and newer versions also by `globalOffsets` into the text content of the
whole HTML. The text here is that text content (the text of every text node, in document order, character
references decoded, the markup dropped) with a line break where a block (p, div, li, h1...) or a br ends
a line, and a region's offsets are found from its XPaths, else from its global offsets (moved past the
added line breaks). Either way the result must give back the region's own text (`value.text`), or the region
is not placed: a mapping that cannot be checked is never trusted.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, TypeGuard

_BLOCK = frozenset(
    {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "blockquote", "pre",
     "section", "article", "header", "footer", "dd", "dt", "figcaption", "address"}
)  # fmt: skip
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)


@dataclass
class _Node:
    tag: str  # "" for a text node
    children: list[_Node] = field(default_factory=list)
    start: int = 0  # a text node's offset in the whole text


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root")
        self.stack = [self.root]
        self.parts: list[str] = []
        self.length = 0  # of the text made so far
        self.content = 0  # of the text content so far (the DOM's, without the line breaks added)
        self.breaks: list[int] = []  # text content offsets where a line break was added

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        node = _Node(tag)
        self.stack[-1].children.append(node)
        if tag == "br":
            self.line_break()
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self.stack[-1].children.append(_Node(tag))
        if tag == "br":
            self.line_break()

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):  # close up to the matching open element
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                if tag in _BLOCK:
                    self.line_break()
                return

    def line_break(self) -> None:
        """Blocks end a line in the text, as a reader sees them, unless whitespace already does."""
        if self.parts and not self.parts[-1][-1:].isspace():
            self.parts.append("\n")
            self.length += 1
            self.breaks.append(self.content)

    def handle_data(self, data: str) -> None:
        siblings = self.stack[-1].children
        if not (siblings and siblings[-1].tag == ""):  # adjacent text is one node, as in the DOM
            siblings.append(_Node("", start=self.length))
        self.parts.append(data)
        self.length += len(data)
        self.content += len(data)


class HyperText:
    """An HTML document's text, and the places of Label Studio regions in it."""

    def __init__(self, html: str) -> None:
        tree = _Tree()
        tree.feed(html)
        tree.close()
        self.root = tree.root
        self.text = "".join(tree.parts)
        self.breaks = tree.breaks

    def node(self, xpath: str) -> _Node | None:
        """The text node an XPath like `/div[1]/p[2]/text()[1]` leads to, from the document's root, or from
        its body when the HTML is a whole document (a browser puts only the body's content on the page)."""
        found = self.walk(self.root, xpath)
        if found is None and (body := self.walk(self.root, "/html[1]/body[1]", text=False)) is not None:
            found = self.walk(body, xpath)
        return found

    @staticmethod
    def walk(node: _Node, xpath: str, *, text: bool = True) -> _Node | None:
        for step in (part for part in xpath.strip().split("/") if part):
            name, _, rest = step.partition("[")
            try:
                index = int(rest.rstrip("]")) if rest else 1
            except ValueError:
                return None
            tag = "" if name == "text()" else name.lower()
            matches = [child for child in node.children if child.tag == tag]
            if not 0 < index <= len(matches):
                return None
            node = matches[index - 1]
        return node if (node.tag == "") == text else None

    def place(self, value: dict[str, Any]) -> tuple[int, int] | None:
        """The region's [start, end) in the text, checked against its own text; None when it cannot be."""
        surface = value.get("text")
        candidates = []
        starts, ends = value.get("start"), value.get("end")
        start_offset, end_offset = value.get("startOffset"), value.get("endOffset")
        if isinstance(starts, str) and isinstance(ends, str) and _whole(start_offset) and _whole(end_offset):
            first, last = self.node(starts), self.node(ends)
            if first is not None and last is not None:
                candidates.append((first.start + start_offset, last.start + end_offset))
        offsets = value.get("globalOffsets")
        if isinstance(offsets, dict) and _whole(offsets.get("start")) and _whole(offsets.get("end")):
            # Into the DOM's text content: moved past the line breaks added before them.
            start, end = offsets["start"], offsets["end"]
            candidates.append((start + bisect_right(self.breaks, start), end + bisect_left(self.breaks, end)))
        for start, end in candidates:
            if (
                0 <= start < end <= len(self.text)
                and isinstance(surface, str)
                and self.text[start:end] == surface
            ):
                return start, end
        return None


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
