"""Prepare the test provider: its tables, a signing key, two people, and Annotator as a client.

python -m tests.oidc_provider.setup REDIRECT_URI CLIENT_ID CLIENT_SECRET POST_LOGOUT_REDIRECT_URI
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.oidc_provider.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from oidc_provider.models import Client, ResponseType  # noqa: E402

PEOPLE = [
    ("ada", "ada@uni.example", "Ada", "Lovelace"),
    ("grace", "grace@uni.example", "Grace", "Hopper"),
]


def main(redirect_uri: str, client_id: str, client_secret: str, post_logout_redirect_uri: str) -> None:
    call_command("migrate", run_syncdb=True, verbosity=0)
    call_command("creatersakey")
    for username, email, first, last in PEOPLE:
        get_user_model().objects.create_user(
            username, email=email, password="university password", first_name=first, last_name=last
        )
    client = Client.objects.create(
        name="Annotator",
        client_type="confidential",
        client_id=client_id,
        client_secret=client_secret,
        jwt_alg="RS256",
        require_consent=True,
        reuse_consent=False,
    )
    client.redirect_uris = [redirect_uri]
    client.post_logout_redirect_uris = [post_logout_redirect_uri]
    client.save()
    code, _ = ResponseType.objects.get_or_create(value="code", defaults={"description": "code"})
    client.response_types.add(code)


if __name__ == "__main__":
    main(*sys.argv[1:5])
