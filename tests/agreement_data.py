"""Annotator sets for agreement tests, made through the annotation services."""

from annotator.annotations import services as annotations
from annotator.projects.models import Role
from tests.conftest import APRIL_15, MINSK, NARYSHKIN
from tests.factories import MembershipFactory, UserFactory

APRIL = (34, 39)


def annotate(news, user, spans, links=(), relations=(), submit=True, article=None):
    """Give `user` a set of the article with these spans ((start, end), type), links (span index, KB
    entity or None for NIL) and relations (head index, tail index, type); submit it unless told."""
    annotation_set = annotations.get_or_create_own_set(article=article or news.article, user=user)

    def version():
        annotation_set.refresh_from_db()
        return annotation_set.version

    made = [
        annotations.create_span(
            annotation_set=annotation_set,
            start=start,
            end=end,
            entity_type=entity_type,
            by=user,
            expected_version=version(),
        )
        for (start, end), entity_type in spans
    ]
    for index, entity in links:
        annotations.link_span(span=made[index], kb_entity=entity, by=user, expected_version=version())
    for head, tail, relation_type in relations:
        annotations.create_relation(
            annotation_set=annotation_set, head=made[head], tail=made[tail], relation_type=relation_type,
            by=user, expected_version=version(),
        )  # fmt: skip
    if submit:
        annotations.submit_set(annotation_set=annotation_set, by=user, expected_version=version())
    return annotation_set


def make_team(news):
    """Alice and Bob submitted conflicting sets of the news article; Carol's is still in progress.

    Tokens: Sergey Naryshkin visited Minsk on April 15 .
    Alice:  PER    PER       -       GPE   -  DATE  DATE -   (Naryshkin -> KB, Minsk -> KB, visited)
    Bob:    PER    PER       -       GPE   -  DATE  -    -   (Naryshkin -> KB, Minsk -> NIL, visited)
    """
    bob, carol = UserFactory(username="bob"), UserFactory(username="carol")
    for user in (bob, carol):
        MembershipFactory(project=news.project, user=user, role=Role.ANNOTATOR)
    annotate(
        news, news.annotator, [(NARYSHKIN, news.person), (MINSK, news.gpe), (APRIL_15, news.date)],
        links=[(0, news.naryshkin), (1, news.minsk)], relations=[(0, 1, news.visited)],
    )  # fmt: skip
    annotate(
        news, bob, [(NARYSHKIN, news.person), (MINSK, news.gpe), (APRIL, news.date)],
        links=[(0, news.naryshkin), (1, None)], relations=[(0, 1, news.visited)],
    )  # fmt: skip
    annotate(news, carol, [(NARYSHKIN, news.person)], submit=False)
    news.bob, news.carol = bob, carol
    return news
