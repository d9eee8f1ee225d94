"""One JSON shape for every API error: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotator.core.errors import DomainError, NotEditable, StaleVersion


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


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
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {
            name: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            for name, msgs in detail.items()
        }
        response.data = error_body("invalid", "The request is not valid; see the fields.", fields)
    elif isinstance(exc, exceptions.APIException):
        response.data = error_body(
            str(exc.get_codes()) if isinstance(exc.get_codes(), str) else "error", str(exc.detail)
        )
    return response
