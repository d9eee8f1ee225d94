"""Sign-in pages: each person's own record, and for staff everyone's, who is locked out now, and unlocking."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import LoginView, LogoutView
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotator.core.http import AuthedRequest
from annotator.signins.lockout import PARAMETER_NAMES, current_lockouts, unlock
from annotator.signins.models import EventKind, SignInEvent
from annotator.signins.oidc import provider_sign_out_url, sso_enabled
from annotator.signins.options import sign_in_options
from annotator.signins.records import account_named, record_event


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


class SignInView(LoginView):
    """Django's sign-in page, with the single sign-on button, and without the form when passwords are off."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **sign_in_options()}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not sign_in_options()["local_passwords"]:
            return self.render_to_response(self.get_context_data(), status=403)  # the page says why
        return super().post(request, *args, **kwargs)


class SignOutView(LogoutView):
    """Django's sign-out; after a single sign-on, the provider's session ends too (when it offers that and
    ANNOTATOR_OIDC_SIGN_OUT_AT_PROVIDER is on), so that the next person at a shared computer who clicks
    the button is asked for their own password."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        id_token = request.session.get("oidc_id_token")
        response = super().post(request, *args, **kwargs)
        at_provider = (
            provider_sign_out_url(request, id_token)
            if id_token and sso_enabled() and settings.ANNOTATOR_OIDC_SIGN_OUT_AT_PROVIDER
            else None
        )
        if not at_provider:
            return response
        # A page that moves on by itself, not a redirect: the sign-out form's CSP (form-action 'self')
        # would block a redirect of its POST to another site.
        context = {"provider_url": at_provider, "sso_label": settings.ANNOTATOR_OIDC_LABEL}
        return render(request, "signins/signing_out.html", context)


EVENTS_PER_PAGE = 50


@require_GET
def my_sign_ins(request: AuthedRequest) -> HttpResponse:
    events = SignInEvent.objects.filter(user=request.user)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "retention_days": settings.ANNOTATOR_SIGN_IN_RECORD_DAYS}
    return render(request, "signins/mine.html", context)


@require_GET
@staff_only
def staff_sign_ins(request: AuthedRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    events = SignInEvent.objects.all()
    if query:
        events = events.filter(username__icontains=query)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "lockouts": current_lockouts(),
        "page": page,
        "query": query,
        "retention_days": settings.ANNOTATOR_SIGN_IN_RECORD_DAYS,
    }
    return render(request, "signins/staff.html", context)


@require_POST
@staff_only
def staff_unlock(request: AuthedRequest) -> HttpResponse:
    form = UnlockForm(request.POST)
    if form.is_valid():
        kind, value = form.cleaned_data["kind"], form.cleaned_data["value"]
        unlock(kind=kind, value=value)
        detail = f"{kind} {value} by {request.user.get_username()}"
        username = value if kind == "username" else ""
        user = account_named(username)
        record_event(kind=EventKind.UNLOCKED, request=request, user=user, username=username, detail=detail)
        messages.success(request, f"Unlocked the {kind} {value}: it can sign in again.")
    return redirect("signins:staff")
