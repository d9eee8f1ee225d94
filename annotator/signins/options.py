"""How people may sign in here, for the sign-in page (and the lock-out page, which is the same page)."""

from __future__ import annotations

from django.conf import settings


def sign_in_options() -> dict[str, object]:
    sso = bool(settings.ANNOTATOR_OIDC_ISSUER)
    return {
        "sso_label": settings.ANNOTATOR_OIDC_LABEL if sso else "",
        "local_passwords": settings.ANNOTATOR_LOCAL_PASSWORDS or not sso,
    }
