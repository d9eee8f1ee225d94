"""Writing and forgetting the record of sign-ins.

Django's and django-axes's sign-in signals feed it (receivers below, connected in apps.py): those are
the only place every sign-in path (the form, the admin's form, single sign-on) passes through. Token
and unlock events are written by the views that make them, which know the request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils import timezone

from annotator.signins.addresses import client_address
from annotator.signins.models import EventKind, SignInEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

SSO_BACKEND = "annotator.signins.oidc.SignInBackend"


def record_event(
    *,
    kind: str,
    request: HttpRequest | None,
    user: User | AnonymousUser | None = None,
    username: str = "",
    detail: str = "",
) -> SignInEvent:
    """One row of the record, with the request's address and user agent."""
    if user is not None and not user.is_authenticated:
        user = None
    meta = request.META if request is not None else {}
    address = client_address(request) if request is not None else ""
    return SignInEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        address=address or None,
        user_agent=meta.get("HTTP_USER_AGENT", "")[:255],
        detail=detail[:255],
    )


def forget_old_events(*, older_than: timedelta | None = None) -> int:
    """Delete events older than the retention (ANNOTATOR_SIGN_IN_RECORD_DAYS); the number deleted."""
    keep = older_than if older_than is not None else timedelta(days=settings.ANNOTATOR_SIGN_IN_RECORD_DAYS)
    deleted, _ = SignInEvent.objects.filter(at__lt=timezone.now() - keep).delete()
    return deleted


def account_named(username: str | None) -> Any:
    """The account a typed username names, if any: its owner sees failures against it on their page."""
    if not username:
        return None
    return get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()


def _how(user: Any) -> str:
    return "single sign-on" if getattr(user, "backend", "") == SSO_BACKEND else "password"


# Receivers


def on_signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record_event(kind=EventKind.SIGNED_IN, request=request, user=user, detail=_how(user))


def on_signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record_event(kind=EventKind.SIGNED_OUT, request=request, user=user)


def on_sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # A failure that locks out, or is refused because of a lock-out, is recorded by on_locked_out
    # (django-axes's receiver runs first and flags the request).
    if request is not None and getattr(request, "axes_locked_out", False):
        return
    username = str(credentials.get("username") or getattr(request, "sso_username", ""))
    detail = "password" if "password" in credentials else "single sign-on"
    record_event(
        kind=EventKind.FAILED, request=request, user=account_named(username), username=username, detail=detail
    )


def on_locked_out(sender: Any, request: HttpRequest, username: str | None, **kwargs: Any) -> None:
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is not None:  # this failure reached the limit
        kind, detail = EventKind.LOCKED_OUT, f"{failures} failed sign-ins"
    else:  # a try while locked out: refused before the password was checked, and not counted
        kind, detail = EventKind.REFUSED, "locked out"
    record_event(
        kind=kind, request=request, user=account_named(username), username=username or "", detail=detail
    )
