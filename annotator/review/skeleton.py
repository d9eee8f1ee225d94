"""Pages whose template runs once per shape: the request's own values are joined into what it wrote.

Rendering the annotate page's template cost a fifth of an open's CPU (1.4 of 7.5 ms), and nearly all of
what it writes is the same from one open to the next: the help, the pickers of the project's types, the
forms. A `Skeleton` is the template rendered once with a marker (`fill(name)`) wherever a value that
changes between requests goes (the CSRF token, the set's version, the counts, the text and the lists)
and real values everywhere else: the page's *shape*. It is kept per process, by shape; a request joins
its values into it, already encoded to UTF-8, and runs no template at all.

The shape is all the template sees: a named tuple whose fields are the template's context, rendered
without the request (no context processors), so two equal shapes render the same skeleton, and a
shape that differs in anything the template reads is another skeleton. Its values must be hashable
(named tuples, strings, numbers). A value the template only shows goes in as a marker; one that decides
what the template writes (an `{% if %}`, a loop, a filter that reads it) goes in the shape. The caller
gives each marker's value escaped as the template would have written it.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.core.signals import setting_changed
from django.template.loader import render_to_string
from django.utils.autoreload import file_changed
from django.utils.safestring import SafeString, mark_safe

# As in `review.pieces`: NUL cannot be in a page, and the token is this process's secret.
_TOKEN = secrets.token_hex(8)
_MARKER = re.compile(f"\x00{_TOKEN}=([a-z_]+)\x00")
_KEPT_LIMIT = 256  # skeletons a process keeps (about 15 KiB each) before it starts over
_kept: dict[tuple[str, Any], Skeleton] = {}
_lock = threading.Lock()


def fill(name: str) -> SafeString:
    """The marker of the value `name` (lower case and underscores): the request's value goes there."""
    return mark_safe(f"\x00{_TOKEN}={name}\x00")  # noqa: S308 - no user text


@dataclass(frozen=True, slots=True)
class Skeleton:
    """A template's output cut at its markers: `literals[0]`, value of `names[0]`, `literals[1]`, ..."""

    literals: tuple[bytes, ...]
    names: tuple[str, ...]

    def page(self, values: Mapping[str, str | Sequence[str]]) -> bytes:
        """The page as UTF-8 with each marker's value (a string, or pieces of one in order) in its place."""
        encoded: dict[str, bytes] = {}
        chunks = [self.literals[0]]
        for name, literal in zip(self.names, self.literals[1:], strict=True):
            found = encoded.get(name)
            if found is None:
                value = values[name]
                # One part's pieces are ASCII together or not at all: joined first, encoded in one go.
                found = encoded[name] = (value if isinstance(value, str) else "".join(value)).encode()
            chunks.append(found)
            chunks.append(literal)
        return b"".join(chunks)


def skeleton(template_name: str, shape: NamedTuple) -> Skeleton:
    """The template rendered from `shape` (its fields are the context), kept per process."""
    key = (template_name, shape)
    found = _kept.get(key)
    if found is None:
        found = _render(template_name, shape)
        with _lock:
            if len(_kept) >= _KEPT_LIMIT:
                _kept.clear()
            _kept[key] = found
    return found


def _render(template_name: str, shape: NamedTuple) -> Skeleton:
    page = render_to_string(template_name, shape._asdict())  # no request: the shape is all it reads
    parts = _MARKER.split(page)
    return Skeleton(tuple(part.encode() for part in parts[0::2]), tuple(parts[1::2]))


def forget(**_signal: object) -> None:
    """Drop every kept skeleton: a setting (a test's) or a template file (the development server's
    reloading) changed what the templates write."""
    with _lock:
        _kept.clear()


setting_changed.connect(forget)
file_changed.connect(forget)
