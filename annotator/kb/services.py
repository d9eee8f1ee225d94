"""Writes to knowledge bases: loading entities in batches, creating, editing and merging them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from simple_history.utils import bulk_update_with_history

from annotator.annotations.models import AnnotationSet, EntityLink
from annotator.core.errors import DomainError
from annotator.core.text import isolate
from annotator.core.upsert import Change
from annotator.kb.models import Alias, KBEntity, KnowledgeBase
from annotator.kb.normalize import normalize_alias
from annotator.kb.records import MAX_KB_ID, EntityRecord, record_problems
from annotator.projects.models import EntityType, Project
from annotator.projects.services import ensure_not_archived

if TYPE_CHECKING:
    from django.contrib.auth.models import User

__all__ = [
    "EntityRecord",
    "InvalidEntity",
    "MergeReport",
    "create_entity",
    "create_knowledge_base",
    "default_knowledge_base",
    "merge_entities",
    "update_entity",
    "upsert_entity",
    "write_entities",
]

_ENTITY_FIELDS = ("name", "description", "type", "prior", "instance_of", "metadata")


class InvalidEntity(DomainError):
    """A KB entity (or knowledge base) that would break a rule: a missing name, a taken id, a bad prior."""


# Loading (imports and the demo)


def write_entities(*, knowledge_base: KnowledgeBase, records: Sequence[EntityRecord]) -> list[Change]:
    """Create or update the records' entities (same kb_id: updated in place), in a few queries per batch.

    An entity's aliases become the record's names plus the aliases people added (`manual`), which
    imports never remove. Entities and aliases that already match are not written at all. A kb_id that
    occurs twice in `records` takes the last one. Returns each record's change, in order. The records
    must be valid (see `record_problems`); the caller owns the transaction.
    """
    latest = {record.kb_id: record for record in records}
    existing = {
        row["kb_id"]: row
        for row in KBEntity.objects.filter(knowledge_base=knowledge_base, kb_id__in=latest).values(
            "id", "kb_id", *_ENTITY_FIELDS
        )
    }
    now = timezone.now()
    changes: dict[str, Change] = {}
    created = [
        KBEntity(knowledge_base=knowledge_base, kb_id=kb_id, **_values(record))
        for kb_id, record in latest.items()
        if kb_id not in existing
    ]
    KBEntity.objects.bulk_create(created, batch_size=1000)
    ids = {entity.kb_id: entity.pk for entity in created}
    changed = []
    for kb_id, row in existing.items():
        ids[kb_id] = row["id"]
        values = _values(latest[kb_id])
        if any(row[name] != value for name, value in values.items()):
            changed.append(KBEntity(pk=row["id"], updated_at=now, **values))
            changes[kb_id] = Change.UPDATED
    if changed:
        KBEntity.objects.bulk_update(changed, [*_ENTITY_FIELDS, "updated_at"], batch_size=500)
    changes.update({entity.kb_id: Change.CREATED for entity in created})

    by_entity: dict[int, dict[tuple[str, str], tuple[int, bool]]] = {ids[kb_id]: {} for kb_id in existing}
    for pk, entity_id, text, language, manual in Alias.objects.filter(entity_id__in=by_entity).values_list(
        "pk", "entity_id", "text", "language", "manual"
    ):
        by_entity[entity_id][(text, language)] = (pk, manual)
    stale: list[int] = []
    missing: list[Alias] = []
    for kb_id, record in latest.items():
        entity_id = ids[kb_id]
        have = by_entity.get(entity_id, {})
        wanted = record.alias_keys()
        gone = [pk for key, (pk, manual) in have.items() if key not in wanted and not manual]
        new = sorted(wanted - have.keys())
        stale.extend(gone)
        missing.extend(
            Alias(
                entity_id=entity_id,
                knowledge_base=knowledge_base,
                text=text,
                normalized=normalize_alias(text),
                language=language,
            )
            for text, language in new
        )
        if (gone or new) and kb_id not in changes:
            changes[kb_id] = Change.UPDATED
    if stale:
        Alias.objects.filter(pk__in=stale).delete()
    Alias.objects.bulk_create(missing, batch_size=1000)
    return [changes.get(record.kb_id, Change.UNCHANGED) for record in records]


def _values(record: EntityRecord) -> dict[str, object]:
    return {
        "name": record.name,
        "description": record.description,
        "type": record.type,
        "prior": record.prior,
        "instance_of": list(record.instance_of),
        "metadata": record.metadata,
    }


@transaction.atomic
def upsert_entity(*, knowledge_base: KnowledgeBase, record: EntityRecord) -> tuple[KBEntity, Change]:
    """Create the entity, or update it in place (same kb_id), so re-importing is idempotent.

    Its aliases become exactly the record's names (plus those people added); links to the entity are
    untouched. An entity that already matches the record is not written at all.
    """
    ensure_not_archived(knowledge_base.project_id)
    if problems := record_problems(record):
        raise ValueError(f"{problems[0][1]} ({record.kb_id!r})")
    [change] = write_entities(knowledge_base=knowledge_base, records=[record])
    return KBEntity.objects.get(knowledge_base=knowledge_base, kb_id=record.kb_id), change


# People's edits


def create_knowledge_base(
    *, project: Project, name: str, description: str = "", languages: Sequence[str] = ("en",)
) -> KnowledgeBase:
    """A new, empty knowledge base for the project."""
    name = name.strip()
    if not name:
        raise InvalidEntity("Give the knowledge base a name.", field="name")
    if len(name) > 200:
        raise InvalidEntity("A knowledge base's name has at most 200 characters.", field="name")
    if KnowledgeBase.objects.filter(project=project, name=name).exists():
        raise InvalidEntity(f"This project already has a knowledge base named {name!r}.", field="name")
    return KnowledgeBase.objects.create(
        project=project, name=name, description=description, languages=list(languages)
    )


def default_knowledge_base(project: Project) -> KnowledgeBase:
    """Where a new entity goes when nobody said: the project's only KB, or a new one if it has none."""
    knowledge_bases = list(KnowledgeBase.objects.filter(project=project)[:2])
    if len(knowledge_bases) == 1:
        return knowledge_bases[0]
    if knowledge_bases:
        raise InvalidEntity(
            "This project has several knowledge bases; say which one the entity goes in.",
            field="knowledge_base",
        )
    return KnowledgeBase.objects.get_or_create(
        project=project,
        name="Project entities",
        defaults={"description": "Entities the project's people added."},
    )[0]


def _check_type(project_id: int, entity_type: str, *, unchanged: str | None = None) -> None:
    if not entity_type or entity_type == unchanged:
        return
    names = list(EntityType.objects.filter(project_id=project_id).values_list("name", flat=True))
    if entity_type not in names:
        raise InvalidEntity(
            f"{entity_type!r} is not an entity type of this project "
            f"(its types are {', '.join(isolate(name) for name in names) or 'none yet'}).",
            field="type",
        )


def _check_fields(record: EntityRecord) -> None:
    for field_name, message in record_problems(record):
        raise InvalidEntity(message, field={"id": "kb_id"}.get(field_name, field_name))


def _clean_aliases(aliases: Sequence[str]) -> list[str]:
    """The alias texts, trimmed, without blanks and repeats, in the order given."""
    return list(dict.fromkeys(text.strip() for text in aliases if normalize_alias(text)))


def _free_kb_id(knowledge_base: KnowledgeBase, name: str) -> str:
    """An id made from the name (`sergey-naryshkin`, then `sergey-naryshkin-2`...) that the KB does not use."""
    base = slugify(name, allow_unicode=True)[: MAX_KB_ID - 8] or "entity"
    taken = set(
        KBEntity.objects.filter(knowledge_base=knowledge_base, kb_id__startswith=base).values_list(
            "kb_id", flat=True
        )
    )
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


def create_entity(
    *,
    knowledge_base: KnowledgeBase,
    name: str,
    kb_id: str = "",
    description: str = "",
    type: str = "",
    prior: float = 0.0,
    aliases: Sequence[str] = (),
    language: str = "",
    by: User | None,
) -> KBEntity:
    """Add an entity to a knowledge base, e.g. for a mention the KB lacks. An empty kb_id is made from the name.

    The name and the aliases become the entity's aliases (kept by re-imports). Refuses a blank name, a
    prior outside [0, 1], a type the project's schema does not have, and an id the KB already uses.
    """
    ensure_not_archived(knowledge_base.project_id)
    name, kb_id = name.strip(), kb_id.strip()
    texts = _clean_aliases(aliases)
    record = EntityRecord(
        kb_id=kb_id or "-", name=name, aliases=tuple((t, language) for t in texts), description=description.strip(),
        type=type.strip(), prior=prior, language=language,
    )  # fmt: skip
    _check_fields(record)
    _check_type(knowledge_base.project_id, record.type)
    try:
        with transaction.atomic():
            if not kb_id:
                kb_id = _free_kb_id(knowledge_base, name)
            elif KBEntity.objects.filter(knowledge_base=knowledge_base, kb_id=kb_id).exists():
                raise InvalidEntity(
                    f"{knowledge_base.name} already has an entity with the id {kb_id!r}.", field="kb_id"
                )
            entity = KBEntity.objects.create(
                knowledge_base=knowledge_base,
                kb_id=kb_id,
                name=name,
                description=record.description,
                type=record.type,
                prior=prior,
                metadata={"created_by": by.get_username()} if by is not None else {},
            )
            Alias.objects.bulk_create(
                Alias(
                    entity=entity, knowledge_base=knowledge_base, text=text, normalized=normalize_alias(text),
                    language=language, manual=True,
                )
                for text in dict.fromkeys([name, *texts])
            )  # fmt: skip
    except IntegrityError:
        # Someone took the id between the check and the insert.
        raise InvalidEntity(
            f"{knowledge_base.name} already has an entity with the id {kb_id!r}.", field="kb_id"
        ) from None
    return entity


@transaction.atomic
def update_entity(
    *, entity: KBEntity, name: str, description: str, type: str, prior: float, aliases: Sequence[str]
) -> KBEntity:
    """Edit an entity. Its aliases become `aliases` plus its name; new ones are kept by re-imports."""
    ensure_not_archived(entity.knowledge_base.project_id)
    name = name.strip()
    texts = _clean_aliases([name, *aliases])
    record = EntityRecord(
        kb_id=entity.kb_id, name=name, aliases=tuple((t, "") for t in texts), description=description.strip(),
        type=type.strip(), prior=prior,
    )  # fmt: skip
    _check_fields(record)
    project_id = (
        KnowledgeBase.objects.filter(pk=entity.knowledge_base_id).values_list("project_id", flat=True).get()
    )
    _check_type(project_id, record.type, unchanged=entity.type)
    entity.name, entity.description, entity.type, entity.prior = name, record.description, record.type, prior
    entity.save(update_fields=["name", "description", "type", "prior", "updated_at"])
    have = set(Alias.objects.filter(entity=entity).values_list("text", flat=True))
    Alias.objects.filter(entity=entity).exclude(text__in=texts).delete()
    Alias.objects.bulk_create(
        Alias(
            entity=entity, knowledge_base_id=entity.knowledge_base_id, text=text, normalized=normalize_alias(text),
            manual=True,
        )
        for text in texts
        if text not in have
    )  # fmt: skip
    return entity


@dataclass(frozen=True)
class MergeReport:
    links_moved: int
    aliases_moved: int
    sets_changed: int


@transaction.atomic
def merge_entities(*, duplicate: KBEntity, into: KBEntity, by: User | None) -> MergeReport:
    """Merge a duplicate into the entity that stays: its links and aliases move there, and it keeps
    `merged_into` so that old references still lead somewhere.

    Links are moved in every annotation set (submitted ones too: they name the same thing as before),
    each with its history, and every set whose links changed gets a new version, so that a page
    holding the old one gets a conflict rather than stale links.
    """
    ensure_not_archived(into.knowledge_base.project_id)
    locked = {e.pk: e for e in KBEntity.objects.select_for_update().filter(pk__in=[duplicate.pk, into.pk])}
    duplicate, into = locked.get(duplicate.pk, duplicate), locked.get(into.pk, into)
    _check_mergeable(duplicate, into)
    now = timezone.now()
    links = list(EntityLink.objects.filter(kb_entity=duplicate).select_related("span"))
    for link in links:
        link.kb_entity, link.updated_at = into, now
    bulk_update_with_history(links, EntityLink, ["kb_entity", "updated_at"], batch_size=500, default_user=by)
    set_ids = {link.span.annotation_set_id for link in links}
    AnnotationSet.objects.filter(pk__in=set_ids).update(version=F("version") + 1, updated_at=now)

    kept = set(Alias.objects.filter(entity=into).values_list("text", "language"))
    moving = list(Alias.objects.filter(entity=duplicate).values_list("pk", "text", "language"))
    Alias.objects.filter(pk__in=[pk for pk, text, lang in moving if (text, lang) in kept]).delete()
    moved = [pk for pk, text, lang in moving if (text, lang) not in kept]
    Alias.objects.filter(pk__in=moved).update(entity=into, knowledge_base=into.knowledge_base_id, manual=True)
    if not any(text == duplicate.name for text, _ in kept) and not any(
        text == duplicate.name for _, text, _ in moving
    ):
        Alias.objects.create(entity=into, text=duplicate.name, manual=True)
    KBEntity.objects.filter(merged_into=duplicate).update(merged_into=into, updated_at=now)
    duplicate.merged_into = into
    duplicate.save(update_fields=["merged_into", "updated_at"])
    return MergeReport(links_moved=len(links), aliases_moved=len(moved), sets_changed=len(set_ids))


def _check_mergeable(duplicate: KBEntity, into: KBEntity) -> None:
    if duplicate.pk == into.pk:
        raise InvalidEntity("An entity cannot be merged into itself.", field="into")
    projects = dict(
        KnowledgeBase.objects.filter(
            pk__in=[duplicate.knowledge_base_id, into.knowledge_base_id]
        ).values_list("pk", "project_id")
    )
    if projects[duplicate.knowledge_base_id] != projects[into.knowledge_base_id]:
        raise InvalidEntity("Both entities must belong to this project's knowledge bases.", field="into")
    for entity, role in ((duplicate, "duplicate"), (into, "into")):
        if entity.merged_into_id is not None:
            raise InvalidEntity(
                f"{entity.name} ({entity.kb_id}) was already merged into another entity.", field=role
            )
