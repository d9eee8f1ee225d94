"""Creating a project: from a schema document, a preset, or a copy of another project's schema, KBs and settings.

The page, the API and `manage.py create_project` all call `create_project`; the creator becomes manager.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.text import slugify

from annotator.kb.models import Alias, KBEntity, KnowledgeBase
from annotator.projects.models import (
    EntityType,
    EntityTypeAttribute,
    GuidelineVersion,
    Membership,
    Project,
    RelationType,
    Role,
)
from annotator.projects.schema_spec import (
    SETTING_TYPES,
    AttributeSpec,
    EntityTypeSpec,
    RelationTypeSpec,
    SchemaSpec,
)
from annotator.projects.services import update_guidelines
from annotator.suggestions.models import SuggesterSettings

if TYPE_CHECKING:
    from django.contrib.auth.models import User

COPY_BATCH = 2000


@transaction.atomic
def create_project(
    *,
    name: str,
    by: User | None,
    language: str = "en",
    description: str = "",
    schema: SchemaSpec | None = None,
    copy_from: Project | None = None,
    manager: User | None = None,
) -> Project:
    """A new project with the schema (or the copied project's schema, KBs and settings); `manager` (by
    default the creator) becomes its manager. Model rules are checked, so a bad value writes nothing."""
    if schema is not None and copy_from is not None:
        raise ValueError("Start from a schema or from another project, not both.")
    spec = schema_of(copy_from) if copy_from is not None else (schema or SchemaSpec())
    project = Project(
        name=name.strip(), description=description, language=language, slug=_free_slug(name), created_by=by
    )
    for setting, value in spec.settings.items():
        setattr(project, setting, value)
    project.full_clean()
    project.save()
    owner = manager or by
    if owner is not None:
        Membership.objects.create(project=project, user=owner, role=Role.MANAGER)
    apply_schema(project=project, spec=spec)
    if spec.guidelines:
        update_guidelines(project=project, text=spec.guidelines, by=by)
    if copy_from is not None:
        _copy_suggester_settings(copy_from, project)
        _copy_knowledge_bases(copy_from, project)
    return project


def _free_slug(name: str) -> str:
    base = (slugify(name) or "project")[:90]
    slug, n = base, 1
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def apply_schema(*, project: Project, spec: SchemaSpec) -> None:
    """Write the spec's types, attributes and relation types into a project that has none yet."""
    types: dict[str, EntityType] = {}
    for position, entity in enumerate(spec.entity_types):
        entity_type = EntityType(
            project=project,
            name=entity.name,
            key=entity.key,
            colour=entity.colour,
            description=entity.description,
            position=position,
        )
        entity_type.save()
        types[entity.name] = entity_type
        for order, attribute in enumerate(entity.attributes):
            EntityTypeAttribute.objects.create(
                entity_type=entity_type,
                name=attribute.name,
                kind=attribute.kind,
                choices=list(attribute.choices),
                description=attribute.description,
                position=order,
            )
    for position, relation in enumerate(spec.relation_types):
        relation_type = RelationType.objects.create(
            project=project,
            name=relation.name,
            directed=relation.directed,
            key=relation.key,
            description=relation.description,
            position=position,
        )
        relation_type.head_types.set([types[name] for name in relation.head])
        relation_type.tail_types.set([types[name] for name in relation.tail])


def schema_of(project: Project) -> SchemaSpec:
    """The project's schema, current guidelines and settings as a document (what a copy starts from)."""
    attributes: dict[int, list[AttributeSpec]] = {}
    for attribute in EntityTypeAttribute.objects.filter(entity_type__project=project).order_by(
        "position", "name"
    ):
        attributes.setdefault(attribute.entity_type_id, []).append(
            AttributeSpec(attribute.name, attribute.kind, tuple(attribute.choices), attribute.description)
        )
    entity_types = tuple(
        EntityTypeSpec(t.name, t.key, t.colour, t.description, tuple(attributes.get(t.pk, ())))
        for t in EntityType.objects.filter(project=project).order_by("position", "name")
    )
    relation_types = tuple(
        RelationTypeSpec(
            r.name,
            r.directed,
            tuple(sorted(t.name for t in r.head_types.all())),
            tuple(sorted(t.name for t in r.tail_types.all())),
            r.key,
            r.description,
        )
        for r in RelationType.objects.filter(project=project)
        .order_by("position", "name")
        .prefetch_related("head_types", "tail_types")
    )
    latest = GuidelineVersion.objects.filter(project=project).order_by("-number").first()
    settings: dict[str, Any] = {name: getattr(project, name) for name in SETTING_TYPES}
    return SchemaSpec(entity_types, relation_types, latest.text if latest else "", settings)


def _copy_suggester_settings(source: Project, target: Project) -> None:
    settings = SuggesterSettings.objects.filter(project=source).first()
    if settings is None:
        return
    # What the learning job measured on the source's gold says nothing about the new project.
    settings.pk = None
    settings.project = target
    settings.measured = {}
    settings._state.adding = True
    settings.save()


def _copy_knowledge_bases(source: Project, target: Project) -> None:
    """Copy the source's KBs with their active entities and aliases (merged-away entities stay behind)."""
    for knowledge_base in KnowledgeBase.objects.filter(project=source):
        copy = KnowledgeBase.objects.create(
            project=target,
            name=knowledge_base.name,
            description=knowledge_base.description,
            languages=knowledge_base.languages,
        )
        entities = KBEntity.objects.filter(knowledge_base=knowledge_base, merged_into__isnull=True).order_by(
            "pk"
        )
        last = 0
        while batch := list(entities.filter(pk__gt=last)[:COPY_BATCH]):
            last = batch[-1].pk
            new = KBEntity.objects.bulk_create(
                [
                    KBEntity(
                        knowledge_base=copy,
                        kb_id=e.kb_id,
                        name=e.name,
                        description=e.description,
                        type=e.type,
                        instance_of=e.instance_of,
                        prior=e.prior,
                        metadata=e.metadata,
                    )
                    for e in batch
                ]
            )
            new_ids = {old.pk: made.pk for old, made in zip(batch, new, strict=True)}
            Alias.objects.bulk_create(
                [
                    Alias(
                        entity_id=new_ids[a.entity_id],
                        knowledge_base=copy,
                        text=a.text,
                        normalized=a.normalized,
                        language=a.language,
                        manual=a.manual,
                    )
                    for a in Alias.objects.filter(entity_id__in=new_ids)
                ]
            )
