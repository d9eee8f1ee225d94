"""The database refuses malformed rows by itself, whatever code writes them (no forms, no services here)."""

import pytest
from django.db import IntegrityError, transaction

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetKind, SetStatus, Span
from annotator.articles.models import Article
from annotator.jobs.models import Job
from annotator.kb.models import Alias, KBEntity
from annotator.projects.models import Membership
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind, Verdict
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import AnnotationSetFactory, SuggesterVersionFactory, SuggestionFactory, UserFactory

pytestmark = pytest.mark.django_db


def refused(create, *args, **fields):
    """Run the write in a savepoint and return whether the database refused it."""
    try:
        with transaction.atomic():
            create(*args, **fields)
    except IntegrityError:
        return True
    return False


def span(news, start, end, annotation_set=None, entity_type=None):
    return Span.objects.create(
        annotation_set=annotation_set or news.annotation_set,
        start=start,
        end=end,
        entity_type=entity_type or news.person,
        surface=news.article.text[start:end],
    )


@pytest.mark.parametrize(("start", "end"), [(5, 5), (6, 2), (-1, 4)])
def test_span_offsets_must_be_ordered_and_not_negative(news, start, end):
    assert refused(span, news=news, start=start, end=end)
    assert Span.objects.count() == 0


def test_the_same_span_twice_in_a_set_is_refused(news):
    span(news, *NARYSHKIN)
    assert refused(span, news=news, start=NARYSHKIN[0], end=NARYSHKIN[1])
    # The same offsets with another type are another span (overlaps are allowed by the model).
    span(news, *NARYSHKIN, entity_type=news.org)
    assert Span.objects.count() == 2


def test_one_gold_set_per_article(news):
    AnnotationSet.objects.create(article=news.article, kind=SetKind.GOLD)
    assert refused(AnnotationSet.objects.create, article=news.article, kind=SetKind.GOLD)


def test_one_set_per_annotator_and_article(news):
    assert refused(AnnotationSet.objects.create, article=news.article, annotator=news.annotator)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": SetKind.ANNOTATOR},  # an annotator set needs its annotator
        {"kind": SetKind.GOLD, "annotator_id": "user"},  # gold belongs to nobody
        {"kind": SetKind.IMPORTED, "name": ""},  # an imported set needs a name
        {"kind": "draft"},
        {"kind": SetKind.GOLD, "status": "done"},
        {"kind": SetKind.GOLD, "version": 0},
    ],
)
def test_annotation_set_shape_is_checked(news, fields):
    if fields.get("annotator_id") == "user":
        fields["annotator_id"] = UserFactory().pk
    assert refused(AnnotationSet.objects.create, article=news.article, **fields)


def test_only_gold_can_be_curated(news):
    AnnotationSet.objects.create(article=news.article, kind=SetKind.GOLD, status=SetStatus.CURATED)
    other = AnnotationSetFactory(article=news.article)
    assert refused(AnnotationSet.objects.filter(pk=other.pk).update, status=SetStatus.CURATED)


def test_relation_spans_must_be_in_the_relations_set(news):
    head = span(news, *NARYSHKIN)
    other_set = AnnotationSetFactory(article=news.article)
    tail_elsewhere = span(news, *MINSK, annotation_set=other_set, entity_type=news.gpe)
    assert refused(
        Relation.objects.create,
        annotation_set=news.annotation_set,
        head=head,
        tail=tail_elsewhere,
        relation_type=news.visited,
    )
    tail = span(news, *MINSK, entity_type=news.gpe)
    relation = Relation.objects.create(
        annotation_set=news.annotation_set, head=head, tail=tail, relation_type=news.visited
    )
    # Moving a related span, or the relation, to another set is refused too.
    assert refused(Relation.objects.filter(pk=relation.pk).update, annotation_set=other_set)
    assert refused(Span.objects.filter(pk=tail.pk).update, annotation_set=other_set)
    assert refused(Relation.objects.filter(pk=relation.pk).update, tail=tail_elsewhere)


def test_a_relation_from_a_span_to_itself_is_refused(news):
    head = span(news, *NARYSHKIN)
    assert refused(
        Relation.objects.create,
        annotation_set=news.annotation_set,
        head=head,
        tail=head,
        relation_type=news.visited,
    )


def test_one_link_per_span(news):
    mention = span(news, *NARYSHKIN)
    EntityLink.objects.create(span=mention, kb_entity=news.naryshkin)
    assert refused(EntityLink.objects.create, span=mention, kb_entity=None)


def test_membership_roles_are_checked_and_unique(news):
    assert refused(Membership.objects.create, project=news.project, user=UserFactory(), role="owner")
    assert refused(Membership.objects.create, project=news.project, user=news.annotator, role="manager")


def test_external_ids_are_unique_within_a_project_only(news, outsider):
    fields = {"text": "Other text.", "content_hash": "x" * 64, "external_id": "news-1"}
    assert refused(Article.objects.bulk_create, [Article(project=news.project, **fields)])
    other_project = Membership.objects.get(user=outsider).project
    Article.objects.bulk_create([Article(project=other_project, **fields)])
    # Articles without an external id do not collide with each other.
    Article.objects.bulk_create(
        [Article(project=news.project, text="A.", content_hash="a" * 64) for _ in range(2)]
    )


@pytest.mark.parametrize("fields", [{"text": ""}, {"external_id": ""}, {"content_hash": ""}])
def test_articles_need_text_and_no_blank_ids(news, fields):
    values = {"text": "Some text.", "content_hash": "y" * 64, "external_id": "fresh", **fields}
    assert refused(Article.objects.bulk_create, [Article(project=news.project, **values)])


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": SuggestionKind.ENTITY, "entity_type": None},
        {"kind": SuggestionKind.ENTITY, "score": 1.5},
        {"kind": SuggestionKind.ENTITY, "start": 9, "end": 3},
        {"kind": SuggestionKind.RELATION, "tail_start": 25, "tail_end": 30},  # no relation type
        {"kind": SuggestionKind.LINK, "entity_type": None},  # a link needs its KB candidate
        {"kind": "guess"},
    ],
)
def test_suggestion_shape_is_checked(news, fields):
    version = SuggesterVersionFactory(project=news.project)

    def create(**values):
        values = {
            "article": news.article,
            "suggester_version": version,
            "start": 0,
            "end": 16,
            "entity_type": news.person,
            "score": 0.5,
            "source": "test",
            **values,
        }
        Suggestion.objects.create(**values)

    assert refused(create, **fields)


def test_one_active_suggester_per_project(news):
    SuggesterVersionFactory(project=news.project, is_active=True)
    assert refused(SuggesterVersionFactory, project=news.project, is_active=True)
    SuggesterVersionFactory(project=news.project, is_active=False)
    assert SuggesterVersion.objects.filter(project=news.project).count() == 2


def test_one_decision_per_suggestion_and_set(news):
    suggestion = SuggestionFactory(article=news.article, entity_type=news.person)
    Decision.objects.create(
        suggestion=suggestion, annotation_set=news.annotation_set, verdict=Verdict.REJECTED
    )
    assert refused(
        Decision.objects.create,
        suggestion=suggestion,
        annotation_set=news.annotation_set,
        verdict=Verdict.ACCEPTED,
    )
    other = SuggestionFactory(article=news.article, entity_type=news.person)
    assert refused(
        Decision.objects.create, suggestion=other, annotation_set=news.annotation_set, verdict="maybe"
    )


def test_kb_entities_are_unique_and_priors_bounded(news):
    assert refused(KBEntity.objects.create, knowledge_base=news.kb, kb_id="minsk", name="Minsk again")
    assert refused(KBEntity.objects.create, knowledge_base=news.kb, kb_id="q", name="Q", prior=1.5)
    assert refused(KBEntity.objects.filter(pk=news.minsk.pk).update, merged_into=news.minsk)
    assert refused(Alias.objects.create, entity=news.minsk, knowledge_base=news.kb, text="  ")


@pytest.mark.parametrize("fields", [{"status": "paused"}, {"kind": "mine_bitcoin"}, {"progress_done": -1}])
def test_job_values_are_checked(news, fields):
    assert refused(Job.objects.create, **{"kind": "export", "project": news.project, **fields})
