"""A project's agreement: every annotator set compared with every other on the same article, per label,
per annotator pair and per article, for entities, relations and KB links.

Rows are read with `values_list` in chunks of articles (a constant number of queries per chunk, no model
instances per span) and compared in plain Python (`comparison.py`, `measures.py`). The figures hold ids
only, so remembered ones survive renames; the pages and the API look the names up.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.db.models import Count, Exists, Max, OuterRef, Q, Sum

from annotator.agreement.comparison import (
    ArticleFigures,
    ProjectAgreement,
    SetRows,
    aggregate,
    compare_article,
    updated,
)
from annotator.annotations.models import AnnotationSet, Relation, SetKind, SetStatus
from annotator.annotations.models import Span as SpanRow
from annotator.articles.models import Article
from annotator.projects.models import RelationType

ARTICLES_PER_CHUNK = 500

CountedSets = dict[int, list[tuple[int, int, int]]]  # article id: [(set id, annotator id, version), ...]


def counted_statuses(include_in_progress: bool) -> list[str]:
    if include_in_progress:
        return [SetStatus.SUBMITTED, SetStatus.IN_PROGRESS]
    return [SetStatus.SUBMITTED]


def counted_sets(project_id: int, statuses: Sequence[str]) -> tuple[CountedSets, dict[int, int]]:
    """The sets to compare, for the articles with two annotators or more, and those articles' revisions.

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
        .values_list("article_id", "pk", "annotator_id", "version", "article__revision")
    )
    grouped: CountedSets = defaultdict(list)
    revisions = {}
    for article_id, set_id, annotator_id, version, revision in sets:
        grouped[article_id].append((set_id, annotator_id, version))
        revisions[article_id] = revision
    compared = {article_id: found for article_id, found in grouped.items() if len(found) > 1}
    return compared, {article_id: revisions[article_id] for article_id in compared}


def chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for begin in range(0, len(ids), size):
        yield ids[begin : begin + size]


def load_chunk(
    chunk: list[int], sets: CountedSets
) -> tuple[dict[int, SetRows], dict[int, int | None], list[tuple[int, str]]]:
    """The chunk's sets as plain rows, the KB links of their spans ({span id: KB entity id, None for
    NIL}) and the articles' texts: three queries, whatever the number of articles, sets and spans."""
    set_ids = [set_id for article_id in chunk for set_id, _, _ in sets[article_id]]
    rows = {set_id: SetRows(annotator) for article_id in chunk for set_id, annotator, _ in sets[article_id]}
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


def _symmetric_types(project_id: int) -> frozenset[int]:
    kinds = RelationType.objects.filter(project_id=project_id, directed=False)
    return frozenset(kinds.values_list("pk", flat=True))


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Build the figures with Python's cycle collector paused. They hold no cycles (reference counting
    frees them), but they are a million small objects, and each automatic pass over the ones already
    made grew with them: a 10,000-article project spent half its time there."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compare_articles(
    article_ids: list[int], sets: CountedSets, symmetric: frozenset[int]
) -> dict[int, ArticleFigures]:
    """Each of these articles' sets compared, chunk by chunk."""
    compared = {}
    for chunk in chunks(article_ids, ARTICLES_PER_CHUNK):
        rows, links, texts = load_chunk(chunk, sets)
        for article_id, text in texts:
            article_rows = [rows[set_id] for set_id, _, _ in sets[article_id]]
            compared[article_id] = compare_article(text, article_rows, links, symmetric)
    return compared


def compute_agreement(*, project_id: int, include_in_progress: bool = False) -> ProjectAgreement:
    """Agreement of the project's annotator sets (submitted ones, or in-progress ones too), from scratch."""
    sets, _ = counted_sets(project_id, counted_statuses(include_in_progress))
    with _without_cycle_collection():
        compared = compare_articles(sorted(sets), sets, _symmetric_types(project_id))
        return aggregate(compared, include_in_progress=include_in_progress)


def fingerprint(*, project_id: int, include_in_progress: bool) -> tuple[object, ...]:
    """What changes whenever a counted set or anything in it changes: every edit bumps its set's version
    (and deleting or adding a set changes the count or the highest id), a new text the revision."""
    found = AnnotationSet.objects.filter(
        article__project_id=project_id,
        kind=SetKind.ANNOTATOR,
        status__in=counted_statuses(include_in_progress),
    ).aggregate(
        count=Count("pk"),
        versions=Sum("version"),
        last=Max("pk"),
        changed=Max("updated_at"),
        revisions=Sum("article__revision"),
    )
    changed = found["changed"].isoformat() if found["changed"] else None
    return (found["count"], found["versions"], found["last"], changed, found["revisions"])


@dataclass(frozen=True, slots=True)
class _Remembered:
    stamp: tuple[object, ...]
    symmetric: frozenset[int]
    versions: dict[int, tuple[object, ...]]  # article id: its revision and its sets' ids and versions
    result: ProjectAgreement


# The last few results, per process. Not Django's cache: unpickling a 10,000-article result takes
# longer than the fingerprint query that tells whether it is still true, and this one costs nothing.
# Each holds ~5 MB per 1,000 compared articles.
_recent: dict[tuple[int, bool], _Remembered] = {}
RECENT_RESULTS = 4


def forget_agreements() -> None:
    _recent.clear()


def project_agreement(*, project_id: int, include_in_progress: bool = False) -> ProjectAgreement:
    """The project's agreement. Nothing is read again while no counted set changed (one fingerprint
    query), and when some did, only their articles are compared again."""
    key = (project_id, include_in_progress)
    stamp = fingerprint(project_id=project_id, include_in_progress=include_in_progress)
    known = _recent.pop(key, None)
    if known is None or known.stamp != stamp:
        known = _refresh(project_id, include_in_progress, stamp, known)
    _recent[key] = known  # last in, last evicted
    while len(_recent) > RECENT_RESULTS:
        _recent.pop(next(iter(_recent)))
    return known.result


def _refresh(
    project_id: int, include_in_progress: bool, stamp: tuple[object, ...], known: _Remembered | None
) -> _Remembered:
    """The figures again: from scratch the first time, else only the articles whose sets changed."""
    sets, revisions = counted_sets(project_id, counted_statuses(include_in_progress))
    symmetric = _symmetric_types(project_id)
    versions = {
        article_id: (revisions[article_id], *((set_id, version) for set_id, _, version in found))
        for article_id, found in sets.items()
    }
    with _without_cycle_collection():
        if known is None or known.symmetric != symmetric:
            compared = compare_articles(sorted(sets), sets, symmetric)
            result = aggregate(compared, include_in_progress=include_in_progress)
        else:
            gone = [
                article_id for article_id, was in known.versions.items() if versions.get(article_id) != was
            ]
            changed = sorted(
                article_id for article_id, now in versions.items() if known.versions.get(article_id) != now
            )
            result = updated(known.result, removed=gone, added=compare_articles(changed, sets, symmetric))
    return _Remembered(stamp, symmetric, versions, result)
