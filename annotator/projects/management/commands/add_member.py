from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from annotator.projects.models import Project, Role
from annotator.projects.services import LastManager, add_member


def generated_password() -> str:
    return secrets.token_urlsafe(12)


class Command(BaseCommand):
    help = (
        "Give a user a role in a project, creating the user first if needed. A new user gets a generated "
        "password, printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--project", required=True, help="The project's slug or id.")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--email", default="")
        parser.add_argument("--staff", action="store_true", help="Also let the user into the Django admin.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        key = options["project"]
        project = Project.objects.filter(slug=key).first() or (
            Project.objects.filter(pk=int(key)).first() if key.isdigit() else None
        )
        if project is None:
            raise CommandError(f"No project has the slug or id {key!r}.")
        User = get_user_model()
        user = User.objects.filter(username=options["username"]).first()
        password = None
        if user is None:
            password = generated_password()
            user = User.objects.create_user(options["username"], email=options["email"], password=password)
        if options["staff"] and not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        try:
            add_member(project=project, user=user, role=options["role"])
        except LastManager as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{user.username} is now {options['role']} of {project.name}.")
        if password:
            self.stdout.write(f"Created user {user.username} with password: {password}")
            self.stdout.write("It is shown once: keep it, or set another with `manage.py changepassword`.")
