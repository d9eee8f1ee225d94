"""Annotation sets and what they hold: spans, links from spans to KB entities, relations between spans.

Offsets are half-open code-point indices into `Article.text` (see `annotator/core/offsets.py`). The database refuses
malformed rows on its own (check and unique constraints, plus the head/tail-in-set rule added in
migration 0002); the services in `services.py` check what needs the article text or the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from annotator.articles.models import Article
from annotator.core.lean_history import LeanHistoricalRecords
from annotator.core.models import TimeStampedModel
from annotator.core.text import isolate
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, EntityTypeAttribute, GuidelineVersion, RelationType

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class SetKind(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    GOLD = "gold", "Gold"
    IMPORTED = "imported", "Imported"


class SetStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    CURATED = "curated", "Curated"  # gold only: a curator has finished adjudicating it


class AnnotationSetQuerySet(models.QuerySet["AnnotationSet"]):
    def visible_to(self, user: User | AnonymousUser) -> AnnotationSetQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(article__project__memberships__user=user)

    def readable_by(self, user: User | AnonymousUser) -> AnnotationSetQuerySet:
        """The sets this member may read: curators and managers all of their projects', annotators their
        own, and everyone's (gold too) only in projects that are not blind."""
        from annotator.projects.models import Membership, Role

        if not user.is_authenticated:
            return self.none()
        memberships = Membership.objects.filter(user=user)
        seeing_all = memberships.filter(Q(role__in=[Role.CURATOR, Role.MANAGER]) | Q(project__blind=False))
        return self.filter(article__project__in=memberships.values("project")).filter(
            Q(article__project__in=seeing_all.values("project")) | Q(kind=SetKind.ANNOTATOR, annotator=user)
        )

    def gold(self) -> AnnotationSetQuerySet:
        return self.filter(kind=SetKind.GOLD)


class AnnotationSet(TimeStampedModel):
    """One annotator's annotations of one article, the article's gold standard, or an imported set.

    `version` goes up by one with every change to the set or anything in it; writers pass the version
    they read and get a conflict when it moved (optimistic concurrency).
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="annotation_sets")
    kind = models.CharField(max_length=16, choices=SetKind.choices, default=SetKind.ANNOTATOR)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,  # deactivate people instead: their annotations are the data
        related_name="annotation_sets",
    )
    name = models.CharField(max_length=100, blank=True, help_text="Names an imported set.")
    status = models.CharField(max_length=16, choices=SetStatus.choices, default=SetStatus.IN_PROGRESS)
    version = models.PositiveIntegerField(default=1)
    guideline_version = models.ForeignKey(
        GuidelineVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotation_sets"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()
    objects = AnnotationSetQuerySet.as_manager()

    class Meta:
        ordering = ["article", "kind", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=SetKind.values), name="set_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=SetStatus.values), name="set_status_valid"),
            models.CheckConstraint(condition=Q(version__gte=1), name="set_version_positive"),
            models.CheckConstraint(
                condition=Q(kind=SetKind.ANNOTATOR, annotator__isnull=False)
                | (~Q(kind=SetKind.ANNOTATOR) & Q(annotator__isnull=True)),
                name="set_annotator_iff_annotator_kind",
            ),
            models.CheckConstraint(
                condition=~Q(status=SetStatus.CURATED) | Q(kind=SetKind.GOLD), name="set_curated_only_gold"
            ),
            models.CheckConstraint(
                condition=~Q(kind=SetKind.IMPORTED) | ~Q(name=""), name="set_imported_has_name"
            ),
            models.UniqueConstraint(
                fields=["article", "annotator"],
                condition=Q(kind=SetKind.ANNOTATOR),
                name="one_set_per_annotator",
            ),
            models.UniqueConstraint(
                fields=["article"], condition=Q(kind=SetKind.GOLD), name="one_gold_set_per_article"
            ),
            models.UniqueConstraint(
                fields=["article", "name"],
                condition=Q(kind=SetKind.IMPORTED),
                name="imported_set_name_unique",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == SetKind.GOLD:
            return f"gold of {isolate(str(self.article))}"
        if self.kind == SetKind.IMPORTED:
            return f"{isolate(self.name)} (imported) of {isolate(str(self.article))}"
        return f"{isolate(str(self.annotator))} on {isolate(str(self.article))}"

    @property
    def is_editable(self) -> bool:
        return self.status == SetStatus.IN_PROGRESS


class Span(TimeStampedModel):
    """An entity mention: `surface` always equals `article.text[start:end]`."""

    # No index of its own: span_unique_in_set starts with it, and imports pay for every index per row.
    annotation_set = models.ForeignKey(
        AnnotationSet, on_delete=models.CASCADE, related_name="spans", db_index=False
    )
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    entity_type = models.ForeignKey(EntityType, on_delete=models.PROTECT, related_name="spans")
    surface = models.TextField()
    # A discontinuous mention (brat `T1 ORG 0 5;9 14`): every [start, end] piece, in text order. Then
    # start/end are the first piece's start and the last piece's end, and `surface` is their whole range.
    fragments = models.JSONField(
        null=True, blank=True, help_text="The pieces of a discontinuous span, as [[start, end], ...]."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    # The history is read by object and by set; its type, author, date and changer columns need no index
    # (each one more B-tree insertion per imported span: core/lean_history.py).
    history = LeanHistoricalRecords(no_db_index=["entity_type", "created_by"])

    class Meta:
        ordering = ["annotation_set", "start", "end", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(start__gte=0), name="span_start_not_negative"),
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="span_start_before_end"),
            models.UniqueConstraint(
                fields=["annotation_set", "start", "end", "entity_type"], name="span_unique_in_set"
            ),
            # The target of the relations' (span, set) foreign keys: a relation's spans are in its set.
            models.UniqueConstraint(fields=["id", "annotation_set"], name="span_id_set_unique"),
        ]

    def __str__(self) -> str:
        return f"{isolate(self.surface)} [{self.start}, {self.end}) {isolate(str(self.entity_type))}"


class SpanAttribute(TimeStampedModel):
    """The value one span has for one attribute of its entity type (`EntityTypeAttribute`).

    `value` is `true`/`false` for a yes-or-no attribute and the text otherwise. The attribute always
    belongs to the span's entity type: the editing services drop a span's values when its type changes.
    """

    span = models.ForeignKey(Span, on_delete=models.CASCADE, related_name="attribute_values", db_index=False)
    attribute = models.ForeignKey(EntityTypeAttribute, on_delete=models.PROTECT, related_name="values")
    value = models.JSONField()

    history = HistoricalRecords(no_db_index=["attribute"])

    class Meta:
        ordering = ["span", "attribute"]
        constraints = [
            # Also the index by span: it leads with the span.
            models.UniqueConstraint(fields=["span", "attribute"], name="one_value_per_span_attribute"),
        ]

    def __str__(self) -> str:
        return f"{isolate(self.span.surface)}: {isolate(self.attribute.name)} = {self.value!r}"


class EntityLink(TimeStampedModel):
    """A span's link into the KB. No entity means NIL: the mention is known not to be in the KB."""

    span = models.OneToOneField(Span, on_delete=models.CASCADE, related_name="link")
    kb_entity = models.ForeignKey(
        KBEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="links"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["span"]

    def __str__(self) -> str:
        return f"{isolate(self.span.surface)} -> {isolate(str(self.kb_entity or 'NIL'))}"

    @property
    def is_nil(self) -> bool:
        return self.kb_entity_id is None


class Relation(TimeStampedModel):
    """A typed relation from a head span to a tail span of the same annotation set."""

    annotation_set = models.ForeignKey(AnnotationSet, on_delete=models.CASCADE, related_name="relations")
    head = models.ForeignKey(Span, on_delete=models.CASCADE, related_name="relations_as_head")
    tail = models.ForeignKey(Span, on_delete=models.CASCADE, related_name="relations_as_tail")
    relation_type = models.ForeignKey(RelationType, on_delete=models.PROTECT, related_name="relations")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["annotation_set", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(head=models.F("tail")), name="relation_not_reflexive"),
            models.UniqueConstraint(
                fields=["annotation_set", "head", "tail", "relation_type"], name="relation_unique_in_set"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{isolate(self.head.surface)} -{isolate(str(self.relation_type))}-> {isolate(self.tail.surface)}"
        )
