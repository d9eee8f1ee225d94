"""The team's discussion of an article: comments on the article or on one of its spans."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotator.annotations.models import Span
from annotator.articles.models import Article
from annotator.core.models import TimeStampedModel


class Comment(TimeStampedModel):
    """A comment on an article, or on a span of it. Seen by curators and managers, and by its author.

    `start`/`end` keep where the span was, so the comment still says what it was about if the span
    is deleted or moved later.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="comments")
    span = models.ForeignKey(Span, null=True, blank=True, on_delete=models.SET_NULL, related_name="comments")
    start = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(null=True, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments")
    text = models.TextField(max_length=5000)

    class Meta:
        ordering = ["article", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="comment_text_not_empty"),
            models.CheckConstraint(
                condition=Q(start__isnull=True, end__isnull=True)
                | Q(start__isnull=False, end__isnull=False, start__lt=models.F("end")),
                name="comment_range_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.author} on {self.article}: {self.text[:40]}"

    @property
    def quote(self) -> str:
        """The text the comment is about, when it is about a span."""
        if self.start is None or self.end is None:
            return ""
        return self.article.text[self.start : self.end]
