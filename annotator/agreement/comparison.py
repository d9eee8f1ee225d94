"""Comparing the annotator sets of one article, and adding articles up into a project's figures.

Plain Python over plain rows (no Django): `services.py` loads the rows and keeps each article's figures,
so that when one set changes only its article is compared again and the project's figures are the sum
of the articles' (`aggregate`), never a stale mix.
"""

from __future__ import annotations

import operator
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from itertools import combinations

from annotator.agreement import measures
from annotator.agreement.measures import OUTSIDE, LinkTally, Overlap, Span

Pair = tuple[int, int]  # two annotators' user ids, the smaller first


@dataclass(slots=True)
class SetRows:
    """One annotator's set of one article, as plain tuples."""

    annotator: int
    span_ids: list[int] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    relations: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass(slots=True)
class LabelShare:
    """One entity type in one pair's comparison of one article."""

    entities: Overlap
    entities_overlapping: Overlap
    links: LinkTally


@dataclass(slots=True)
class PairShare:
    """Two annotators' sets of one article compared."""

    entities: Overlap
    entities_overlapping: Overlap
    relations: Overlap
    links: LinkTally
    token_table: dict[tuple[int, int], int]  # (left token label, right token label): tokens
    labels: dict[int, LabelShare]
    relation_types: dict[int, Overlap]


@dataclass(slots=True)
class ArticleFigures:
    """One article: each pair of its annotators, and the sums over the pairs."""

    annotators: tuple[int, ...]
    pairs: dict[Pair, PairShare]
    units: dict[tuple[int, ...], int]  # the token labels of each token, sorted: how many such tokens
    alpha: float | None = None
    entities: Overlap = field(default_factory=Overlap)
    entities_overlapping: Overlap = field(default_factory=Overlap)
    relations: Overlap = field(default_factory=Overlap)
    links: LinkTally = field(default_factory=LinkTally)
    by_label: dict[int, Overlap] = field(default_factory=dict)
    by_relation_type: dict[int, Overlap] = field(default_factory=dict)

    @property
    def by_pair(self) -> dict[Pair, Overlap]:
        return {pair: share.entities for pair, share in self.pairs.items()}


@dataclass(slots=True)
class PairFigures:
    """Two annotators over the articles they both annotated."""

    articles: int = 0
    entities: Overlap = field(default_factory=Overlap)
    entities_overlapping: Overlap = field(default_factory=Overlap)
    token_table: Counter[tuple[int, int]] = field(default_factory=Counter)
    relations: Overlap = field(default_factory=Overlap)
    links: LinkTally = field(default_factory=LinkTally)

    @property
    def kappa(self) -> float | None:
        return measures.cohen_kappa(self.token_table)


@dataclass(slots=True)
class LabelFigures:
    """One entity type, over every pair of annotators: F1 of its spans, binary alpha on its tokens,
    agreement on the links of its matched spans."""

    articles: int = 0
    entities: Overlap = field(default_factory=Overlap)
    entities_overlapping: Overlap = field(default_factory=Overlap)
    links: LinkTally = field(default_factory=LinkTally)
    alpha: float | None = None


@dataclass(slots=True)
class ProjectAgreement:
    include_in_progress: bool
    entities: Overlap = field(default_factory=Overlap)
    entities_overlapping: Overlap = field(default_factory=Overlap)
    relations: Overlap = field(default_factory=Overlap)
    links: LinkTally = field(default_factory=LinkTally)
    alpha: float | None = None
    pairs: dict[Pair, PairFigures] = field(default_factory=dict)
    labels: dict[int, LabelFigures] = field(default_factory=dict)
    relation_types: dict[int, Overlap] = field(default_factory=dict)
    relation_type_articles: Counter[int] = field(default_factory=Counter)
    articles: dict[int, ArticleFigures] = field(default_factory=dict)
    units: Counter[tuple[int, ...]] = field(default_factory=Counter)  # every article's, for alpha


def compare_article(
    text: str, sets: list[SetRows], links: Mapping[int, int | None], symmetric: AbstractSet[int]
) -> ArticleFigures:
    """Compare every pair of the article's sets (in annotator order). `links` maps span ids to KB
    entity ids (None for NIL); `symmetric` holds the relation types without direction."""
    token_count = measures.count_tokens(text)
    tokens = measures.tokenize_around(text, [span for rows in sets for span in rows.spans])
    labels = [measures.token_labels(tokens, rows.spans) for rows in sets]
    touched = set().union(*labels)
    units = Counter(
        tuple(sorted(token_labels.get(index, OUTSIDE) for token_labels in labels)) for index in touched
    )
    units[(OUTSIDE,) * len(sets)] += token_count - len(touched)
    pairs = {
        (left.annotator, right.annotator): _compare_pair(
            left, right, labels[left_index], labels[right_index], token_count, links, symmetric
        )
        for (left_index, left), (right_index, right) in combinations(enumerate(sets), 2)
    }
    figures = ArticleFigures(
        annotators=tuple(rows.annotator for rows in sets),
        pairs=pairs,
        units=dict(units),
        alpha=measures.alpha_nominal_from_value_counts(units),
    )
    for share in pairs.values():
        figures.entities += share.entities
        figures.entities_overlapping += share.entities_overlapping
        figures.relations += share.relations
        figures.links += share.links
        for label, label_share in share.labels.items():
            figures.by_label[label] = figures.by_label.get(label, Overlap()) + label_share.entities
        for kind, overlap in share.relation_types.items():
            figures.by_relation_type[kind] = figures.by_relation_type.get(kind, Overlap()) + overlap
    return figures


def _compare_pair(
    left: SetRows,
    right: SetRows,
    left_labels: dict[int, int],
    right_labels: dict[int, int],
    token_count: int,
    links: Mapping[int, int | None],
    symmetric: AbstractSet[int],
) -> PairShare:
    exact = measures.match_exact(left.spans, right.spans)
    exact_by_label = measures.overlap_by_label(left.spans, right.spans, exact)
    overlapping = measures.overlap_by_label(
        left.spans, right.spans, measures.match_overlapping(left.spans, right.spans, exact)
    )
    span_pairs = {left.span_ids[i]: right.span_ids[j] for i, j in exact}
    relation_types = measures.relation_overlap(left.relations, right.relations, span_pairs, symmetric)
    link_pairs: dict[int, list[tuple[object, object]]] = defaultdict(list)
    for i, j in exact:
        link_pairs[left.spans[i][2]].append(
            (
                links.get(left.span_ids[i], measures.NOT_LINKED),
                links.get(right.span_ids[j], measures.NOT_LINKED),
            )
        )
    links_by_label = {label: measures.link_tally(found) for label, found in link_pairs.items()}
    touched = left_labels.keys() | right_labels.keys()
    token_table = Counter(
        (left_labels.get(index, OUTSIDE), right_labels.get(index, OUTSIDE)) for index in touched
    )
    token_table[OUTSIDE, OUTSIDE] += token_count - len(touched)
    return PairShare(
        entities=sum(exact_by_label.values(), Overlap()),
        entities_overlapping=sum(overlapping.values(), Overlap()),
        relations=sum(relation_types.values(), Overlap()),
        links=sum(links_by_label.values(), LinkTally()),
        token_table=dict(token_table),
        labels={
            label: LabelShare(overlap, overlapping[label], links_by_label.get(label, LinkTally()))
            for label, overlap in exact_by_label.items()
        },
        relation_types=relation_types,
    )


def aggregate(articles: Mapping[int, ArticleFigures], *, include_in_progress: bool) -> ProjectAgreement:
    """The project's figures: the articles' summed (micro-averaged), alpha over all their tokens."""
    return updated(ProjectAgreement(include_in_progress=include_in_progress), removed=(), added=articles)


def updated(
    result: ProjectAgreement, *, removed: Iterable[int], added: Mapping[int, ArticleFigures]
) -> ProjectAgreement:
    """The figures with the `removed` articles' shares taken away and the `added` ones' added: the
    same sums `aggregate` makes from scratch, in time proportional to the change. `result` is left as
    it was (a page may be reading it)."""
    result = _copy(result)
    for article_id in removed:
        _add_article(result, result.articles.pop(article_id), sign=-1)
    for article_id in sorted(added):
        result.articles[article_id] = added[article_id]
        _add_article(result, added[article_id], sign=1)
    for pair in [pair for pair, figures in result.pairs.items() if not figures.articles]:
        del result.pairs[pair]
    for pair_figures in result.pairs.values():
        pair_figures.token_table += Counter()
    for label in [label for label, figures in result.labels.items() if not figures.articles]:
        del result.labels[label]
    for kind in [kind for kind, count in result.relation_type_articles.items() if not count]:
        del result.relation_types[kind]
    result.relation_type_articles += Counter()  # drops the zero counts
    result.units += Counter()
    result.alpha = measures.alpha_nominal_from_value_counts(result.units)
    for label, label_figures in result.labels.items():
        label_figures.alpha = measures.alpha_nominal_from_value_counts(
            measures.binary_value_counts(result.units, label)
        )
    return result


def _copy(result: ProjectAgreement) -> ProjectAgreement:
    """A copy to change: the containers are new, the Overlap and LinkTally values shared (nothing
    changes those in place)."""
    return replace(
        result,
        pairs={
            pair: replace(figures, token_table=Counter(figures.token_table))
            for pair, figures in result.pairs.items()
        },
        labels={label: replace(figures) for label, figures in result.labels.items()},
        relation_types=dict(result.relation_types),
        relation_type_articles=Counter(result.relation_type_articles),
        articles=dict(result.articles),
        units=Counter(result.units),
    )


def _add_article(result: ProjectAgreement, figures: ArticleFigures, *, sign: int) -> None:
    """Add (sign 1) or take away (sign -1) one article's share of the project's figures."""
    plus = operator.add if sign > 0 else operator.sub
    for values, count in figures.units.items():
        result.units[values] += sign * count
    result.entities = plus(result.entities, figures.entities)
    result.entities_overlapping = plus(result.entities_overlapping, figures.entities_overlapping)
    result.relations = plus(result.relations, figures.relations)
    result.links = plus(result.links, figures.links)
    for kind, overlap in figures.by_relation_type.items():
        result.relation_types[kind] = plus(result.relation_types.get(kind, Overlap()), overlap)
        result.relation_type_articles[kind] += sign
    for label in figures.by_label:
        result.labels.setdefault(label, LabelFigures()).articles += sign
    for pair, share in figures.pairs.items():
        pair_figures = result.pairs.setdefault(pair, PairFigures())
        pair_figures.articles += sign
        pair_figures.entities = plus(pair_figures.entities, share.entities)
        pair_figures.entities_overlapping = plus(
            pair_figures.entities_overlapping, share.entities_overlapping
        )
        pair_figures.relations = plus(pair_figures.relations, share.relations)
        pair_figures.links = plus(pair_figures.links, share.links)
        for cell, count in share.token_table.items():
            pair_figures.token_table[cell] += sign * count
        for label, label_share in share.labels.items():
            label_figures = result.labels[label]
            label_figures.entities = plus(label_figures.entities, label_share.entities)
            label_figures.entities_overlapping = plus(
                label_figures.entities_overlapping, label_share.entities_overlapping
            )
            label_figures.links = plus(label_figures.links, label_share.links)


def sorted_by_disagreement(articles: Iterable[tuple[int, Overlap]]) -> list[tuple[int, Overlap]]:
    """Worst first: lowest F1 (n/a counts as agreement), then most disagreeing items, then article id."""

    def key(item: tuple[int, Overlap]) -> tuple[float, int, int]:
        article_id, overlap = item
        f1 = overlap.f1
        return (1.0 if f1 is None else f1, -overlap.disagreements, article_id)

    return sorted(articles, key=key)
