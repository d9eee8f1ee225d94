"""Lock-outs after repeated failed sign-ins: django-axes counts and refuses; this module words and lists them.

The refusal never says whether the username exists: axes counts failures per typed username (known or
not) and per address, and the same page answers either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from annotator.signins.options import sign_in_options

# The names axes uses for what it counts by, and the words pages use for them.
PARAMETER_NAMES = {"username": "username", "address": "ip_address"}


def cool_off() -> timedelta:
    cooling = get_cool_off()
    assert cooling is not None, "AXES_COOLOFF_TIME is always set in settings.py"
    return cooling


def lockout_message() -> str:
    minutes = max(1, round(cool_off().total_seconds() / 60))
    return (
        "Too many failed sign-ins for this username or from this address. Signing in is paused for "
        f"{minutes} minute{'s' if minutes != 1 else ''}: try again later, or ask a staff member to unlock it."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """The sign-in page again, with the lock-out message, answering 429 with Retry-After (AXES_LOCKOUT_CALLABLE)."""
    context = {"form": AuthenticationForm(request), "locked_out": lockout_message(), **sign_in_options()}
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(int(cool_off().total_seconds()))
    return response


@dataclass(frozen=True)
class Lockout:
    """A username or an address that cannot sign in now."""

    kind: str  # "username" or "address"
    value: str
    failures: int
    until: datetime


def current_lockouts() -> list[Lockout]:
    """Every username and address over the failure limit within the cool-off, latest first."""
    window = cool_off()
    recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - window)
    lockouts = []
    for kind in settings.ANNOTATOR_LOGIN_LOCKOUT_BY:
        field = PARAMETER_NAMES[kind]
        rows = (
            recent.exclude(**{f"{field}__isnull": True})
            .values(field)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        )
        lockouts += [Lockout(kind, row[field], row["failures"], row["last"] + window) for row in rows]
    return sorted(lockouts, key=lambda lockout: lockout.until, reverse=True)


def unlock(*, kind: str, value: str) -> int:
    """Forget the failures counted against a username or an address; the number of records removed."""
    if not value:
        raise ValueError("Name the username or the address to unlock")  # axes would reset everyone
    if kind == "username":
        return reset(username=value)
    if kind == "address":
        return reset(ip=value)
    raise ValueError(f"Unknown lock-out kind {kind!r}")
