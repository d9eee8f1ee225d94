"""Accounts without the admin: managers make accounts or invite people, staff (de)activate them."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from annotator.accounts.models import Invitation, invitation_digest
from annotator.core.errors import DomainError
from annotator.projects.models import Membership, Project, Role
from annotator.projects.services import add_member

if TYPE_CHECKING:
    from django.contrib.auth.models import User

INVITATION_SECRET_BYTES = 32


class AccountError(DomainError):
    code = "invalid_account"


def generated_password() -> str:
    """A password for a new account, shown once to the manager who made it."""
    return secrets.token_urlsafe(12)


def check_new_username(username: str) -> str:
    """The username, stripped, if a new account may take it; AccountError saying why not otherwise."""
    username = username.strip()
    if not username:
        raise AccountError("Give a username.", field="username")
    try:
        get_user_model().username_validator(username)
    except ValidationError:
        raise AccountError(
            "A username has letters, digits and @ . + - _ only, at most 150 of them.", field="username"
        ) from None
    if len(username) > 150:
        raise AccountError("A username has at most 150 characters.", field="username")
    if get_user_model().objects.filter(username__iexact=username).exists():
        raise AccountError(f"The username {username!r} is taken.", field="username")
    return username


def _check_email(email: str) -> str:
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise AccountError(f"{email!r} is not an e-mail address.", field="email") from None
    return email


def _check_role(role: str) -> str:
    if role not in Role.values:
        raise AccountError(f"The role must be one of {', '.join(Role.values)}.", field="role")
    return role


@transaction.atomic
def create_account(
    *, project: Project, username: str, role: str, full_name: str = "", email: str = ""
) -> tuple[User, str]:
    """Make an account with a generated password and add it to the project; return both (shown once)."""
    username, email, role = check_new_username(username), _check_email(email), _check_role(role)
    password = generated_password()
    user = get_user_model().objects.create_user(
        username, email=email, password=password, first_name=full_name.strip()[:150]
    )
    add_member(project=project, user=user, role=role)
    return user, password


def invitation_days() -> int:
    return int(settings.ANNOTATOR_INVITATION_DAYS)


@transaction.atomic
def invite(
    *, project: Project, username: str, role: str, by: User | None, full_name: str = "", email: str = ""
) -> tuple[Invitation, str]:
    """Make an invitation link for a new account in this project; return it with its secret (shown once)."""
    username, email, role = check_new_username(username), _check_email(email), _check_role(role)
    if Invitation.objects.pending().filter(project=project, username__iexact=username).exists():
        raise AccountError(
            f"{username} already has an invitation to this project: revoke it to make a new one.",
            field="username",
        )
    secret = secrets.token_urlsafe(INVITATION_SECRET_BYTES)
    now = timezone.now()
    invitation = Invitation.objects.create(
        project=project,
        role=role,
        username=username,
        full_name=full_name.strip()[:150],
        email=email,
        digest=invitation_digest(secret),
        created_by=by,
        created_at=now,
        expires_at=now + timedelta(days=invitation_days()),
    )
    return invitation, secret


def mail_invitation(*, invitation: Invitation, link: str) -> bool:
    """Send the link to the invitation's e-mail address when the site can send mail; whether it did."""
    if not (invitation.email and settings.ANNOTATOR_EMAIL_ENABLED):
        return False
    send_mail(
        subject=f"You are invited to annotate in {invitation.project.name}",
        message=(
            f"{invitation.created_by or 'A manager'} invites you to the project {invitation.project.name} "
            f"as {invitation.role}.\n\nMake your account (username {invitation.username}) here; the link "
            f"works until {invitation.expires_at:%Y-%m-%d %H:%M} UTC:\n\n{link}\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    return True


def find_invitation(secret: str) -> Invitation | None:
    """The pending invitation this secret opens, or None (unknown, used, revoked or expired)."""
    if not secret or len(secret) > 200:
        return None
    return (
        Invitation.objects.pending()
        .select_related("project")
        .filter(digest=invitation_digest(secret))
        .first()
    )


@transaction.atomic
def accept_invitation(*, secret: str, password: str) -> User:
    """Make the invited account with the password its owner chose and add it to the project."""
    invitation = _locked_pending(secret)
    username = check_new_username(invitation.username)
    user_model = get_user_model()
    candidate = user_model(username=username, email=invitation.email, first_name=invitation.full_name)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as error:
        raise AccountError(" ".join(error.messages), field="password") from None
    user = user_model.objects.create_user(
        username, email=invitation.email, password=password, first_name=invitation.full_name
    )
    _join(invitation, user)
    return user


@transaction.atomic
def join_by_invitation(*, secret: str, user: User) -> Membership:
    """Someone who already has an account accepts the invitation for themselves."""
    invitation = _locked_pending(secret)
    return _join(invitation, user)


@transaction.atomic
def take_up_invitation(*, invitation: Invitation, user: User) -> Membership:
    """An account made another way (a first single sign-on) takes up the pending invitation meant for it."""
    locked = Invitation.objects.select_for_update().pending().filter(pk=invitation.pk).first()
    if locked is None:
        raise AccountError("This invitation is not pending any more.")
    return _join(locked, user)


def _locked_pending(secret: str) -> Invitation:
    invitation = find_invitation(secret)
    # Locked, and checked again: two tabs accepting one link at once make one account.
    locked = (
        Invitation.objects.select_for_update().pending().filter(pk=invitation.pk).first()
        if invitation is not None
        else None
    )
    if locked is None:
        raise AccountError(
            "This invitation link is not valid any more: ask the project's manager for a new one."
        )
    return locked


def _join(invitation: Invitation, user: User) -> Membership:
    existing = Membership.objects.filter(project=invitation.project, user=user).first()
    membership = existing or add_member(project=invitation.project, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def revoke_invitation(invitation: Invitation) -> None:
    """Make the link stop working (an accepted one stays as it is: the account exists)."""
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def set_active(*, user: User, active: bool, by: User) -> User:
    """Staff deactivate an account (it can no longer log in or use its tokens) or reactivate it."""
    if not by.is_staff:
        raise AccountError("Only staff (de)activate accounts.")
    if user.pk == by.pk and not active:
        raise AccountError("You cannot deactivate your own account.", field="is_active")
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
    return user
