"""What imports leave for people to review: annotations a text revision could not move exactly."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class FlagKind(models.TextChoices):
    CHANGED = "changed", "Text changed"  # kept at the mapped place, but the text under it is different
    LOST = "lost", "Lost"  # its text is gone: removed from the set, kept here in full


class ReanchorFlagQuerySet(models.QuerySet["ReanchorFlag"]):
    def open(self) -> ReanchorFlagQuerySet:
        return self.filter(resolved_at__isnull=True)


class ReanchorFlag(models.Model):
    """A span that a re-import's edited text moved imperfectly (`changed`) or could not keep (`lost`).

    A changed span stays in its set, at the place the text diff maps it to, with the new text under it.
    A lost span is removed from its set (with its link and relations, which need it) and everything about
    it is kept here: type, offsets and surface in the former text, link, relations. Nothing is dropped
    silently: the article page lists open flags until someone marks them reviewed.
    """

    article = models.ForeignKey("articles.Article", on_delete=models.CASCADE, related_name="reanchor_flags")
    revision = models.ForeignKey(
        "articles.ArticleRevision", on_delete=models.CASCADE, related_name="flags",
        help_text="The former text the span was anchored in.",
    )  # fmt: skip
    annotation_set = models.ForeignKey(
        "annotations.AnnotationSet", on_delete=models.CASCADE, related_name="reanchor_flags"
    )
    span = models.ForeignKey(
        "annotations.Span", null=True, blank=True, on_delete=models.SET_NULL, related_name="reanchor_flags",
        help_text="The span as it is now, for a changed span.",
    )  # fmt: skip
    kind = models.CharField(max_length=16, choices=FlagKind.choices)
    label = models.CharField(max_length=64, help_text="The span's entity type.")
    old_start = models.PositiveIntegerField()
    old_end = models.PositiveIntegerField()
    old_surface = models.TextField()
    new_start = models.PositiveIntegerField(null=True, blank=True)
    new_end = models.PositiveIntegerField(null=True, blank=True)
    new_surface = models.TextField(blank=True)
    detail = models.JSONField(
        default=dict, blank=True, help_text="What went with a lost span: its fragments, link and relations."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ReanchorFlagQuerySet.as_manager()

    class Meta:
        ordering = ["article", "old_start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=FlagKind.values), name="reanchor_flag_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind=FlagKind.LOST) | Q(new_start__isnull=False, new_end__isnull=False),
                name="reanchor_flag_changed_has_new_offsets",
            ),
        ]
        indexes = [models.Index(fields=["article", "resolved_at"], name="reanchor_flag_open_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.label} {self.old_surface!r}"
