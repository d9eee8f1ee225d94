"""The WSGI handler gunicorn calls: Django's, resolving each path once per process (core/resolving.py)."""

from __future__ import annotations

from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.urls import ResolverMatch, get_resolver

from annotator.core.resolving import resolve_path


class AnnotatorWSGIHandler(WSGIHandler):
    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        if hasattr(request, "urlconf"):  # a middleware chose another URL map: Django's own way
            return super().resolve_request(request)
        match = resolve_path(get_resolver(), request.path_info)
        request.resolver_match = match
        return match
