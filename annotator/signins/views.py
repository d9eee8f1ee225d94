"""Sign-in pages for staff: who is locked out now, and unlocking them."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotator.core.http import AuthedRequest
from annotator.signins.lockout import PARAMETER_NAMES, current_lockouts, unlock


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff pages refuse everyone else (403, as the staff users page does)."""

    @wraps(view)
    def wrapped(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


class UnlockForm(forms.Form):
    kind = forms.ChoiceField(choices=[(kind, kind) for kind in PARAMETER_NAMES])
    value = forms.CharField(max_length=255)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == "address":
            try:
                data["value"] = str(ipaddress.ip_address(data.get("value", "")))
            except ValueError:
                self.add_error("value", "Not an IP address.")
        return data


@require_GET
@staff_only
def staff_sign_ins(request: AuthedRequest) -> HttpResponse:
    return render(request, "signins/staff.html", {"lockouts": current_lockouts()})


@require_POST
@staff_only
def staff_unlock(request: AuthedRequest) -> HttpResponse:
    form = UnlockForm(request.POST)
    if form.is_valid():
        kind, value = form.cleaned_data["kind"], form.cleaned_data["value"]
        unlock(kind=kind, value=value)
        messages.success(request, f"Unlocked the {kind} {value}: it can sign in again.")
    return redirect("signins:staff")
