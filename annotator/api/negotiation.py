"""Content negotiation that answers the usual API request without parsing its Accept header.

Almost every API client sends no Accept header, `*/*` or `application/json`; DRF parses the header into
media types and ranks them on every request (about 3% of a span write's CPU). For those three this
answers what DRF's own negotiation answers, the first renderer with its media type, and leaves every
other request (another Accept, `?format=`, a format suffix) to DRF.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

# Accept headers that pick the first renderer whose media type is application/json, as it is.
_USUAL = frozenset({None, "*/*", "application/json"})


class UsualContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        renderers = list(renderers)
        accept = request.META.get("HTTP_ACCEPT")
        if (
            accept in _USUAL
            and format_suffix is None
            and renderers
            and renderers[0].media_type == "application/json"
            # No query string, no ?format=: asked before `query_params`, which parses it into a QueryDict.
            and (
                not request.META.get("QUERY_STRING")
                or self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            )
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
