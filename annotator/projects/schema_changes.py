"""Deleting and merging schema types that annotations use: counts first, then one transaction with history.

Merging entity type A into B moves every use of A to B: spans (a span that B already has at the same
place in the same set is a duplicate: its relations move to the B span and it goes), suggestions,
relation types that allow A (they allow B instead), the KB's type names, the suggester's label map, and
A's attributes (onto B's attribute of the same name and kind, else moved to B). Deleting A deletes its
spans with their relations, links and attribute values, its suggestions, and relation types that allowed
only A at one end. Every annotation set touched gets a new version, so an annotate page open on it
reloads instead of writing over the change. Nothing is left pointing at a type that is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q

from annotator.annotations.models import EntityLink, Relation, SetKind, Span, SpanAttribute
from annotator.core.bulk_history import purge_with_history, update_with_history
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, EntityTypeAttribute, RelationType
from annotator.projects.schema_editing import bump_sets, delete_with_history
from annotator.projects.services import ensure_not_archived
from annotator.suggestions.models import SuggesterSettings, Suggestion

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class EntityTypeUsage:
    """What uses an entity type: what a delete would remove and a merge would move."""

    spans: int
    gold_spans: int
    relations: int
    attribute_values: int
    suggestions: int
    sets: int
    relation_types_only_this: tuple[str, ...]  # relation types allowing only this type at one end

    @property
    def used(self) -> bool:
        return bool(self.spans or self.suggestions or self.relation_types_only_this)


def entity_type_usage(entity_type: EntityType) -> EntityTypeUsage:
    spans = Span.objects.filter(entity_type=entity_type)
    return EntityTypeUsage(
        spans=spans.count(),
        gold_spans=spans.filter(annotation_set__kind=SetKind.GOLD).count(),
        relations=Relation.objects.filter(Q(head__entity_type=entity_type) | Q(tail__entity_type=entity_type))
        .distinct()
        .count(),
        attribute_values=SpanAttribute.objects.filter(span__entity_type=entity_type).count(),
        suggestions=Suggestion.objects.filter(
            Q(entity_type=entity_type) | Q(tail_entity_type=entity_type)
        ).count(),
        sets=spans.values("annotation_set").distinct().count(),
        relation_types_only_this=tuple(r.name for r in _relation_types_only(entity_type)),
    )


def _relation_types_only(entity_type: EntityType) -> list[RelationType]:
    """Relation types of the project that allow this type, and nothing else, as head or as tail."""
    only = []
    for relation_type in RelationType.objects.filter(project_id=entity_type.project_id).prefetch_related(
        "head_types", "tail_types"
    ):
        for allowed in (relation_type.head_types.all(), relation_type.tail_types.all()):
            if [t.pk for t in allowed] == [entity_type.pk]:
                only.append(relation_type)
                break
    return only


@transaction.atomic
def delete_entity_type(*, entity_type: EntityType, by: User | None) -> EntityTypeUsage:
    """Delete the type with everything annotated with it (see the module docstring); returns the counts."""
    ensure_not_archived(entity_type.project_id)
    EntityType.objects.select_for_update().filter(pk=entity_type.pk).first()
    usage = entity_type_usage(entity_type)
    spans = list(Span.objects.filter(entity_type=entity_type))
    set_ids = {span.annotation_set_id for span in spans}
    # Everything that hangs off the spans goes first, each with its history row; then the spans.
    delete_with_history(
        list(Relation.objects.filter(Q(head__entity_type=entity_type) | Q(tail__entity_type=entity_type))), by
    )
    delete_with_history(
        list(SpanAttribute.objects.filter(span__entity_type=entity_type).select_related("span")), by
    )
    delete_with_history(
        list(EntityLink.objects.filter(span__entity_type=entity_type).select_related("span")), by
    )
    delete_with_history(spans, by)
    Suggestion.objects.filter(Q(entity_type=entity_type) | Q(tail_entity_type=entity_type)).delete()
    for relation_type in _relation_types_only(entity_type):
        relation_type.delete()  # its relations went with the spans above
    bump_sets(set_ids)
    _forget_label(entity_type, into=None)
    entity_type.attributes.all().delete()
    entity_type.delete()
    return usage


@dataclass(frozen=True)
class MergeReport:
    spans_moved: int
    duplicates_removed: int
    suggestions_moved: int
    attributes_moved: int


@transaction.atomic
def merge_entity_type(*, source: EntityType, into: EntityType, by: User | None) -> MergeReport:
    """Move every use of `source` to `into` and delete `source` (see the module docstring)."""
    ensure_not_archived(source.project_id)
    if source.pk == into.pk or source.project_id != into.project_id:
        raise ValueError("Merge a type into another type of the same project.")
    EntityType.objects.select_for_update().filter(pk__in=[source.pk, into.pk]).order_by("pk").first()
    attribute_map, attributes_moved = _merge_attributes(source, into)
    spans = list(Span.objects.filter(entity_type=source).select_related("annotation_set"))
    set_ids = {span.annotation_set_id for span in spans}
    twins = {
        (s.annotation_set_id, s.start, s.end): s
        for s in Span.objects.filter(entity_type=into, annotation_set_id__in=set_ids)
    }
    moving: list[Span] = []
    duplicates: list[Span] = []
    for span in spans:
        twin = twins.get((span.annotation_set_id, span.start, span.end))
        (duplicates if twin else moving).append(span)
    _fold_duplicates(
        duplicates,
        {s.pk: twins[(s.annotation_set_id, s.start, s.end)] for s in duplicates},
        attribute_map,
        by,
    )
    update_with_history(Span, moving, {"entity_type": into}, by)
    for old, new in attribute_map.items():
        update_with_history(
            SpanAttribute, list(SpanAttribute.objects.filter(attribute_id=old)), {"attribute_id": new}, by
        )
    suggestions = Suggestion.objects.filter(entity_type=source).update(entity_type=into)
    suggestions += Suggestion.objects.filter(tail_entity_type=source).update(tail_entity_type=into)
    for relation_type in RelationType.objects.filter(project_id=source.project_id):
        for allowed in (relation_type.head_types, relation_type.tail_types):
            if allowed.filter(pk=source.pk).exists():
                allowed.remove(source)
                allowed.add(into)
    KBEntity.objects.filter(knowledge_base__project_id=source.project_id, type=source.name).update(
        type=into.name
    )
    _forget_label(source, into=into)
    bump_sets(set_ids)
    EntityTypeAttribute.objects.filter(entity_type=source).delete()  # their values moved above
    source.delete()
    return MergeReport(len(moving), len(duplicates), suggestions, attributes_moved)


def _merge_attributes(source: EntityType, into: EntityType) -> tuple[dict[int, int], int]:
    """Give `into` the source's attributes. Returns which source attribute's values go to which attribute
    of `into` (same name and kind, and every value fits), and how many attributes moved whole."""
    existing = {a.name: a for a in into.attributes.all()}
    mapping, moved = {}, 0
    for attribute in source.attributes.all():
        target = existing.get(attribute.name)
        if target is not None and target.kind == attribute.kind and _values_fit(attribute, target):
            mapping[attribute.pk] = target.pk
            continue
        if target is not None:
            attribute.name = f"{attribute.name} ({source.name})"[:64]
        attribute.entity_type = into
        attribute.save(update_fields=["entity_type", "name"])
        moved += 1
    return mapping, moved


def _values_fit(attribute: EntityTypeAttribute, target: EntityTypeAttribute) -> bool:
    if attribute.kind != "choice":
        return True
    return set(attribute.choices) <= set(target.choices)


def _fold_duplicates(
    duplicates: list[Span], twin_of: dict[int, Span], attribute_map: dict[int, int], by: User | None
) -> None:
    """Source spans where `into` already has one: their relations, values and link move to the twin (or
    go, where the twin already has the same), then they go. A few queries for all of them, not per span;
    only what actually moves is saved row by row (rare: a duplicate with relations or values)."""
    if not duplicates:
        return
    ids = list(twin_of)

    def moved(span_id: int) -> int:
        return twin_of[span_id].pk if span_id in twin_of else span_id

    relations = list(Relation.objects.filter(Q(head_id__in=ids) | Q(tail_id__in=ids)))
    taken = set(
        Relation.objects.filter(annotation_set_id__in={r.annotation_set_id for r in relations})
        .exclude(pk__in=[r.pk for r in relations])
        .values_list("annotation_set_id", "head_id", "tail_id", "relation_type_id")
    )
    dropped = []
    for relation in relations:
        head, tail = moved(relation.head_id), moved(relation.tail_id)
        key = (relation.annotation_set_id, head, tail, relation.relation_type_id)
        if head == tail or key in taken:
            dropped.append(relation)
            continue
        taken.add(key)
        relation.head_id, relation.tail_id = head, tail
        relation._history_user = by  # type: ignore[attr-defined]
    purge_with_history(Relation, dropped, by)
    for relation in relations:
        if relation not in dropped:
            relation.save(update_fields=["head", "tail", "updated_at"])

    twins = [twin.pk for twin in twin_of.values()]
    has = set(SpanAttribute.objects.filter(span_id__in=twins).values_list("span_id", "attribute_id"))
    values, gone = list(SpanAttribute.objects.filter(span_id__in=ids)), []
    for value in values:
        span_id, attribute_id = (
            moved(value.span_id),
            attribute_map.get(value.attribute_id, value.attribute_id),
        )
        if (span_id, attribute_id) in has:
            gone.append(value)
            continue
        has.add((span_id, attribute_id))
        value.span_id, value.attribute_id = span_id, attribute_id
        value._history_user = by  # type: ignore[attr-defined]
        value.save(update_fields=["span", "attribute", "updated_at"])
    purge_with_history(SpanAttribute, gone, by)

    linked = set(EntityLink.objects.filter(span_id__in=twins).values_list("span_id", flat=True))
    unneeded = []
    for link in EntityLink.objects.filter(span_id__in=ids):
        if moved(link.span_id) in linked:
            unneeded.append(link)
            continue
        link.span_id = moved(link.span_id)
        link._history_user = by  # type: ignore[attr-defined]
        link.save(update_fields=["span", "updated_at"])
    purge_with_history(EntityLink, unneeded, by)
    purge_with_history(Span, duplicates, by)


def _forget_label(entity_type: EntityType, *, into: EntityType | None) -> None:
    """The suggester's label map names types: point it at the merged type, or drop the deleted one."""
    settings = SuggesterSettings.objects.filter(project_id=entity_type.project_id).first()
    if settings is None or not isinstance(settings.label_map, dict):
        return
    changed = False
    for label, target in list(settings.label_map.items()):
        if target == entity_type.name:
            changed = True
            if into is None:
                del settings.label_map[label]
            else:
                settings.label_map[label] = into.name
    if changed:
        settings.save(update_fields=["label_map"])
