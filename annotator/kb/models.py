"""Knowledge bases: the entities mentions are linked to, and the names they go by."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

from annotator.core.models import TimeStampedModel
from annotator.kb.normalize import normalize_alias
from annotator.projects.models import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class KnowledgeBaseQuerySet(models.QuerySet["KnowledgeBase"]):
    def visible_to(self, user: User | AnonymousUser) -> KnowledgeBaseQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(project__memberships__user=user)


class KnowledgeBase(TimeStampedModel):
    """A KB used by one project: a Wikidata subset, or the project's own list."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="knowledge_bases")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    languages = models.JSONField(
        default=list, blank=True, help_text="Languages whose labels and aliases are kept, e.g. ['en', 'ru']."
    )

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="kb_name_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="kb_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class KBEntityQuerySet(models.QuerySet["KBEntity"]):
    def visible_to(self, user: User | AnonymousUser) -> KBEntityQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(knowledge_base__project__memberships__user=user)

    def active(self) -> KBEntityQuerySet:
        """Entities that were not merged into another one: the only ones mentions may link to."""
        return self.filter(merged_into__isnull=True)

    def in_project(self, project_id: int) -> KBEntityQuerySet:
        return self.filter(knowledge_base__project_id=project_id)


class KBEntity(TimeStampedModel):
    """One thing mentions can be linked to, with the names it goes by (`aliases`)."""

    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="entities")
    kb_id = models.CharField(max_length=255, help_text="The entity's id in its KB, e.g. a Wikidata Q-id.")
    name = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    type = models.CharField(
        max_length=100, blank=True, help_text="The entity type it usually takes, by name (e.g. PERSON)."
    )
    instance_of = models.JSONField(default=list, blank=True, help_text="Class ids, e.g. Wikidata P31 values.")
    prior = models.FloatField(default=0.0, help_text="Popularity in [0, 1]: how often mentions link to it.")
    metadata = models.JSONField(default=dict, blank=True)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        help_text="Set when this entity was merged into another; its links moved there.",
    )

    objects = KBEntityQuerySet.as_manager()

    class Meta:
        ordering = ["knowledge_base", "name", "id"]
        verbose_name = "KB entity"
        verbose_name_plural = "KB entities"
        constraints = [
            models.UniqueConstraint(fields=["knowledge_base", "kb_id"], name="kb_entity_id_unique"),
            models.CheckConstraint(condition=~Q(kb_id=""), name="kb_entity_id_not_empty"),
            models.CheckConstraint(condition=Q(prior__gte=0) & Q(prior__lte=1), name="kb_entity_prior_range"),
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("pk")), name="kb_entity_not_merged_into_self"
            ),
        ]
        # Browsing a KB pages through it by name (keyset pagination), so that deep pages stay cheap.
        indexes = [models.Index(fields=["knowledge_base", "name", "id"], name="kb_entity_browse_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kb_id})"


class Alias(models.Model):
    """A name an entity goes by (its own name included), normalised for exact lookup."""

    entity = models.ForeignKey(KBEntity, on_delete=models.CASCADE, related_name="aliases")
    # Denormalised from the entity so that candidate search reads one table with one index.
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=500)
    normalized = models.CharField(max_length=500, editable=False)
    language = models.CharField(max_length=16, blank=True)
    manual = models.BooleanField(
        default=False,
        help_text="Added by a person, or moved here by a merge: re-importing the KB keeps it.",
    )

    class Meta:
        ordering = ["entity", "text"]
        verbose_name_plural = "aliases"
        constraints = [
            models.UniqueConstraint(fields=["entity", "text", "language"], name="alias_unique"),
            models.CheckConstraint(condition=~Q(normalized=""), name="alias_not_empty"),
        ]
        indexes = [models.Index(fields=["knowledge_base", "normalized"], name="alias_lookup_idx")]

    def __str__(self) -> str:
        return self.text

    def save(self, *args: object, **kwargs: object) -> None:
        self.normalized = normalize_alias(self.text)
        if self.knowledge_base_id is None:
            self.knowledge_base_id = self.entity.knowledge_base_id
        super().save(*args, **kwargs)  # type: ignore[arg-type]
