"""Suggestions when the annotate page opens: nothing to do when they are current; computed in the request
for an ordinary article; for a long one, a background job while the page opens at once and fills in by
itself when the job ends (a 1 MB article takes the suggester seconds, and a person should not wait on it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import create_job, enqueue_job
from annotator.suggestions.freshness import UNREAD, suggestions_current
from annotator.suggestions.generate import ensure_article_suggestions

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.articles.models import Article
    from annotator.suggestions.models import SuggesterVersion

WAITING = (JobStatus.QUEUED, JobStatus.RUNNING)


def opening_jobs(article: Article):  # type: ignore[no-untyped-def]
    """The pre-annotation jobs that opening this article's page started."""
    return Job.objects.filter(
        kind=JobKind.PREANNOTATE, project_id=article.project_id, params__opened=article.pk
    )


def suggest_on_open(*, article: Article, by: User, active: SuggesterVersion | None = UNREAD) -> Job | None:
    """Make the article's suggestions current, or start doing so. Returns the job the page waits on, if any.
    `active`: the project's active suggester with its run on the article, when the caller read it (see
    `freshness.active_from`)."""
    if not settings.ANNOTATOR_SUGGEST_ON_OPEN or suggestions_current(article, active):
        return None
    if len(article.text) <= settings.ANNOTATOR_SUGGEST_INLINE_MAX_CHARS:
        ensure_article_suggestions(article=article)
        return None
    waiting = opening_jobs(article).filter(status__in=WAITING).order_by("-id").first()
    if waiting is not None:
        return waiting
    params = {"article_ids": [article.pk], "opened": article.pk}
    return enqueue_job(create_job(kind=JobKind.PREANNOTATE, project=article.project, params=params, by=by))
