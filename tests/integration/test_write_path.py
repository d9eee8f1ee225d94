"""The write requests reviewers make all day: what creating a span and accepting a suggestion cost in
queries, and that the short cuts taken for them (one statement for a row and its history, the claim's
SQL compiled once, the request bodies and answers without serializers) give exactly what the long way
gave."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework import serializers

from annotator.annotations.editing import SetEditor, edit_set, with_editing_facts
from annotator.annotations.models import AnnotationSet, Span
from annotator.annotations.services import create_span
from annotator.api.annotation_serializers import (
    DecisionCreateSerializer,
    DecisionSerializer,
    SpanCreateSerializer,
    SpanSerializer,
    decision_create_data,
    decision_data,
    span_create_data,
    span_data,
)
from annotator.api.tokens import create_token
from annotator.core.errors import InvalidAnnotation, StaleVersion
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind
from annotator.suggestions.services import accept_suggestion, reject_suggestion

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"


def statements(queries):
    """The SQL statements, BEGIN, COMMIT and savepoints left out, each cut to its first words."""
    return [
        q["sql"][:60] for q in queries if not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]


@pytest.fixture
def token(news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600  # a slow machine stays inside the token's lifetime
    return create_token(user=news.annotator, name="script", scope="write")[1]


@pytest.fixture
def suggestions(news):
    version = SuggesterVersion.objects.create(project=news.project, name="t", kind="rules", version="1")
    text = news.article.text
    at = [(0, 16), (text.index("Minsk"), text.index("Minsk") + 5)]
    return Suggestion.objects.bulk_create(
        Suggestion(article=news.article, suggester_version=version, kind=SuggestionKind.ENTITY, start=start,
                   end=end, entity_type=news.person if start == 0 else news.gpe, score=0.9, source="t")
        for start, end in at
    )  # fmt: skip


def post(client, url, body, token, version):
    return client.post(url, body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IF_MATCH=f'"{version}"')  # fmt: skip


def test_accepting_a_suggestion_through_the_api_costs_a_fixed_number_of_queries(client, news, token,
                                                                                 suggestions):  # fmt: skip
    url = reverse("api:set-decisions", args=[news.annotation_set.pk])
    assert (
        post(client, url, {"suggestion": suggestions[1].pk, "verdict": "rejected"}, token, 1).status_code
        == 201
    )
    with CaptureQueriesContext(connection) as queries:
        response = post(client, url, {"suggestion": suggestions[0].pk, "verdict": "accepted"}, token, 2)
    assert response.status_code == 201
    assert response["ETag"] == '"3"'
    found = statements(queries)

    # PostgreSQL: one statement (api/set_writes_at_once.py) reads the set with the caller's right to edit
    # it, the article, the span rules and the suggestion with its type, claims the version (if the set has
    # not decided on it), writes the span and its history, the decision and its history. SQLite: the set
    # with all that, the claim, then each row (no look-up of an earlier decision or of the span: their
    # INSERTs find them).
    if POSTGRES:
        expected = ['WITH "target" AS MATERIALIZED (SELECT "id" AS "set_id"']
    else:
        expected = [
            'SELECT "annotations_annotationset"."id"',
            'UPDATE "annotations_annotationset" SET "version"',
            'INSERT INTO "annotations_span"',
            'INSERT INTO "annotations_historicalspan"',
            'INSERT INTO "suggestions_decision"',
            'INSERT INTO "suggestions_historicaldecision"',
        ]
    found = [
        q["sql"] for q in queries if not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]
    assert [sql[: len(prefix)] for sql, prefix in zip(found, expected, strict=False)] == expected, found
    assert len(found) == len(expected), found
    assert len(queries) == (1 if POSTGRES else len(expected) + 2)  # SQLite: with BEGIN and COMMIT
    decision = Decision.objects.get(suggestion=suggestions[0])
    span = Span.objects.get(annotation_set=news.annotation_set)
    assert response.json() == DecisionSerializer(decision).data
    assert (decision.verdict, decision.span_id, decision.result) == ("accepted", span.pk, {
        "created": [f"span:{span.pk}"], "span": {"start": 0, "end": 16, "type": "PERSON",
                                                 "text": "Sergey Naryshkin"}})  # fmt: skip
    assert [(h.history_type, h.history_user_id, h.span_id) for h in decision.history.all()] == [
        ("+", news.annotator.pk, span.pk)
    ]
    assert [(h.history_type, h.history_user_id, h.surface) for h in span.history.all()] == [
        ("+", news.annotator.pk, "Sergey Naryshkin")
    ]


def test_accepting_reuses_the_sets_span_and_a_second_decision_is_refused_with_nothing_written(
    news, suggestions
):
    annotation_set = news.annotation_set
    with edit_set(annotation_set, expected_version=1, by=news.annotator) as editor:
        existing = editor.add_span(start=0, end=16, entity_type=news.person)
    decision = accept_suggestion(suggestion=suggestions[0], annotation_set=annotation_set, by=news.annotator,
                                 expected_version=2)  # fmt: skip
    assert (decision.span_id, decision.result["created"]) == (existing.pk, [])  # reused, not made
    for verdict in (accept_suggestion, reject_suggestion):
        with pytest.raises(InvalidAnnotation) as refused:
            verdict(suggestion=suggestions[0], annotation_set=annotation_set, by=news.annotator,
                    expected_version=3)  # fmt: skip
        assert refused.value.message == (
            "This suggestion was already accepted in this set; undo that decision first."
        )
    annotation_set.refresh_from_db()
    assert annotation_set.version == 3  # the refused decisions claimed nothing
    assert Decision.objects.filter(annotation_set=annotation_set).count() == 1
    # Rejected first, then accepted: the span the acceptance would make goes with the refusal.
    reject_suggestion(suggestion=suggestions[1], annotation_set=annotation_set, by=news.annotator,
                      expected_version=3)  # fmt: skip
    with pytest.raises(InvalidAnnotation, match="already rejected"):
        accept_suggestion(suggestion=suggestions[1], annotation_set=annotation_set, by=news.annotator,
                          expected_version=4)  # fmt: skip
    assert list(Span.objects.filter(annotation_set=annotation_set).values_list("start", flat=True)) == [0]
    assert not Span.history.filter(start=suggestions[1].start).exists()


def test_the_same_span_twice_is_refused_by_its_insert_and_rolls_the_claim_back(news):
    annotation_set = news.annotation_set
    with edit_set(annotation_set, expected_version=1, by=news.annotator) as editor:
        editor.add_span(start=0, end=16, entity_type=news.person)

    def twice() -> None:
        with edit_set(annotation_set, expected_version=2, by=news.annotator) as editor:
            editor.add_span(start=7, end=16, entity_type=news.person)  # written, then rolled back
            editor.add_span(start=0, end=16, entity_type=news.person)

    with pytest.raises(InvalidAnnotation) as refused:
        twice()
    assert refused.value.message == "A PERSON span at [0, 16) already exists in this set."
    assert (refused.value.field, annotation_set.version) == ("start", 2)
    assert AnnotationSet.objects.get(pk=annotation_set.pk).version == 2
    assert list(Span.objects.filter(annotation_set=annotation_set).values_list("start", "end")) == [(0, 16)]
    assert Span.history.count() == 1


def test_the_compiled_claim_still_refuses_a_stale_version_and_a_number_no_version_holds(news):
    annotation_set = news.annotation_set
    for stale in (2, 0, 2**31, 2**63):
        with pytest.raises(StaleVersion), edit_set(annotation_set, expected_version=stale, by=news.annotator):
            pass
    with edit_set(annotation_set, expected_version=1, by=news.annotator) as editor:
        assert isinstance(editor, SetEditor)
    assert AnnotationSet.objects.get(pk=annotation_set.pk).version == 2


@pytest.mark.parametrize(
    "body",
    [
        {"start": 0, "end": 16, "type": "PERSON"},
        {"start": 0, "end": 16, "type": "  PERSON ", "text": "Sergey Naryshkin", "extra": 1},
        {"start": 0, "end": 16, "type": "PERSON", "text": " Sergey"},
        {"start": 2147483647, "end": 0, "type": "x"},
    ],
)
def test_the_span_body_read_without_the_serializer_is_what_the_serializer_reads(body):
    expected = SpanCreateSerializer(data=body)
    assert expected.is_valid()
    assert span_create_data(body) == dict(expected.validated_data)


@pytest.mark.parametrize(
    "body",
    [
        {"start": "0", "end": 16, "type": "PERSON"},
        {"start": True, "end": 16, "type": "PERSON"},
        {"start": 0, "end": 2147483648, "type": "PERSON"},
        {"start": 0.0, "end": 16, "type": "PERSON"},
        {"start": 0, "end": 16, "type": "   "},
        {"start": 0, "end": 16, "type": "PER\x00SON"},
        {"start": 0, "end": 16, "type": "PERSON", "text": ""},
        {"start": 0, "end": 16, "type": "PERSON", "text": "\ud800"},
        {"start": 0, "end": 16, "type": None},
        {"start": 0, "end": 16},
        ["start", 0],
    ],
)
def test_any_other_span_body_is_left_to_the_serializer(body):
    assert span_create_data(body) is None


@pytest.mark.parametrize(
    ("body", "fast"),
    [
        ({"suggestion": 7, "verdict": "accepted"}, True),
        ({"suggestion": 7, "verdict": "rejected"}, True),
        ({"suggestion": 2**63 - 1, "verdict": "accepted"}, True),
        ({"suggestion": 7, "verdict": "corrected", "type": "ORG"}, False),
        ({"suggestion": 7, "verdict": "accepted", "nil": True}, False),
        ({"suggestion": 0, "verdict": "accepted"}, False),
        ({"suggestion": 2**63, "verdict": "accepted"}, False),
        ({"suggestion": "7", "verdict": "accepted"}, False),
        ({"suggestion": True, "verdict": "accepted"}, False),
        ({"suggestion": 7, "verdict": "Accepted"}, False),
        ({"suggestion": 7}, False),
    ],
)
def test_the_decision_body_read_without_the_serializer_is_what_the_serializer_reads(body, fast):
    found = decision_create_data(body)
    if fast:
        expected = DecisionCreateSerializer(data=body)
        assert expected.is_valid()
        assert found == dict(expected.validated_data)
    else:
        assert found is None


def test_the_answers_written_without_serializers_are_the_serializers(news, suggestions):
    from annotator.annotations.services import link_span

    decision = accept_suggestion(suggestion=suggestions[0], annotation_set=news.annotation_set,
                                 by=news.annotator, expected_version=1)  # fmt: skip
    span = decision.span
    assert span_data(span) == SpanSerializer(span).data  # made by the service: no link
    assert decision_data(decision) == DecisionSerializer(decision).data
    stored = Decision.objects.get(pk=decision.pk)
    assert decision_data(stored) == DecisionSerializer(stored).data
    assert decision_data(stored)["created_at"].endswith("Z")
    link_span(span=span, kb_entity=news.naryshkin, by=news.annotator, expected_version=2)
    linked = Span.objects.select_related("entity_type", "link__kb_entity").get(pk=span.pk)
    assert span_data(linked) == SpanSerializer(linked).data
    assert span_data(linked)["link"]["kb_id"] == news.naryshkin.kb_id
    assert isinstance(serializers.DateTimeField().to_representation(stored.created_at), str)


# Creating a span in one statement (PostgreSQL, with the facts read with the set): the same refusals, in
# the same order, as the long way.


def fresh_set(news):
    return with_editing_facts(AnnotationSet.objects.filter(pk=news.annotation_set.pk)).get()


def create(annotation_set, news, start=0, end=16, version=1, surface=None, entity_type=None):
    return create_span(annotation_set=annotation_set, start=start, end=end, entity_type=entity_type or news.person,
                       by=news.annotator, expected_version=version, surface=surface)  # fmt: skip


def test_a_span_is_created_in_one_statement_with_its_history_and_the_sets_new_version(news):
    annotation_set = fresh_set(news)
    with CaptureQueriesContext(connection) as queries:
        span = create(annotation_set, news, surface="Sergey Naryshkin")
    assert len(statements(queries)) == (1 if POSTGRES else 3)  # SQLite: the claim, the span, its history
    stored = Span.objects.get(annotation_set=annotation_set)
    assert (stored.pk, stored.start, stored.end, stored.surface, stored.created_by_id) == (
        span.pk, 0, 16, "Sergey Naryshkin", news.annotator.pk)  # fmt: skip
    assert [(h.history_type, h.history_user_id, h.start) for h in stored.history.all()] == [
        ("+", news.annotator.pk, 0)
    ]
    assert annotation_set.version == 2 == AnnotationSet.objects.get(pk=annotation_set.pk).version
    assert span_data(span) == SpanSerializer(stored).data


@pytest.mark.parametrize(
    ("version", "start", "end", "surface", "expected"),
    [
        (2, 0, 16, None, StaleVersion),  # stale
        (2, 0, 99_999, None, StaleVersion),  # stale and bad offsets: the stale version first
        (2, 0, 16, "Someone else", StaleVersion),
        (1, 0, 99_999, None, "The span [0, 99999) ends after the text, which has "),
        (1, 0, 16, "Someone else", "The text at [0, 16) is 'Sergey Naryshkin', not 'Someone else'"),
        (1, 6, 16, None, "A span cannot start or end with white space"),
        (1, 0, 16, None, "A PERSON span at [0, 16) already exists in this set."),
    ],
)
def test_creating_at_once_refuses_as_the_long_way_does_and_writes_nothing(
    news, version, start, end, surface, expected
):
    annotation_set = fresh_set(news)
    if expected == "A PERSON span at [0, 16) already exists in this set.":
        create(annotation_set, news)
        version = 2
    before = (
        AnnotationSet.objects.get(pk=annotation_set.pk).version,
        Span.objects.count(),
        Span.history.count(),
    )
    annotation_set = fresh_set(news)
    if expected is StaleVersion:
        with pytest.raises(StaleVersion):
            create(annotation_set, news, start=start, end=end, version=version, surface=surface)
    else:
        with pytest.raises(InvalidAnnotation) as refused:
            create(annotation_set, news, start=start, end=end, version=version, surface=surface)
        assert refused.value.message.startswith(expected)
    after = (
        AnnotationSet.objects.get(pk=annotation_set.pk).version,
        Span.objects.count(),
        Span.history.count(),
    )
    assert after == before


def test_creating_at_once_in_an_archived_project_or_a_submitted_set_is_refused(news):
    from annotator.annotations.services import submit_set
    from annotator.core.errors import NotEditable, ProjectArchived

    submit_set(annotation_set=fresh_set(news), by=news.annotator, expected_version=1)
    with pytest.raises(NotEditable, match="This annotation set is submitted; it must be in progress"):
        create(fresh_set(news), news, version=2)
    AnnotationSet.objects.filter(pk=news.annotation_set.pk).update(status="in_progress")
    news.project.archived_at = "2026-01-01T00:00:00Z"
    news.project.save()
    with pytest.raises(ProjectArchived):
        create(fresh_set(news), news, version=2)
    assert not Span.objects.exists()


def test_a_type_of_another_project_is_refused_before_anything_is_written(news):
    from annotator.projects.models import EntityType, Project

    other = EntityType.objects.create(project=Project.objects.create(name="Other", slug="other"), name="X")
    with pytest.raises(InvalidAnnotation, match="That entity type belongs to another project."):
        create(fresh_set(news), news, entity_type=other)
    assert AnnotationSet.objects.get(pk=news.annotation_set.pk).version == 1


# The other occurrences of an accepted span, suggested in one statement (PostgreSQL).


def test_occurrences_in_one_statement_are_the_long_ways_rows(news):
    from annotator.annotations import services as annotations
    from annotator.suggestions import generate
    from annotator.suggestions.occurrences import suggest_occurrences
    from tests.factories import ArticleFactory

    text = "Naryshkin met Lukashenko. Later, Naryshkin left; Naryshkins and xNaryshkin did not. Naryshkin."
    article = ArticleFactory(project=news.project, text=text)
    own = annotations.get_or_create_own_set(article=article, user=news.annotator)
    span = annotations.create_span(annotation_set=own, start=0, end=9, entity_type=news.person,
                                   by=news.annotator, expected_version=1)  # fmt: skip
    version = generate.ensure_active_suggester(project=news.project)
    # The long way stored the last occurrence's entity suggestion before: it is reused, not stored twice.
    Suggestion.objects.create(article=article, suggester_version=version, kind="entity", start=84, end=93,
                              entity_type=news.person, score=0.8, source="other-occurrence")  # fmt: skip
    annotations.link_span(span=span, kb_entity=news.naryshkin, by=news.annotator, expected_version=2)
    span = Span.objects.select_related("annotation_set__article", "link").get(pk=span.pk)
    with CaptureQueriesContext(connection) as queries:
        found = suggest_occurrences(span=span)
    assert found == [(33, 42), (33, 42), (84, 93), (84, 93)]  # entity and link at each
    if POSTGRES:
        assert len(queries) == 1
    stored = Suggestion.objects.filter(article=article, source="other-occurrence").order_by("start", "kind")
    rows = [(s.kind, s.start, s.end, s.entity_type_id, s.kb_entity_id, s.score, s.rank, s.suggester_version_id)
            for s in stored]  # fmt: skip
    assert rows == [
        ("entity", 33, 42, news.person.pk, None, 0.8, 0, version.pk),
        ("link", 33, 42, news.person.pk, news.naryshkin.pk, 0.8, 0, version.pk),
        ("entity", 84, 93, news.person.pk, None, 0.8, 0, version.pk),
        ("link", 84, 93, news.person.pk, news.naryshkin.pk, 0.8, 0, version.pk),
    ]
    assert suggest_occurrences(span=span) == found  # idempotent: nothing stored twice
    assert stored.count() == 4
    assert [(s.start, s.end) for s in generate.suggest_other_occurrences(span=span)] == found
    assert stored.count() == 4
    accept_suggestion(suggestion=stored[0], annotation_set=own, by=news.annotator, expected_version=3)
    assert suggest_occurrences(span=Span.objects.get(annotation_set=own, start=33)) == [(84, 93)]


def test_occurrences_without_an_active_suggester_make_the_default_one(news):
    from annotator.annotations import services as annotations
    from annotator.suggestions.occurrences import suggest_occurrences
    from tests.factories import ArticleFactory

    article = ArticleFactory(project=news.project, text="Minsk and Minsk.")
    own = annotations.get_or_create_own_set(article=article, user=news.annotator)
    span = annotations.create_span(annotation_set=own, start=0, end=5, entity_type=news.gpe,
                                   by=news.annotator, expected_version=1)  # fmt: skip
    assert not SuggesterVersion.objects.filter(project=news.project, is_active=True).exists()
    assert suggest_occurrences(span=span) == [(10, 15)]
    assert SuggesterVersion.objects.filter(project=news.project, is_active=True).count() == 1


# Accepting in one statement (PostgreSQL, with the facts read with the set): the same rows and refusals.


def test_accepting_at_once_writes_what_the_long_way_writes(news, suggestions):
    annotation_set = fresh_set(news)
    with CaptureQueriesContext(connection) as queries:
        decision = accept_suggestion(suggestion=suggestions[0], annotation_set=annotation_set,
                                     by=news.annotator, expected_version=1)  # fmt: skip
    assert len(statements(queries)) == (1 if POSTGRES else 5)
    span = Span.objects.get(annotation_set=annotation_set)
    stored = Decision.objects.get(pk=decision.pk)
    assert (stored.verdict, stored.span_id, stored.suggestion_id, stored.decided_by_id) == (
        "accepted", span.pk, suggestions[0].pk, news.annotator.pk)  # fmt: skip
    snapshot = {"start": 0, "end": 16, "type": "PERSON", "text": "Sergey Naryshkin"}
    assert stored.result == decision.result == {"created": [f"span:{span.pk}"], "span": snapshot}
    assert decision_data(decision) == DecisionSerializer(stored).data
    assert (decision.span.pk, decision.span.surface) == (span.pk, "Sergey Naryshkin")
    assert [(h.history_type, h.history_user_id) for h in stored.history.all()] == [("+", news.annotator.pk)]
    assert [(h.history_type, h.span_id) for h in stored.history.all()] == [("+", span.pk)]
    assert [(h.history_type, h.surface) for h in span.history.all()] == [("+", "Sergey Naryshkin")]
    assert annotation_set.version == 2 == AnnotationSet.objects.get(pk=annotation_set.pk).version


def test_accepting_at_once_reuses_the_sets_span_and_refuses_a_second_decision(news, suggestions):
    minsk = suggestions[1]
    existing = create(fresh_set(news), news, start=minsk.start, end=minsk.end, entity_type=news.gpe)
    annotation_set = fresh_set(news)
    decision = accept_suggestion(suggestion=minsk, annotation_set=annotation_set, by=news.annotator,
                                 expected_version=2)  # fmt: skip
    assert (decision.span_id, decision.result["created"]) == (existing.pk, [])
    assert Decision.objects.get(pk=decision.pk).result == decision.result
    assert (Span.objects.count(), Span.history.count()) == (1, 1)
    for version, expected in ((3, "This suggestion was already accepted in this set; undo that decision first."),
                              (2, None)):  # fmt: skip
        if expected is None:
            with pytest.raises(StaleVersion):
                accept_suggestion(suggestion=minsk, annotation_set=fresh_set(news), by=news.annotator,
                                  expected_version=version)  # fmt: skip
        else:
            with pytest.raises(InvalidAnnotation) as refused:
                accept_suggestion(suggestion=minsk, annotation_set=fresh_set(news), by=news.annotator,
                                  expected_version=version)  # fmt: skip
            assert refused.value.message == expected
    assert AnnotationSet.objects.get(pk=annotation_set.pk).version == 3
    assert (Decision.objects.count(), Decision.history.count()) == (1, 1)


def test_accepting_at_once_a_suggestion_of_another_article_is_refused_after_a_stale_version(
    news, suggestions
):
    from tests.factories import ArticleFactory

    other = ArticleFactory(project=news.project, text="Sergey Naryshkin again.")
    foreign = Suggestion.objects.create(article=other, suggester_version=suggestions[0].suggester_version,
                                        kind="entity", start=0, end=16, entity_type=news.person, score=0.9,
                                        source="t")  # fmt: skip
    with pytest.raises(StaleVersion):
        accept_suggestion(
            suggestion=foreign, annotation_set=fresh_set(news), by=news.annotator, expected_version=5
        )
    with pytest.raises(InvalidAnnotation, match="That suggestion is for another article."):
        accept_suggestion(
            suggestion=foreign, annotation_set=fresh_set(news), by=news.annotator, expected_version=1
        )
    assert (Decision.objects.exists(), Span.objects.exists()) == (False, False)


# The type a new span names is read with the set (one query less): the same answers as a look-up of its own.


def test_the_type_read_with_the_set_is_the_projects_type_of_that_name(client, news, token):
    from tests.factories import EntityTypeFactory, ProjectFactory

    EntityTypeFactory(project=ProjectFactory(slug="elsewhere"), name="WEAPON")  # another project's type
    url = reverse("api:set-spans", args=[news.annotation_set.pk])
    post(client, url, {"start": 0, "end": 16, "type": "ALIEN"}, token, 1)  # the token's first use reads it
    for name in ("ALIEN", "WEAPON", "person"):
        with CaptureQueriesContext(connection) as queries:
            refused = post(client, url, {"start": 0, "end": 16, "type": name}, token, 1)
        assert (refused.status_code, refused.json()["error"]["fields"]) == (
            400, {"type": [f"This project has no entity type named {name!r}."]}
        )  # fmt: skip
        # PostgreSQL: the one statement wrote nothing (api/set_writes_at_once.py), so the usual way's read
        # of the set with the type says why.
        assert [sql[:20] for sql in statements(queries)] == [
            *(['WITH "target" AS MAT'] if POSTGRES else []),
            'SELECT "annotations_',
        ]
    created = post(client, url, {"start": 0, "end": 16, "type": " PERSON "}, token, 1)
    assert (created.status_code, created.json()["type"], created.json()["entity_type"]) == (
        201, "PERSON", news.person.pk
    )  # fmt: skip
    span = Span.objects.get(annotation_set=news.annotation_set)
    assert (span.entity_type_id, span.history.get().entity_type_id) == (news.person.pk, news.person.pk)


def test_a_body_left_to_the_serializer_still_finds_its_type_and_its_refusals_come_first(client, news, token):
    url = reverse("api:set-spans", args=[news.annotation_set.pk])
    # A form body: the serializer reads it, then the type is looked up on its own.
    form = client.post(url, {"start": "0", "end": "16", "type": "PERSON"}, HTTP_AUTHORIZATION=f"Bearer {token}",
                       HTTP_IF_MATCH='"1"')  # fmt: skip
    assert (form.status_code, form.json()["text"]) == (201, "Sergey Naryshkin")
    # A bad body with an unknown type: the body's refusal, as before.
    bad = post(client, url, {"start": "0", "end": 16, "type": "ALIEN"}, token, 2)
    assert (bad.status_code, list(bad.json()["error"]["fields"])) == (400, ["start"])
    # Someone else's set: 404 before anything about the body.
    other = create_token(user=news.manager, name="manager", scope="write")[1]
    hidden = post(client, url, {"start": 0, "end": 16, "type": "ALIEN"}, other, 2)
    assert hidden.status_code == 403


# Rejecting, and correcting an entity, in one statement too (PostgreSQL): the long way's rows and refusals.


def test_rejecting_at_once_writes_the_decision_and_its_history_and_nothing_else(news, suggestions):
    annotation_set = fresh_set(news)
    with CaptureQueriesContext(connection) as queries:
        decision = reject_suggestion(suggestion=suggestions[0], annotation_set=annotation_set,
                                     by=news.annotator, expected_version=1)  # fmt: skip
    # PostgreSQL: the claim (if undecided), the decision and its history; SQLite: the claim, then each row.
    assert [sql[:30] for sql in statements(queries)] == (
        ['WITH "guard" AS (UPDATE "annot'] if POSTGRES else
        ['UPDATE "annotations_annotation', 'INSERT INTO "suggestions_decis', 'INSERT INTO "suggestions_histo']
    )  # fmt: skip
    stored = Decision.objects.get(pk=decision.pk)
    assert (stored.verdict, stored.span_id, stored.result, stored.decided_by_id) == (
        "rejected", None, {"created": []}, news.annotator.pk)  # fmt: skip
    assert decision_data(decision) == DecisionSerializer(stored).data
    assert [(h.history_type, h.history_user_id, h.verdict) for h in stored.history.all()] == [
        ("+", news.annotator.pk, "rejected")
    ]
    assert Span.objects.count() == 0
    assert annotation_set.version == 2 == AnnotationSet.objects.get(pk=annotation_set.pk).version


def test_rejecting_at_once_refuses_as_the_long_way_does_and_writes_nothing(news, suggestions):
    from tests.factories import ArticleFactory

    reject_suggestion(suggestion=suggestions[0], annotation_set=fresh_set(news), by=news.annotator,
                      expected_version=1)  # fmt: skip
    other = ArticleFactory(project=news.project, text="Sergey Naryshkin again.")
    foreign = Suggestion.objects.create(article=other, suggester_version=suggestions[0].suggester_version,
                                        kind="entity", start=0, end=16, entity_type=news.person, score=0.9,
                                        source="t")  # fmt: skip
    cases = [
        (suggestions[0], 1, StaleVersion, None),  # stale before decided
        (suggestions[0], 2, InvalidAnnotation, "This suggestion was already rejected in this set"),
        (foreign, 1, StaleVersion, None),  # stale before another article's
        (foreign, 2, InvalidAnnotation, "That suggestion is for another article."),
    ]
    for suggestion, version, error, message in cases:
        with pytest.raises(error) as refused:
            reject_suggestion(suggestion=suggestion, annotation_set=fresh_set(news), by=news.annotator,
                              expected_version=version)  # fmt: skip
        if message:
            assert refused.value.message.startswith(message)
    assert AnnotationSet.objects.get(pk=news.annotation_set.pk).version == 2
    assert (Decision.objects.count(), Decision.history.count()) == (1, 1)


def test_correcting_an_entity_at_once_makes_the_corrected_span_with_its_provenance(news, suggestions):
    from annotator.suggestions.services import correct_suggestion

    annotation_set = fresh_set(news)
    with CaptureQueriesContext(connection) as queries:
        decision = correct_suggestion(suggestion=suggestions[0], annotation_set=annotation_set,
                                      by=news.annotator, expected_version=1, start=7,
                                      entity_type=news.org)  # fmt: skip
    assert len(statements(queries)) == (1 if POSTGRES else 6)  # SQLite: + the earlier decision's look-up
    span = Span.objects.get(annotation_set=annotation_set)
    assert (span.start, span.end, span.entity_type_id, span.surface) == (7, 16, news.org.pk, "Naryshkin")
    stored = Decision.objects.get(pk=decision.pk)
    snapshot = {"start": 7, "end": 16, "type": "ORG", "text": "Naryshkin"}
    assert (stored.verdict, stored.span_id) == ("corrected", span.pk)
    assert stored.result == decision.result == {"created": [f"span:{span.pk}"], "span": snapshot}
    assert decision_data(decision) == DecisionSerializer(stored).data
    assert [h.history_type for h in span.history.all()] == ["+"]
    assert annotation_set.version == 2 == AnnotationSet.objects.get(pk=annotation_set.pk).version


def test_correcting_at_once_refuses_in_the_long_ways_order(news, suggestions):
    from annotator.suggestions.services import correct_suggestion

    def correct(version, **changes):
        return correct_suggestion(suggestion=suggestions[0], annotation_set=fresh_set(news), by=news.annotator,
                                  expected_version=version, **changes)  # fmt: skip

    itself = "The correction is the suggestion itself: accept it instead."
    with pytest.raises(StaleVersion):
        correct(2)  # stale before the correction's own refusal
    with pytest.raises(InvalidAnnotation, match=itself):
        correct(1)
    with pytest.raises(InvalidAnnotation, match="A span cannot start or end with white space"):
        correct(1, end=17)
    reject_suggestion(suggestion=suggestions[0], annotation_set=fresh_set(news), by=news.annotator,
                      expected_version=1)  # fmt: skip
    with pytest.raises(InvalidAnnotation, match="already rejected"):
        correct(2)  # decided before the correction is itself
    with pytest.raises(InvalidAnnotation, match="already rejected"):
        correct(2, start=7)
    assert Span.objects.count() == 0
    assert AnnotationSet.objects.get(pk=news.annotation_set.pk).version == 2


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        ({"verdict": "rejected"}, "rejected"),
        ({"verdict": "corrected", "type": "ORG", "start": 7}, "corrected"),
    ],
)
def test_rejecting_or_correcting_through_the_api_costs_a_fixed_number_of_queries(
    client, news, token, suggestions, body, verdict
):
    url = reverse("api:set-decisions", args=[news.annotation_set.pk])
    assert (
        post(client, url, {"suggestion": suggestions[1].pk, "verdict": "rejected"}, token, 1).status_code
        == 201
    )
    with CaptureQueriesContext(connection) as queries:
        response = post(client, url, {"suggestion": suggestions[0].pk, **body}, token, 2)
    assert (response.status_code, response["ETag"], response.json()["verdict"]) == (201, '"3"', verdict)
    # PostgreSQL, a rejection: one statement, the set's read with it (api/set_writes_at_once.py). A
    # correction: the set (with its facts and the caller's role), the suggestion and the type, then one
    # statement: the claim if undecided, the span and its history, the decision and its history.
    if POSTGRES:
        assert len(statements(queries)) == (1 if verdict == "rejected" else 4)
        assert statements(queries)[-1].startswith(
            'WITH "target" AS MATERIALIZED'
            if verdict == "rejected"
            else 'WITH "guard" AS (UPDATE "annotations_'
        )
    assert response.json() == DecisionSerializer(Decision.objects.get(pk=response.json()["id"])).data


def test_a_remembered_token_is_handed_out_as_copy_copy_would_copy_it(news, token):
    import copy

    from annotator.api.tokens import _copy, check_token

    remembered = check_token(token)
    for instance in (remembered, remembered.user):
        ours, theirs = _copy(instance), copy.copy(instance)
        fields = [f.attname for f in type(instance)._meta.concrete_fields]
        assert [getattr(ours, f) for f in fields] == [getattr(theirs, f) for f in fields]
        assert (ours._state.db, ours._state.adding) == (theirs._state.db, theirs._state.adding)
        assert ours._state is not instance._state
        assert ours._state.fields_cache is not instance._state.fields_cache
    again = check_token(token)
    again.user.username = "changed by one request"
    assert check_token(token).user.username == news.annotator.username


# The suggestion a decision names is read with the set: the same suggestions found, the same refusals.


def test_the_suggestion_read_with_the_set_is_the_projects_and_refusals_stay_the_same(
    client, news, token, suggestions
):
    from tests.factories import ArticleFactory, EntityTypeFactory, ProjectFactory

    url = reverse("api:set-decisions", args=[news.annotation_set.pk])
    elsewhere = ProjectFactory(slug="elsewhere")
    far = Suggestion.objects.create(
        article=ArticleFactory(project=elsewhere, text="Sergey Naryshkin."), kind="entity", start=0, end=6,
        suggester_version=SuggesterVersion.objects.create(project=elsewhere, name="t", kind="rules", version="1"),
        entity_type=EntityTypeFactory(project=elsewhere, name="PERSON"), score=0.9, source="t",
    )  # fmt: skip
    near = Suggestion.objects.create(
        article=ArticleFactory(project=news.project, text="Sergey Naryshkin again."), kind="entity", start=0,
        end=16, suggester_version=suggestions[0].suggester_version, entity_type=news.person, score=0.9, source="t",
    )  # fmt: skip
    post(
        client, url, {"suggestion": 2**62, "verdict": "accepted"}, token, 1
    )  # the token's first use reads it
    for missing in (2**62, far.pk):
        with CaptureQueriesContext(connection) as queries:
            response = post(client, url, {"suggestion": missing, "verdict": "accepted"}, token, 1)
        assert (response.status_code, response.json()["error"]["message"]) == (404, "No such suggestion.")
        # The set's read said so (on PostgreSQL after the one statement, which wrote nothing).
        assert len(statements(queries)) == (2 if POSTGRES else 1)
    other_article = post(client, url, {"suggestion": near.pk, "verdict": "rejected"}, token, 1)
    assert (other_article.status_code, other_article.json()["error"]["fields"]) == (
        400, {"suggestion": ["That suggestion is for another article."]}
    )  # fmt: skip
    stale = post(client, url, {"suggestion": near.pk, "verdict": "accepted"}, token, 7)
    assert (stale.status_code, stale.json()["error"]["current_version"]) == (412, 1)
    accepted = post(client, url, {"suggestion": suggestions[1].pk, "verdict": "accepted"}, token, 1)
    decision = Decision.objects.get(pk=accepted.json()["id"])
    assert accepted.json() == DecisionSerializer(decision).data
    assert (decision.span.start, decision.span.end, decision.span.entity_type_id) == (25, 30, news.gpe.pk)
    assert (
        Decision.objects.count(),
        Span.objects.count(),
        AnnotationSet.objects.get(pk=news.annotation_set.pk).version,
    ) == (1, 1, 2)


def test_a_relation_suggestion_is_read_whole_and_accepted_as_before(client, news, token, suggestions):
    url = reverse("api:set-decisions", args=[news.annotation_set.pk])
    relation = Suggestion.objects.create(
        article=news.article, suggester_version=suggestions[0].suggester_version, kind="relation", start=0,
        end=16, entity_type=news.person, tail_start=25, tail_end=30, tail_entity_type=news.gpe,
        relation_type=news.visited, score=0.8, source="t",
    )  # fmt: skip
    response = post(client, url, {"suggestion": relation.pk, "verdict": "accepted"}, token, 1)
    assert response.status_code == 201, response.json()
    decision = Decision.objects.get(pk=response.json()["id"])
    assert (decision.relation.head.surface, decision.relation.tail.surface, decision.relation.relation_type_id) == (
        "Sergey Naryshkin", "Minsk", news.visited.pk
    )  # fmt: skip
    assert len(decision.result["created"]) == 3  # two spans and the relation


def test_accepting_a_relation_suggestion_through_the_api_costs_a_fixed_number_of_queries(
    client, news, token, suggestions
):
    url = reverse("api:set-decisions", args=[news.annotation_set.pk])
    relation = Suggestion.objects.create(
        article=news.article, suggester_version=suggestions[0].suggester_version, kind="relation", start=0,
        end=16, entity_type=news.person, tail_start=25, tail_end=30, tail_entity_type=news.gpe,
        relation_type=news.visited, score=0.8, source="t",
    )  # fmt: skip
    post(
        client, url, {"suggestion": 2**60, "verdict": "accepted"}, token, 1
    )  # the token's first use reads it
    with CaptureQueriesContext(connection) as queries:
        response = post(client, url, {"suggestion": relation.pk, "verdict": "accepted"}, token, 1)
    assert response.status_code == 201, response.json()
    found = statements(queries)
    # PostgreSQL: the one statement for an entity suggestion, which writes nothing for a relation's
    # (api/set_writes_at_once.py). The set, the suggestion; the claim; each span and its history; the
    # relation look-up; the schema's allowed head and tail types; the relation with its history (its INSERT
    # refuses a duplicate: no look-up of its own); the decision with its history.
    assert any('INSERT INTO "annotations_relation"' in sql for sql in found)
    assert not [sql for sql in found if sql.startswith('SELECT 1 AS "a" FROM "annotations_relation"')]
    assert len(found) == (11 if POSTGRES else 14), found


def test_accepting_a_link_suggestion_through_the_api_costs_a_fixed_number_of_queries(
    client, news, token, suggestions
):
    from annotator.annotations.models import EntityLink

    url = reverse("api:set-decisions", args=[news.annotation_set.pk])
    link = Suggestion.objects.create(
        article=news.article, suggester_version=suggestions[0].suggester_version, kind="link", start=0, end=16,
        entity_type=news.person, kb_entity=news.naryshkin, score=0.8, source="t",
    )  # fmt: skip
    assert (
        post(client, url, {"suggestion": suggestions[0].pk, "verdict": "accepted"}, token, 1).status_code
        == 201
    )
    with CaptureQueriesContext(connection) as queries:
        response = post(client, url, {"suggestion": link.pk, "verdict": "accepted"}, token, 2)
    assert response.status_code == 201, response.json()
    found = statements(queries)
    # PostgreSQL: the one statement for an entity suggestion, which writes nothing for a link's. The set,
    # the suggestion; the claim; the span (its INSERT finds it there, then its look-up, which also knows its
    # type); the span's link (none: read once), the KB entity's merge check; the link with its history; the
    # decision with its history.
    assert len(found) == (10 if POSTGRES else 11), found
    stored = EntityLink.objects.get(span__annotation_set=news.annotation_set)
    assert (stored.kb_entity_id, stored.created_by_id) == (news.naryshkin.pk, news.annotator.pk)
    assert [(h.history_type, h.history_user_id, h.kb_entity_id) for h in stored.history.all()] == [
        ("+", news.annotator.pk, news.naryshkin.pk)
    ]
    decision = Decision.objects.get(pk=response.json()["id"])
    assert decision.result == {
        "created": [f"link:{stored.pk}"], "link": {"kb_id": "sergey-naryshkin", "nil": False},
        "span": {"start": 0, "end": 16, "type": "PERSON", "text": "Sergey Naryshkin"},
    }  # fmt: skip
