"""Django's CommonMiddleware, remembering which Host headers it has already let through.

Each request's Host header is checked against ALLOWED_HOSTS (`request.get_host()`: a refused host is a
400); the check splits the header with a regular expression and reads four settings, 35 K instructions,
about 3% of a `/healthz` request, and a process sees the same few hosts all day. A Host header that
passed is remembered until a setting the check reads changes; any other request (a new or refused host,
an X-Forwarded-Host header, a forbidden user agent or www. prefix configured) goes through Django's own
checks. Its answers are Django's: the 400 of a refused host, the slash redirect of a 404, Content-Length.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponseBase, HttpResponsePermanentRedirect
from django.middleware import common

# Settings whose change can refuse a host that passed, or make a request need Django's other checks.
_CHECK_SETTINGS = frozenset(
    {"ALLOWED_HOSTS", "DEBUG", "USE_X_FORWARDED_HOST", "DISALLOWED_USER_AGENTS", "PREPEND_WWW"}
)
# Distinct Host headers remembered; ALLOWED_HOSTS entries such as ".example.org" let any number through.
_MEMO_LIMIT = 1_000
_passed: set[str] = set()
# Whether Django's process_request does anything but check the host (None: not yet read).
_host_check_only: bool | None = None


def _forget(*, setting: str, **kwargs: Any) -> None:
    global _host_check_only
    if setting in _CHECK_SETTINGS:
        _passed.clear()
        _host_check_only = None


setting_changed.connect(_forget)


class CommonMiddleware(common.CommonMiddleware):
    async_capable = False  # a plain __call__ (under ASGI, Django adapts it)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request) or cast(HttpResponseBase, self.get_response(request))
        return self.process_response(request, response)

    def process_request(self, request: HttpRequest) -> HttpResponsePermanentRedirect | None:
        global _host_check_only
        meta = request.META
        host = meta.get("HTTP_HOST")
        if host in _passed and "HTTP_X_FORWARDED_HOST" not in meta:
            return None
        response = super().process_request(request)  # raises DisallowedHost for a refused host
        if _host_check_only is None:
            _host_check_only = not settings.DISALLOWED_USER_AGENTS and not settings.PREPEND_WWW
        if response is None and _host_check_only and host and "HTTP_X_FORWARDED_HOST" not in meta:
            if len(_passed) >= _MEMO_LIMIT:
                _passed.clear()
            _passed.add(host)
        return response
