"""Annotation services: exact rows written, history kept, and nothing written when they refuse."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.annotations import services
from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetKind, SetStatus, Span
from annotator.core.errors import InvalidAnnotation, NotEditable, StaleVersion
from tests.conftest import APRIL_15, MINSK, NARYSHKIN
from tests.factories import ArticleFactory, EntityTypeFactory, KBEntityFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def snapshot(annotation_set):
    """Everything a set holds, as plain tuples, plus its version: to show that a refusal wrote nothing."""
    annotation_set.refresh_from_db()
    return (
        annotation_set.version,
        annotation_set.status,
        list(
            Span.objects.filter(annotation_set=annotation_set).values_list(
                "start", "end", "entity_type", "surface"
            )
        ),
        list(
            Relation.objects.filter(annotation_set=annotation_set).values_list(
                "head", "tail", "relation_type"
            )
        ),
        list(EntityLink.objects.filter(span__annotation_set=annotation_set).values_list("span", "kb_entity")),
        Span.history.count() + Relation.history.count() + EntityLink.history.count(),
    )


def add(news, start_end, entity_type=None, version=None, annotation_set=None):
    annotation_set = annotation_set or news.annotation_set
    return services.create_span(
        annotation_set=annotation_set,
        start=start_end[0],
        end=start_end[1],
        entity_type=entity_type or news.person,
        by=news.annotator,
        expected_version=annotation_set.version if version is None else version,
    )


def test_create_span_writes_one_span_with_its_surface_and_history(news):
    span = services.create_span(
        annotation_set=news.annotation_set,
        start=0,
        end=16,
        entity_type=news.person,
        by=news.annotator,
        expected_version=1,
        surface="Sergey Naryshkin",
    )
    assert list(
        Span.objects.values_list("start", "end", "entity_type__name", "surface", "created_by__username")
    ) == [(0, 16, "PERSON", "Sergey Naryshkin", "alice")]
    assert news.annotation_set.version == 2
    assert AnnotationSet.objects.get(pk=news.annotation_set.pk).version == 2
    [record] = span.history.all()
    assert (record.history_type, record.history_user, record.surface) == (
        "+",
        news.annotator,
        "Sergey Naryshkin",
    )


def test_a_stale_version_raises_a_conflict_and_writes_nothing(news):
    add(news, NARYSHKIN)  # version 1 -> 2, as another tab would
    before = snapshot(news.annotation_set)
    with pytest.raises(StaleVersion) as conflict:
        add(news, MINSK, entity_type=news.gpe, version=1)
    assert (conflict.value.expected, conflict.value.current) == (1, 2)
    assert "you had version 1, it is now at version 2" in conflict.value.message
    assert snapshot(news.annotation_set) == before


def test_two_tabs_on_one_set_one_wins_the_other_gets_the_conflict(news):
    tab_a = AnnotationSet.objects.get(pk=news.annotation_set.pk)
    tab_b = AnnotationSet.objects.get(pk=news.annotation_set.pk)
    services.create_span(
        annotation_set=tab_a, start=0, end=16, entity_type=news.person, by=news.annotator, expected_version=1
    )
    with pytest.raises(StaleVersion):
        services.create_span(
            annotation_set=tab_b,
            start=25,
            end=30,
            entity_type=news.gpe,
            by=news.annotator,
            expected_version=1,
        )
    assert list(Span.objects.values_list("surface", flat=True)) == ["Sergey Naryshkin"]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (40, 44, "The span [40, 44) ends after the text, which has 43 characters."),
        (7, 7, "A span needs start < end (got start=7, end=7)."),
        (-2, 3, "Offsets cannot be negative (got start=-2, end=3)."),
    ],
)
def test_offsets_outside_the_text_are_refused_and_nothing_is_written(news, start, end, message):
    before = snapshot(news.annotation_set)
    with pytest.raises(InvalidAnnotation, match=re.escape(message)) as refusal:
        add(news, (start, end))
    assert refusal.value.field == "start"
    assert snapshot(news.annotation_set) == before


def test_a_declared_surface_that_does_not_match_the_text_is_refused(news):
    before = snapshot(news.annotation_set)
    with pytest.raises(InvalidAnnotation) as refusal:
        services.create_span(
            annotation_set=news.annotation_set,
            start=1,
            end=17,
            entity_type=news.person,
            by=news.annotator,
            expected_version=1,
            surface="Sergey Naryshkin",
        )
    assert refusal.value.message == (
        "The text at [1, 17) is 'ergey Naryshkin ', not 'Sergey Naryshkin': the offsets do not match the text "
        "you selected."
    )
    assert refusal.value.field == "surface"
    assert snapshot(news.annotation_set) == before


def test_offsets_are_code_points_with_emoji_zwj_combining_marks_and_rtl(news):
    text = "👩‍👩‍👧 Café\u0301 met \u05dc\u05d5\u05e7 in 🇧🇾 Minsk"
    article = ArticleFactory(project=news.project, text=text)
    annotation_set = services.get_or_create_own_set(article=article, user=news.annotator)
    expected = {
        "👩‍👩‍👧": (0, 5),
        "Café\u0301": (6, 11),
        "\u05dc\u05d5\u05e7": (16, 19),
        "🇧🇾": (23, 25),
        "Minsk": (26, 31),
    }
    for surface, (start, end) in expected.items():
        span = services.create_span(
            annotation_set=annotation_set,
            start=start,
            end=end,
            entity_type=news.person,
            by=news.annotator,
            expected_version=annotation_set.version,
            surface=surface,
        )
        assert span.surface == text[start:end] == surface
    assert annotation_set.version == 6


def test_entity_types_of_another_project_are_refused(news):
    foreign = EntityTypeFactory(project=ProjectFactory(), name="PERSON")
    with pytest.raises(InvalidAnnotation, match="That entity type belongs to another project.") as refusal:
        add(news, NARYSHKIN, entity_type=foreign)
    assert refusal.value.field == "entity_type"
    assert Span.objects.count() == 0


def test_duplicates_are_refused_and_overlaps_follow_the_project_setting(news):
    add(news, NARYSHKIN)
    with pytest.raises(
        InvalidAnnotation, match=re.escape("A PERSON span at [0, 16) already exists in this set.")
    ):
        add(news, NARYSHKIN)
    add(news, (7, 16))  # nested "Naryshkin": allowed by default
    news.project.allow_overlapping_spans = False
    news.project.save()
    with pytest.raises(InvalidAnnotation, match=re.escape("[10, 20) overlaps the span at [0, 16)")):
        add(news, (10, 20))
    assert Span.objects.count() == 2


def test_change_span_moves_boundaries_and_type_keeping_before_and_after(news):
    span = add(news, (0, 6))
    services.change_span(span=span, by=news.manager, expected_version=2, end=16)
    services.change_span(span=span, by=news.annotator, expected_version=3, entity_type=news.org)
    span.refresh_from_db()
    assert (span.start, span.end, span.surface, span.entity_type) == (0, 16, "Sergey Naryshkin", news.org)
    history = list(
        span.history.order_by("history_id").values_list("history_type", "end", "surface", "entity_type_id")
    )
    assert history == [
        ("+", 6, "Sergey", news.person.pk),
        ("~", 16, "Sergey Naryshkin", news.person.pk),
        ("~", 16, "Sergey Naryshkin", news.org.pk),
    ]
    assert [h.history_user.username for h in span.history.order_by("history_id")] == [
        "alice",
        "maria",
        "alice",
    ]
    with pytest.raises(InvalidAnnotation, match="The span already has these boundaries and this type."):
        services.change_span(span=span, by=news.annotator, expected_version=4, entity_type=news.org)


def test_delete_span_removes_its_link_and_relations_with_history(news):
    head = add(news, NARYSHKIN)
    tail = add(news, MINSK, entity_type=news.gpe)
    services.create_relation(
        annotation_set=news.annotation_set,
        head=head,
        tail=tail,
        relation_type=news.visited,
        by=news.annotator,
        expected_version=3,
    )
    services.link_span(span=tail, kb_entity=news.minsk, by=news.annotator, expected_version=4)
    services.delete_span(span=tail, by=news.manager, expected_version=5)
    assert list(Span.objects.values_list("surface", flat=True)) == ["Sergey Naryshkin"]
    assert Relation.objects.count() == 0
    assert EntityLink.objects.count() == 0
    deletions = [
        (model.__name__, record.history_user.username)
        for model in (Span, Relation, EntityLink)
        for record in model.history.filter(history_type="-")
    ]
    assert sorted(deletions) == [("EntityLink", "maria"), ("Relation", "maria"), ("Span", "maria")]
    assert news.annotation_set.version == 6


def test_links_go_to_a_project_kb_entity_or_nil_and_update_in_place(news):
    span = add(news, NARYSHKIN)
    link = services.link_span(span=span, kb_entity=news.naryshkin, by=news.annotator, expected_version=2)
    assert link.kb_entity == news.naryshkin
    nil = services.link_span(span=span, kb_entity=None, by=news.annotator, expected_version=3)
    assert (nil.pk, nil.is_nil) == (link.pk, True)
    assert list(link.history.order_by("history_id").values_list("kb_entity__kb_id", flat=True)) == [
        "sergey-naryshkin",
        None,
    ]
    foreign = KBEntityFactory(kb_id="sergey-naryshkin", name="Sergey Naryshkin")
    with pytest.raises(InvalidAnnotation, match="That KB entity is not in this project's knowledge bases."):
        services.link_span(span=span, kb_entity=foreign, by=news.annotator, expected_version=4)
    services.unlink_span(span=span, by=news.annotator, expected_version=4)
    assert EntityLink.objects.count() == 0


def test_linking_to_a_merged_entity_is_refused_with_where_it_went(news):
    duplicate = KBEntityFactory(knowledge_base=news.kb, kb_id="naryshkin-2", name="S. Naryshkin")
    duplicate.merged_into = news.naryshkin
    duplicate.save()
    span = add(news, NARYSHKIN)
    with pytest.raises(
        InvalidAnnotation, match="S. Naryshkin was merged into sergey-naryshkin; link to that entity."
    ):
        services.link_span(span=span, kb_entity=duplicate, by=news.annotator, expected_version=2)


def test_relations_only_where_the_schema_allows_them(news):
    naryshkin = add(news, NARYSHKIN)
    minsk = add(news, MINSK, entity_type=news.gpe)
    date = add(news, APRIL_15, entity_type=news.date)
    before = snapshot(news.annotation_set)
    with pytest.raises(InvalidAnnotation) as refusal:
        services.create_relation(
            annotation_set=news.annotation_set,
            head=minsk,
            tail=naryshkin,
            relation_type=news.visited,
            by=news.annotator,
            expected_version=4,
        )
    assert refusal.value.message == "The schema does not allow visited from a GPE to a PERSON."
    assert refusal.value.field == "relation_type"
    with pytest.raises(InvalidAnnotation, match="The schema does not allow visited from a PERSON to a DATE."):
        services.create_relation(
            annotation_set=news.annotation_set,
            head=naryshkin,
            tail=date,
            relation_type=news.visited,
            by=news.annotator,
            expected_version=4,
        )
    assert snapshot(news.annotation_set) == before
    relation = services.create_relation(
        annotation_set=news.annotation_set,
        head=naryshkin,
        tail=minsk,
        relation_type=news.visited,
        by=news.annotator,
        expected_version=4,
    )
    assert (relation.head, relation.tail) == (naryshkin, minsk)
    with pytest.raises(
        InvalidAnnotation, match="Sergey Naryshkin -visited-> Minsk already exists in this set."
    ):
        services.create_relation(
            annotation_set=news.annotation_set,
            head=naryshkin,
            tail=minsk,
            relation_type=news.visited,
            by=news.annotator,
            expected_version=5,
        )


def test_symmetric_relations_are_stored_once_whatever_the_order(news):
    first = add(news, (0, 6))
    second = add(news, (7, 16))
    relation = services.create_relation(
        annotation_set=news.annotation_set,
        head=second,
        tail=first,
        relation_type=news.met_with,
        by=news.annotator,
        expected_version=3,
    )
    assert (relation.head, relation.tail) == (first, second)
    with pytest.raises(InvalidAnnotation, match="already exists in this set"):
        services.create_relation(
            annotation_set=news.annotation_set,
            head=first,
            tail=second,
            relation_type=news.met_with,
            by=news.annotator,
            expected_version=4,
        )


def test_relations_need_spans_of_their_own_set(news):
    head = add(news, NARYSHKIN)
    gold = services.get_or_create_gold_set(article=news.article)
    tail = add(news, MINSK, entity_type=news.gpe, annotation_set=gold)
    with pytest.raises(InvalidAnnotation, match="The tail span belongs to another annotation set."):
        services.create_relation(
            annotation_set=news.annotation_set,
            head=head,
            tail=tail,
            relation_type=news.visited,
            by=news.annotator,
            expected_version=2,
        )


def test_submitted_sets_take_no_edits_until_reopened(news):
    add(news, NARYSHKIN)
    services.submit_set(annotation_set=news.annotation_set, by=news.annotator, expected_version=2)
    assert (news.annotation_set.status, news.annotation_set.version) == (SetStatus.SUBMITTED, 3)
    assert news.annotation_set.submitted_at is not None
    before = snapshot(news.annotation_set)
    with pytest.raises(
        NotEditable, match="This annotation set is submitted; it must be in progress for this action."
    ):
        add(news, MINSK, entity_type=news.gpe, version=3)
    assert snapshot(news.annotation_set) == before
    services.reopen_set(annotation_set=news.annotation_set, by=news.annotator, expected_version=3)
    add(news, MINSK, entity_type=news.gpe, version=4)
    statuses = list(
        news.annotation_set.history.order_by("history_id").values_list("status", "history_user__username")
    )
    assert statuses == [("in_progress", None), ("submitted", "alice"), ("in_progress", "alice")]


def test_gold_sets_are_curated_on_submit(news):
    gold = services.get_or_create_gold_set(article=news.article)
    assert (gold.kind, gold.annotator) == (SetKind.GOLD, None)
    services.submit_set(annotation_set=gold, by=news.manager, expected_version=1)
    assert gold.status == SetStatus.CURATED
    assert services.get_or_create_gold_set(article=news.article) == gold


def test_a_set_records_the_guideline_version_it_was_made_under(news):
    from annotator.projects.services import update_guidelines

    version = update_guidelines(project=news.project, text="Mark names.", by=news.manager)
    article = ArticleFactory(project=news.project)
    assert services.get_or_create_own_set(article=article, user=news.annotator).guideline_version == version
    assert (
        update_guidelines(project=news.project, text="Mark names.", by=news.manager) == version
    )  # unchanged
    assert update_guidelines(project=news.project, text="Mark names and dates.", by=news.manager).number == 2


def test_creating_a_span_costs_the_same_queries_however_many_spans_the_set_has(news):
    def queries_for_one_more(start):
        with CaptureQueriesContext(connection) as queries:
            add(news, (start, start + 1))
        return len(queries)

    starts = [at for at, char in enumerate(news.article.text) if not char.isspace()]  # no blank span
    first = queries_for_one_more(starts[0])
    for start in starts[1:30]:
        add(news, (start, start + 1))
    assert queries_for_one_more(starts[35]) == first
    assert first <= 8  # savepoint, claim, article facts, surface, room check, insert, history, release


def test_a_refused_action_leaves_the_callers_set_at_its_version_so_the_next_one_succeeds(news):
    add(news, NARYSHKIN)
    with pytest.raises(InvalidAnnotation):
        add(news, NARYSHKIN)  # duplicate: claimed version 3, then rolled back
    assert news.annotation_set.version == 2
    with pytest.raises(NotEditable):
        services.reopen_set(annotation_set=news.annotation_set, by=news.annotator, expected_version=2)
    assert (news.annotation_set.version, news.annotation_set.status) == (2, SetStatus.IN_PROGRESS)
    add(news, MINSK, entity_type=news.gpe)
    assert news.annotation_set.version == 3
