"""`{{ spans|span_options }}`: the <option>s of a span picker, built as one escaped string.

A set can have hundreds of spans; a template loop with a filter per option cost more than the rest
of the annotate page's template together.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING

from django import template
from django.utils.safestring import SafeString, mark_safe

from annotator.core.text import isolate, shorten

if TYPE_CHECKING:
    from annotator.annotations.models import Span
    from annotator.review.state import SpanRow

register = template.Library()


def _label(surface: str) -> str:
    """Cut to 50 code points as written (never normalised), isolated: an <option> can hold no <bdi>."""
    return _short_label(surface) if len(surface) <= _KEPT_LENGTH else escape(isolate(shorten(surface, 50)))


# A page's options repeat a few type names and many short surfaces: each is escaped once per process.
_KEPT_LENGTH = 50


@lru_cache(maxsize=8192)
def _short_label(surface: str) -> str:
    return escape(isolate(surface))


@lru_cache(maxsize=1024)
def _type_label(name: str) -> str:
    return escape(isolate(name))


@register.filter
def span_options(spans: Iterable[Span | SpanRow] | SafeString) -> SafeString:
    """The options of the spans; options already built (as the annotate page's skeleton has them, see
    `review.annotate_page`) as they are."""
    if isinstance(spans, SafeString):
        return spans
    options = (
        span_option(span.pk, span.entity_type.name, span.surface, span.start, span.end) for span in spans
    )
    return mark_safe("".join(options))  # noqa: S308 - span_option escapes


def span_option(pk: int, type_name: str, surface: str, start: int, end: int) -> str:
    """One span's option, its type name and surface escaped."""
    return f'<option value="{pk}">{_type_label(type_name)} “{_label(surface)}” [{start}, {end})</option>'
