"""What the annotate page shows of one annotation set, for the whole text or for a few blocks of it.

A constant number of queries whatever the number of spans: spans (with type and link), the ids of
spans that take part in relations, relations, and the suggestions this set has not decided yet.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, Subquery
from django.utils.safestring import SafeString

from annotator.annotations.models import AnnotationSet, Relation, Span
from annotator.projects.models import EntityType
from annotator.review.rendering import Block, Mark, render_blocks, split_blocks
from annotator.review.rows import LISTS, group
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind


def _overlapping(blocks: list[Block], *, start: str = "start", end: str = "end") -> Q:
    """Rows whose [start, end) overlaps any of the blocks, merging adjacent blocks into one range."""
    ranges: list[list[int]] = []
    for block in blocks:
        if ranges and ranges[-1][1] == block.start:
            ranges[-1][1] = block.end
        else:
            ranges.append([block.start, block.end])
    condition = Q(pk__in=[])
    for low, high in ranges:
        condition |= Q(**{f"{start}__lt": high, f"{end}__gt": low})
    return condition


def _starting_in(blocks: list[Block], *, start: str = "start") -> Q:
    condition = Q(pk__in=[])
    for block in blocks:
        condition |= Q(**{f"{start}__gte": block.start, f"{start}__lt": block.end})
    return condition


def pending_suggestions(annotation_set: AnnotationSet) -> Q:
    """Suggestions for the set's article that the set has not decided, from the active suggester
    (or from every suggester of the project when none is active)."""
    decided = Decision.objects.filter(suggestion=OuterRef("pk"), annotation_set=annotation_set)
    active = SuggesterVersion.objects.filter(project_id=annotation_set.article.project_id, is_active=True)
    condition = Q(article_id=annotation_set.article_id) & ~Q(Exists(decided))
    if active_version := active.values_list("pk", flat=True).first():
        condition &= Q(suggester_version_id=active_version)
    return condition


def set_counts(annotation_set: AnnotationSet, pending: Q) -> dict[str, int]:
    """The whole set's counts for the page header, in one query."""

    def count(queryset: Any) -> Subquery:
        return Subquery(
            queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")[:1],
            output_field=IntegerField(),
        )

    counts = AnnotationSet.objects.filter(pk=annotation_set.pk).values(
        n_spans=count(Span.objects.filter(annotation_set=annotation_set).values("annotation_set")),
        n_relations=count(Relation.objects.filter(annotation_set=annotation_set).values("annotation_set")),
        n_suggestions=count(Suggestion.objects.filter(pending).values("article")),
    )
    return {name.removeprefix("n_"): int(value or 0) for name, value in counts.get().items()}  # type: ignore[call-overload]


@dataclass
class SetView:
    """The set over some blocks of its article: marks for the text, rows for the side lists.

    Marks cover every shown block and are read as plain values (a large article has thousands);
    rows are full objects, read only for `row_blocks`: the other blocks' groups render as placeholders
    that the page loads when they come into view.
    """

    annotation_set: AnnotationSet
    text: str
    blocks: list[Block]
    row_blocks: list[Block]
    marks: list[Mark] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)

    def rendered_blocks(self, *, oob: bool = False) -> list[SafeString]:
        return render_blocks(self.text, self.blocks, self.marks, oob=oob)

    def row_groups(self, *, oob: bool = False) -> dict[str, list[SafeString]]:
        """The side lists, per list and per shown block."""
        loaded = {rows.block.index: rows for rows in self.rows()}
        lists: dict[str, list[SafeString]] = {kind: [] for kind in LISTS}
        for block in self.blocks:
            rows = loaded.get(block.index)
            for kind in LISTS:
                lists[kind].append(group(kind, rows or BlockRows(block), oob=oob, lazy=rows is None))
        return lists

    def rows(self) -> list[BlockRows]:
        """The side list rows of the row blocks, grouped by the block where each item starts."""
        groups = {block.index: BlockRows(block) for block in self.row_blocks}
        starts = [block.start for block in self.row_blocks]

        def group_of(offset: int) -> BlockRows | None:
            index = bisect_right(starts, offset) - 1
            if index < 0:
                return None
            block = self.row_blocks[index]
            return groups[block.index] if block.start <= offset < block.end else None

        for span in self.spans:
            if found := group_of(span.start):
                found.spans.append(span)
        for relation in self.relations:
            if found := group_of(relation.head.start):
                found.relations.append(relation)
        for suggestion in self.suggestions:
            if found := group_of(suggestion.start):
                found.suggestions.append(suggestion)
        return list(groups.values())


@dataclass
class BlockRows:
    block: Block
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)


def load_view(
    annotation_set: AnnotationSet,
    text: str,
    blocks: list[Block] | None = None,
    *,
    row_blocks: list[Block] | None = None,
    pending: Q | None = None,
    with_marks: bool = True,
) -> SetView:
    """The set over `blocks` (all of them when None), with rows for `row_blocks` (default: the same)."""
    shown = split_blocks(text) if blocks is None else blocks
    rows_in = shown if row_blocks is None else row_blocks
    pending = pending if pending is not None else pending_suggestions(annotation_set)
    whole_text = blocks is None
    marks, existing = _marks(annotation_set, shown, pending, whole_text) if with_marks else ([], set())
    return SetView(
        annotation_set=annotation_set,
        text=text,
        blocks=shown,
        row_blocks=rows_in,
        marks=marks,
        **_rows(annotation_set, text, rows_in, pending, existing),
    )


def _marks(
    annotation_set: AnnotationSet, blocks: list[Block], pending: Q, whole_text: bool
) -> tuple[list[Mark], set[tuple[int, int, int]]]:
    """Marks of the spans and pending entity suggestions over the blocks, as plain values."""
    names = dict(
        EntityType.objects.filter(project_id=annotation_set.article.project_id).values_list("pk", "name")
    )
    in_relation = Relation.objects.filter(Q(head=OuterRef("pk")) | Q(tail=OuterRef("pk")))
    spans = Span.objects.filter(annotation_set=annotation_set).annotate(related=Exists(in_relation))
    suggestions = Suggestion.objects.filter(pending, kind=SuggestionKind.ENTITY)
    if not whole_text:
        spans, suggestions = spans.filter(_overlapping(blocks)), suggestions.filter(_overlapping(blocks))
    marks, existing = [], set()
    span_rows = spans.values_list(
        "pk", "start", "end", "entity_type_id", "link__id", "link__kb_entity_id", "related"
    )
    for pk, start, end, type_id, link_id, kb_entity_id, related in span_rows:
        existing.add((start, end, type_id))
        linked = "" if link_id is None else ("nil" if kb_entity_id is None else "kb")
        marks.append(Mark(f"s{pk}", start, end, type_id, names[type_id], linked=linked, related=related))
    for pk, start, end, type_id, score in suggestions.values_list(
        "pk", "start", "end", "entity_type_id", "score"
    ):
        if (start, end, type_id) not in existing:  # the set already has it: nothing to decide
            marks.append(
                Mark(f"g{pk}", start, end, type_id, f"{names[type_id]} {score:.2f}", suggestion=True)
            )
    return marks, existing


def _rows(
    annotation_set: AnnotationSet,
    text: str,
    blocks: list[Block],
    pending: Q,
    existing: set[tuple[int, int, int]],
) -> dict[str, list]:
    """Full objects for the side-list rows of the items that start in the blocks."""
    if not blocks:
        return {"spans": [], "relations": [], "suggestions": []}
    spans = (
        Span.objects.filter(_starting_in(blocks), annotation_set=annotation_set)
        .select_related("entity_type", "link__kb_entity")
        .order_by("start", "end", "id")
    )
    relations = (
        Relation.objects.filter(_starting_in(blocks, start="head__start"), annotation_set=annotation_set)
        .select_related("relation_type", "head", "tail")
        .order_by("head__start", "tail__start", "id")
    )
    suggestions = []
    for suggestion in (
        Suggestion.objects.filter(_starting_in(blocks), pending)
        .select_related("entity_type", "relation_type", "kb_entity")
        .order_by("start", "end", "kind", "rank", "id")
    ):
        key = (suggestion.start, suggestion.end, suggestion.entity_type_id)
        if suggestion.kind == SuggestionKind.ENTITY and key in existing:
            continue
        suggestion.surface = text[suggestion.start : suggestion.end]  # type: ignore[attr-defined]
        if suggestion.tail_start is not None:
            suggestion.tail_surface = text[suggestion.tail_start : suggestion.tail_end]  # type: ignore[attr-defined]
        suggestions.append(suggestion)
    return {"spans": list(spans), "relations": list(relations), "suggestions": suggestions}
