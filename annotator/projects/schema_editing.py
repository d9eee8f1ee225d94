"""Changing a project's schema: entity types, relation types and attributes (the editor page and the API).

Renaming is free: annotations point at types by id; the few places that name a type (the KB's entity
types, the suggester's label map) follow the rename. A change that would leave annotations outside the
schema (relations whose types the new head or tail types leave out, attribute values a narrower list
no longer holds) is refused with the count unless the caller says to remove them, which it does with
history in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotator.annotations.models import AnnotationSet, Relation, SpanAttribute
from annotator.core.bulk_history import purge_with_history
from annotator.core.errors import DomainError
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, EntityTypeAttribute, Project, RelationType
from annotator.projects.services import ensure_not_archived
from annotator.suggestions.models import SuggesterSettings, Suggestion

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class SchemaConflict(DomainError):
    """The change would leave annotations outside the schema; `count` of them would have to go."""

    def __init__(self, message: str, *, count: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.count = count


def bump_sets(set_ids: set[int]) -> None:
    """A new version for every set a schema change rewrote: open pages reload instead of overwriting it."""
    if set_ids:
        AnnotationSet.objects.filter(pk__in=set_ids).update(
            version=F("version") + 1, updated_at=timezone.now()
        )


def delete_with_history(rows: Sequence[Any], by: User | None) -> set[int]:
    """Delete rows of one model in bulk, each recorded in the history; returns the sets they were in."""
    if not rows:
        return set()
    set_ids = {
        row.annotation_set_id if hasattr(row, "annotation_set_id") else row.span.annotation_set_id
        for row in rows
    }
    purge_with_history(type(rows[0]), rows, by)
    return set_ids


def _check_clashes(project: Project, instance: EntityType | RelationType) -> None:
    """Names and keys are unique in the project; the annotate page reads keys without case ("P" is "p")."""
    others = type(instance).objects.filter(project=project)
    if instance.pk is not None:
        others = others.exclude(pk=instance.pk)
    kind = "entity" if isinstance(instance, EntityType) else "relation"
    if others.filter(name=instance.name.strip()).exists():
        raise ValidationError({"name": f"Another {kind} type of the project is named {instance.name!r}."})
    if instance.key and others.filter(key__iexact=instance.key).exists():
        raise ValidationError({"key": f"Another {kind} type of the project has the key {instance.key!r}."})


def _renamed(project: Project, old: str, new: str) -> None:
    """Places that name an entity type by name follow its rename."""
    if old == new:
        return
    KBEntity.objects.filter(knowledge_base__project=project, type=old).update(type=new)
    settings = SuggesterSettings.objects.filter(project=project).first()
    if settings is not None and isinstance(settings.label_map, dict) and old in settings.label_map.values():
        settings.label_map = {k: (new if v == old else v) for k, v in settings.label_map.items()}
        settings.save(update_fields=["label_map"])


@transaction.atomic
def save_entity_type(
    *, project: Project, entity_type: EntityType | None = None, values: dict[str, Any]
) -> EntityType:
    """Create an entity type, or change one (name, key, colour, description, position)."""
    ensure_not_archived(project)
    entity_type = (
        EntityType.objects.select_for_update().get(pk=entity_type.pk)
        if entity_type is not None
        else EntityType(project=project)
    )
    if entity_type.pk is None and "position" not in values:
        values = {**values, "position": EntityType.objects.filter(project=project).count()}
    old_name = entity_type.name
    for name, value in values.items():
        setattr(entity_type, name, value)
    _check_clashes(project, entity_type)
    entity_type.full_clean()
    creating = entity_type.pk is None
    entity_type.save()
    if not creating:
        _renamed(project, old_name, entity_type.name)
    return entity_type


def relations_outside(
    relation_type: RelationType, *, directed: bool, heads: set[int], tails: set[int]
) -> list[Relation]:
    """The relations of this type that the given directedness and head and tail types would not allow."""

    def fits(head: int, tail: int) -> bool:
        return (not heads or head in heads) and (not tails or tail in tails)

    outside = []
    for relation in Relation.objects.filter(relation_type=relation_type).select_related("head", "tail"):
        head, tail = relation.head.entity_type_id, relation.tail.entity_type_id
        if not (fits(head, tail) or (not directed and fits(tail, head))):
            outside.append(relation)
    return outside


@transaction.atomic
def save_relation_type(
    *,
    project: Project,
    relation_type: RelationType | None = None,
    values: dict[str, Any],
    head_types: Sequence[EntityType],
    tail_types: Sequence[EntityType],
    remove_unfitting: bool = False,
    by: User | None = None,
) -> RelationType:
    """Create or change a relation type. Relations its new head/tail types leave out are refused, or removed."""
    ensure_not_archived(project)
    for entity_type in (*head_types, *tail_types):
        if entity_type.project_id != project.pk:
            raise ValidationError({"head_types": "Head and tail types are entity types of this project."})
    relation_type = (
        RelationType.objects.select_for_update().get(pk=relation_type.pk)
        if relation_type is not None
        else RelationType(project=project)
    )
    if relation_type.pk is None and "position" not in values:
        values = {**values, "position": RelationType.objects.filter(project=project).count()}
    for name, value in values.items():
        setattr(relation_type, name, value)
    _check_clashes(project, relation_type)
    relation_type.full_clean()
    if relation_type.pk is not None:
        outside = relations_outside(
            relation_type,
            directed=relation_type.directed,
            heads={t.pk for t in head_types},
            tails={t.pk for t in tail_types},
        )
        if outside and not remove_unfitting:
            raise SchemaConflict(
                f"{len(outside)} relations of this type would no longer fit its head and tail types; "
                "remove them, or keep the types that they use.",
                count=len(outside),
                field="head_types",
            )
        bump_sets(delete_with_history(outside, by))
    relation_type.save()
    relation_type.head_types.set(head_types)
    relation_type.tail_types.set(tail_types)
    return relation_type


def relation_type_usage(relation_type: RelationType) -> dict[str, int]:
    relations = Relation.objects.filter(relation_type=relation_type)
    return {
        "relations": relations.count(),
        "sets": relations.values("annotation_set").distinct().count(),
        "suggestions": Suggestion.objects.filter(relation_type=relation_type).count(),
    }


@transaction.atomic
def delete_relation_type(*, relation_type: RelationType, by: User | None) -> dict[str, int]:
    """Delete the relation type with its relations (recorded in the history) and suggestions."""
    ensure_not_archived(relation_type.project_id)
    usage = relation_type_usage(relation_type)
    bump_sets(delete_with_history(list(Relation.objects.filter(relation_type=relation_type)), by))
    relation_type.delete()  # its suggestions cascade
    return usage


@transaction.atomic
def merge_relation_type(*, source: RelationType, into: RelationType, by: User | None) -> int:
    """Give `source`'s relations the type `into` (a duplicate of one `into` already has goes), then delete it.

    `into` allows whatever `source` allowed, so no moved relation falls outside its schema."""
    ensure_not_archived(source.project_id)
    if source.pk == into.pk or source.project_id != into.project_id:
        raise ValueError("Merge a relation type into another one of the same project.")
    existing = set(
        Relation.objects.filter(relation_type=into).values_list("annotation_set_id", "head_id", "tail_id")
    )
    moved, set_ids = 0, set()
    for relation in Relation.objects.filter(relation_type=source):
        relation._history_user = by  # type: ignore[attr-defined]
        set_ids.add(relation.annotation_set_id)
        if (relation.annotation_set_id, relation.head_id, relation.tail_id) in existing:
            relation.delete()
            continue
        relation.relation_type = into
        relation.save(update_fields=["relation_type", "updated_at"])
        moved += 1
    _widen(into, source)
    Suggestion.objects.filter(relation_type=source).update(relation_type=into)
    bump_sets(set_ids)
    source.delete()
    return moved


def _widen(into: RelationType, source: RelationType) -> None:
    """`into` allows every head and tail that `source` allowed ("none" allows any, so it stays none)."""
    for mine, theirs in ((into.head_types, source.head_types), (into.tail_types, source.tail_types)):
        if not mine.exists():
            continue
        if not theirs.exists():
            mine.clear()
        else:
            mine.add(*theirs.all())


@transaction.atomic
def save_attribute(
    *,
    entity_type: EntityType,
    attribute: EntityTypeAttribute | None = None,
    values: dict[str, Any],
    remove_values: bool = False,
    by: User | None = None,
) -> EntityTypeAttribute:
    """Create or change an attribute. A kind change, or a list that drops a used value, needs `remove_values`."""
    ensure_not_archived(entity_type.project_id)
    # A fresh, locked copy: what is stored decides what the change would drop, not what the caller holds.
    attribute = (
        EntityTypeAttribute.objects.select_for_update().get(pk=attribute.pk)
        if attribute is not None
        else EntityTypeAttribute(entity_type=entity_type)
    )
    if attribute.pk is None and "position" not in values:
        values = {**values, "position": entity_type.attributes.count()}
    old_kind = attribute.kind
    for name, value in values.items():
        setattr(attribute, name, value)
    attribute.full_clean()
    if attribute.pk is not None:
        used = list(SpanAttribute.objects.filter(attribute=attribute).select_related("span"))
        misfits = [row for row in used if not _fits(attribute, old_kind, row.value)]
        if misfits and not remove_values:
            raise SchemaConflict(
                f"{len(misfits)} spans have values of {attribute.name} that it would no longer take; "
                "remove those values, or keep them allowed.",
                count=len(misfits),
                field="choices" if attribute.kind == old_kind else "kind",
            )
        bump_sets(delete_with_history(misfits, by))
    attribute.save()
    return attribute


def _fits(attribute: EntityTypeAttribute, old_kind: str, value: object) -> bool:
    if attribute.kind != old_kind:
        return False
    try:
        attribute.check_value(value)
    except ValidationError:
        return False
    return True


@transaction.atomic
def delete_attribute(*, attribute: EntityTypeAttribute, by: User | None) -> int:
    """Delete the attribute and every span's value of it (recorded in the history); returns how many."""
    ensure_not_archived(attribute.entity_type.project_id)
    values = list(SpanAttribute.objects.filter(attribute=attribute).select_related("span"))
    bump_sets(delete_with_history(values, by))
    attribute.delete()
    return len(values)
