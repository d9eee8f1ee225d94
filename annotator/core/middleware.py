"""Cross-cutting answers: a strict Content Security Policy (every script and style is a vendored file
served by us), and 503 instead of a 500 while the database is unreachable."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response


# Long enough for a database restart or failover; clients (and the pages' htmx) may retry after it.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "The database is not reachable right now; nothing was saved. Try again in a few seconds."


class DatabaseUnavailableMiddleware:
    """A lost or refused database connection (a restart, a failover, a deadlock victim, SQLite's busy
    timeout) is a temporary condition, not a bug: answer 503 with Retry-After, never a 500 page. The
    request's transaction was rolled back, so the client can safely send it again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("Database unavailable for %s %s: %s", request.method, request.path, exception)
        if request.path.startswith("/api/"):
            body = {"error": {"code": "database_unavailable", "message": UNAVAILABLE, "fields": {}}}
            response: HttpResponse = JsonResponse(body, status=503)
        else:
            response = HttpResponse(UNAVAILABLE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
