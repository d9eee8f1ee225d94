"""`{% url %}` and `{% static %}` that work each URL out once per process.

`{% url %}` works out each route's URL once per process, then fills in the ids (a URL without ids is
kept whole).

Django's `reverse` walks the URL patterns and checks the result against the route's regular expression on
every call: 30-50 microseconds, twenty times over on the annotate page. For a given view name, strings
and app, the URL differs only in its whole-number arguments, so the first call reverses with
placeholder numbers and keeps the result; the next calls put their numbers in the placeholders' places.
A URL in which a placeholder does not show up exactly once (a converter that changes numbers, a
negative number) is reversed by Django every time. This library replaces the `url` tag of every template
(TEMPLATES' "builtins"); `{% url ... as name %}`, keyword arguments and NoReverseMatch behave as before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from django import template
from django.template.base import Parser, Token
from django.template.context import Context
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as parse_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from whitenoise.storage import CompressedManifestStaticFilesStorage

register = template.Library()

# Larger than any id a test or a small site has, and never a constant in one of our routes.
_PLACEHOLDER_BASE = 987_654_000
_MEMO_LIMIT = 10_000
_memo: dict[tuple[Any, ...], tuple[str, tuple[int, ...]] | None] = {}
_fixed: dict[tuple[Any, ...], str] = {}  # URLs with no number in them (navigation links), whole
_lock = threading.Lock()


def _is_number(value: object) -> bool:
    return type(value) is int and value >= 0


def fast_reverse(view_name: str, args: Sequence[Any], current_app: str | None = None) -> str:
    """`reverse(view_name, args=args, current_app=current_app)`, from a kept pattern when it can be."""
    shape = tuple(None if _is_number(arg) else (type(arg), arg) for arg in args)
    whole = all(part is not None for part in shape)  # no number to fill in
    if whole and not all(type(arg) is str for arg in args):  # an object's text may change
        return reverse(view_name, args=args, current_app=current_app)
    key = (view_name, current_app, get_script_prefix(), get_urlconf(), shape)
    if whole:  # strings only, or no arguments (navigation links): the URL itself is kept
        return _whole_url(key, view_name, args, current_app)
    kept = _memo.get(key, ...)
    if kept is ...:
        kept = _learn(view_name, args, current_app)
        with _lock:
            if len(_memo) >= _MEMO_LIMIT:
                _memo.clear()
            _memo[key] = kept
    if kept is None:
        return reverse(view_name, args=args, current_app=current_app)
    pattern, positions = kept
    return pattern.format(*(args[i] for i in positions))


def _whole_url(key: tuple[Any, ...], view_name: str, args: Sequence[Any], current_app: str | None) -> str:
    found = _fixed.get(key)
    if found is None:
        found = reverse(view_name, args=args, current_app=current_app)
        with _lock:
            if len(_fixed) >= _MEMO_LIMIT:
                _fixed.clear()
            _fixed[key] = found
    return found


def _learn(
    view_name: str, args: Sequence[Any], current_app: str | None
) -> tuple[str, tuple[int, ...]] | None:
    """The URL with a `{}` where each number goes, and which argument goes there; None when the
    placeholders cannot be told apart in the URL."""
    placeholders = [_PLACEHOLDER_BASE + i if _is_number(arg) else arg for i, arg in enumerate(args)]
    try:
        url = reverse(view_name, args=placeholders, current_app=current_app)
    except NoReverseMatch:  # a route whose converter refuses the placeholders: Django's reverse decides
        return None
    numbered = [(i, str(_PLACEHOLDER_BASE + i)) for i, arg in enumerate(args) if _is_number(arg)]
    if "{" in url or "}" in url or any(url.count(text) != 1 for _, text in numbered):
        return None
    order = sorted(numbered, key=lambda pair: url.index(pair[1]))
    for _, text in order:
        url = url.replace(text, "{}")
    return url, tuple(i for i, _ in order)


class FastURLNode(URLNode):
    def render(self, context: Context) -> str:
        if self.kwargs:
            return super().render(context)
        args = [arg.resolve(context) for arg in self.args]
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app  # type: ignore[attr-defined]
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace  # type: ignore[attr-defined]
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = fast_reverse(view_name, args, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser: Parser, token: Token) -> FastURLNode:
    node = parse_url(parser, token)
    return FastURLNode(node.view_name, node.args, node.kwargs, node.asvar)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """The production storage (hashed names from the manifest, compressed copies), each name's URL looked
    up once per process: the manifest does not change under a running process, and the lookup (the
    manifest, the name's hash, the URL joined and quoted) costs about as much as a `reverse`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name: str | None, force: bool = False) -> str:
        if force or name is None:
            return super().url(name, force)
        found = self._urls.get(name)
        if found is None:
            found = super().url(name)
            if len(self._urls) < _MEMO_LIMIT:
                self._urls[name] = found
        return found
