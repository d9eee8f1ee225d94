"""Either form of a path, with or without its trailing slash, reaches the same view, with no redirect.

Django's APPEND_SLASH answers a path missing its slash with a 301, and a client following it re-sends a
POST as a GET: the write is lost (`POST /api/v1/sets/1/reopen`). Routes that are written without a slash
answered 404 to the form with one. This middleware, before CommonMiddleware, looks the path up once; when
only the other form resolves, the request goes on under that form (same method, same body).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


class EitherSlashMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path not in ("", "/") and not _resolves(path):
            other = path[:-1] if path.endswith("/") else f"{path}/"
            if _resolves(other):
                request.path_info = other
                request.path = f"{request.path[: len(request.path) - len(path)]}{other}"
        return self.get_response(request)
