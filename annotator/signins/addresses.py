"""The client's address, the one used for lock-outs, rate limits and the record of sign-ins."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind the documented proxy (DJANGO_BEHIND_PROXY) the address the proxy saw.

    The proxy appends the address it received the request from to X-Forwarded-For, so the last entry is
    the only one a client cannot choose; anything earlier in the header is whatever the client sent.
    Without the proxy setting the header is ignored: a client could otherwise pick a new address per try.
    """
    remote = request.META.get("REMOTE_ADDR") or ""
    if not settings.BEHIND_PROXY:
        return remote
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if not forwarded[-1]:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-1]))
    except ValueError:
        return remote
