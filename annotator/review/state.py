"""What the annotate page shows of one annotation set, for the whole text or for a few blocks of it.

A constant number of queries whatever the number of spans: spans (with type and link), the ids of
spans that take part in relations, relations, and the suggestions this set has not decided yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Exists, OuterRef, Q

from annotator.annotations.models import AnnotationSet, Relation, Span
from annotator.review.rendering import Block, Mark, render_block, split_blocks
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind

SURFACE_PREVIEW = 80  # characters of a span's text shown in the side list


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


@dataclass
class SetView:
    """The set's annotations over some blocks of its article, ready to render."""

    annotation_set: AnnotationSet
    text: str
    blocks: list[Block]
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)

    @cached_property
    def marks(self) -> list[Mark]:
        marks = [
            Mark(
                item=f"s{span.pk}",
                start=span.start,
                end=span.end,
                type_id=span.entity_type_id,
                label=span.entity_type.name,
                linked=_link_state(span),
                related=span.related,  # type: ignore[attr-defined]
            )
            for span in self.spans
        ]
        marks += [
            Mark(
                item=f"g{suggestion.pk}",
                start=suggestion.start,
                end=suggestion.end,
                type_id=suggestion.entity_type_id,  # type: ignore[arg-type]
                label=f"{suggestion.entity_type.name} {suggestion.score:.2f}",  # type: ignore[union-attr]
                suggestion=True,
            )
            for suggestion in self.suggestions
            if suggestion.kind == SuggestionKind.ENTITY
        ]
        return marks

    def rendered_blocks(self, *, oob: bool = False) -> list[tuple[Block, str]]:
        return [(block, render_block(self.text, block, self.marks, oob=oob)) for block in self.blocks]

    def rows(self) -> list[BlockRows]:
        """The side list, grouped by the block where each item starts."""
        groups = {block.index: BlockRows(block) for block in self.blocks}
        starts = [block.start for block in self.blocks]

        def group_of(offset: int) -> BlockRows | None:
            from bisect import bisect_right

            index = bisect_right(starts, offset) - 1
            if index < 0:
                return None
            block = self.blocks[index]
            return groups[block.index] if block.start <= offset < block.end else None

        for span in self.spans:
            if group := group_of(span.start):
                group.spans.append(span)
        for relation in self.relations:
            if group := group_of(relation.head.start):
                group.relations.append(relation)
        for suggestion in self.suggestions:
            if group := group_of(suggestion.start):
                group.suggestions.append(suggestion)
        return list(groups.values())


@dataclass
class BlockRows:
    block: Block
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)


def _link_state(span: Span) -> str:
    link = getattr(span, "link", None)
    if link is None:
        return ""
    return "nil" if link.kb_entity_id is None else "kb"


def load_view(annotation_set: AnnotationSet, text: str, blocks: list[Block] | None = None) -> SetView:
    """The set over the given blocks (all of them when None)."""
    every_block = split_blocks(text)
    shown = every_block if blocks is None else blocks
    in_relation = Relation.objects.filter(Q(head=OuterRef("pk")) | Q(tail=OuterRef("pk")))
    spans_query = (
        Span.objects.filter(annotation_set=annotation_set)
        .select_related("entity_type", "link__kb_entity")
        .annotate(related=Exists(in_relation))
        .order_by("start", "end", "id")
    )
    relations_query = Relation.objects.filter(annotation_set=annotation_set).select_related(
        "relation_type", "head__entity_type", "tail__entity_type"
    )
    suggestions_query = (
        Suggestion.objects.filter(pending_suggestions(annotation_set))
        .select_related("entity_type", "tail_entity_type", "relation_type", "kb_entity", "suggester_version")
        .order_by("start", "end", "kind", "rank", "id")
    )
    if blocks is not None:
        spans_query = spans_query.filter(_overlapping(shown))
        relations_query = relations_query.filter(_starting_in(shown, start="head__start"))
        suggestions_query = suggestions_query.filter(_overlapping(shown))
    spans: list[Span] = list(spans_query)
    existing = {(s.start, s.end, s.entity_type_id) for s in spans}
    suggestions = []
    for suggestion in suggestions_query:
        if suggestion.kind == SuggestionKind.ENTITY and (
            (suggestion.start, suggestion.end, suggestion.entity_type_id) in existing
        ):
            continue  # the set already has it as a span: there is nothing to decide
        suggestion.surface = text[suggestion.start : suggestion.end]  # type: ignore[attr-defined]
        if suggestion.tail_start is not None:
            suggestion.tail_surface = text[suggestion.tail_start : suggestion.tail_end]  # type: ignore[attr-defined]
        suggestions.append(suggestion)
    return SetView(
        annotation_set=annotation_set,
        text=text,
        blocks=shown,
        spans=spans,
        relations=list(relations_query.order_by("head__start", "tail__start", "id")),
        suggestions=suggestions,
    )
