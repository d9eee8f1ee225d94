"""API rate limits: one budget per token (or per signed-in user, or per address) for each kind of call.

Reads, writes, suggestions (POST /api/v1/suggest runs the NLP pipeline) and exports each have their own
rate (ANNOTATOR_API_RATE_*), so a client that exports all day still reads and writes at full speed. A view
names the calls that are not plain reads or writes in `throttle_scopes`, e.g. {"POST": "suggest"}.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from annotator.api.models import ApiToken
from annotator.signins.addresses import client_address

# What a refusal calls the calls of each scope.
SCOPE_NAMES = {"read": "reads", "write": "writes", "suggest": "suggestion requests", "export": "exports"}


def scope_of(request: Request, view: Any) -> str:
    declared = getattr(view, "throttle_scopes", {}).get(request.method)
    return declared or ("read" if request.method in SAFE_METHODS else "write")


class ApiRateThrottle(SimpleRateThrottle):
    """DEFAULT_THROTTLE_CLASSES entry: picks the call's scope, then counts it against its caller."""

    def __init__(self) -> None:
        """The rate depends on the call, so it is read in allow_request (after DRF's settings, which
        tests may change)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = scope_of(request, view)
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        self.rate = None if rate is None else str(rate)  # "1200/minute"; None: no limit
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if super().allow_request(request, view):
            return True
        # The error handler names the budget that ran out (DRF's Throttled knows only the wait).
        request.throttled_scope = self.scope  # type: ignore[attr-defined]
        request.throttled_rate = self.rate  # type: ignore[attr-defined]
        return False

    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"address-{client_address(request._request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
