"""A project's agreement: every annotator set compared with every other on the same article, per label,
per annotator pair and per article, for entities, relations and KB links.

Rows are read with `values_list` in chunks of articles (a constant number of queries per chunk, no model
instances per span) and compared in plain Python with `measures.py`. The result holds ids only, so a
cached result survives renames; the pages and the API look the names up.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from django.db.models import Count, Exists, Max, OuterRef, Q, Sum

from annotator.agreement import measures
from annotator.agreement.measures import OUTSIDE, LinkTally, Overlap, Span
from annotator.annotations.models import AnnotationSet, Relation, SetKind, SetStatus
from annotator.annotations.models import Span as SpanRow
from annotator.articles.models import Article
from annotator.projects.models import RelationType

ARTICLES_PER_CHUNK = 500

Pair = tuple[int, int]  # two annotators' user ids, the smaller first


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
class ArticleFigures:
    """One article, summed over every pair of its annotators."""

    annotators: tuple[int, ...] = ()
    entities: Overlap = field(default_factory=Overlap)
    entities_overlapping: Overlap = field(default_factory=Overlap)
    relations: Overlap = field(default_factory=Overlap)
    links: LinkTally = field(default_factory=LinkTally)
    alpha: float | None = None
    by_label: dict[int, Overlap] = field(default_factory=dict)
    by_pair: dict[Pair, Overlap] = field(default_factory=dict)
    by_relation_type: dict[int, Overlap] = field(default_factory=dict)


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


@dataclass(slots=True)
class _SetRows:
    """One annotator's set of one article, as plain tuples."""

    annotator: int
    span_ids: list[int] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    relations: list[tuple[int, int, int]] = field(default_factory=list)


def counted_statuses(include_in_progress: bool) -> list[str]:
    if include_in_progress:
        return [SetStatus.SUBMITTED, SetStatus.IN_PROGRESS]
    return [SetStatus.SUBMITTED]


def _sets_by_article(project_id: int, statuses: Sequence[str]) -> dict[int, list[tuple[int, int]]]:
    """{article id: [(set id, annotator id), ...]} for the articles with two annotators or more.

    An in-progress set without a span is not counted: opening an article makes one, and someone who
    only looked has not said that the article mentions nothing (submitting an empty set says that).
    """
    started = Q(status=SetStatus.SUBMITTED) | Exists(SpanRow.objects.filter(annotation_set=OuterRef("pk")))
    sets = (
        AnnotationSet.objects.filter(
            article__project_id=project_id, kind=SetKind.ANNOTATOR, status__in=statuses
        )
        .filter(started)
        .order_by("article_id", "annotator_id")
        .values_list("article_id", "pk", "annotator_id")
    )
    grouped: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for article_id, set_id, annotator_id in sets:
        grouped[article_id].append((set_id, annotator_id))
    return {article_id: found for article_id, found in grouped.items() if len(found) > 1}


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for begin in range(0, len(ids), size):
        yield ids[begin : begin + size]


def load_chunk(
    chunk: list[int], sets: dict[int, list[tuple[int, int]]]
) -> tuple[dict[int, _SetRows], dict[int, int | None], list[tuple[int, str]]]:
    """The chunk's sets as plain rows, the KB links of their spans ({span id: KB entity id, None for
    NIL}) and the articles' texts: three queries, whatever the number of articles, sets and spans."""
    set_ids = [set_id for article_id in chunk for set_id, _ in sets[article_id]]
    rows = {set_id: _SetRows(annotator) for article_id in chunk for set_id, annotator in sets[article_id]}
    links: dict[int, int | None] = {}
    spans = SpanRow.objects.filter(annotation_set_id__in=set_ids).order_by()
    # The link comes along by a left join (span_id is unique there): a join by set ids would have the
    # planner scan every span of the database for each chunk.
    for span_id, set_id, start, end, label, link_id, kb_entity_id in spans.values_list(
        "pk", "annotation_set_id", "start", "end", "entity_type_id", "link__id", "link__kb_entity_id"
    ):
        rows[set_id].span_ids.append(span_id)
        rows[set_id].spans.append((start, end, label))
        if link_id is not None:
            links[span_id] = kb_entity_id
    for set_id, head, tail, kind in (
        Relation.objects.filter(annotation_set_id__in=set_ids)
        .order_by()
        .values_list("annotation_set_id", "head_id", "tail_id", "relation_type_id")
    ):
        rows[set_id].relations.append((head, tail, kind))
    texts = list(Article.objects.filter(pk__in=chunk).order_by().values_list("pk", "text"))
    return rows, links, texts


def compute_agreement(*, project_id: int, include_in_progress: bool = False) -> ProjectAgreement:
    """Agreement of the project's annotator sets (submitted ones, or in-progress ones too)."""
    result = ProjectAgreement(include_in_progress=include_in_progress)
    sets = _sets_by_article(project_id, counted_statuses(include_in_progress))
    symmetric = set(
        RelationType.objects.filter(project_id=project_id, directed=False).values_list("pk", flat=True)
    )
    units: Counter[tuple[int, ...]] = Counter()  # token label values per token, over the whole project
    label_articles: Counter[int] = Counter()
    for chunk in _chunks(sorted(sets), ARTICLES_PER_CHUNK):
        rows, links, texts = load_chunk(chunk, sets)
        for article_id, text in texts:
            figures, article_units = _compare_article(
                text, [rows[set_id] for set_id, _ in sets[article_id]], links, symmetric, result
            )
            figures.alpha = measures.alpha_nominal_from_value_counts(article_units)
            units.update(article_units)
            label_articles.update(figures.by_label.keys())
            result.articles[article_id] = figures
    result.alpha = measures.alpha_nominal_from_value_counts(units)
    for label, label_figures in result.labels.items():
        label_figures.articles = label_articles[label]
        label_figures.alpha = measures.alpha_nominal_from_value_counts(
            measures.binary_value_counts(units, label)
        )
    return result


def _compare_article(
    text: str,
    sets: list[_SetRows],
    links: dict[int, int | None],
    symmetric: set[int],
    result: ProjectAgreement,
) -> tuple[ArticleFigures, Counter[tuple[int, ...]]]:
    """Compare every pair of the article's sets, adding to the project's figures as it goes."""
    figures = ArticleFigures(annotators=tuple(rows.annotator for rows in sets))
    token_count = measures.count_tokens(text)
    tokens = measures.tokenize_around(text, [span for rows in sets for span in rows.spans])
    labels = [measures.token_labels(tokens, rows.spans) for rows in sets]
    touched = set().union(*labels)
    article_units: Counter[tuple[int, ...]] = Counter(
        tuple(sorted(token_labels.get(index, OUTSIDE) for token_labels in labels)) for index in touched
    )
    article_units[(OUTSIDE,) * len(sets)] += token_count - len(touched)
    for (left_index, left), (right_index, right) in combinations(enumerate(sets), 2):
        pair = (left.annotator, right.annotator)
        exact = measures.match_exact(left.spans, right.spans)
        exact_by_label = measures.overlap_by_label(left.spans, right.spans, exact)
        overlapping = measures.overlap_by_label(
            left.spans, right.spans, measures.match_overlapping(left.spans, right.spans, exact)
        )
        span_pairs = {left.span_ids[i]: right.span_ids[j] for i, j in exact}
        relations = measures.relation_overlap(left.relations, right.relations, span_pairs, symmetric)
        link_pairs: dict[int, list[tuple[object, object]]] = defaultdict(list)
        for i, j in exact:
            link_pairs[left.spans[i][2]].append(
                (
                    links.get(left.span_ids[i], measures.NOT_LINKED),
                    links.get(right.span_ids[j], measures.NOT_LINKED),
                )
            )
        links_by_label = {label: measures.link_tally(found) for label, found in link_pairs.items()}

        pair_figures = result.pairs.setdefault(pair, PairFigures())
        pair_figures.articles += 1
        pair_entities = sum(exact_by_label.values(), Overlap())
        pair_overlapping = sum(overlapping.values(), Overlap())
        pair_relations = sum(relations.values(), Overlap())
        pair_links = sum(links_by_label.values(), LinkTally())
        pair_figures.entities += pair_entities
        pair_figures.entities_overlapping += pair_overlapping
        pair_figures.relations += pair_relations
        pair_figures.links += pair_links
        _add_token_table(pair_figures.token_table, labels[left_index], labels[right_index], token_count)

        for label, overlap in exact_by_label.items():
            label_figures = result.labels.setdefault(label, LabelFigures())
            label_figures.entities += overlap
            label_figures.entities_overlapping += overlapping.get(label, Overlap())
            label_figures.links += links_by_label.get(label, LinkTally())
            figures.by_label[label] = figures.by_label.get(label, Overlap()) + overlap
        for kind, overlap in relations.items():
            result.relation_types[kind] = result.relation_types.get(kind, Overlap()) + overlap
            figures.by_relation_type[kind] = figures.by_relation_type.get(kind, Overlap()) + overlap
        figures.by_pair[pair] = pair_entities
        figures.entities += pair_entities
        figures.entities_overlapping += pair_overlapping
        figures.relations += pair_relations
        figures.links += pair_links
    result.entities += figures.entities
    result.entities_overlapping += figures.entities_overlapping
    result.relations += figures.relations
    result.links += figures.links
    result.relation_type_articles.update(figures.by_relation_type.keys())
    return figures, article_units


def _add_token_table(
    table: Counter[tuple[int, int]], left: dict[int, int], right: dict[int, int], token_count: int
) -> None:
    touched = left.keys() | right.keys()
    for index in touched:
        table[left.get(index, OUTSIDE), right.get(index, OUTSIDE)] += 1
    table[OUTSIDE, OUTSIDE] += token_count - len(touched)


def fingerprint(*, project_id: int, include_in_progress: bool) -> tuple[object, ...]:
    """What changes whenever a counted set or anything in it changes: every edit bumps its set's version
    (and deleting or adding a set changes the count or the highest id)."""
    found = AnnotationSet.objects.filter(
        article__project_id=project_id,
        kind=SetKind.ANNOTATOR,
        status__in=counted_statuses(include_in_progress),
    ).aggregate(count=Count("pk"), versions=Sum("version"), last=Max("pk"), changed=Max("updated_at"))
    changed = found["changed"].isoformat() if found["changed"] else None
    return (found["count"], found["versions"], found["last"], changed)


# The last few results, per process. Not Django's cache: unpickling a 10,000-article result takes
# longer than the fingerprint query that tells whether it is still true, and this one costs nothing.
# Each holds ~2 MB per 1,000 compared articles.
_recent: dict[tuple[int, bool], tuple[tuple[object, ...], ProjectAgreement]] = {}
RECENT_RESULTS = 4


def forget_agreements() -> None:
    _recent.clear()


def project_agreement(*, project_id: int, include_in_progress: bool = False) -> ProjectAgreement:
    """The project's agreement, computed again only when a counted set changed since the last time."""
    key = (project_id, include_in_progress)
    stamp = fingerprint(project_id=project_id, include_in_progress=include_in_progress)
    known = _recent.pop(key, None)
    if known is None or known[0] != stamp:
        known = (stamp, compute_agreement(project_id=project_id, include_in_progress=include_in_progress))
    _recent[key] = known  # last in, last evicted
    while len(_recent) > RECENT_RESULTS:
        _recent.pop(next(iter(_recent)))
    return known[1]


def sorted_by_disagreement(
    articles: Iterable[tuple[int, Overlap]],
) -> list[tuple[int, Overlap]]:
    """Worst first: lowest F1 (n/a counts as agreement), then most disagreeing items, then article id."""

    def key(item: tuple[int, Overlap]) -> tuple[float, int, int]:
        article_id, overlap = item
        f1 = overlap.f1
        return (1.0 if f1 is None else f1, -overlap.disagreements, article_id)

    return sorted(articles, key=key)
