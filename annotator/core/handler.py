"""The WSGI handler gunicorn calls: Django's, resolving each path once per process (core/resolving.py), and
keeping a one-request-at-a-time worker's pooled database connection between requests (core/kept_connections.py)."""

from __future__ import annotations

from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase
from django.urls import ResolverMatch, get_resolver

from annotator.core.kept_connections import (
    check_kept_connections_after_a_while,
    keep_clean_connections_after,
    serves_one_at_a_time,
)
from annotator.core.resolving import resolve_path


class AnnotatorWSGIHandler(WSGIHandler):
    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        one_at_a_time = serves_one_at_a_time()
        if one_at_a_time:
            check_kept_connections_after_a_while()
        response = super().get_response(request)
        if one_at_a_time:
            keep_clean_connections_after(response)
        return response

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        if hasattr(request, "urlconf"):  # a middleware chose another URL map: Django's own way
            return super().resolve_request(request)
        match = resolve_path(get_resolver(), request.path_info)
        request.resolver_match = match
        return match
