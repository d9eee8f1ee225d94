"""Decisions on suggestions: provenance kept, exactly the right annotations made, and undone."""

import pytest

from annotator.annotations import services as annotations
from annotator.annotations.models import EntityLink, Relation, Span
from annotator.core.errors import InvalidAnnotation, StaleVersion
from annotator.suggestions import services
from annotator.suggestions.models import Decision, SuggestionKind, Verdict
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import ArticleFactory, SuggestionFactory

pytestmark = pytest.mark.django_db


def entity_suggestion(news, start_end=NARYSHKIN, entity_type=None, **fields):
    return SuggestionFactory(
        article=news.article,
        start=start_end[0],
        end=start_end[1],
        entity_type=entity_type or news.person,
        **fields,
    )


def relation_suggestion(news):
    return SuggestionFactory(
        article=news.article,
        kind=SuggestionKind.RELATION,
        start=NARYSHKIN[0],
        end=NARYSHKIN[1],
        entity_type=news.person,
        tail_start=MINSK[0],
        tail_end=MINSK[1],
        tail_entity_type=news.gpe,
        relation_type=news.visited,
        source="rule:visited",
    )


def link_suggestion(news, kb_entity, entity_type=None):
    return SuggestionFactory(
        article=news.article,
        kind=SuggestionKind.LINK,
        start=NARYSHKIN[0],
        end=NARYSHKIN[1],
        entity_type=entity_type,
        kb_entity=kb_entity,
        source="kb-candidates",
    )


def decide(verb, news, suggestion, **fields):
    return getattr(services, f"{verb}_suggestion")(
        suggestion=suggestion,
        annotation_set=news.annotation_set,
        by=news.annotator,
        expected_version=news.annotation_set.version,
        **fields,
    )


def test_accepting_an_entity_makes_the_span_and_records_the_decision(news):
    suggestion = entity_suggestion(news, score=0.83)
    decision = decide("accept", news, suggestion)
    span = Span.objects.get()
    assert (span.start, span.end, span.entity_type, span.surface) == (0, 16, news.person, "Sergey Naryshkin")
    assert (decision.verdict, decision.span, decision.decided_by) == (Verdict.ACCEPTED, span, news.annotator)
    assert decision.result == {
        "created": [f"span:{span.pk}"],
        "span": {"start": 0, "end": 16, "type": "PERSON", "text": "Sergey Naryshkin"},
    }
    # The provenance is data: from the decision back to the model version, its source and score.
    provenance = Decision.objects.values_list(
        "suggestion__suggester_version__name", "suggestion__source", "suggestion__score"
    ).get()
    assert provenance == ("kb-ruler", "kb-ruler", 0.83)
    assert news.annotation_set.version == 2


def test_accepting_reuses_a_span_the_set_already_has_and_undo_keeps_it(news):
    span = annotations.create_span(
        annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person, by=news.annotator,
        expected_version=1,
    )  # fmt: skip
    decision = decide("accept", news, entity_suggestion(news))
    assert (decision.span, decision.result["created"]) == (span, [])
    services.undo_decision(decision=decision, by=news.annotator, expected_version=3)
    assert list(Span.objects.all()) == [span]
    assert Decision.objects.count() == 0


def test_accepting_a_relation_makes_both_spans_and_the_relation_and_undo_removes_exactly_those(news):
    decision = decide("accept", news, relation_suggestion(news))
    relation = Relation.objects.select_related("head", "tail").get()
    assert (relation.head.surface, relation.relation_type, relation.tail.surface) == (
        "Sergey Naryshkin",
        news.visited,
        "Minsk",
    )
    assert sorted(decision.result["created"]) == sorted(
        [f"span:{relation.head_id}", f"span:{relation.tail_id}", f"relation:{relation.pk}"]
    )
    assert news.annotation_set.version == 2  # one action, one version
    services.undo_decision(decision=decision, by=news.annotator, expected_version=2)
    assert (Span.objects.count(), Relation.objects.count(), Decision.objects.count()) == (0, 0, 0)
    assert Decision.history.filter(history_type="-").get().history_user == news.annotator


def test_accepting_a_link_links_the_mention_and_correcting_one_can_mark_it_nil(news):
    accepted = decide("accept", news, link_suggestion(news, news.naryshkin, entity_type=news.person))
    assert accepted.link.kb_entity == news.naryshkin
    assert accepted.result["link"] == {"kb_id": "sergey-naryshkin", "nil": False}
    wrong = link_suggestion(news, news.minsk, entity_type=news.person)
    corrected = decide("correct", news, wrong, nil=True)
    assert corrected.verdict == Verdict.CORRECTED
    assert EntityLink.objects.get().is_nil
    assert corrected.result["link"] == {"kb_id": None, "nil": True}


def test_a_link_suggestion_without_a_type_needs_the_mention_annotated_first(news):
    suggestion = link_suggestion(news, news.naryshkin)
    with pytest.raises(InvalidAnnotation, match="Annotate the mention as an entity before linking it."):
        decide("accept", news, suggestion)
    assert news.annotation_set.version == 1
    annotations.create_span(
        annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person, by=news.annotator,
        expected_version=1,
    )  # fmt: skip
    assert decide("accept", news, suggestion).link.kb_entity == news.naryshkin


def test_correcting_an_entity_takes_other_boundaries_or_type(news):
    suggestion = entity_suggestion(news, start_end=(7, 16), entity_type=news.org)
    decision = decide("correct", news, suggestion, start=0, entity_type=news.person)
    assert (decision.verdict, decision.span.surface, decision.span.entity_type) == (
        Verdict.CORRECTED,
        "Sergey Naryshkin",
        news.person,
    )
    with pytest.raises(
        InvalidAnnotation, match="The correction is the suggestion itself: accept it instead."
    ):
        decide("correct", news, entity_suggestion(news), entity_type=news.person)


def test_rejecting_writes_only_the_decision(news):
    decision = decide("reject", news, entity_suggestion(news))
    assert (decision.verdict, decision.span, decision.result) == (Verdict.REJECTED, None, {"created": []})
    assert Span.objects.count() == 0


def test_a_suggestion_is_decided_once_per_set(news):
    suggestion = entity_suggestion(news)
    decide("reject", news, suggestion)
    with pytest.raises(
        InvalidAnnotation, match="This suggestion was already rejected in this set; undo that decision"
    ):
        decide("accept", news, suggestion)
    assert (Decision.objects.count(), Span.objects.count(), news.annotation_set.version) == (1, 0, 2)


def test_a_suggestion_for_another_article_is_refused(news):
    other = SuggestionFactory(article=ArticleFactory(project=news.project), entity_type=news.person)
    with pytest.raises(InvalidAnnotation, match="That suggestion is for another article."):
        decide("accept", news, other)


def test_a_stale_version_decides_nothing(news):
    suggestion = relation_suggestion(news)
    with pytest.raises(StaleVersion):
        services.accept_suggestion(
            suggestion=suggestion, annotation_set=news.annotation_set, by=news.annotator, expected_version=7
        )
    assert (Decision.objects.count(), Span.objects.count(), Relation.objects.count()) == (0, 0, 0)
