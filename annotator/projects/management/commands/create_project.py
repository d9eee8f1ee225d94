from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.projects.creation import create_project
from annotator.projects.languages import LANGUAGES
from annotator.projects.models import Project
from annotator.projects.presets import PRESETS, preset_schema
from annotator.projects.schema_spec import SchemaError, load_schema_text


class Command(BaseCommand):
    help = (
        "Create a project from a schema file (YAML or JSON with the keys entity_types, relation_types, "
        "guidelines, settings), a preset, or a copy of another project; the manager named runs it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--manager", required=True, help="Username of the project's first manager.")
        start = parser.add_mutually_exclusive_group()
        start.add_argument("--schema", type=Path, help="A schema file, YAML or JSON.")
        start.add_argument("--preset", choices=list(PRESETS), help="Start from a preset schema.")
        start.add_argument(
            "--copy-from", help="Copy the schema, KBs and settings of this project (slug or id)."
        )
        parser.add_argument("--language", default="en", choices=[code for code, _ in LANGUAGES])
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        manager = get_user_model().objects.filter(username=options["manager"], is_active=True).first()
        if manager is None:
            raise CommandError(f"There is no active user named {options['manager']!r}.")
        schema, source = None, None
        if options["schema"]:
            try:
                text = options["schema"].read_text(encoding="utf-8")
                schema = load_schema_text(text, filename=options["schema"].name)
            except OSError as error:
                raise CommandError(f"Cannot read {options['schema']}: {error.strerror}") from None
            except SchemaError as error:
                raise CommandError(f"{options['schema']}: {error}") from None
        elif options["preset"]:
            schema = preset_schema(options["preset"])
        elif key := options["copy_from"]:
            source = Project.objects.filter(slug=key).first() or (
                Project.objects.filter(pk=int(key)).first() if key.isdigit() else None
            )
            if source is None:
                raise CommandError(f"No project has the slug or id {key!r}.")
        try:
            project = create_project(
                name=options["name"],
                description=options["description"],
                language=options["language"],
                schema=schema,
                copy_from=source,
                by=manager,
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from None
        self.stdout.write(
            f"Created project {project.name} (id {project.pk}, slug {project.slug}) with "
            f"{project.entity_types.count()} entity types and {project.relation_types.count()} relation types; "
            f"{manager.get_username()} manages it."
        )
