"""Curation: the annotators' sets of an article compared item by item, and taking items into gold.

Spans are compared by (start, end, type), relations by their spans' keys and type, links by what they
point at on spans several sets share. With two sets or more, an item is *agreed* when every set has it,
*only in one* when one set has it and no other set put anything else in its place (an overlapping span,
a relation between the same spans, that this set does not have), and *disagreed* otherwise. Every
write is one edit of the gold set (`edit_set`): versioned, all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from annotator.annotations.copying import (
    RELATION_PARTS,
    SPAN_PARTS,
    SpanKey,
    copy_relation,
    copy_span,
    link_of,
    link_value,
    span_key,
)
from annotator.annotations.editing import edit_set
from annotator.annotations.models import AnnotationSet, Relation, SetKind, SetStatus, Span
from annotator.core.errors import InvalidAnnotation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from django.contrib.auth.models import User

    from annotator.articles.models import Article

AGREED, DISAGREED, ONLY_IN_ONE = "agreed", "disagreed", "only-in-one"
IMPORTED_ONLY = "imported-only"  # only imported sets have it: no annotator judged it
STATUSES = [AGREED, DISAGREED, ONLY_IN_ONE, IMPORTED_ONLY]
RelationKey = tuple[SpanKey, SpanKey, int]


def compared_sets(article: Article) -> list[AnnotationSet]:
    """The sets a curator adjudicates: the annotators' submitted sets, by annotator, then the imported sets
    by name. Imported sets (pre-annotations, another tool's work) are shown and can be taken from, but they
    are not annotators' judgements, so they take no part in agreement."""
    submitted = (
        AnnotationSet.objects.filter(article=article, kind=SetKind.ANNOTATOR, status=SetStatus.SUBMITTED)
        .select_related("annotator")
        .order_by("annotator__username", "pk")
    )
    imported = AnnotationSet.objects.filter(article=article, kind=SetKind.IMPORTED).order_by("name", "pk")
    return [*submitted, *imported]


@dataclass(frozen=True)
class Cell:
    """One set's version of an item, as the page shows it: what to take, and where its link points."""

    pk: int
    link_label: str = ""
    in_gold: bool = False  # gold holds exactly this version: taking it would change nothing


def link_label(span: Span) -> str:
    link = link_of(span)
    if link is None:
        return ""
    return "NIL" if link.kb_entity is None else f"{link.kb_entity.name} ({link.kb_entity.kb_id})"


@dataclass
class SpanItem:
    key: SpanKey
    surface: str
    type_name: str
    spans: dict[int, Span] = field(default_factory=dict)  # by set id
    status: str = ""
    link_status: str = ""  # agreed / disagreed on spans several sets share and link; "" otherwise
    in_gold: bool = False
    cells: list[Cell | None] = field(default_factory=list)  # one per compared set, in their order

    @property
    def example(self) -> Span:
        return next(iter(self.spans.values()))


@dataclass
class RelationItem:
    key: RelationKey
    relations: dict[int, Relation] = field(default_factory=dict)
    status: str = ""
    in_gold: bool = False
    cells: list[Cell | None] = field(default_factory=list)

    @property
    def example(self) -> Relation:
        return next(iter(self.relations.values()))


@dataclass
class Comparison:
    sets: list[AnnotationSet]
    spans: list[SpanItem]
    relations: list[RelationItem]

    def agreed_counts(self) -> dict[str, int]:
        return {
            "spans": sum(item.status == AGREED for item in self.spans),
            "relations": sum(item.status == AGREED for item in self.relations),
        }


def _spans_of(sets: list[AnnotationSet]) -> list[Span]:
    return list(
        Span.objects.filter(annotation_set__in=sets)
        .select_related("entity_type", "link__kb_entity")
        .order_by("start", "end", "entity_type__position", "pk")
    )


def _relations_of(sets: list[AnnotationSet]) -> list[Relation]:
    return list(
        Relation.objects.filter(annotation_set__in=sets)
        .select_related("relation_type", "head__entity_type", "tail__entity_type", "head__link", "tail__link")
        .order_by("head__start", "tail__start", "pk")
    )


def compare(article: Article, gold: AnnotationSet | None) -> Comparison:
    """The compared sets' items with their status, and whether gold has each: three queries."""
    sets = compared_sets(article)
    set_ids = [s.pk for s in sets]
    judged = {s.pk for s in sets if s.kind == SetKind.ANNOTATOR}
    spans = _spans_of([*sets, *([gold] if gold else [])])
    relations = _relations_of([*sets, *([gold] if gold else [])])
    gold_id = gold.pk if gold else None

    span_items: dict[SpanKey, SpanItem] = {}
    gold_spans: dict[SpanKey, Span] = {}
    for span in spans:
        if span.annotation_set_id == gold_id:
            gold_spans[span_key(span)] = span
            continue
        item = span_items.setdefault(
            span_key(span), SpanItem(span_key(span), span.surface, span.entity_type.name)
        )
        item.spans[span.annotation_set_id] = span
    for item in span_items.values():
        item.spans = _judged_first(item.spans, judged)
        item.status = _span_status(item, span_items.values(), judged)
        item.link_status = _link_status(item, judged)
        gold_span = gold_spans.get(item.key)
        item.cells = [_cell(item.spans.get(set_id), link_label, gold_span=gold_span) for set_id in set_ids]
        # An agreed link is part of the agreed item: gold has the item only when it has that link too.
        item.in_gold = gold_span is not None and (
            item.link_status != AGREED or link_value(gold_span) == link_value(item.example)
        )

    relation_items: dict[RelationKey, RelationItem] = {}
    gold_relations: set[RelationKey] = set()
    for relation in relations:
        key = (span_key(relation.head), span_key(relation.tail), relation.relation_type_id)
        if relation.annotation_set_id == gold_id:
            gold_relations.add(key)
            continue
        relation_items.setdefault(key, RelationItem(key)).relations[relation.annotation_set_id] = relation
    for relation_item in relation_items.values():
        relation_item.relations = _judged_first(relation_item.relations, judged)
        relation_item.status = _relation_status(relation_item, relation_items.values(), judged)
        relation_item.in_gold = relation_item.key in gold_relations
        relation_item.cells = [
            _cell(relation_item.relations.get(set_id), in_gold=relation_item.in_gold) for set_id in set_ids
        ]
    return Comparison(sets, list(span_items.values()), list(relation_items.values()))


def _cell(
    found: Span | Relation | None,
    label: Callable[[Span], str] | None = None,
    *,
    gold_span: Span | None = None,
    in_gold: bool = False,
) -> Cell | None:
    if found is None:
        return None
    if isinstance(found, Span):
        in_gold = gold_span is not None and link_value(gold_span) == link_value(found)
        return Cell(found.pk, label(found) if label else "", in_gold)
    return Cell(found.pk, "", in_gold)


def _status(all_holders: dict[int, Any], judged: set[int], all_rivals: Iterable[dict[int, Any]]) -> str:
    """An item's status from the annotator sets (`judged`) holding it and holding each item in its place."""
    holders = all_holders.keys() & judged
    if not holders:
        return IMPORTED_ONLY
    rivals = [held for others in all_rivals if (held := others.keys() & judged)]
    set_count = len(judged)
    if set_count >= 2 and len(holders) == set_count:
        return AGREED
    if len(holders) > 1:
        return DISAGREED
    (own_set,) = holders
    # Another set put something here that this one does not have (a nested span both have is no rival).
    if any(own_set not in others for others in rivals):
        return DISAGREED
    return ONLY_IN_ONE


def _span_status(item: SpanItem, items: Iterable[SpanItem], judged: set[int]) -> str:
    start, end, _ = item.key
    rivals = (o.spans for o in items if o is not item and o.key[0] < end and o.key[1] > start)
    return _status(item.spans, judged, rivals)


def _judged_first(held: dict[int, Any], judged: set[int]) -> dict[int, Any]:
    """The holders with the annotators' sets first: an item's example (what "take agreed" copies) is theirs."""
    return dict(sorted(held.items(), key=lambda pair: pair[0] not in judged))


def _link_status(item: SpanItem, judged: set[int]) -> str:
    spans = [span for set_id, span in item.spans.items() if set_id in judged]
    values = {link_value(span) for span in spans}
    if len(spans) < 2 or values == {None}:
        return ""
    return AGREED if len(values) == 1 else DISAGREED


def _relation_status(item: RelationItem, items: Iterable[RelationItem], judged: set[int]) -> str:
    pair = {item.key[0], item.key[1]}
    rivals = (o.relations for o in items if o is not item and {o.key[0], o.key[1]} == pair)
    return _status(item.relations, judged, rivals)


def version_to_take(article: Article, kind: str, pk: int) -> Span | Relation | None:
    """A span or relation (`kind`) of one of the compared sets, loaded for copying; None for anything else."""
    compared = compared_sets(article)
    if kind == "span":
        return Span.objects.filter(annotation_set__in=compared, pk=pk).select_related(*SPAN_PARTS).first()
    if kind == "relation":
        return (
            Relation.objects.filter(annotation_set__in=compared, pk=pk)
            .select_related(*RELATION_PARTS)
            .first()
        )
    return None


# Writes: each is one edit of the gold set.


class AlreadyInGold(InvalidAnnotation):
    """Taking an item gold already holds as it is: nothing is written, not even a new version."""


def _check_gold(gold: AnnotationSet) -> None:
    if gold.kind != SetKind.GOLD:
        raise InvalidAnnotation("Items are taken into the gold set only.", field="set")


def take_span(*, gold: AnnotationSet, span: Span, by: User | None, expected_version: int) -> int:
    """Make gold hold this version of the span (and its link), replacing the gold spans that overlap it
    and that the span's own set does not have: taking one side of a disagreement. Returns how many it replaced."""
    _check_gold(gold)
    source = set(
        Span.objects.filter(
            annotation_set_id=span.annotation_set_id, start__lt=span.end, end__gt=span.start
        ).values_list("start", "end", "entity_type_id")
    )
    with edit_set(gold, expected_version=expected_version, by=by) as editor:
        rivals = [
            other
            for other in Span.objects.filter(annotation_set=gold, start__lt=span.end, end__gt=span.start)
            if span_key(other) not in source
        ]
        for other in rivals:
            editor.remove_span(other)
        _, changed = copy_span(editor, span)
        if not (rivals or changed):
            raise AlreadyInGold("Gold already holds this entity as it is: nothing changed.", field="id")
    return len(rivals)


def take_relation(*, gold: AnnotationSet, relation: Relation, by: User | None, expected_version: int) -> None:
    """Add the relation to gold, with its head and tail spans (and their links) when gold lacks them."""
    _check_gold(gold)
    with edit_set(gold, expected_version=expected_version, by=by) as editor:
        _, changed = copy_relation(editor, relation)
        if not changed:
            raise AlreadyInGold("Gold already holds this relation: nothing changed.", field="id")


def take_agreed(
    *, gold: AnnotationSet, comparison: Comparison, by: User | None, expected_version: int
) -> int:
    """Copy every agreed span (with its link when the link is agreed too) and agreed relation that gold
    lacks, in one edit. Returns how many items it added or changed."""
    _check_gold(gold)
    changed = 0
    with edit_set(gold, expected_version=expected_version, by=by) as editor:
        for item in comparison.spans:
            if item.status == AGREED and not item.in_gold:
                _, did = copy_span(editor, item.example, with_link=item.link_status == AGREED)
                changed += did
        for relation_item in comparison.relations:
            if relation_item.status == AGREED and not relation_item.in_gold:
                _, did = copy_relation(editor, relation_item.example)
                changed += did
    return changed
