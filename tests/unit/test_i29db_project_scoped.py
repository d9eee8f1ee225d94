"""`project_scoped`: a compiled read for any project and its form limited to one, from one build."""

from typing import Any

import pytest
from django.db.models import QuerySet

from annotator.articles.models import Article
from annotator.core.compiled import Scope, project_scoped
from annotator.projects.models import Project


@project_scoped("project_id")
def _titles(article_id: int, title: str, in_scope: Scope) -> QuerySet[Article, Any]:
    return in_scope(Article.objects.filter(pk=article_id).exclude(title=title)).values_list(
        "title", flat=True
    )


@pytest.mark.django_db
def test_the_scoped_form_finds_the_row_only_in_its_project():
    mine, other = Project.objects.create(name="Mine", slug="mine"), Project.objects.create(name="O", slug="o")
    article = Article.objects.create(project=mine, text="Text.", external_id="a", title="Kept")
    assert _titles(article_id=article.pk, title="x", project_id=None) == ["Kept"]
    assert _titles(article_id=article.pk, title="x", project_id=mine.pk) == ["Kept"]
    assert _titles(article_id=article.pk, title="x", project_id=other.pk) == []
    assert _titles(article_id=article.pk, title="Kept", project_id=mine.pk) == []  # the build's own filters


def test_each_form_is_the_sql_of_the_build_with_or_without_the_project_filter():
    plain = Article.objects.filter(pk=7).exclude(title="x").values_list("title", flat=True)
    scoped = (
        Article.objects.filter(pk=7).exclude(title="x").filter(project_id=9).values_list("title", flat=True)
    )
    # The SQL with its placeholders, whatever the values: the same statement, the same prepared plan.
    assert _titles.anywhere.sql() == plain.query.sql_with_params()[0]
    assert _titles.in_project.sql() == scoped.query.sql_with_params()[0]
    assert _titles.anywhere.sql() != _titles.in_project.sql()
    assert _titles.anywhere.names == ("article_id", "title")
    assert _titles.in_project.names == ("article_id", "title", "project_id")
    assert _titles.in_project.build.__name__ == "_titles_in_project"


def test_the_project_must_be_named_and_the_build_must_not_take_it():
    with pytest.raises(TypeError, match="project_id"):
        _titles(article_id=1, title="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="title must be a string"):
        _titles(article_id=1, title=2, project_id=None)

    def _by_project(project_id: int, in_scope: Scope) -> QuerySet[Article]:
        return in_scope(Article.objects.filter(project_id=project_id))

    with pytest.raises(TypeError, match="_by_project must not take project_id"):
        project_scoped("project_id")(_by_project)
