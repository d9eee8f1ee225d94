"""When the project's model learns: a training job starts by itself once enough articles are annotated.

`schedule_learning` is what the services that finish annotation call (submitting a set, curating gold in
bulk, an import of curated gold): after their transaction commits, one query counts the project's
annotated articles, and a training job is queued when the count reached the project's threshold (the
first time) or grew by its "retrain every" since training last started, unless one is already queued or
running. The job trains, cross-validates and activates the new model only if it measures better.

When many gold sets become curated at once (bulk curation, an import of curated gold) and no training
starts, a project whose pretrained pipeline is in `add` mode has it weighed again on its gold as it now
stands (`maybe_weigh_pipeline`: a job of its own); a training job weighs it first anyway.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.articles.models import Article
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import create_job, enqueue_job
from annotator.projects.models import Project
from annotator.suggestions import sources
from annotator.suggestions.models import PipelineMode, SuggesterSettings
from annotator.suggestions.training import count_training_articles

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def next_training_at(chosen: SuggesterSettings) -> int:
    """The number of annotated articles at which the next training starts by itself."""
    if chosen.learned_articles == 0:
        return chosen.learn_after
    return max(chosen.learn_after, chosen.learned_articles + chosen.retrain_every)


def training_running(project_id: int) -> bool:
    return Job.objects.filter(
        project_id=project_id, kind=JobKind.TRAIN_SUGGESTER, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).exists()


def start_training(*, project_id: int, by: User | None, automatic: bool = False, queue: bool = True) -> Job:
    """Make a training job (queued for a worker unless `queue` is off: the caller runs it), and
    remember how many articles it starts from."""
    with transaction.atomic():
        chosen, _ = SuggesterSettings.objects.select_for_update().get_or_create(project_id=project_id)
        articles = count_training_articles(project_id)
        chosen.learned_articles = articles
        chosen.save(update_fields=["learned_articles"])
        params = {"automatic": automatic, "articles": articles}
        job = create_job(kind=JobKind.TRAIN_SUGGESTER, project=chosen.project, params=params, by=by)
        return enqueue_job(job) if queue else job


def maybe_start_learning(project_id: int) -> Job | None:
    """Queue a training job if the project learns by itself and enough new articles are annotated."""
    with transaction.atomic():
        chosen = SuggesterSettings.objects.select_for_update().filter(project_id=project_id).first()
        if chosen is None:
            chosen, _ = SuggesterSettings.objects.get_or_create(project_id=project_id)
        if not chosen.learn or count_training_articles(project_id) < next_training_at(chosen):
            return None
        if training_running(project_id):
            return None
        return start_training(project_id=project_id, by=None, automatic=True)


def weighing_pending(project_id: int) -> bool:
    """Whether a job that weighs the project's pipeline (a weighing, or a training: it weighs first) is
    queued or running."""
    return Job.objects.filter(
        project_id=project_id,
        kind__in=[JobKind.WEIGH_PIPELINE, JobKind.TRAIN_SUGGESTER],
        status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
    ).exists()


def maybe_weigh_pipeline(project_id: int) -> Job | None:
    """Queue a job that weighs the project's pretrained pipeline again on its curated gold, when it has
    one in add mode, some curated gold, and no such job is queued or running."""
    with transaction.atomic():
        # The settings row locked (when there is one): two curations at once queue one job.
        chosen = SuggesterSettings.objects.select_for_update().filter(project_id=project_id).first()
        choice = sources.pipeline_choice(chosen or sources.project_settings(project_id))
        if not choice.ref or choice.mode != PipelineMode.ADD:
            return None
        curated = AnnotationSet.objects.filter(
            article__project_id=project_id, kind=SetKind.GOLD, status=SetStatus.CURATED
        )
        if not curated.exists() or weighing_pending(project_id):
            return None
        project = chosen.project if chosen is not None else Project.objects.get(pk=project_id)
        job = create_job(
            kind=JobKind.WEIGH_PIPELINE, project=project, params={"pipeline": choice.ref}, by=None
        )
        return enqueue_job(job)


def learn_after_curation(project_id: int) -> Job | None:
    """After many gold sets became curated at once: train if the project learns by itself and enough
    articles are new, else weigh its pretrained pipeline again."""
    return maybe_start_learning(project_id) or maybe_weigh_pipeline(project_id)


def _learn_after_article(article_id: int) -> None:
    project_id = Article.objects.filter(pk=article_id).values_list("project_id", flat=True).first()
    if project_id is not None:
        maybe_start_learning(project_id)


def schedule_learning(*, project_id: int | None = None, article_id: int | None = None) -> None:
    """After the current transaction commits, see whether the project (after a bulk curation: see
    `learn_after_curation`), or the article's project, should learn again."""
    if project_id is not None:
        transaction.on_commit(partial(learn_after_curation, project_id))
    elif article_id is not None:
        transaction.on_commit(partial(_learn_after_article, article_id))
