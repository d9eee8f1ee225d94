"""One JSON shape for every API error: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotator.api.throttles import SCOPE_NAMES as THROTTLE_SCOPE_NAMES
from annotator.core.errors import DomainError, NotEditable, StaleVersion
from annotator.core.middleware import database_unavailable


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _field_messages(detail: Any, name: str = "") -> dict[str, list[str]]:
    """DRF's nested validation errors as flat field paths: `article_ids[0]`, `aliases[2].name`."""
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for key, inner in detail.items():
            path = f"{name}[{key}]" if isinstance(key, int) else (f"{name}.{key}" if name else str(key))
            fields.update(_field_messages(inner, path))
        return fields
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        fields = {}
        for index, inner in enumerate(detail):
            fields.update(_field_messages(inner, f"{name}[{index}]"))
        return fields
    messages = detail if isinstance(detail, list) else [detail]
    return {name: [str(message) for message in messages]} if messages else {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, StaleVersion):
        body = error_body(exc.code, exc.message, {"version": [exc.message]})
        body["error"]["current_version"] = exc.current
        return Response(body, status=status.HTTP_412_PRECONDITION_FAILED)
    if isinstance(exc, NotEditable):
        return Response(error_body(exc.code, exc.message), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DomainError):
        fields = {exc.field: [exc.message]} if exc.field else {}
        return Response(error_body(exc.code, exc.message, fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.Throttled):
        return _throttled(exc, context)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _field_messages(detail)
        response.data = error_body("invalid", "The request is not valid; see the fields.", fields)
    elif isinstance(exc, exceptions.APIException):
        response.data = error_body(
            str(exc.get_codes()) if isinstance(exc.get_codes(), str) else "error", str(exc.detail)
        )
    return response


def _throttled(exc: exceptions.Throttled, context: dict[str, Any]) -> Response:
    """429 naming the budget that ran out, with Retry-After in seconds (also in the body)."""
    request = context.get("request")
    scope = getattr(request, "throttled_scope", None)
    rate = getattr(request, "throttled_rate", None)
    wait = max(1, int(getattr(exc, "wait", None) or 1))
    caller = "this token" if getattr(request, "auth", None) is not None else "you"
    what = THROTTLE_SCOPE_NAMES.get(scope or "", "requests")
    limit = f" (at most {rate})" if rate else ""
    body = error_body("throttled", f"Too many {what} from {caller}{limit}. Try again in {wait} seconds.")
    body["error"]["retry_after"] = wait
    return Response(body, status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(wait)})


# Errors raised outside DRF's views (no route matched, an unhandled exception) answer API clients in the
# same JSON shape as every other API error, never with an HTML page; pages keep Django's own.


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "No such API endpoint or object."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    failure = sys.exc_info()[1]  # Django calls the 500 handler while it handles the exception
    if isinstance(failure, OperationalError | InterfaceError):
        return database_unavailable(request, failure)
    if request.path.startswith("/api/"):
        message = "The server failed to answer; try again. If it keeps failing, tell the administrators."
        return JsonResponse(error_body("server_error", message), status=500)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's own refusals (a body over its size limit, too many fields, a Host it does not serve...)."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    status_code, code, message = _refusal(exception)
    return JsonResponse(error_body(code, message), status=status_code)


def _refusal(exception: Exception) -> tuple[int, str, str]:
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return 413, "request_too_large", (
            f"The request body is larger than the {limit} bytes this server reads into memory; send less "
            "(files go as multipart uploads, which have their own limit)."
        )  # fmt: skip
    if isinstance(exception, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 400, "too_many_fields", f"The request has more than {limit} fields."
    if isinstance(exception, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return 400, "too_many_files", f"The request has more than {limit} files."
    if isinstance(exception, DisallowedHost):
        return 400, "bad_host", "This server does not answer for the host the request names."
    return 400, "bad_request", "The request could not be read."


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        message = "You do not have permission to perform this action."
        return JsonResponse(error_body("permission_denied", message), status=403)
    return defaults.permission_denied(request, exception)
