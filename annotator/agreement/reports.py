"""The agreement figures with names: what the dashboard shows and the API returns.

`services.ProjectAgreement` keeps ids (so a cached one survives renames); this module looks the names up
in three small queries and orders the rows, and picks the articles behind any one figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from annotator.agreement.comparison import Pair, ProjectAgreement, sorted_by_disagreement
from annotator.agreement.measures import LinkTally, Overlap
from annotator.articles.models import Article
from annotator.projects.models import EntityType, Membership, RelationType

if TYPE_CHECKING:
    from annotator.agreement.comparison import ArticleFigures


@dataclass(frozen=True)
class Named:
    id: int
    name: str


@dataclass(frozen=True)
class LabelRow:
    entity_type: Named
    articles: int
    entities: Overlap
    entities_overlapping: Overlap
    alpha: float | None
    links: LinkTally


@dataclass(frozen=True)
class PairRow:
    annotators: tuple[Named, Named]
    articles: int
    entities: Overlap
    entities_overlapping: Overlap
    kappa: float | None
    relations: Overlap
    links: LinkTally

    @property
    def key(self) -> str:
        """The pair as the drill-down's query parameter."""
        return f"{self.annotators[0].id}-{self.annotators[1].id}"


@dataclass(frozen=True)
class RelationTypeRow:
    relation_type: Named
    articles: int
    relations: Overlap


@dataclass(frozen=True)
class Report:
    agreement: ProjectAgreement
    labels: list[LabelRow]
    pairs: list[PairRow]
    relation_types: list[RelationTypeRow]

    @property
    def articles(self) -> int:
        return len(self.agreement.articles)


def build_report(*, project_id: int, agreement: ProjectAgreement) -> Report:
    label_names = dict(EntityType.objects.filter(project_id=project_id).values_list("pk", "name"))
    relation_names = dict(RelationType.objects.filter(project_id=project_id).values_list("pk", "name"))
    user_ids = {user for pair in agreement.pairs for user in pair}
    usernames = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    labels = [
        LabelRow(
            Named(label, label_names.get(label, "?")),
            figures.articles,
            figures.entities,
            figures.entities_overlapping,
            figures.alpha,
            figures.links,
        )
        for label, figures in agreement.labels.items()
    ]
    pairs = [
        PairRow(
            (Named(left, usernames.get(left, "?")), Named(right, usernames.get(right, "?"))),
            figures.articles,
            figures.entities,
            figures.entities_overlapping,
            figures.kappa,
            figures.relations,
            figures.links,
        )
        for (left, right), figures in agreement.pairs.items()
    ]
    relation_types = [
        RelationTypeRow(
            Named(kind, relation_names.get(kind, "?")), agreement.relation_type_articles[kind], overlap
        )
        for kind, overlap in agreement.relation_types.items()
    ]
    return Report(
        agreement=agreement,
        labels=sorted(labels, key=lambda row: row.entity_type.name),
        pairs=sorted(pairs, key=lambda row: (row.annotators[0].name, row.annotators[1].name)),
        relation_types=sorted(relation_types, key=lambda row: row.relation_type.name),
    )


@dataclass(frozen=True)
class Focus:
    """Which figure a drill-down explains: a label, a pair of annotators, a relation type, or all."""

    label: int | None = None
    pair: Pair | None = None
    relation_type: int | None = None

    def overlap_of(self, figures: ArticleFigures) -> Overlap | None:
        """The article's share of the figure; None when the article has no part in it."""
        if self.label is not None:
            return figures.by_label.get(self.label)
        if self.pair is not None:
            return figures.by_pair.get(self.pair)
        if self.relation_type is not None:
            return figures.by_relation_type.get(self.relation_type)
        return figures.entities


def parse_focus(*, label: str | None, pair: str | None, relation_type: str | None) -> Focus | None:
    """The focus a drill-down URL asks for; None when a parameter is malformed."""
    try:
        if label:
            return Focus(label=int(label))
        if pair:
            left, right = (int(part) for part in pair.split("-"))
            return Focus(pair=(min(left, right), max(left, right)))
        if relation_type:
            return Focus(relation_type=int(relation_type))
    except ValueError:
        return None
    return Focus()


def articles_behind(agreement: ProjectAgreement, focus: Focus) -> list[tuple[int, Overlap]]:
    """The articles that make up a figure, worst agreement first."""
    shares = ((article_id, focus.overlap_of(figures)) for article_id, figures in agreement.articles.items())
    return sorted_by_disagreement((article_id, share) for article_id, share in shares if share is not None)


def describe_focus(*, project_id: int, focus: Focus) -> str | None:
    """What the drill-down shows, in words; None when its ids are not this project's (a 404)."""
    if focus.label is not None:
        label = EntityType.objects.filter(project_id=project_id, pk=focus.label).first()
        return f"Entity type {label.name}" if label else None
    if focus.relation_type is not None:
        kind = RelationType.objects.filter(project_id=project_id, pk=focus.relation_type).first()
        return f"Relation type {kind.name}" if kind else None
    if focus.pair is not None:
        members = dict(
            Membership.objects.filter(project_id=project_id, user_id__in=focus.pair).values_list(
                "user_id", "user__username"
            )
        )
        if len(members) < 2:
            return None
        return f"{members[focus.pair[0]]} and {members[focus.pair[1]]}"
    return "All entities"


@dataclass(frozen=True)
class ArticleRow:
    """One article of a drill-down: its share of the figure, and its own figures."""

    article_id: int
    title: str
    share: Overlap
    figures: ArticleFigures
    curation_url: str | None


def curation_url(article_id: int) -> str | None:
    """The article's curation page, where the curation feature provides one."""
    try:
        return reverse("review:curate", args=[article_id])
    except NoReverseMatch:
        return None


def article_rows(
    *, project_id: int, agreement: ProjectAgreement, shares: Iterable[tuple[int, Overlap]]
) -> list[ArticleRow]:
    """Rows for a page of `articles_behind`: their titles in one query."""
    shares = list(shares)
    articles = Article.objects.filter(project_id=project_id, pk__in=[article_id for article_id, _ in shares])
    titles = dict(articles.values_list("pk", "title"))
    return [
        ArticleRow(
            article_id,
            titles.get(article_id, ""),
            share,
            agreement.articles[article_id],
            curation_url(article_id),
        )
        for article_id, share in shares
    ]
