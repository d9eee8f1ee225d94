"""Background jobs as users see them: a kind, a status, a progress bar and an error report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotator.projects.models import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class JobKind(models.TextChoices):
    IMPORT_ARTICLES = "import_articles", "Import articles"
    IMPORT_KB = "import_kb", "Import knowledge base"
    INDEX_SEARCH = "index_search", "Index articles for search"
    PREANNOTATE = "preannotate", "Pre-annotate"
    TRAIN_SUGGESTER = "train_suggester", "Train suggester"
    WEIGH_PIPELINE = "weigh_pipeline", "Weigh the pretrained pipeline"
    EXPORT = "export", "Export"
    DELETE_PROJECT = "delete_project", "Delete a project"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobQuerySet(models.QuerySet["Job"]):
    def visible_to(self, user: User | AnonymousUser) -> JobQuerySet:
        """Jobs of the user's projects, and the project-less jobs they started themselves."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(project__memberships__user=user) | Q(project__isnull=True, created_by=user))

    def unfinished(self) -> JobQuerySet:
        return self.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])


class Job(models.Model):
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=32, choices=JobKind.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    params = models.JSONField(default=dict, blank=True, help_text="What the job was asked to do.")
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True, help_text="Unknown until counted.")
    message = models.CharField(max_length=500, blank=True, help_text="What it is doing now, in words.")
    errors = models.JSONField(
        default=list, blank=True, help_text="The error report: a list of {file, line, field, message}."
    )
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True, help_text="The task queue's id for the run.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=JobKind.values), name="job_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="job_status_valid"),
            models.CheckConstraint(condition=Q(progress_done__gte=0), name="job_progress_not_negative"),
            models.CheckConstraint(
                condition=Q(progress_total__isnull=True) | Q(progress_total__gte=0),
                name="job_total_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="job_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.status == JobStatus.SUCCEEDED else None
        return min(100, round(100 * self.progress_done / self.progress_total))


class JobChunk(models.Model):
    """One part of a job split over workers (see jobs/chunks.py): any worker runs it, once at a time.

    The job's progress is the sum of its chunks'; a chunk whose worker went silent is queued again by
    the reaper until it has run ANNOTATOR_JOB_CHUNK_ATTEMPTS times, then fails its job.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField(help_text="1, 2, ... in the order the job planned them.")
    label = models.CharField(max_length=200, help_text="What the chunk covers, in words (e.g. its articles).")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True, help_text="The task queue's id for its last run.")
    worker = models.CharField(
        max_length=200, blank=True, help_text="host:pid of the worker that ran it last."
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="job_chunk_number_unique"),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="job_chunk_status_valid"),
            models.CheckConstraint(condition=Q(progress_done__gte=0), name="job_chunk_progress_not_negative"),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="job_chunk_status_idx")]

    def __str__(self) -> str:
        return f"part {self.number} of job #{self.job_id} ({self.status})"
