"""Filters for showing users' text: `shorten` cuts it without normalising it (unlike `truncatechars`)."""

from __future__ import annotations

from django import template

from annotator.core.text import shorten as shorten_text

register = template.Library()


@register.filter
def shorten(text: object, limit: int) -> str:
    """`text` cut to at most `limit` code points, as written; autoescaping still applies."""
    return shorten_text(str(text), int(limit))
