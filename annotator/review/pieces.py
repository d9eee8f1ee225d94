"""Pages whose large parts are encoded to UTF-8 apart from the rest of the page.

Python encodes a string of ASCII characters to UTF-8 as one copy, but a string holding any other
character a character at a time: the annotate page of 175 KiB took 0.78 ms to encode because its header
has a "·" (most of the page's CPU after the rows themselves). Its large parts (the text with its marks,
the side lists) are ASCII whenever the article's text is, and each is encoded on its own; only the
template's own text, a few KiB, is encoded a character at a time. The bytes are those of the whole page
encoded at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

# NUL cannot be in a page (user text with it is refused) and the token is this process's secret: a
# marker stands for its part only where the template put it.
_TOKEN = secrets.token_hex(8)
_MARKER = re.compile(f"\x00{_TOKEN}:([0-9]+)\x00")


class Pieces:
    """The large parts of one page: `part()` gives the marker the template shows in a part's place."""

    def __init__(self) -> None:
        self._parts: list[Sequence[str]] = []

    def part(self, html: Sequence[str]) -> SafeString:
        """A marker for `html` (pieces of escaped HTML, in order) to put in the template's context."""
        self._parts.append(html)
        return mark_safe(f"\x00{_TOKEN}:{len(self._parts) - 1}\x00")  # noqa: S308 - no user text

    def encode(self, page: str) -> bytes:
        """The page as UTF-8, each marker replaced by its part."""
        chunks, position = [], 0
        for found in _MARKER.finditer(page):
            chunks.append(page[position : found.start()].encode())
            chunks.extend(piece.encode() for piece in self._parts[int(found.group(1))])
            position = found.end()
        chunks.append(page[position:].encode())
        return b"".join(chunks)

    def render(
        self, request: HttpRequest, template_name: str, context: dict[str, object], status: int = 200
    ) -> HttpResponse:
        """`django.shortcuts.render`, with the parts encoded apart."""
        page = render_to_string(template_name, context, request)
        return HttpResponse(self.encode(page), status=status)
