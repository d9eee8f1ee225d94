"""Single sign-on with OpenID Connect (mozilla-django-oidc), configured from the environment.

The provider's endpoints come from its discovery document (ISSUER/.well-known/openid-configuration),
fetched once per process, unless settings name them. A first sign-in links the provider's account to
an account here: one already linked (by the provider's `sub`), else one whose username equals the
username claim, else one whose e-mail equals the provider's verified e-mail (never a superuser). When
none matches, a pending invitation for that username or e-mail makes the account it names, in its
project; else a new account is made only if ANNOTATOR_OIDC_CREATE_USERS is on, with the projects and
roles of ANNOTATOR_OIDC_NEW_USER_PROJECTS. Otherwise the sign-in is refused: invite the person first.
"""

from __future__ import annotations

import functools
import logging
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from annotator.accounts.models import Invitation
from annotator.accounts.services import take_up_invitation
from annotator.projects.models import Project, Role
from annotator.projects.services import add_member
from annotator.signins.models import EventKind, SsoIdentity
from annotator.signins.records import record_event

log = logging.getLogger(__name__)

# mozilla-django-oidc's endpoint settings, and their names in a discovery document.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def sso_enabled() -> bool:
    return bool(settings.ANNOTATOR_OIDC_ISSUER)


@functools.cache
def discovery(issuer: str) -> dict[str, Any]:
    """The provider's discovery document (not cached when fetching it fails: the next sign-in retries)."""
    response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise ImproperlyConfigured(
            f"The provider at {issuer} calls itself {document.get('issuer')!r}: set ANNOTATOR_OIDC_ISSUER to that."
        )
    return document


def sso_setting(name: str, *default: Any) -> Any:
    """mozilla-django-oidc's settings, with the endpoints from discovery when settings leave them empty."""
    if name == "OIDC_CREATE_USER":
        return settings.ANNOTATOR_OIDC_CREATE_USERS
    if name in DISCOVERED and not getattr(settings, name, ""):
        if not sso_enabled():
            return ""  # the views answer 404 before anything uses it
        return discovery(settings.ANNOTATOR_OIDC_ISSUER)[DISCOVERED[name]]
    return import_from_settings(name, *default)


class SignInBackend(OIDCAuthenticationBackend):
    """Signs in with the provider's answer, linking or (when allowed) making the account."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django makes a backend for every sign-in, passwords too: the provider's endpoints (fetched from
        # it) are read only when a provider's answer arrives, so that a provider that is down cannot
        # stop password sign-ins.
        self.UserModel = get_user_model()

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        return sso_setting(attr, *args)

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        if not sso_enabled() or request is None or not {"code", "state"} <= set(request.GET):
            return None
        super().__init__()  # reads the provider's settings (and endpoints) now
        return super().authenticate(request, **kwargs)

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        # The record names whom a refused single sign-on was for.
        self.request.sso_username = str(claims.get(settings.ANNOTATOR_OIDC_USERNAME_CLAIM) or "")[:150]
        return bool(claims.get("sub")) and bool(claims.get(settings.ANNOTATOR_OIDC_USERNAME_CLAIM))

    def filter_users_by_claims(self, claims: dict[str, Any]) -> QuerySet[Any]:
        users = get_user_model()._default_manager.all()
        linked = SsoIdentity.objects.filter(issuer=settings.ANNOTATOR_OIDC_ISSUER, subject=claims["sub"])
        if linked.exists():
            return users.filter(sso_identities__in=linked)
        # A superuser is never linked by a matching name or e-mail: whoever the provider calls "admin"
        # must not become this site's administrator.
        users = users.filter(is_superuser=False)
        by_name = users.filter(username__iexact=claims[settings.ANNOTATOR_OIDC_USERNAME_CLAIM])
        if by_name.exists():
            return by_name
        email = verified_email(claims)
        if email and users.filter(email__iexact=email).exists():
            return users.filter(email__iexact=email)
        # Invited but not signed up yet: the first single sign-on makes the account the invitation
        # names, whether or not ANNOTATOR_OIDC_CREATE_USERS lets strangers in.
        if invitations := list(pending_invitations(claims)):
            user = create_sso_account(claims=claims, request=self.request, invitations=invitations)
            return users.filter(pk=user.pk)
        return users.none()

    def create_user(self, claims: dict[str, Any]) -> Any:
        return create_sso_account(claims=claims, request=self.request)

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        SsoIdentity.objects.get_or_create(
            issuer=settings.ANNOTATOR_OIDC_ISSUER, subject=claims["sub"], defaults={"user": user}
        )
        return user


def verified_email(claims: dict[str, Any]) -> str:
    """The provider's e-mail for the person, unless it says it has not verified it."""
    return "" if claims.get("email_verified") is False else str(claims.get("email") or "")


def pending_invitations(claims: dict[str, Any]) -> QuerySet[Invitation]:
    """Invitations still pending for this username, or for this person's verified e-mail."""
    named = Q(username__iexact=claims[settings.ANNOTATOR_OIDC_USERNAME_CLAIM])
    email = verified_email(claims)
    return Invitation.objects.pending().filter(named | Q(email__iexact=email) if email else named)


@transaction.atomic
def create_sso_account(
    *, claims: dict[str, Any], request: HttpRequest | None, invitations: list[Invitation] | None = None
) -> Any:
    """A new account for a first sign-in: with the projects and roles of its invitations, or of
    ANNOTATOR_OIDC_NEW_USER_PROJECTS; recorded."""
    users = get_user_model()._default_manager
    invited = invitations[0] if invitations else None  # the manager chose the username
    wanted = str(invited.username if invited else claims[settings.ANNOTATOR_OIDC_USERNAME_CLAIM])[:150]
    username, suffix = wanted, 2
    while users.filter(username__iexact=username).exists():
        username, suffix = f"{wanted[:140]}-{suffix}", suffix + 1
    user = users.create_user(
        username,
        email=(verified_email(claims) or (invited.email if invited else ""))[:254],
        first_name=str(claims.get("given_name") or (invited.full_name if invited else ""))[:150],
        last_name=str(claims.get("family_name") or "")[:150],
    )
    user.set_unusable_password()  # signs in through the provider only
    user.save(update_fields=["password"])
    SsoIdentity.objects.create(user=user, issuer=settings.ANNOTATOR_OIDC_ISSUER, subject=claims["sub"])
    if invitations:
        for invitation in invitations:
            take_up_invitation(invitation=invitation, user=user)
        given = [f"{invitation.project.slug} ({invitation.role})" for invitation in invitations]
        detail = f"invited: {', '.join(given)}"
        record_event(kind=EventKind.SSO_ACCOUNT_CREATED, request=request, user=user, detail=detail)
        return user
    given = []
    for slug, role in settings.ANNOTATOR_OIDC_NEW_USER_PROJECTS:
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            log.warning("ANNOTATOR_OIDC_NEW_USER_PROJECTS names a project %r that does not exist", slug)
            continue
        add_member(project=project, user=user, role=Role(role))
        given.append(f"{slug} ({role})")
    detail = f"projects: {', '.join(given)}" if given else "no projects"
    record_event(kind=EventKind.SSO_ACCOUNT_CREATED, request=request, user=user, detail=detail)
    return user


def provider_sign_out_url(request: HttpRequest, id_token: str) -> str | None:
    """Where to send the browser so that the provider's session ends too (RP-initiated logout), if it
    offers that; back to this site's sign-in page afterwards (register that URL at the provider)."""
    try:
        endpoint = discovery(settings.ANNOTATOR_OIDC_ISSUER).get("end_session_endpoint")
    except (requests.RequestException, ValueError, ImproperlyConfigured) as error:
        log.warning("Could not sign out at the provider: %s: %s", type(error).__name__, error)
        return None
    if not endpoint:
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


class SsoViewMixin:
    """The provider's settings (discovered), and no such page while single sign-on is off."""

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        return sso_setting(attr, *args)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not sso_enabled():
            raise Http404
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except (requests.RequestException, ValueError, ImproperlyConfigured) as error:
            # The provider is down, answers nonsense, or is misconfigured: say so on the sign-in page
            # rather than with a server error; the log has the details.
            log.warning("Single sign-on failed: %s: %s", type(error).__name__, error)
            messages.error(
                request,
                f"Signing in with {settings.ANNOTATOR_OIDC_LABEL} is not possible right now: the sign-in "
                "service did not answer as expected. Try again later, or tell the administrators.",
            )
            return HttpResponseRedirect(reverse("login"))


class StartView(SsoViewMixin, OIDCAuthenticationRequestView):
    """Sends the browser to the provider."""

    def __init__(self, **kwargs: Any) -> None:
        View.__init__(self, **kwargs)  # the provider's endpoint is read in get(), where a failure is caught

    def get(self, request: HttpRequest) -> HttpResponse:
        self.OIDC_OP_AUTH_ENDPOINT = self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        return super().get(request)


class CallbackView(SsoViewMixin, OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back; a refusal returns to the sign-in page, saying why."""

    def login_failure(self) -> HttpResponse:
        user = getattr(self, "user", None)
        if user is not None and not user.is_active:
            # The provider vouched for the person but staff deactivated the account here. Django's
            # authenticate() returned the account, so no failure signal was sent: record it here.
            record_event(
                kind=EventKind.FAILED,
                request=self.request,
                user=user,
                username=user.get_username(),
                detail="single sign-on: account deactivated",
            )
            messages.error(
                self.request, "Your account here is deactivated. Ask the site's staff to reactivate it."
            )
            return HttpResponseRedirect(reverse("login"))
        messages.error(
            self.request,
            "Single sign-on did not sign you in. If you have no account here yet, ask a project manager to "
            "invite you (with the same username or e-mail address as at your institution).",
        )
        return HttpResponseRedirect(reverse("login"))
