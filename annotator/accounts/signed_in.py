"""Who a request's session signs in: Django's `auth.get_user`, with the ModelBackend's read of the user
compiled once per process.

Every signed-in page asks. Django's ModelBackend reads the user with `User.objects.get(pk=...)`, built and
compiled to SQL on each request: 1.2 M instructions, a tenth of the annotate page. Sessions name the
backend that signed them in (`django.contrib.auth.backends.ModelBackend` for a password sign-in); that
path, the setting that lists it and every session stay as they are, so nobody is signed out. Only the
read changes: the same row through a `CompiledQuery`, then the same `user_can_authenticate` check (an
inactive user is nobody). Every other backend (single sign-on) reads its user as Django does, and the
session's hash is checked as Django checks it: a changed password signs the session out.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from annotator.core.compiled import CompiledQuery

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
_model_backend = ModelBackend()  # holds no state: its user_can_authenticate reads only the user


@CompiledQuery
def _user(pk: int) -> QuerySet[Any]:
    return get_user_model()._default_manager.filter(pk=pk)


def _backend_user(backend_path: str, user_id: Any) -> Any:
    """`load_backend(backend_path).get_user(user_id)`, the ModelBackend's compiled."""
    if backend_path != MODEL_BACKEND or type(user_id) is not int:
        return load_backend(backend_path).get_user(user_id)
    found = _user(pk=user_id)
    if not found:
        return None
    return found[0] if _model_backend.user_can_authenticate(found[0]) else None


# (SECRET_KEY, password hash) -> the session hash Django's get_session_auth_hash makes of them: an HMAC
# whose key is derived anew on each call (45 K instructions a page). A changed password or secret is
# another key, so a stale hash is never answered.
_HASHES_LIMIT = 2_000
_hashes: dict[tuple[str, str], str] = {}


def _session_auth_hash(user: Any) -> str:
    """`user.get_session_auth_hash()`, remembered when it is Django's own method."""
    if type(user).get_session_auth_hash is not AbstractBaseUser.get_session_auth_hash:
        return str(user.get_session_auth_hash())
    key = (settings.SECRET_KEY, user.password)
    found = _hashes.get(key)
    if found is None:
        found = user.get_session_auth_hash()
        if len(_hashes) >= _HASHES_LIMIT:
            _hashes.clear()
        _hashes[key] = found
    return found


def get_user(request: HttpRequest) -> Any:
    """Django's `django.contrib.auth.get_user` (5.2), line for line but for the backend's read and the
    session hash's memo."""
    user = None
    try:
        # As Django's _get_user_session_key: the session keeps the id as a string.
        user_id = get_user_model()._meta.pk.to_python(request.session[SESSION_KEY])
        backend_path = request.session[BACKEND_SESSION_KEY]
    except KeyError:
        pass
    else:
        if backend_path in settings.AUTHENTICATION_BACKENDS:
            user = _backend_user(backend_path, user_id)
            # Verify the session
            if hasattr(user, "get_session_auth_hash"):
                session_hash = request.session.get(HASH_SESSION_KEY)
                if not session_hash:
                    session_hash_verified = False
                else:
                    session_auth_hash = _session_auth_hash(user)
                    session_hash_verified = constant_time_compare(session_hash, session_auth_hash)
                if not session_hash_verified:
                    # If the current secret does not verify the session, try with the fallback secrets
                    # and stop when a matching one is found.
                    if session_hash and any(
                        constant_time_compare(session_hash, fallback_auth_hash)
                        for fallback_auth_hash in user.get_session_auth_fallback_hash()
                    ):
                        request.session.cycle_key()
                        request.session[HASH_SESSION_KEY] = session_auth_hash
                    else:
                        request.session.flush()
                        user = None

    return user or AnonymousUser()


def cached_user(request: HttpRequest) -> Any:
    """`django.contrib.auth.middleware.get_user`: `get_user` once per request."""
    if not hasattr(request, "_cached_user"):
        request._cached_user = get_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]
