"""Querysets compiled once per process: each call binds its own ids and reads what the queryset would."""

import threading

import pytest
from django.db import connection, connections
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from annotator.annotations.models import Span
from annotator.annotations.services import create_span
from annotator.core.compiled import CompiledQuery
from annotator.projects.models import EntityType
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@CompiledQuery
def types_of(project_id):
    return EntityType.objects.filter(project_id=project_id).order_by("position", "name")


@CompiledQuery
def spans_with_type(set_id, type_id):
    return (
        Span.objects.filter(annotation_set_id=set_id, entity_type_id=type_id)
        .select_related("entity_type", "annotation_set__article")
        .annotate(relations=Count("relations_as_head"))
        .order_by("start")
    )


def test_each_call_reads_the_rows_of_its_own_ids(news):
    other = ProjectFactory(name="Other", slug="other")
    EntityType.objects.create(project=other, name="DRUG", key="d")
    assert [t.name for t in types_of(project_id=news.project.pk)] == ["DATE", "GPE", "ORG", "PERSON"]
    assert [t.name for t in types_of(project_id=other.pk)] == ["DRUG"]
    assert types_of(project_id=other.pk + 1000) == []
    assert [t.pk for t in types_of(project_id=news.project.pk)] == [
        t.pk for t in EntityType.objects.filter(project=news.project).order_by("position", "name")
    ]


@CompiledQuery
def type_by_id(type_id):
    return EntityType.objects.filter(pk=type_id)


@CompiledQuery
def types_except(project_id, type_id):
    return EntityType.objects.filter(project_id=project_id).exclude(pk=type_id).order_by("name")


@pytest.mark.parametrize("huge", [2**31, 2**53, 2**63, 2**64, -(2**63) - 1])
def test_ids_no_column_holds_answer_as_the_queryset_does_not_with_an_error(news, huge):
    """An id from a URL (`/api/v1/sets/9223372036854775808/...`) that no id column can hold."""
    names = ["DATE", "GPE", "ORG", "PERSON"]
    assert [t.name for t in types_except(project_id=news.project.pk, type_id=news.date.pk)] == names[1:]
    assert type_by_id(type_id=huge) == []
    # Under a NOT, an id no row has excludes nothing: the queryset's own answer, not "no rows".
    assert [t.name for t in types_except(project_id=news.project.pk, type_id=huge)] == names


def test_related_objects_and_annotations_come_as_from_the_queryset(news):
    create_span(annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person,
                by=news.annotator, expected_version=1)  # fmt: skip
    (span,) = spans_with_type(set_id=news.annotation_set.pk, type_id=news.person.pk)
    with CaptureQueriesContext(connection) as queries:
        assert (span.surface, span.entity_type.name, span.relations) == ("Sergey Naryshkin", "PERSON", 0)
        assert span.annotation_set.article.external_id == "news-1"
    assert len(queries) == 0  # all came in the one query
    assert spans_with_type(set_id=news.annotation_set.pk, type_id=news.gpe.pk) == []


def test_the_sql_is_built_once_and_each_call_is_one_query(news, monkeypatch):
    types_of(project_id=news.project.pk)
    built = []
    monkeypatch.setattr(types_of, "build", lambda project_id: built.append(project_id))
    with CaptureQueriesContext(connection) as queries:
        assert len(types_of(project_id=news.project.pk)) == 4
    assert built == []
    assert len(queries) == 1
    if connection.vendor == "postgresql":  # a prepared statement: the values are bound on the server
        assert queries[0]["sql"] == types_of.sql()
    else:
        assert queries[0]["sql"] == types_of.sql() % (news.project.pk,)


def _prepared_statements():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE from_sql = false")
        return [statement for (statement,) in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: prepared statements")
def test_on_postgresql_a_compiled_query_is_prepared_once_per_connection(news):
    other = ProjectFactory(name="Other", slug="other")
    EntityType.objects.create(project=other, name="DRUG", key="d")
    statement = types_of.sql().replace("%s", "$1")
    assert [t.name for t in types_of(project_id=news.project.pk)] == ["DATE", "GPE", "ORG", "PERSON"]
    assert _prepared_statements().count(statement) == 1
    assert [t.name for t in types_of(project_id=other.pk)] == ["DRUG"]  # other values, same statement
    assert _prepared_statements().count(statement) == 1
    EntityType.objects.filter(project=news.project).count()  # Django's own queries stay unprepared
    assert len(_prepared_statements()) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: prepared statements")
def test_prepared_statements_can_be_turned_off(news, settings):
    settings.ANNOTATOR_DB_PREPARED = False
    assert len(types_of(project_id=news.project.pk)) == 4
    assert _prepared_statements() == []


@pytest.mark.django_db(transaction=True)
def test_threads_run_on_their_own_connection(news):
    # A compiler remembers the connection it compiled on; each thread must run on its own.
    types_of(project_id=news.project.pk)
    seen = {}

    def other_thread():
        theirs = connections["default"]
        with CaptureQueriesContext(theirs) as queries:
            seen["names"] = [t.name for t in types_of(project_id=news.project.pk)]
        seen["queries"] = len(queries)
        seen["connection"] = theirs
        theirs.close()

    with CaptureQueriesContext(connection) as here:
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen["names"] == ["DATE", "GPE", "ORG", "PERSON"]
    assert (seen["queries"], len(here)) == (1, 0)
    assert seen["connection"] is not connections["default"]


def test_wrong_or_missing_ids_are_refused(news):
    with pytest.raises(TypeError, match="takes project_id; got set_id"):
        types_of(set_id=1)
    with pytest.raises(TypeError, match="project_id must be a whole number, not '1'"):
        types_of(project_id="1")
    with pytest.raises(TypeError, match="project_id must be a whole number, not None"):
        types_of(project_id=None)


def test_a_queryset_that_writes_an_id_into_the_sql_or_drops_it_is_refused(news):
    @CompiledQuery
    def in_text(project_id):
        return EntityType.objects.filter(project_id=news.project.pk)[: abs(project_id)]

    @CompiledQuery
    def ignoring(project_id, user_id):
        return EntityType.objects.filter(project_id=project_id)

    with pytest.raises(ValueError, match="in_text: project_id went into the SQL text, not a parameter"):
        in_text(project_id=news.project.pk)
    with pytest.raises(ValueError, match="ignoring: user_id is not a parameter of the SQL"):
        ignoring(project_id=news.project.pk, user_id=news.annotator.pk)


def test_the_converters_are_worked_out_once_and_convert_every_call(news, monkeypatch):
    from django.db.models.sql.compiler import SQLCompiler

    create_span(annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person,
                by=news.annotator, expected_version=1)  # fmt: skip
    first = spans_with_type(set_id=news.annotation_set.pk, type_id=news.person.pk)
    stored = Span.objects.get(pk=first[0].pk).created_at
    worked_out = []
    original = SQLCompiler.get_converters
    monkeypatch.setattr(
        SQLCompiler, "get_converters", lambda self, e: worked_out.append(1) or original(self, e)
    )
    for _ in range(3):
        (span,) = spans_with_type(set_id=news.annotation_set.pk, type_id=news.person.pk)
        # Converted as the queryset converts them: aware datetimes.
        assert span.created_at == first[0].created_at == stored
        assert span.created_at.tzinfo is not None
    assert worked_out == []
