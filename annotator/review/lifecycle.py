"""A project's life: archive it (read-only, out of the queues), unarchive it, delete it with everything in it.

Deleting goes article by article batch (each batch with its sets, suggestions and history, as the article
browser deletes), then the project itself with its schema, KB, members and jobs. A small project goes
at once; a big one in a background job whose batches commit one by one, the project archived first so
that nobody works in it meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotator.articles.models import Article
from annotator.core.errors import DomainError
from annotator.jobs import registry
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import JobFailed, create_job, enqueue_job
from annotator.projects.models import Project
from annotator.review.article_actions import delete_articles

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.jobs.progress import Progress

DELETE_BATCH = 500


class ConfirmationMismatch(DomainError):
    code = "confirmation_mismatch"


def archive_project(*, project: Project) -> Project:
    if project.archived_at is None:
        project.archived_at = timezone.now()
        project.save(update_fields=["archived_at", "updated_at"])
    return project


def unarchive_project(*, project: Project) -> Project:
    if project.archived_at is not None:
        project.archived_at = None
        project.save(update_fields=["archived_at", "updated_at"])
    return project


def delete_project(*, project: Project, confirm: str, by: User | None) -> Job | None:
    """Delete the project once `confirm` is its slug: at once (None), or as a job for a big one (the job)."""
    if confirm.strip() != project.slug:
        raise ConfirmationMismatch(
            f"Type the project's short name, {project.slug}, to delete it.", field="confirm"
        )
    archive_project(project=project)
    if Article.objects.filter(project=project).count() <= settings.ANNOTATOR_DELETE_INLINE_MAX_ARTICLES:
        with transaction.atomic():
            _delete_articles_in_batches(project, progress=None)
            project.delete()
        return None
    # The job outlives the project: it belongs to nobody's project, only to whoever started it.
    job = create_job(
        kind=JobKind.DELETE_PROJECT,
        project=None,
        params={"project_id": project.pk, "project_name": project.name[:200]},
        by=by,
    )
    return enqueue_job(job)


def _delete_articles_in_batches(project: Project, progress: Progress | None) -> int:
    deleted = 0
    while ids := list(
        Article.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)[:DELETE_BATCH]
    ):
        deleted += delete_articles(project=project, article_ids=ids).articles
        if progress is not None:
            progress.advance(len(ids))
    return deleted


@registry.register(JobKind.DELETE_PROJECT)
def run_delete_project(job: Job, progress: Progress) -> dict[str, Any]:
    project = Project.objects.filter(pk=job.params.get("project_id")).first()
    if project is None:
        raise JobFailed("The project is already gone.")
    progress.set_total(Article.objects.filter(project=project).count())
    progress.say(f"Deleting {progress.total:,} articles with their annotations, then the project.")
    deleted = _delete_articles_in_batches(project, progress)
    with transaction.atomic():
        project.delete()
    progress.say(f"Deleted the project and its {deleted:,} articles.")
    return {"articles": deleted}
