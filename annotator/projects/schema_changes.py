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
from simple_history.utils import bulk_update_with_history

from annotator.annotations.models import Relation, SetKind, Span, SpanAttribute
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, EntityTypeAttribute, RelationType
from annotator.projects.schema_editing import bump_sets, delete_with_history
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
    EntityType.objects.select_for_update().filter(pk=entity_type.pk).first()
    usage = entity_type_usage(entity_type)
    spans = list(Span.objects.filter(entity_type=entity_type))
    set_ids = {span.annotation_set_id for span in spans}
    relations = list(
        Relation.objects.filter(Q(head__in=spans) | Q(tail__in=spans)).distinct() if spans else []
    )
    delete_with_history(relations, by)
    delete_with_history(list(SpanAttribute.objects.filter(span__in=spans)), by)
    for span in spans:
        link = getattr(span, "link", None)
        if link is not None:
            delete_with_history([link], by)
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
    for span in duplicates:
        _fold_into(span, twins[(span.annotation_set_id, span.start, span.end)], attribute_map, by)
    for span in moving:
        span.entity_type = into
    bulk_update_with_history(moving, Span, ["entity_type"], default_user=by)
    for old, new in attribute_map.items():
        values = list(SpanAttribute.objects.filter(attribute_id=old))
        for value in values:
            value.attribute_id = new
        bulk_update_with_history(values, SpanAttribute, ["attribute"], default_user=by)
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


def _fold_into(span: Span, twin: Span, attribute_map: dict[int, int], by: User | None) -> None:
    """A source span where `into` already has one: its relations and values go to the twin, then it goes."""
    for relation in Relation.objects.filter(Q(head=span) | Q(tail=span)):
        head = twin if relation.head_id == span.pk else relation.head
        tail = twin if relation.tail_id == span.pk else relation.tail
        clash = Relation.objects.filter(
            annotation_set_id=relation.annotation_set_id,
            head=head,
            tail=tail,
            relation_type=relation.relation_type_id,
        ).exists()
        relation._history_user = by  # type: ignore[attr-defined]
        if clash or head.pk == tail.pk:
            relation.delete()
        else:
            relation.head, relation.tail = head, tail
            relation.save(update_fields=["head", "tail", "updated_at"])
    twin_values = set(SpanAttribute.objects.filter(span=twin).values_list("attribute_id", flat=True))
    for value in SpanAttribute.objects.filter(span=span).select_related("attribute"):
        target = attribute_map.get(value.attribute_id, value.attribute_id)
        value._history_user = by  # type: ignore[attr-defined]
        if target in twin_values:
            value.delete()
        else:
            value.span, value.attribute_id = twin, target
            value.save(update_fields=["span", "attribute", "updated_at"])
    link = getattr(span, "link", None)
    if link is not None:
        link._history_user = by
        if getattr(twin, "link", None) is None:
            link.span = twin
            link.save(update_fields=["span", "updated_at"])
        else:
            link.delete()
    span._history_user = by  # type: ignore[attr-defined]
    span.delete()


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
