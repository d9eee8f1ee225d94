"""Account pages: my account, people of a project (accounts and invitations), invitations, site users."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotator.accounts.forms import AcceptInvitationForm, ActiveForm, NewPersonForm
from annotator.accounts.models import Invitation
from annotator.accounts.services import (
    AccountError,
    accept_invitation,
    create_account,
    find_invitation,
    invite,
    join_by_invitation,
    mail_invitation,
    revoke_invitation,
    set_active,
)
from annotator.api.models import ApiToken
from annotator.core.http import AuthedRequest
from annotator.projects.models import Membership, Project
from annotator.projects.permissions import can_manage
from annotator.signins.options import sign_in_options

USERS_PER_PAGE = 50
LOCAL_BACKEND = "django.contrib.auth.backends.ModelBackend"  # signs in with a password of this site


def isolated(name: str) -> str:
    """A user's text put into a sentence between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE, so that a
    right-to-left override in it cannot reorder the rest of the sentence."""
    return f"\u2068{name}\u2069"


@require_http_methods(["GET", "POST"])
def account_page(request: AuthedRequest) -> HttpResponse:
    """Who I am, my projects and roles, my tokens, and changing my password (when I have one here)."""
    form = (
        PasswordChangeForm(request.user, request.POST or None) if has_local_password(request.user) else None
    )
    refused = request.method == "POST" and form is None
    if refused:  # an account that signs in through the provider only has no password here to change
        messages.error(request, "This account has no password here to change.")
    if request.method == "POST" and form is not None and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)  # stay logged in here; other sessions end
        messages.success(request, "Your password is changed.")
        return redirect("accounts:account")
    context = {
        "form": form,
        "sso_label": sign_in_options()["sso_label"],
        "memberships": Membership.objects.filter(user=request.user)
        .select_related("project")
        .order_by("project__name", "project_id"),
        "tokens": ApiToken.objects.filter(user=request.user).usable().count(),
    }
    failed = refused or (form is not None and bool(form.errors))
    return render(request, "accounts/account.html", context, status=400 if failed else 200)


def has_local_password(user: Any) -> bool:
    """Whether the person signs in with a password of this site: not an account made by single sign-on (it
    has no usable password), and not where ANNOTATOR_LOCAL_PASSWORDS turned passwords off."""
    return bool(sign_in_options()["local_passwords"]) and user.has_usable_password()


def _managed_project(request: AuthedRequest, project_id: int) -> Project:
    project = get_object_or_404(
        Project.objects.visible_to(request.user).with_role_of(request.user), pk=project_id
    )
    if not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers add people.")
    return project


@require_http_methods(["GET", "POST"])
def people_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Managers make accounts (the password shown once) or invitation links (the link shown once)."""
    project = _managed_project(request, project_id)
    form = NewPersonForm(request.POST or None)
    shown: dict[str, object] = {}
    if request.method == "POST" and form.is_valid():
        data = {key: form.cleaned_data[key] for key in ("username", "role", "full_name", "email")}
        try:
            if form.cleaned_data["how"] == "account":
                user, password = create_account(project=project, **data)
                shown = {"account": user, "password": password}
            else:
                invitation, secret = invite(project=project, by=request.user, **data)
                link = request.build_absolute_uri(reverse("accounts:accept", args=[secret]))
                shown = {"invitation": invitation, "link": link}
                shown["mailed"] = mail_invitation(invitation=invitation, link=link)
        except AccountError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            form = NewPersonForm()
    context = {
        "project": project,
        "form": form,
        "invitations": Invitation.objects.filter(project=project)
        .select_related("created_by", "accepted_by")
        .order_by("-created_at")[:100],
        **shown,
    }
    return render(request, "accounts/people.html", context, status=400 if form.errors else 200)


@require_POST
def revoke_page(request: AuthedRequest, project_id: int, invitation_id: int) -> HttpResponse:
    project = _managed_project(request, project_id)
    invitation = get_object_or_404(Invitation.objects.filter(project=project), pk=invitation_id)
    revoke_invitation(invitation)
    messages.success(request, f"The invitation of {isolated(invitation.username)} no longer works.")
    return redirect("accounts:people", project.pk)


@login_not_required
@require_http_methods(["GET", "POST"])
def accept_page(request: AuthedRequest, secret: str) -> HttpResponse:
    """An invitation link: a new person sets their password; someone logged in joins as themselves."""
    invitation = find_invitation(secret)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST":
        try:
            if request.user.is_authenticated and request.POST.get("join") == "1":
                join_by_invitation(secret=secret, user=request.user)
                user = request.user
            elif form.is_valid():
                user = accept_invitation(secret=secret, password=form.cleaned_data["password1"])
                if LOCAL_BACKEND in settings.AUTHENTICATION_BACKENDS:  # not when only single sign-on is on
                    login(request, user, backend=LOCAL_BACKEND)
            else:
                user = None
        except AccountError as error:
            form.add_error("password1" if error.field == "password" else None, error.message)
            user = None
        if user is not None:
            messages.success(request, f"Welcome to {isolated(invitation.project.name)}.")
            return redirect(invitation.project.get_absolute_url())
    context = {"invitation": invitation, "form": form}
    return render(request, "accounts/invitation.html", context, status=400 if form.errors else 200)


def _staff_only(request: AuthedRequest) -> None:
    if not request.user.is_staff:
        raise PermissionDenied("Only staff see the site's users.")


@require_http_methods(["GET"])
def users_page(request: AuthedRequest) -> HttpResponse:
    """Every account of the site, for staff: find people, deactivate and reactivate them."""
    _staff_only(request)
    users = get_user_model().objects.annotate(projects=Count("memberships")).order_by("username")
    query = request.GET.get("q", "").strip()
    if query:
        users = users.filter(
            Q(username__icontains=query) | Q(email__icontains=query) | Q(first_name__icontains=query)
        )
    page = Paginator(users, USERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "accounts/users.html", {"page": page, "query": query})


@require_POST
def user_active_page(request: AuthedRequest, user_id: int) -> HttpResponse:
    _staff_only(request)
    user = get_object_or_404(get_user_model(), pk=user_id)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Say whether the account is active (1) or not (0).", status=400)
    try:
        set_active(user=user, active=form.cleaned_data["active"], by=request.user)
    except AccountError as error:
        messages.error(request, error.message)
    else:
        state = "active again" if user.is_active else "deactivated: it can no longer log in"
        messages.success(request, f"{isolated(user.get_username())} is {state}.")
    return redirect(f"{reverse('accounts:users')}?{urlencode({'q': user.get_username()})}")


def password_reset_enabled() -> bool:
    return bool(settings.ANNOTATOR_EMAIL_ENABLED)


def require_email(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Password reset by e-mail works only where the site can send mail; elsewhere the page says whom to ask."""

    @login_not_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if not password_reset_enabled():
            return render(request, "registration/password_reset_unavailable.html")
        return view(request, *args, **kwargs)

    return wrapped
