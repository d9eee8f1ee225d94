"""Making, checking and revoking API tokens."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models.base import ModelState
from django.utils import timezone

from annotator.api.models import TOKEN_PREFIX, ApiToken, Scope, digest
from annotator.core.errors import DomainError
from annotator.projects.models import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Model

# How often last_used_at is written: often enough to tell a live token from a dead one, not on every call.
LAST_USED_RESOLUTION_SECONDS = 60


class TokenError(DomainError):
    code = "invalid_token"


def create_token(
    *,
    user: User,
    name: str,
    scope: str = Scope.READ,
    project: Project | None = None,
    expires_at: datetime | None = None,
    issued_by: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """Make a token; return it with its secret, which is never shown again.

    A token used to make another cannot give it more than it has itself.
    """
    name = name.strip()
    if not name:
        raise TokenError("Give the token a name, so that you can tell it apart later.", field="name")
    if scope not in Scope.values:
        raise TokenError(f"The scope must be one of {', '.join(Scope.values)}.", field="scope")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenError("The expiry date is already past.", field="expires_at")
    if project is not None and not Project.objects.visible_to(user).filter(pk=project.pk).exists():
        raise TokenError("You are not a member of that project.", field="project")
    if issued_by is not None:
        if scope == Scope.WRITE and not issued_by.can_write:
            raise TokenError("A read-only token cannot make a token that writes.", field="scope")
        if issued_by.project_id is not None and (project is None or project.pk != issued_by.project_id):
            raise TokenError(
                "A token limited to one project can only make tokens for that project.", field="project"
            )
        if issued_by.expires_at is not None and (expires_at is None or expires_at > issued_by.expires_at):
            raise TokenError("A token cannot outlive the token that makes it.", field="expires_at")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        digest=digest(secret),
        scope=scope,
        project=project,
        expires_at=expires_at,
    )
    return token, secret


# Tokens read in the last few seconds, by digest: an API client's calls cost no query to authenticate.
# Revoking drops the entry in the process that revokes; other processes notice within the lifetime.
_MEMO_LIMIT = 10_000
_memo: dict[str, tuple[float, ApiToken]] = {}
_lock = threading.Lock()


def _read_token(key: str) -> ApiToken | None:
    """The token with this digest and its user: from the memo while it is young, else one indexed query.
    Each call gets its own copies, so nothing a request sets on them reaches another request."""
    now = time.monotonic()
    remembered = _memo.get(key)
    if remembered is not None and remembered[0] > now:
        token = _copy(remembered[1])
    else:
        found = ApiToken.objects.select_related("user").filter(digest=key).first()
        if found is None:
            return None
        with _lock:
            if len(_memo) >= _MEMO_LIMIT:
                _memo.clear()
            _memo[key] = (now + settings.ANNOTATOR_TOKEN_CACHE_SECONDS, _copy(found))
        token = found
    # `token.user = ...` as its descriptor would set it (the same user, so the same user_id), without the
    # descriptor's checks of the instance's type and database (a fifth of authenticating a remembered token).
    token._state.fields_cache["user"] = _copy(token.user)
    return token


def _copy(instance: Model) -> Any:
    """`copy.copy(instance)`: the same attributes, its own state and cache of related objects (what
    Django's `__getstate__` gives), without the detour through pickling's protocol that copy.copy takes
    for a model and for its state (half the cost of authenticating a remembered token). Tokens and users
    have no binary fields, the one thing `__getstate__` does besides."""
    state = ModelState()
    state.__dict__.update(instance._state.__dict__)
    state.fields_cache = dict(instance._state.fields_cache)
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__.update(instance.__dict__)
    clone._state = state
    return clone


def forget_tokens(*digests: str) -> None:
    """Drop remembered tokens: these, or all of them when none is named."""
    with _lock:
        if not digests:
            _memo.clear()
        for key in digests:
            _memo.pop(key, None)


def check_token(secret: str) -> ApiToken:
    """The token a request presents, or TokenError saying why it does not work."""
    key = digest(secret)
    token = _read_token(key)
    if token is None or not token.user.is_active:
        raise TokenError("This token is not valid.")
    if token.revoked_at is not None:
        raise TokenError("This token was revoked.")
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenError("This token has expired.")
    if (
        token.last_used_at is None
        or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        remembered = _memo.get(key)
        if remembered is not None:
            remembered[1].last_used_at = now  # the memo's copy must not write it again on every call
    return token


def revoke_token(token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    forget_tokens(token.digest)
    return token
