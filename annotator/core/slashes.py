"""Either form of a path, with or without its trailing slash, reaches the same view, with no redirect.

Django's APPEND_SLASH answers a path missing its slash with a 301, and a client following it re-sends a
POST as a GET: the write is lost (`POST /api/v1/sets/1/reopen`). Routes that are written without a slash
answered 404 to the form with one. This middleware, before CommonMiddleware, looks the path up; when
only the other form resolves, the request goes on under that form (same method, same body).

Which form of a path resolves is the same on every request (the URL map is fixed while the process
runs), so each process remembers it for the paths it has seen; the match found here is the one the
handler then uses (core/resolving.py), so a path new to the process is resolved once, not twice.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_resolver, get_urlconf

from annotator.core.resolving import resolve_path

# Paths remembered per process before the memo starts again: a client that walks ids (every article of a
# project) must not make it grow without end.
_MEMO_LIMIT = 10_000
# Only paths up to this long are remembered: the app's own are far shorter, and a client sending random
# paths of gunicorn's 4 KB limit would otherwise hold some 40 MB per process until the memo starts again.
_MEMO_PATH_LIMIT = 300
# (URL map, path as asked) -> the form of it that resolves, or None when neither does.
_memo: dict[tuple[object, str], str | None] = {}


def _resolves(path: str) -> bool:
    try:
        resolve_path(get_resolver(get_urlconf()), path)
    except Resolver404:
        return False
    return True


class EitherSlashMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path not in ("", "/"):
            key = (get_urlconf() or settings.ROOT_URLCONF, path)
            try:
                form = _memo[key]
            except KeyError:
                form = _resolving_form(path)
                if len(path) <= _MEMO_PATH_LIMIT:
                    if len(_memo) >= _MEMO_LIMIT:
                        _memo.clear()
                    _memo[key] = form
            if form is not None and form != path:
                request.path_info = form
                request.path = f"{request.path[: len(request.path) - len(path)]}{form}"
        return self.get_response(request)


def _resolving_form(path: str) -> str | None:
    """The path itself when it resolves, else its other form when that does, else None."""
    if _resolves(path):
        return path
    other = path[:-1] if path.endswith("/") else f"{path}/"
    return other if _resolves(other) else None
