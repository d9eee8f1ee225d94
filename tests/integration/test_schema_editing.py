"""Changing the schema under annotations: renames, keys, merges and deletes leave nothing orphaned."""

import pytest
from django.core.exceptions import ValidationError

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span, SpanAttribute
from annotator.annotations.services import (
    create_relation,
    create_span,
    get_or_create_gold_set,
    link_span,
    set_span_attribute,
)
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, EntityTypeAttribute, RelationType
from annotator.projects.schema_changes import delete_entity_type, entity_type_usage, merge_entity_type
from annotator.projects.schema_editing import (
    SchemaConflict,
    delete_attribute,
    delete_relation_type,
    merge_relation_type,
    save_attribute,
    save_entity_type,
    save_relation_type,
)
from annotator.suggestions.models import SuggesterSettings, Suggestion
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import EntityTypeFactory, SuggestionFactory

pytestmark = pytest.mark.django_db


def span(news, annotation_set, where, entity_type):
    annotation_set.refresh_from_db()
    return create_span(
        annotation_set=annotation_set,
        start=where[0],
        end=where[1],
        entity_type=entity_type,
        by=news.annotator,
        expected_version=annotation_set.version,
    )


@pytest.fixture
def city(news):
    """A CITY type with an attribute, used next to GPE: Minsk is both GPE and CITY in alice's set."""
    city = EntityTypeFactory(project=news.project, name="CITY", key="c")
    capital = EntityTypeAttribute.objects.create(entity_type=city, name="capital", kind="boolean")
    news.visited.tail_types.add(city)
    aset = news.annotation_set
    naryshkin = span(news, aset, NARYSHKIN, news.person)
    minsk_gpe = span(news, aset, MINSK, news.gpe)
    minsk_city = span(news, aset, MINSK, city)
    aset.refresh_from_db()
    set_span_attribute(
        span=minsk_city, attribute=capital, value=True, by=news.annotator, expected_version=aset.version
    )
    aset.refresh_from_db()
    create_relation(
        annotation_set=aset,
        head=naryshkin,
        tail=minsk_city,
        relation_type=news.visited,
        by=news.annotator,
        expected_version=aset.version,
    )
    aset.refresh_from_db()
    link_span(span=minsk_city, kb_entity=news.minsk, by=news.annotator, expected_version=aset.version)
    gold = get_or_create_gold_set(article=news.article)
    gold_city = span(news, gold, MINSK, city)
    SuggestionFactory(article=news.article, start=25, end=30, entity_type=city)
    KBEntity.objects.filter(pk=news.minsk.pk).update(type="CITY")
    SuggesterSettings.objects.create(project=news.project, label_map={"GPE": "CITY", "FAC": "LOC"})
    return city, capital, minsk_gpe, minsk_city, gold_city


def test_usage_counts_what_a_delete_would_remove(news, city):
    city_type = city[0]
    assert entity_type_usage(city_type).__dict__ == {
        "spans": 2,
        "gold_spans": 1,
        "relations": 1,
        "attribute_values": 1,
        "suggestions": 1,
        "sets": 2,
        "relation_types_only_this": (),
    }


def test_merging_moves_everything_and_folds_duplicates(news, city):
    city_type, capital, minsk_gpe, minsk_city, gold_city = city
    versions = dict(AnnotationSet.objects.values_list("pk", "version"))
    report = merge_entity_type(source=city_type, into=news.gpe, by=news.manager)
    assert (
        report.spans_moved,
        report.duplicates_removed,
        report.suggestions_moved,
        report.attributes_moved,
    ) == (
        1,
        1,
        1,
        1,
    )
    assert not EntityType.objects.filter(name="CITY").exists()
    # Alice's CITY Minsk folded into her GPE Minsk: its relation, attribute value and link went with it.
    assert not Span.objects.filter(pk=minsk_city.pk).exists()
    relation = Relation.objects.get()
    assert (relation.tail_id, relation.relation_type_id) == (minsk_gpe.pk, news.visited.pk)
    capital.refresh_from_db()
    assert capital.entity_type_id == news.gpe.pk
    assert list(SpanAttribute.objects.values_list("span_id", "attribute_id", "value")) == [
        (minsk_gpe.pk, capital.pk, True)
    ]
    assert EntityLink.objects.get().span_id == minsk_gpe.pk
    gold_city.refresh_from_db()
    assert gold_city.entity_type_id == news.gpe.pk
    assert Suggestion.objects.get().entity_type_id == news.gpe.pk
    assert sorted(t.name for t in news.visited.tail_types.all()) == ["GPE"]
    assert KBEntity.objects.get(pk=news.minsk.pk).type == "GPE"
    assert SuggesterSettings.objects.get().label_map == {"GPE": "GPE", "FAC": "LOC"}
    assert all(v == versions[pk] + 1 for pk, v in AnnotationSet.objects.values_list("pk", "version"))
    # With history, by the manager.
    moved = Span.history.filter(id=gold_city.pk).latest("history_date")
    assert (moved.history_type, moved.entity_type_id, moved.history_user_id) == (
        "~",
        news.gpe.pk,
        news.manager.pk,
    )
    gone = Span.history.filter(id=minsk_city.pk).latest("history_date")
    assert (gone.history_type, gone.history_user_id) == ("-", news.manager.pk)


def test_deleting_a_used_type_removes_its_annotations_with_history(news, city):
    city_type, gold_city = city[0], city[4]
    only_city = RelationType.objects.create(project=news.project, name="capital_of")
    only_city.head_types.set([city_type])
    usage = delete_entity_type(entity_type=city_type, by=news.manager)
    assert (usage.spans, usage.relations, usage.relation_types_only_this) == (2, 1, ("capital_of",))
    assert list(Span.objects.values_list("pk", flat=True).order_by("pk")) == sorted(
        Span.objects.filter(entity_type__in=[news.person, news.gpe]).values_list("pk", flat=True)
    )
    assert Span.objects.count() == 2
    assert (Relation.objects.count(), SpanAttribute.objects.count(), EntityLink.objects.count()) == (0, 0, 0)
    assert not Suggestion.objects.exists()
    assert not EntityTypeAttribute.objects.exists()
    assert list(RelationType.objects.filter(project=news.project).values_list("name", flat=True)) == [
        "met_with",
        "visited",
    ]
    assert SuggesterSettings.objects.get().label_map == {"FAC": "LOC"}
    gone = Span.history.filter(id=gold_city.pk).latest("history_date")
    assert (gone.history_type, gone.history_user_id) == ("-", news.manager.pk)


def test_renames_are_free_and_keys_cannot_clash(news, city):
    city_type = city[0]
    save_entity_type(
        project=news.project, entity_type=city_type, values={"name": "TOWN", "colour": "#1f9bd1"}
    )
    assert KBEntity.objects.get(pk=news.minsk.pk).type == "TOWN"
    assert SuggesterSettings.objects.get().label_map["GPE"] == "TOWN"
    assert Span.objects.filter(entity_type=city_type).count() == 2
    with pytest.raises(ValidationError) as caught:
        save_entity_type(project=news.project, values={"name": "PLACE", "key": "P"})
    assert caught.value.message_dict == {"key": ["Another entity type of the project has the key 'P'."]}
    with pytest.raises(ValidationError) as caught:
        save_entity_type(project=news.project, values={"name": "GPE"})
    assert caught.value.message_dict == {"name": ["Another entity type of the project is named 'GPE'."]}
    made = save_entity_type(project=news.project, values={"name": "PLACE", "key": "x"})
    assert made.position == 5


def test_narrowing_a_relation_type_asks_before_removing_relations(news, city):
    city_type = city[0]
    values = {"name": "visited", "directed": True}
    with pytest.raises(SchemaConflict) as caught:
        save_relation_type(
            project=news.project,
            relation_type=news.visited,
            values=values,
            head_types=[news.person],
            tail_types=[news.gpe],
        )
    assert caught.value.count == 1
    assert Relation.objects.count() == 1
    save_relation_type(
        project=news.project,
        relation_type=news.visited,
        values=values,
        head_types=[news.person],
        tail_types=[news.gpe],
        remove_unfitting=True,
        by=news.manager,
    )
    assert Relation.objects.count() == 0
    # Widening needs no confirmation.
    save_relation_type(
        project=news.project, relation_type=news.visited, values=values, head_types=[], tail_types=[city_type]
    )


def test_relation_types_merge_and_delete(news, city):
    went = RelationType.objects.create(project=news.project, name="went_to")
    went.head_types.set([news.person])
    went.tail_types.set([news.gpe])
    moved = merge_relation_type(source=news.visited, into=went, by=news.manager)
    assert moved == 1
    assert Relation.objects.get().relation_type_id == went.pk
    assert sorted(t.name for t in went.tail_types.all()) == ["CITY", "GPE"]  # what visited allowed
    assert sorted(t.name for t in went.head_types.all()) == ["ORG", "PERSON"]
    assert delete_relation_type(relation_type=went, by=news.manager) == {
        "relations": 1,
        "sets": 1,
        "suggestions": 0,
    }
    assert not Relation.objects.exists()


def test_attribute_changes_ask_before_dropping_values(news, city):
    city_type, capital = city[0], city[1]
    with pytest.raises(SchemaConflict) as caught:
        save_attribute(
            entity_type=city_type, attribute=capital, values={"kind": "choice", "choices": ["yes", "no"]}
        )
    assert (caught.value.count, caught.value.field) == (1, "kind")
    save_attribute(entity_type=city_type, attribute=capital, values={"name": "is capital"})
    assert SpanAttribute.objects.count() == 1
    size = save_attribute(
        entity_type=city_type, values={"name": "size", "kind": "choice", "choices": ["big", "small"]}
    )
    minsk_city = city[3]
    aset = AnnotationSet.objects.get(pk=minsk_city.annotation_set_id)
    set_span_attribute(
        span=minsk_city, attribute=size, value="big", by=news.annotator, expected_version=aset.version
    )
    with pytest.raises(SchemaConflict):
        save_attribute(entity_type=city_type, attribute=size, values={"choices": ["small"]})
    save_attribute(
        entity_type=city_type,
        attribute=size,
        values={"choices": ["small"]},
        remove_values=True,
        by=news.manager,
    )
    assert list(SpanAttribute.objects.values_list("attribute__name", flat=True)) == ["is capital"]
    assert delete_attribute(attribute=capital, by=news.manager) == 1
    assert not SpanAttribute.objects.exists()
