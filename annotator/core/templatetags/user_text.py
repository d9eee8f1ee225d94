"""Filters for showing users' text: `shorten` cuts it without normalising it (unlike `truncatechars`);
`isolate` keeps it from reordering a sentence where no <bdi> can go (an <option>, a title, an attribute)."""

from __future__ import annotations

from django import template

from annotator.core.text import isolate as isolate_text
from annotator.core.text import shorten as shorten_text

register = template.Library()


@register.filter
def shorten(text: object, limit: int) -> str:
    """`text` cut to at most `limit` code points, as written; autoescaping still applies."""
    return shorten_text(str(text), int(limit))


@register.filter
def isolate(text: object) -> str:
    """`text` between FSI and PDI when it could reorder the words around it; autoescaping still applies."""
    return isolate_text(str(text))
