"""Project agreement computed from the database: exact figures for a hand-worked article, the sets
counted, a constant number of queries per chunk of articles, and the cache."""

import pytest

from annotator.agreement import services
from annotator.agreement.comparison import sorted_by_disagreement
from annotator.agreement.measures import LinkTally, Overlap
from annotator.agreement.services import forget_agreements
from annotator.annotations import services as annotations
from tests.agreement_data import annotate, make_team
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import ArticleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_remembered_agreement():
    forget_agreements()
    yield
    forget_agreements()


@pytest.fixture
def team(news):
    return make_team(news)


def test_two_submitted_sets_give_the_hand_computed_figures(team):
    result = services.compute_agreement(project_id=team.project.pk)
    pair = (team.annotator.pk, team.bob.pk)
    assert list(result.pairs) == [pair]  # Carol's in-progress set is not counted
    figures = result.pairs[pair]
    assert figures.articles == 1
    assert figures.entities == Overlap(2, 3, 3)
    assert figures.entities.f1 == pytest.approx(2 / 3)
    assert figures.entities_overlapping == Overlap(3, 3, 3)  # "April" overlaps "April 15"
    assert figures.relations == Overlap(1, 1, 1)
    assert figures.links == LinkTally(agreed=1, compared=2, one_sided=0)
    # Contingency: PER/PER 2, GPE/GPE 1, DATE/DATE 1, DATE/O 1, O/O 3: p_o = 7/8, chance 19/64.
    assert figures.kappa == pytest.approx(37 / 45)
    # Coincidences: n = 16, diagonal 14; marginals PER 4, O 7, GPE 2, DATE 3: 1 - 15 * 2 / (256 - 78).
    assert result.alpha == pytest.approx(1 - 30 / 178)
    assert result.entities == figures.entities

    assert result.labels[team.person.pk].entities == Overlap(1, 1, 1)
    assert result.labels[team.person.pk].alpha == 1.0
    assert result.labels[team.person.pk].links == LinkTally(1, 1, 0)
    assert result.labels[team.gpe.pk].links == LinkTally(0, 1, 0)
    date = result.labels[team.date.pk]
    assert (date.entities, date.entities_overlapping) == (Overlap(0, 1, 1), Overlap(1, 1, 1))
    assert date.alpha == pytest.approx(1 - 30 / 78)  # DATE or not: 2 of 16 values disagree
    assert result.relation_types == {team.visited.pk: Overlap(1, 1, 1)}

    article = result.articles[team.article.pk]
    assert article.annotators == pair
    assert article.entities == Overlap(2, 3, 3)
    assert article.alpha == pytest.approx(result.alpha)
    assert article.by_pair == {pair: Overlap(2, 3, 3)}
    assert article.by_label[team.date.pk] == Overlap(0, 1, 1)


def test_in_progress_sets_count_when_asked(team):
    result = services.compute_agreement(project_id=team.project.pk, include_in_progress=True)
    alice, bob, carol = team.annotator.pk, team.bob.pk, team.carol.pk
    assert sorted(result.pairs) == [(alice, bob), (alice, carol), (bob, carol)]
    assert result.pairs[(alice, carol)].entities == Overlap(1, 3, 1)
    assert result.pairs[(bob, carol)].entities_overlapping == Overlap(1, 3, 1)
    assert result.articles[team.article.pk].annotators == (alice, bob, carol)
    assert result.entities == Overlap(2 + 1 + 1, 3 + 3 + 3, 3 + 1 + 1)


def test_an_in_progress_set_without_spans_is_not_counted_but_a_submitted_empty_one_is(team):
    dan, erin = UserFactory(username="dan"), UserFactory(username="erin")
    annotate(team, dan, [], submit=False)  # opened the article, annotated nothing yet
    annotate(team, erin, [])  # says the article mentions nothing
    result = services.compute_agreement(project_id=team.project.pk, include_in_progress=True)
    assert result.articles[team.article.pk].annotators == (
        team.annotator.pk, team.bob.pk, team.carol.pk, erin.pk,
    )  # fmt: skip
    assert result.pairs[(team.annotator.pk, erin.pk)].entities == Overlap(0, 3, 0)


def test_articles_with_one_set_or_only_empty_sets_have_nothing_to_measure(news):
    lonely = ArticleFactory(project=news.project, text="Minsk.")
    annotate(news, news.annotator, [((0, 5), news.gpe)], article=lonely)
    bob = UserFactory(username="bob")
    annotate(news, news.annotator, [])
    annotate(news, bob, [])
    result = services.compute_agreement(project_id=news.project.pk)
    assert list(result.articles) == [news.article.pk]
    empty = result.articles[news.article.pk]
    assert empty.entities == Overlap(0, 0, 0)
    assert empty.entities.f1 is None  # n/a, not perfect agreement
    assert empty.alpha is None  # every token OUTSIDE: one category
    assert result.pairs[(news.annotator.pk, bob.pk)].kappa is None
    assert result.labels == {}


def test_queries_are_constant_per_chunk_of_articles(news, monkeypatch, django_assert_num_queries):
    bob = UserFactory(username="bob")
    for index in range(5):
        article = ArticleFactory(project=news.project, text=f"Minsk {index} and Moscow.")
        annotate(news, news.annotator, [((0, 5), news.gpe)], links=[(0, news.minsk)], article=article)
        annotate(news, bob, [((0, 5), news.gpe), ((12, 18), news.gpe)], article=article)
    monkeypatch.setattr(services, "ARTICLES_PER_CHUNK", 2)
    # Sets and symmetric relation types once; then spans with their links, relations and texts per
    # chunk of 2 articles.
    with django_assert_num_queries(2 + 3 * 3):
        result = services.compute_agreement(project_id=news.project.pk)
    assert len(result.articles) == 5
    assert result.entities == Overlap(5, 5, 10)
    assert result.links == LinkTally(agreed=0, compared=0, one_sided=5)


def test_the_cached_figures_are_used_until_a_set_changes(team, django_assert_num_queries):
    first = services.project_agreement(project_id=team.project.pk)
    with django_assert_num_queries(1):  # the fingerprint only
        assert services.project_agreement(project_id=team.project.pk) is not None
    bob_set = team.bob.annotation_sets.get()
    annotations.reopen_set(annotation_set=bob_set, by=team.bob, expected_version=bob_set.version)
    annotate(team, team.bob, [((4, 6), team.person)])
    changed = services.project_agreement(project_id=team.project.pk)
    assert first.pairs[(team.annotator.pk, team.bob.pk)].entities == Overlap(2, 3, 3)
    assert changed.pairs[(team.annotator.pk, team.bob.pk)].entities == Overlap(2, 3, 4)


def test_a_change_compares_only_its_article_again_and_matches_a_full_computation(
    news, django_assert_num_queries
):
    bob = UserFactory(username="bob")
    articles = [ArticleFactory(project=news.project, text=f"Minsk {index} and Moscow.") for index in range(3)]
    for article in articles:
        annotate(news, news.annotator, [((0, 5), news.gpe)], article=article)
        annotate(news, bob, [((0, 5), news.gpe), ((12, 18), news.gpe)], article=article)
    before = services.project_agreement(project_id=news.project.pk, include_in_progress=True)
    changed = bob.annotation_sets.get(article=articles[1])
    annotations.reopen_set(annotation_set=changed, by=bob, expected_version=changed.version)
    first_span = changed.spans.get(start=0)
    changed.refresh_from_db()
    annotations.delete_span(span=first_span, by=bob, expected_version=changed.version)
    # The fingerprint, the counted sets, the symmetric relation types, then one chunk of one article.
    with django_assert_num_queries(3 + 3) as context:
        after = services.project_agreement(project_id=news.project.pk, include_in_progress=True)
    texts_read = [query["sql"] for query in context.captured_queries if '"text"' in query["sql"]]
    assert len(texts_read) == 1
    assert str(articles[1].pk) in texts_read[0]
    assert before.entities == Overlap(3, 3, 6)
    assert after.entities == Overlap(2, 3, 5)  # the reopened set is in progress, and still counted
    assert after.articles[articles[0].pk] is before.articles[articles[0].pk]
    assert after == services.compute_agreement(project_id=news.project.pk, include_in_progress=True)


def test_figures_kept_up_to_date_drop_what_went_away_and_add_what_came(news):
    bob, carol = UserFactory(username="bob"), UserFactory(username="carol")
    second = ArticleFactory(project=news.project, text="The SVR and the KGB.")
    annotate(news, news.annotator, [(NARYSHKIN, news.person)])
    annotate(news, bob, [(NARYSHKIN, news.person), (MINSK, news.gpe)])
    annotate(news, news.annotator, [((4, 7), news.org)], article=second)
    bob_second = annotate(news, bob, [((4, 7), news.org), ((16, 19), news.org)], article=second)
    before = services.project_agreement(project_id=news.project.pk)
    assert set(before.labels) == {news.person.pk, news.gpe.pk, news.org.pk}

    annotations.reopen_set(annotation_set=bob_second, by=bob, expected_version=bob_second.version)
    annotate(news, carol, [(NARYSHKIN, news.person), (MINSK, news.gpe)])
    after = services.project_agreement(project_id=news.project.pk)
    assert list(after.articles) == [news.article.pk]  # the second has one submitted set left
    assert set(after.labels) == {news.person.pk, news.gpe.pk}  # ORG was only there
    assert sorted(after.pairs) == [
        (news.annotator.pk, bob.pk),
        (news.annotator.pk, carol.pk),
        (bob.pk, carol.pk),
    ]
    assert after == services.compute_agreement(project_id=news.project.pk)
    assert set(before.labels) == {news.person.pk, news.gpe.pk, news.org.pk}  # what a page read stays


def test_articles_sort_worst_first():
    ranked = sorted_by_disagreement(
        [(1, Overlap(1, 1, 1)), (2, Overlap(0, 2, 2)), (3, Overlap(0, 0, 0)), (4, Overlap(0, 1, 0))]
    )
    assert [article_id for article_id, _ in ranked] == [2, 4, 1, 3]
