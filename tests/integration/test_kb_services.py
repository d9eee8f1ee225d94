"""KB services: create, edit and merge entities; exact rows written, and nothing when they refuse."""

import pytest

from annotator.annotations import services as annotations
from annotator.annotations.models import AnnotationSet, EntityLink, SetStatus
from annotator.core.upsert import Change
from annotator.kb.models import Alias, KBEntity, KnowledgeBase
from annotator.kb.services import (
    EntityRecord,
    InvalidEntity,
    create_entity,
    create_knowledge_base,
    merge_entities,
    update_entity,
    upsert_entity,
)
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import ArticleFactory, KBEntityFactory, KnowledgeBaseFactory, UserFactory

pytestmark = pytest.mark.django_db


def aliases(entity):
    return sorted(Alias.objects.filter(entity=entity).values_list("text", "language", "normalized", "manual"))


def test_create_entity_writes_the_entity_and_its_names_as_manual_aliases(news):
    entity = create_entity(
        knowledge_base=news.kb, name=" Ivan Tertel ", description="Chairman of the KGB of Belarus.", type="PERSON",
        prior=0.6, aliases=["Tertel", "  ", "Tertel", "ТЭРТЭЛЬ"], language="en", by=news.annotator,
    )  # fmt: skip
    entity.refresh_from_db()
    assert (entity.kb_id, entity.name, entity.description, entity.type, entity.prior, entity.metadata) == (
        "ivan-tertel", "Ivan Tertel", "Chairman of the KGB of Belarus.", "PERSON", 0.6, {"created_by": "alice"},
    )  # fmt: skip
    assert aliases(entity) == [
        ("Ivan Tertel", "en", "ivan tertel", True),
        ("Tertel", "en", "tertel", True),
        ("ТЭРТЭЛЬ", "en", "тэртэль", True),
    ]


def test_generated_ids_avoid_the_ones_taken_and_keep_non_latin_letters(news):
    KBEntityFactory(knowledge_base=news.kb, kb_id="minsk-2")
    assert create_entity(knowledge_base=news.kb, name="Minsk", by=None).kb_id == "minsk-3"
    assert create_entity(knowledge_base=news.kb, name="Минск", by=None).kb_id == "минск"
    assert create_entity(knowledge_base=news.kb, name="!!!", by=None).kb_id == "entity"
    assert create_entity(knowledge_base=news.kb, name="?", by=None).kb_id == "entity-2"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "  "}, "name", "The name is missing."),
        ({"name": "X", "prior": 1.2}, "prior", "The prior must be a number between 0 and 1 (got 1.2)."),
        ({"name": "X", "kb_id": "minsk"}, "kb_id", "News KB already has an entity with the id 'minsk'."),
        ({"name": "X", "type": "WEAPON"}, "type",
         "'WEAPON' is not an entity type of this project (its types are DATE, GPE, ORG, PERSON)."),
        ({"name": "X", "aliases": ["a" * 501]}, "aliases",
         f"The alias {'a' * 40 + '…'!r} is longer than 500 characters."),
        ({"name": "X\x00"}, "name", "The name holds a NUL character, which text cannot hold."),
    ],
)  # fmt: skip
def test_create_entity_refuses_bad_fields_and_writes_nothing(news, fields, field, message):
    before = (KBEntity.objects.count(), Alias.objects.count())
    with pytest.raises(InvalidEntity) as refused:
        create_entity(knowledge_base=news.kb, by=None, **fields)
    assert (refused.value.field, refused.value.message) == (field, message)
    assert (KBEntity.objects.count(), Alias.objects.count()) == before


def test_update_entity_edits_fields_and_aliases_keeping_the_name_as_one(news):
    upsert_entity(
        knowledge_base=news.kb,
        record=EntityRecord(
            kb_id="minsk", name="Minsk", aliases=(("MINSK", "en"), ("Mensk", "be")), type="GPE"
        ),
    )
    update_entity(
        entity=news.minsk, name="Minsk city", description="Capital of Belarus.", type="GPE", prior=0.8,
        aliases=["Mensk", "Minsk", "Horad Minsk"],
    )  # fmt: skip
    news.minsk.refresh_from_db()
    assert (news.minsk.name, news.minsk.description, news.minsk.prior) == (
        "Minsk city",
        "Capital of Belarus.",
        0.8,
    )
    assert aliases(news.minsk) == [
        ("Horad Minsk", "", "horad minsk", True),
        ("Mensk", "be", "mensk", False),  # kept as it was, language included
        ("Minsk", "", "minsk", False),
        ("Minsk city", "", "minsk city", True),
    ]


def test_update_entity_keeps_an_unknown_type_it_already_had_but_refuses_a_new_one(news):
    KBEntity.objects.filter(pk=news.minsk.pk).update(type="Q515")
    news.minsk.refresh_from_db()
    update_entity(entity=news.minsk, name="Minsk", description="", type="Q515", prior=0.5, aliases=[])
    with pytest.raises(InvalidEntity, match="'CITY' is not an entity type of this project"):
        update_entity(entity=news.minsk, name="Minsk", description="", type="CITY", prior=0.5, aliases=[])


def test_create_knowledge_base_refuses_blank_and_taken_names(news):
    kb = create_knowledge_base(project=news.project, name=" Wikidata ", languages=["en", "ru"])
    assert (kb.name, kb.languages) == ("Wikidata", ["en", "ru"])
    with pytest.raises(InvalidEntity, match="This project already has a knowledge base named 'News KB'."):
        create_knowledge_base(project=news.project, name="News KB")
    with pytest.raises(InvalidEntity, match="Give the knowledge base a name."):
        create_knowledge_base(project=news.project, name=" ")


def linked_span(news, annotation_set, start_end, entity, user):
    span = annotations.create_span(
        annotation_set=annotation_set, start=start_end[0], end=start_end[1], entity_type=news.person, by=user,
        expected_version=annotation_set.version,
    )  # fmt: skip
    annotations.link_span(span=span, kb_entity=entity, by=user, expected_version=annotation_set.version)
    return span


def test_merging_moves_links_in_every_set_aliases_and_bumps_versions(news):
    duplicate = KBEntityFactory(
        knowledge_base=news.kb, kb_id="naryshkin-dup", name="S. Naryshkin", type="PERSON"
    )
    Alias.objects.create(entity=duplicate, text="S. Naryshkin")
    Alias.objects.create(entity=duplicate, text="Sergey Naryshkin")  # the survivor's name: not moved twice
    Alias.objects.create(entity=news.naryshkin, text="Sergey Naryshkin")
    mine = linked_span(news, news.annotation_set, NARYSHKIN, duplicate, news.annotator)
    bob = UserFactory(username="bob")
    other_set = annotations.get_or_create_own_set(article=news.article, user=bob)
    theirs = linked_span(news, other_set, NARYSHKIN, duplicate, bob)
    annotations.submit_set(annotation_set=other_set, by=bob, expected_version=other_set.version)
    untouched_set = annotations.get_or_create_gold_set(article=ArticleFactory(project=news.project))
    linked_span(news, news.annotation_set, MINSK, news.minsk, news.annotator)
    versions = dict(AnnotationSet.objects.values_list("pk", "version"))
    older = KBEntityFactory(knowledge_base=news.kb, kb_id="older", name="Old", merged_into=duplicate)

    report = merge_entities(duplicate=duplicate, into=news.naryshkin, by=news.manager)

    assert (report.links_moved, report.aliases_moved, report.sets_changed) == (2, 1, 2)
    assert {
        link.span_id: link.kb_entity_id for link in EntityLink.objects.filter(span__in=[mine, theirs])
    } == {
        mine.pk: news.naryshkin.pk,
        theirs.pk: news.naryshkin.pk,
    }
    assert dict(AnnotationSet.objects.values_list("pk", "version")) == {
        news.annotation_set.pk: versions[news.annotation_set.pk] + 1,
        other_set.pk: versions[other_set.pk] + 1,
        untouched_set.pk: versions[untouched_set.pk],
    }
    assert AnnotationSet.objects.get(pk=other_set.pk).status == SetStatus.SUBMITTED
    history = EntityLink.history.filter(span=theirs).order_by("history_id").last()
    assert (history.kb_entity_id, history.history_user, history.history_type) == (
        news.naryshkin.pk,
        news.manager,
        "~",
    )
    assert aliases(news.naryshkin) == [
        ("S. Naryshkin", "", "s. naryshkin", True),
        ("Sergey Naryshkin", "", "sergey naryshkin", False),
    ]
    assert aliases(duplicate) == []
    duplicate.refresh_from_db()
    older.refresh_from_db()
    assert (duplicate.merged_into, older.merged_into) == (news.naryshkin, news.naryshkin)


def test_merging_adds_the_duplicates_name_as_an_alias_when_it_had_none(news):
    duplicate = KBEntityFactory(knowledge_base=news.kb, kb_id="m2", name="Mensk")
    merge_entities(duplicate=duplicate, into=news.minsk, by=None)
    assert aliases(news.minsk) == [("Mensk", "", "mensk", True)]


def test_merging_across_knowledge_bases_of_one_project_moves_aliases_to_the_survivors_kb(news):
    local = KnowledgeBase.objects.create(project=news.project, name="Local")
    duplicate = KBEntityFactory(knowledge_base=local, kb_id="minsk-local", name="Minsk (local)")
    Alias.objects.create(entity=duplicate, text="Minsk (local)")
    merge_entities(duplicate=duplicate, into=news.minsk, by=None)
    assert list(Alias.objects.filter(entity=news.minsk).values_list("text", "knowledge_base")) == [
        ("Minsk (local)", news.kb.pk)
    ]


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("self", "into", "An entity cannot be merged into itself."),
        ("foreign", "into", "Both entities must belong to this project's knowledge bases."),
        ("merged", "duplicate", "Gone (gone) was already merged into another entity."),
        ("merged-into", "into", "Gone (gone) was already merged into another entity."),
    ],
)
def test_merging_refuses_and_writes_nothing(news, case, field, message):
    gone = KBEntityFactory(knowledge_base=news.kb, kb_id="gone", name="Gone", merged_into=news.minsk)
    foreign = KBEntityFactory(knowledge_base=KnowledgeBaseFactory(), kb_id="foreign")
    duplicate, into = {
        "self": (news.minsk, news.minsk),
        "foreign": (news.minsk, foreign),
        "merged": (gone, news.naryshkin),
        "merged-into": (news.naryshkin, gone),
    }[case]
    with pytest.raises(InvalidEntity) as refused:
        merge_entities(duplicate=duplicate, into=into, by=None)
    assert (refused.value.field, refused.value.message) == (field, message)
    assert KBEntity.objects.filter(merged_into__isnull=False).count() == 1


def test_upsert_entity_still_reports_its_change(news):
    record = EntityRecord(
        kb_id="vitebsk", name="Vitebsk", aliases=(("Viciebsk", "be"),), type="GPE", prior=0.4
    )
    entity, change = upsert_entity(knowledge_base=news.kb, record=record)
    assert change is Change.CREATED
    assert upsert_entity(knowledge_base=news.kb, record=record) == (entity, Change.UNCHANGED)
    with pytest.raises(ValueError, match=r"The prior must be a number between 0 and 1 \(got 2\)\. \('x'\)"):
        upsert_entity(knowledge_base=news.kb, record=EntityRecord(kb_id="x", name="X", prior=2))
