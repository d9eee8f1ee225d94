"""Articles: the texts people annotate."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Left
from django.urls import reverse

from annotator.core.models import TimeStampedModel
from annotator.projects.models import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


TITLE_SORT_CHARS = 100
SEARCHED_FIELDS = frozenset({"title", "metadata", "text"})  # what an article's search document is made of


def content_hash(text: str) -> str:
    """The dedupe key of a text: SHA-256 of its UTF-8 bytes, as stored (line endings already normalised)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ArticleStatus(models.TextChoices):
    """Where an article stands, derived from its annotation sets (never stored, so never stale)."""

    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    ANNOTATED = "annotated", "Annotated"
    CURATED = "curated", "Curated"


class ArticleQuerySet(models.QuerySet["Article"]):
    def visible_to(self, user: User | AnonymousUser) -> ArticleQuerySet:
        """Articles of the projects the user is a member of."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(project__memberships__user=user)

    def with_role_of(self, user: User | AnonymousUser) -> ArticleQuerySet:
        """Annotate `my_role`: the user's role in the article's project."""
        from annotator.projects.models import Membership

        if not user.is_authenticated:
            return self.annotate(my_role=models.Value(None, output_field=models.CharField()))
        role = Membership.objects.filter(project=models.OuterRef("project_id"), user=user).values("role")[:1]
        return self.annotate(my_role=models.Subquery(role))


class Article(TimeStampedModel):
    # No index of its own: `article_content_hash_idx` (project, content_hash) leads with it, and bulk
    # imports write one index fewer per article.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="articles", db_index=False)
    # NULL, not "", means "no external id": the unique constraint applies only to the ids that exist.
    external_id = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, help_text="The id the article has in its source, if any."
    )
    title = models.CharField(max_length=1000, blank=True)
    text = models.TextField(help_text="Immutable once annotated; offsets are code points into it.")
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, editable=False)
    revision = models.PositiveIntegerField(
        default=1, help_text="Goes up when a re-import replaces the text; former texts are ArticleRevisions."
    )

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["project", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=Q(external_id__isnull=False),
                name="article_external_id_unique",
            ),
            models.CheckConstraint(condition=~Q(text=""), name="article_text_not_empty"),
            models.CheckConstraint(condition=~Q(external_id=""), name="article_external_id_not_blank"),
            models.CheckConstraint(condition=~Q(content_hash=""), name="article_content_hash_set"),
            models.CheckConstraint(condition=Q(revision__gte=1), name="article_revision_positive"),
        ]
        indexes = [
            models.Index(fields=["project", "content_hash"], name="article_content_hash_idx"),
            # The article browser's sort by title pages by (title's start, id): a key of bounded size, as
            # a title may be longer than a B-tree entry can hold.
            models.Index(
                F("project"), Left("title", TITLE_SORT_CHARS), F("id"), name="article_title_sort_idx"
            ),
            # A project's articles in id order (newest or oldest first, the browser's default), so that a
            # filtered page stops after its first 50 matches instead of sorting the whole project; with
            # several projects, a page does not walk past other projects' rows either.
            models.Index(fields=["project", "id"], name="article_project_id_idx"),
        ]

    def __str__(self) -> str:
        return self.title or self.external_id or f"Article {self.pk}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.content_hash = content_hash(self.text)
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        fields = kwargs.get("update_fields")
        if fields is None or SEARCHED_FIELDS.intersection(fields):  # type: ignore[arg-type]
            # One article at a time: its search document at once (bulk imports leave it to a job).
            from annotator.articles.search import write_documents

            write_documents([self.pk])

    def get_absolute_url(self) -> str:
        return reverse("articles:detail", args=[self.pk])


class ArticleRevision(models.Model):
    """A text the article used to have: kept when a re-import replaced it with an edited one.

    The article's annotations were re-anchored to the new text when it was replaced; what could not be
    moved exactly is flagged (`interchange.ReanchorFlag`), never silently dropped. `summary` counts what
    happened: spans moved, changed and lost, suggestions moved and removed.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(help_text="The revision number this text had.")
    text = models.TextField()
    content_hash = models.CharField(max_length=64)
    replaced_at = models.DateTimeField(auto_now_add=True)
    replaced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The import that replaced this text.",
    )  # fmt: skip
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["article", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="article_revision_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="article_revision_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.article} revision {self.number}"


class SearchBacklog(models.Model):
    """An article whose search document is not written yet (articles/search.py).

    A bulk import writes one of these per new article instead of the document itself, so that the import
    pays only for the article; the search index job (`index_search` jobs) writes the documents after the
    import commits and takes the rows away. Until then the article browser and the API say how many
    articles a search may miss, and a search matches them word by word when they are few.
    """

    article = models.OneToOneField(Article, primary_key=True, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"article #{self.pk} waits for its search document"
