"""Writes to knowledge bases."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from annotator.core.upsert import Change, upsert
from annotator.kb.models import Alias, KBEntity, KnowledgeBase
from annotator.kb.normalize import normalize_alias


@dataclass(frozen=True)
class EntityRecord:
    """One KB entity as a source describes it. The name counts as an alias too."""

    kb_id: str
    name: str
    aliases: tuple[tuple[str, str], ...] = ()  # (text, language)
    description: str = ""
    type: str = ""
    prior: float = 0.0
    instance_of: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)
    language: str = ""  # the language of `name`


@transaction.atomic
def upsert_entity(*, knowledge_base: KnowledgeBase, record: EntityRecord) -> tuple[KBEntity, Change]:
    """Create the entity, or update it in place (same kb_id), so re-importing is idempotent.

    Its aliases become exactly the record's names; links to the entity are untouched. An entity that
    already matches the record is not written at all.
    """
    if not 0.0 <= record.prior <= 1.0:
        raise ValueError(f"prior must be between 0 and 1 (got {record.prior}) for {record.kb_id!r}.")
    entity, change = upsert(
        KBEntity,
        lookup={"knowledge_base": knowledge_base, "kb_id": record.kb_id},
        values={
            "name": record.name,
            "description": record.description,
            "type": record.type,
            "prior": record.prior,
            "instance_of": list(record.instance_of),
            "metadata": record.metadata,
        },
    )
    wanted = {(record.name, record.language), *record.aliases}
    wanted = {(text, language) for text, language in wanted if normalize_alias(text)}
    existing = {(alias.text, alias.language): alias.pk for alias in entity.aliases.all()}
    stale = [pk for key, pk in existing.items() if key not in wanted]
    missing = sorted(wanted - existing.keys())
    if stale:
        Alias.objects.filter(pk__in=stale).delete()
    if missing:
        Alias.objects.bulk_create(
            Alias(
                entity=entity,
                knowledge_base=knowledge_base,
                text=text,
                normalized=normalize_alias(text),
                language=language,
            )
            for text, language in missing
        )
    if change is Change.UNCHANGED and (stale or missing):
        change = Change.UPDATED
    return entity, change
