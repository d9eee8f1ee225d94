"""Django's database sessions, read through a query compiled once per process, and made for nothing only
as cheaply as possible.

Every signed-in page reads its session first; Django builds and compiles that query on each request,
which costs more CPU than the database's answer. The row is read by its key alone and its expiry checked
here, so the query has no changing timestamp in it: the same rows count as live as with Django's own
`expire_date > now()` filter.

Every request gets a session object, though most (API calls with a token, `/healthz`) never read it:
Django's store looks its serializer up by name on each one (import_string, 9 K instructions), and
Django's middleware asks it three questions and reads two settings after the answer (16 K) to find
there is nothing to do. Here the serializer is looked up once per setting, and the middleware answers
an untouched session at once: nothing to save, no cookie to set or delete, no `Vary: Cookie`.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.contrib.sessions import middleware
from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.core.signals import setting_changed
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.module_loading import import_string

from annotator.core.compiled import CompiledQuery


@CompiledQuery
def _session(session_key: str) -> QuerySet[Session]:
    return Session.objects.filter(session_key=session_key)


@cache
def _serializer(name: str) -> Any:
    return import_string(name)


class SessionStore(db.SessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        # SessionBase.__init__'s attributes, its serializer looked up once per setting.
        self._session_key = session_key
        self.accessed = False
        self.modified = False
        self.serializer = _serializer(_settings()[0])

    def decode(self, session_data: bytes | str) -> dict[str, Any]:
        """Django's decode, remembered per signed string: checking the signature and parsing cost 0.15 M
        instructions on every signed-in page, and a session's data is the same string from one page to
        the next until it changes. Only data whose signature was good is remembered, by its whole signed
        text (which only its own session holds); each call gets its own copy."""
        remembered = _decoded.get(session_data)
        if remembered is None:
            remembered = super().decode(session_data)
            if not remembered:  # a bad signature or unreadable data: Django's answer (and log) every time
                return remembered
            if len(_decoded) >= _DECODED_LIMIT:
                _decoded.clear()
            _decoded[session_data] = remembered
        return copy.deepcopy(remembered)

    def _get_session_from_db(self) -> Session | None:
        found = _session(session_key=self.session_key) if self.session_key else []
        if found and found[0].expire_date > timezone.now():
            return found[0]
        self._session_key = None
        return None


# Signed session data -> what it decodes to, for the sessions in use (a reviewer's changes between pages).
_DECODED_LIMIT = 2_000
_decoded: dict[bytes | str, dict[str, Any]] = {}
_read: tuple[str, str, bool] | None = None


def _settings() -> tuple[str, str, bool]:
    """SESSION_SERIALIZER, SESSION_COOKIE_NAME, SESSION_SAVE_EVERY_REQUEST, read once until one changes
    (each read of a setting costs ~4 K instructions)."""
    global _read
    if _read is None:
        _read = (
            settings.SESSION_SERIALIZER,
            settings.SESSION_COOKIE_NAME,
            settings.SESSION_SAVE_EVERY_REQUEST,
        )
    return _read


def _forget(*, setting: str, **kwargs: Any) -> None:
    global _read
    if setting.startswith("SESSION_"):
        _read = None
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "SESSION_SERIALIZER"):
        _decoded.clear()


setting_changed.connect(_forget)


class SessionMiddleware(middleware.SessionMiddleware):
    """Django's. A session nobody read or changed needs nothing from its process_response: not saved (not
    modified), no Vary (not accessed), and its cookie deleted only when the cookie is there but names no
    key a session can have (empty, or refused by `_validate_session_key`: shorter than 8 characters),
    which Django's answers as an empty session; that case, and every session that was read or changed,
    goes through Django's own process_response."""

    async_capable = False  # a plain __call__ (under ASGI, Django adapts it)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _, cookie_name, save_every_request = _settings()
        session_key = request.COOKIES.get(cookie_name)
        session = request.session = self.SessionStore(session_key)
        response = cast(HttpResponse, self.get_response(request))
        if (
            request.__dict__.get("session") is session
            and not session.accessed
            and not session.modified
            and (session_key is None or session._session_key is not None)  # no cookie, or a valid key
            and not save_every_request
        ):
            return response
        return self.process_response(request, response)
