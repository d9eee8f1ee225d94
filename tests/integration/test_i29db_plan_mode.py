"""`plan_cache_mode = force_generic_plan` (settings `_session_options`) reaches only the prepared statements.

Django binds values on the client (psycopg's ClientCursor): the statement it sends carries them as literals
and has no parameters, so PostgreSQL plans it for those values whatever plan_cache_mode says (the setting is
read only when a statement with parameters is bound). Skewed filters of Django's own queries (article search
and filters, the KB candidate search, imports, exports' Django reads) keep plans made for their values; the
compiled, prepared reads (`core.compiled`) take the one generic plan, as intended.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet

from annotator.articles.models import Article
from annotator.core.compiled import CompiledQuery
from annotator.projects.models import Project

POSTGRES = connection.vendor == "postgresql"
pytestmark = [
    pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL: plan caching (SQLite plans every statement)"),
    pytest.mark.django_db,
]


@CompiledQuery
def _titles_of(project_id: int) -> QuerySet[Article, Any]:
    return Article.objects.filter(project_id=project_id).order_by().values_list("title", flat=True)


def _ran(plans: list[str], run: Any) -> str:
    """The plan of the one statement `run` sends, as the server ran it (auto_explain, sent back as a notice)."""
    plans.clear()
    run()
    (plan,) = [text for text in plans if "articles_article" in text]
    return plan


@pytest.fixture
def plans() -> Iterator[list[str]]:
    connection.ensure_connection()
    raw = connection.connection
    seen: list[str] = []

    def keep(diagnostic: Any) -> None:
        seen.append(diagnostic.message_primary or "")

    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        cursor.execute("SET auto_explain.log_min_duration = 0")
        cursor.execute("SET auto_explain.log_level = notice")
    raw.add_notice_handler(keep)
    try:
        yield seen
    finally:
        raw.remove_notice_handler(keep)
        with connection.cursor() as cursor:
            cursor.execute("RESET auto_explain.log_min_duration")
            cursor.execute("RESET auto_explain.log_level")


def test_django_s_own_statements_are_planned_for_their_values_and_prepared_ones_once(plans):
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
    crowded = Project.objects.create(name="Crowded", slug="crowded")
    lonely = Project.objects.create(name="Lonely", slug="lonely")
    Article.objects.bulk_create(
        Article(project=crowded, text=f"Text {n}.", title=f"T{n}", content_hash=f"h{n}") for n in range(3000)
    )
    Article.objects.create(project=lonely, text="Alone.", title="Alone")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE articles_article")

    def orm(project: Project) -> Any:
        return lambda: list(Article.objects.filter(project_id=project.pk).values_list("title", flat=True))

    # Django's query: a plan for each value (the one article by its index, the 3,000 by reading the table).
    few, many = _ran(plans, orm(lonely)), _ran(plans, orm(crowded))
    assert "Index" in few, few
    assert "Seq Scan" not in few, few
    assert "Seq Scan" in many, many
    # The prepared one: the same plan for both values, made once, whatever each would cost.
    for _ in range(6):
        _titles_of(project_id=lonely.pk)  # PostgreSQL's default would plan the first five for their values
    prepared_few = _ran(plans, lambda: _titles_of(project_id=lonely.pk))
    prepared_many = _ran(plans, lambda: _titles_of(project_id=crowded.pk))
    assert "$1" in prepared_few
    assert prepared_few.split("\n", 2)[2] == prepared_many.split("\n", 2)[2]  # the plan, after its text
