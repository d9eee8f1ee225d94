"""Cross-cutting answers: a request id on every response and log line, a strict Content Security Policy
(every script and style is a vendored file served by us), one body size limit for every kind of body,
503 instead of a 500 while the database is unreachable; and Django's and our apps' middleware made cheaper
for the requests that do not need what they prepare (most are API calls with a token, which need no
session, no messages and no login check), every answer and every refusal the same."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.utils.functional import SimpleLazyObject, empty
from django.utils.http import url_has_allowed_host_and_scheme
from simple_history.models import HistoricalRecords

from annotator.accounts.signed_in import cached_user
from annotator.core.errors import ProjectArchived
from annotator.core.logs import REQUEST_ID
from annotator.core.messages import storage_class

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


def _stored(name: str, value: str) -> tuple[str, tuple[str, str]]:
    """A header as a response keeps it (`response.headers._store`: lower-cased name -> (name, value)),
    made by Django's own checks (latin-1, no newline): a constant header is then set by one dict write,
    where `response[name] = value` checks and encodes both strings on every response (~6 K instructions).
    tests/unit/test_i28stack_stack.py compares the headers with Django's own way of setting them."""
    sample = HttpResponse()
    sample.headers[name] = value
    return name.lower(), sample.headers._store[name.lower()]  # type: ignore[attr-defined]


_POLICY_HEADER = _stored("Content-Security-Policy", POLICY)

# What an incoming X-Request-ID may be: short, and nothing that could forge or break a log line.
SANE_REQUEST_ID = re.compile("[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")


class RequestIdMiddleware:
    """Names each request: the proxy's X-Request-ID when the settings trust the proxy and it looks sane,
    else a new one. It is in every log line written while the request is answered, and in the answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        trusted = settings.ANNOTATOR_TRUST_REQUEST_ID and SANE_REQUEST_ID.fullmatch(incoming)
        request_id = incoming if trusted else secrets.token_hex(16)  # uuid4().hex's form, without a UUID
        request.request_id = request_id  # type: ignore[attr-defined]  # read by the log filter
        token = REQUEST_ID.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            REQUEST_ID.reset(token)
        # As `response["X-Request-ID"] = request_id` stores it: the id is ASCII with no newline (a made one is
        # hex; an incoming one matched SANE_REQUEST_ID), all that Django's check of the value would check.
        response.headers._store["x-request-id"] = ("X-Request-ID", request_id)  # type: ignore[attr-defined]
        return response


def lazy(setup: Callable[[], Any]) -> Any:
    """`SimpleLazyObject(setup)`: the same object, made without its __init__, whose two writes each pass
    through LazyObject's Python-level __getattribute__ and __setattr__ (12 K instructions, twice a request:
    the user and the messages)."""
    made = SimpleLazyObject.__new__(SimpleLazyObject)
    attributes = object.__getattribute__(made, "__dict__")
    attributes["_setupfunc"] = setup
    attributes["_wrapped"] = empty
    return made


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's: `request.user` read from the session when first asked (its password sign-ins' user read
    compiled: annotator/accounts/signed_in.py), as a plain middleware (Django's mixin asks for each hook
    on every request) with a cheaper lazy object."""

    async_capable = False  # a plain __call__ (under ASGI, Django adapts it)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not hasattr(request, "session"):
            self.process_request(request)  # Django's ImproperlyConfigured: no session middleware before
        request.user = lazy(partial(cached_user, request))
        request.auser = partial(auth_middleware.auser, request)  # type: ignore[attr-defined]
        return cast(HttpResponseBase, self.get_response(request))


class LazyMessageMiddleware(MessageMiddleware):
    """Django's messages, their storage made when a view, a template or another middleware first reads or
    adds one. Most requests are API calls, which never do; making the storage (a signer for its cookie
    and a reader of the session) cost about a tenth of a `/healthz` request. A storage nobody touched
    stores nothing at the end (Django's `update()` writes only what was read or added), so skipping it
    changes no answer."""

    async_capable = False  # a plain __call__ (under ASGI, Django adapts it)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.process_request(request)
        return self.process_response(request, cast(HttpResponse, self.get_response(request)))

    def process_request(self, request: HttpRequest) -> None:
        # Django's default_storage(request), the class imported once per MESSAGE_STORAGE.
        storage = storage_class(settings.MESSAGE_STORAGE)
        request._messages = lazy(partial(storage, request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        storage = getattr(request, "_messages", None)
        # type(), not isinstance(): a lazy object answers isinstance() by making what it wraps.
        if type(storage) is SimpleLazyObject and storage._wrapped is empty:
            return response
        return super().process_response(request, response)


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Django's, asking the view whether it needs a login before asking who the user is. Django's asks
    the user first, so every request read its session, even for a view open to all (`/healthz`, and the
    API's, which authenticate on their own: a token, or the session with its CSRF check); the answer is
    the same either way, and a page that needs a login still reads the session here."""

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponseBase | None:
        if not getattr(view_func, "login_required", True):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class HistoryRequestMiddleware:
    """simple_history's: the request for the history rows its changes write (who made them), set for
    the time the request is answered. A plain class instead of its generator-based context manager,
    which cost as much as two of Django's middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        context = HistoricalRecords.context
        context.request = request
        try:
            return self.get_response(request)
        finally:
            try:  # noqa: SIM105 (contextlib.suppress is one more context manager per request)
                del context.request
            except AttributeError:
                pass


class ContentSecurityPolicyMiddleware:
    """The policy on every answer that has none of its own (`headers.setdefault`), the header made once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        store = response.headers._store  # type: ignore[attr-defined]
        if _POLICY_HEADER[0] not in store:
            store[_POLICY_HEADER[0]] = _POLICY_HEADER[1]
        return response


class RequestBodyLimitMiddleware:
    """Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only when it reads a body itself (forms); DRF streams a
    JSON body to its parser unchecked. Refuse any body but a multipart upload (whose files have their own
    limits) by its declared length, before anything reads it: the error handlers answer 413."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.content_type != "multipart/form-data":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0  # the server has already refused a length that is not a number
            if length > limit:
                raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        return self.get_response(request)


# Long enough for a database restart or failover; clients (and the pages' htmx) may retry after it.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "The database is not reachable right now; nothing was saved. Try again in a few seconds."


def recheck_pooled_connections() -> None:
    """Test the idle connections of every pool now, replacing the dead ones.

    Connections are not tested as they leave the pool (that is a round trip on every request): after a
    database restart, the first request that meets a dead connection fails (a 503, safe to retry) and
    makes the pool check the others, so the requests after it get live ones."""
    for connection in connections.all(initialized_only=True):
        pool = getattr(connection, "pool", None)  # PostgreSQL with ANNOTATOR_DB_POOL; None otherwise
        if pool is None:
            continue
        try:
            pool.check()
        except Exception:  # the answer is a 503 either way; the pool reconnects in the background
            logger.warning("Could not check the pooled connections of %s", connection.alias, exc_info=True)


class ExpectedErrorsMiddleware:
    """The exceptions that are conditions, not bugs, answered as such, rather than with a 500 page:

    - a lost or refused database connection (a restart, a failover, a deadlock victim, SQLite's busy
      timeout) is temporary: 503 with Retry-After (`database_unavailable`). The request's transaction
      was rolled back, so the client can safely send it again;
    - a page's change to an archived project (its schema, knowledge bases, guidelines, comments), refused
      by the services: back to the page it came from, saying why (`archived_project`). The API answers
      409 with the same message (api/errors.py).

    One middleware for both (they were two): a layer of the stack costs about 18 K instructions on every
    request even when it only passes the request on (`bench/request_cost.py callgrind me 50`: 1.279 ->
    1.261 M without one), and these hooks run only when a view raises."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ProjectArchived):
            return archived_project(request, exception)
        if isinstance(exception, OperationalError | InterfaceError):
            return database_unavailable(request, exception)
        return None


def archived_project(request: HttpRequest, exception: ProjectArchived) -> HttpResponse | None:
    """A page's answer to a change refused because its project is archived; None for the API's calls,
    whose exception handler answers 409."""
    if request.path.startswith("/api/"):
        return None
    if request.headers.get("HX-Request"):
        return HttpResponse(exception.message, status=409, content_type="text/plain; charset=utf-8")
    messages.error(request, exception.message)
    back = request.headers.get("Referer", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=False)
    return HttpResponseRedirect(back if back and safe else "/projects/", status=303)


def database_unavailable(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 503 for a request that lost its database connection (also raised before the view runs, where
    the 500 handler calls this: a session read in a middleware meets a dead pooled connection there)."""
    logger.warning("Database unavailable for %s %s: %s", request.method, request.path, exception)
    recheck_pooled_connections()
    if request.path.startswith("/api/"):
        body = {"error": {"code": "database_unavailable", "message": UNAVAILABLE, "fields": {}}}
        response: HttpResponse = JsonResponse(body, status=503)
    else:
        response = HttpResponse(UNAVAILABLE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
