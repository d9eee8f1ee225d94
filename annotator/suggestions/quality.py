"""How good each suggester is: acceptance of its suggestions (from Decisions) and P/R/F1 against gold.

Per SuggesterVersion, per kind (entity, relation, link) and label (the entity type, the relation type,
or the mentioned entity's type for links), and per source. A fixed number of queries however many
versions and labels there are (and, the first time, the lookup of the link candidates batch
pre-annotation left pending on the gold articles). Against gold means: the version's own suggestions (not those made on
demand after a reviewer's action) on the articles it ran on that have a curated gold set.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import BooleanField, Count, ExpressionWrapper, Q

from annotator.annotations.models import EntityLink, Relation, SetKind, SetStatus, Span
from annotator.suggestions.generate import complete_links
from annotator.suggestions.models import (
    Decision,
    SuggesterVersion,
    Suggestion,
    SuggestionKind,
    SuggestionRun,
    Verdict,
)
from annotator.suggestions.scoring import MICRO, Score, score
from annotator.suggestions.storing import ON_DEMAND_SOURCES

if TYPE_CHECKING:
    from annotator.projects.models import Project

KINDS = (SuggestionKind.ENTITY, SuggestionKind.RELATION, SuggestionKind.LINK)


@dataclass
class Tally:
    """Suggestions made and what reviewers decided about them."""

    suggested: int = 0
    accepted: int = 0
    corrected: int = 0
    rejected: int = 0

    @property
    def decided(self) -> int:
        return self.accepted + self.corrected + self.rejected

    @property
    def acceptance(self) -> float | None:
        """Accepted as they were, among those decided."""
        return self.accepted / self.decided if self.decided else None

    def add_decisions(self, verdict: str, n: int) -> None:
        if verdict == Verdict.ACCEPTED:
            self.accepted += n
        elif verdict == Verdict.CORRECTED:
            self.corrected += n
        else:
            self.rejected += n


@dataclass
class LabelQuality:
    kind: str
    label: str
    tally: Tally
    gold: Score | None  # None when the version ran on no curated gold article

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "suggested": self.tally.suggested,
            "accepted": self.tally.accepted,
            "corrected": self.tally.corrected,
            "rejected": self.tally.rejected,
            "acceptance_rate": None if self.tally.acceptance is None else round(self.tally.acceptance, 4),
            "gold": None if self.gold is None else self.gold.as_dict(),
        }


@dataclass
class VersionQuality:
    version: SuggesterVersion
    gold_articles: int
    labels: list[LabelQuality] = field(default_factory=list)
    sources: dict[str, Tally] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        v = self.version
        return {
            "suggester_version": {
                "id": v.pk,
                "name": v.name,
                "version": v.version,
                "kind": v.kind,
                "is_active": v.is_active,
            },
            "gold_articles": self.gold_articles,
            "heldout_metrics": v.metrics,
            "labels": [label.as_dict() for label in self.labels],
            "sources": [
                {
                    "source": source,
                    "suggested": t.suggested,
                    "accepted": t.accepted,
                    "corrected": t.corrected,
                    "rejected": t.rejected,
                    "acceptance_rate": None if t.acceptance is None else round(t.acceptance, 4),
                }
                for source, t in sorted(self.sources.items())
            ],
        }


def _label(kind: str, entity_type: str | None, relation_type: str | None) -> str:
    return (relation_type if kind == SuggestionKind.RELATION else entity_type) or "?"


def _tallies(project: Project) -> tuple[dict[int, dict[tuple[str, str], Tally]], dict[int, dict[str, Tally]]]:
    by_label: dict[int, dict[tuple[str, str], Tally]] = defaultdict(lambda: defaultdict(Tally))
    by_source: dict[int, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    suggested = (
        Suggestion.objects.filter(suggester_version__project=project)
        .values_list("suggester_version_id", "kind", "entity_type__name", "relation_type__name", "source")
        .annotate(n=Count("id"))
        .order_by()
    )
    for version, kind, entity_type, relation_type, source, n in suggested:
        by_label[version][(kind, _label(kind, entity_type, relation_type))].suggested += n
        by_source[version][source].suggested += n
    decided = (
        Decision.objects.filter(suggestion__suggester_version__project=project)
        .values_list(
            "suggestion__suggester_version_id",
            "suggestion__kind",
            "suggestion__entity_type__name",
            "suggestion__relation_type__name",
            "suggestion__source",
            "verdict",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    for version, kind, entity_type, relation_type, source, verdict, n in decided:
        by_label[version][(kind, _label(kind, entity_type, relation_type))].add_decisions(verdict, n)
        by_source[version][source].add_decisions(verdict, n)
    return by_label, by_source


def _gold_items(project: Project) -> dict[str, dict[int, set[tuple[Any, str]]]]:
    """Gold per kind and article: entities ((article, start, end), type), relations
    ((article, head start, head end, tail start, tail end), type), links ((article, start, end,
    KB entity), mention type)."""
    curated = {"annotation_set__kind": SetKind.GOLD, "annotation_set__status": SetStatus.CURATED}
    prefix = "annotation_set__article"
    gold: dict[str, dict[int, set[tuple[Any, str]]]] = {kind: defaultdict(set) for kind in KINDS}
    spans = Span.objects.filter(**{f"{prefix}__project": project}, **curated)
    for article, start, end, label in spans.values_list(f"{prefix}_id", "start", "end", "entity_type__name"):
        gold[SuggestionKind.ENTITY][article].add(((article, start, end), label))
    relations = Relation.objects.filter(**{f"{prefix}__project": project}, **curated).values_list(
        f"{prefix}_id", "head__start", "head__end", "tail__start", "tail__end", "relation_type__name",
        "relation_type__directed",
    )  # fmt: skip
    for article, hs, he, ts, te, label, directed in relations:
        if not directed and (ts, te) < (hs, he):
            hs, he, ts, te = ts, te, hs, he
        gold[SuggestionKind.RELATION][article].add(((article, hs, he, ts, te), label))
    links = EntityLink.objects.filter(
        **{f"span__{prefix}__project": project},
        **{f"span__{key}": value for key, value in curated.items()},
        kb_entity__isnull=False,
    ).values_list(f"span__{prefix}_id", "span__start", "span__end", "kb_entity_id", "span__entity_type__name")
    for article, start, end, kb_entity, label in links:
        gold[SuggestionKind.LINK][article].add(((article, start, end, kb_entity), label))
    return gold


def quality_report(*, project: Project) -> list[VersionQuality]:
    """Every suggester version of the project, newest first, with its quality per label and source."""
    versions = list(
        SuggesterVersion.objects.filter(project=project).order_by("-is_active", "-created_at", "-pk")
    )
    gold = _gold_items(project)
    gold_articles = set().union(*(set(per_article) for per_article in gold.values()))
    ran: dict[int, set[int]] = defaultdict(set)
    pending: dict[int, list[int]] = defaultdict(list)
    links_pending = ExpressionWrapper(Q(pending_links__isnull=False), output_field=BooleanField())
    for version_id, article_id, links in SuggestionRun.objects.filter(
        suggester_version__project=project, article_id__in=gold_articles
    ).values_list("suggester_version_id", "article_id", links_pending):
        ran[version_id].add(article_id)
        if links:
            pending[version_id].append(article_id)
    for version in versions:
        if pending.get(version.pk):  # the link candidates batch pre-annotation left for the first need
            complete_links(version=version, article_ids=pending[version.pk])
    by_label, by_source = _tallies(project)
    predicted: dict[int, dict[str, set[tuple[Any, str]]]] = defaultdict(lambda: {k: set() for k in KINDS})
    rows = (
        Suggestion.objects.filter(suggester_version__project=project, article_id__in=gold_articles)
        .exclude(source__in=ON_DEMAND_SOURCES)
        .values_list(
            "suggester_version_id", "kind", "article_id", "start", "end", "entity_type__name", "tail_start",
            "tail_end", "relation_type__name", "relation_type__directed", "kb_entity_id", "rank",
        )
    )  # fmt: skip
    for version_id, kind, article, start, end, label, ts, te, relation, directed, kb_entity, rank in rows:
        if article not in ran[version_id]:
            continue
        if kind == SuggestionKind.ENTITY:
            predicted[version_id][kind].add(((article, start, end), label))
        elif kind == SuggestionKind.RELATION:
            head: tuple[int, ...] = (start, end)
            tail: tuple[int, ...] = (ts or 0, te or 0)  # a relation always has its tail
            if not directed and tail < head:
                head, tail = tail, head
            predicted[version_id][kind].add(((article, *head, *tail), relation))
        elif rank == 0:
            predicted[version_id][kind].add(((article, start, end, kb_entity), label))
    report = []
    for version in versions:
        articles = ran.get(version.pk, set())
        quality = VersionQuality(version, len(articles), sources=dict(by_source.get(version.pk, {})))
        scores: dict[str, dict[str, Score]] = {}
        if articles:
            for kind in KINDS:
                expected = [item for a in articles for item in gold[kind].get(a, ())]
                scores[kind] = score(predicted[version.pk][kind], expected)
        tallies = by_label.get(version.pk, {})
        keys = set(tallies) | {(kind, label) for kind, s in scores.items() for label in s if label != MICRO}
        for kind in KINDS:
            labels = sorted(label for k, label in keys if k == kind)
            total = Tally()
            for label in labels:
                tally = tallies.get((kind, label), Tally())
                quality.labels.append(LabelQuality(kind, label, tally, scores.get(kind, {}).get(label)))
                total.suggested += tally.suggested
                total.accepted += tally.accepted
                total.corrected += tally.corrected
                total.rejected += tally.rejected
            if labels:
                quality.labels.append(
                    LabelQuality(kind, MICRO, total, scores[kind][MICRO] if kind in scores else None)
                )
        report.append(quality)
    return report
