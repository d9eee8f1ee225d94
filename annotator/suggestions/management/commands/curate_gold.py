from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.annotations.services import curate_gold_sets
from annotator.articles.models import Article
from annotator.suggestions.management.commands._suggestions import find_project


class Command(BaseCommand):
    help = (
        "Mark a project's gold sets in progress curated (imported gold arrives in progress): all of them, or "
        "those of the articles given. One versioned edit per set, all or nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="The project's slug or id.")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="Every gold set in progress.")
        which.add_argument("--article", type=int, action="append", help="An article id (repeat for more).")
        parser.add_argument("--user", help="Who the change is recorded as (a username).")

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(options["project"])
        by = None
        if options["user"]:
            by = get_user_model().objects.filter(username=options["user"]).first()
            if by is None:
                raise CommandError(f"There is no user {options['user']!r}.")
        ids = None
        if options["article"]:
            ids = sorted(set(options["article"]))
            found = set(Article.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
            if missing := [pk for pk in ids if pk not in found]:
                raise CommandError(f"No article with id {', '.join(map(str, missing))} in {project.name}.")
        marked = curate_gold_sets(project=project, by=by, article_ids=ids)
        self.stdout.write(f"{marked} gold set{'' if marked == 1 else 's'} of {project.name} marked curated.")
