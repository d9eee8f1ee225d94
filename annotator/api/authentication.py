"""`Authorization: Bearer <token>` for API clients; sessions keep working for the pages' own calls."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from annotator.api.models import ApiToken
from annotator.api.tokens import TokenError, check_token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        # The header from META, as DRF's get_authorization_header() reads it from `request.headers`, which
        # Django builds from every header of the request the first time anything asks (a tenth of the
        # cost of authenticating a remembered token).
        raw = request._request.META.get("HTTP_AUTHORIZATION", "")  # not through DRF's __getattr__
        header = (raw.decode("latin-1") if isinstance(raw, bytes) else raw).split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give the token as: Authorization: Bearer <token>.")
        try:
            token = check_token(header[1])
        except TokenError as error:
            raise exceptions.AuthenticationFailed(error.message) from None
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token made on the Tokens page or with POST /api/v1/tokens/.",
        }
