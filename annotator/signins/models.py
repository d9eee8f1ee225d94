"""The record of sign-ins: who signed in or failed to, from where, with what; kept ANNOTATOR_SIGN_IN_RECORD_DAYS."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class EventKind(models.TextChoices):
    SIGNED_IN = "signed_in", "Signed in"
    SIGNED_OUT = "signed_out", "Signed out"
    FAILED = "failed", "Sign-in failed"
    LOCKED_OUT = "locked_out", "Sign-in failed: now locked out"
    REFUSED = "refused", "Refused: locked out"
    UNLOCKED = "unlocked", "Unlocked by staff"
    TOKEN_CREATED = "token_created", "API token made"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    SSO_ACCOUNT_CREATED = "sso_account_created", "Account made by single sign-on"


class SignInEvent(models.Model):
    """One authentication event. `username` is what was typed (failures name accounts that may not exist)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sign_in_events",
    )
    username = models.CharField(max_length=150, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["user", "-at"], name="signin_user_at")]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=EventKind.values), name="signin_kind_known")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username or '-'} at {self.at:%Y-%m-%d %H:%M}"


class SsoIdentity(models.Model):
    """An account at an OpenID Connect provider (its `sub`) linked to an account here."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
