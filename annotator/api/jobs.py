"""Jobs over the API: a job's status, progress and error report, to poll after starting one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.access import role_in, token_of, user_of
from annotator.api.annotation_serializers import ErrorSerializer
from annotator.jobs.models import Job, JobStatus
from annotator.jobs.progress import live
from annotator.jobs.services import cancel_job
from annotator.projects.permissions import can_manage

# Job params that are the server's business (where a file sits on its disk), never shown to clients.
PRIVATE_PARAMS = frozenset({"path", "uploaded"})


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The one error shape (see api/errors.py) for each of these status codes, for the schema."""
    descriptions = {
        400: "The request is not valid; `fields` says which input is wrong.",
        403: "You are a member, but your role does not allow this.",
        404: "No such object among your projects' objects.",
        409: "The object cannot change in its current state.",
        412: "The object changed since you read it.",
        413: "The file is larger than the upload limit.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=descriptions[code]) for code in codes}


class ProblemSerializer(serializers.Serializer):
    """One problem of an import's error report."""

    file = serializers.CharField(allow_null=True, required=False)
    line = serializers.IntegerField(allow_null=True, required=False)
    field = serializers.CharField(allow_null=True, required=False)
    message = serializers.CharField()


class JobSerializer(serializers.ModelSerializer[Job]):
    percent = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="0-100, null while unknown."
    )
    # DRF takes declared fields off the class, so this does not hide Serializer.errors at run time.
    errors = ProblemSerializer(many=True, read_only=True, help_text="The error report of a failed job.")  # type: ignore[assignment]
    result = serializers.DictField(read_only=True, help_text="What a finished job did (an import's counts).")
    url = serializers.SerializerMethodField(help_text="Poll this for the job's progress.")
    params = serializers.SerializerMethodField(help_text="What the job was asked to do.")

    class Meta:
        model = Job
        fields = [
            "id", "url", "kind", "status", "project", "progress_done", "progress_total", "percent", "message",
            "errors", "result", "params", "created_at", "started_at", "finished_at", "heartbeat_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_params(self, job: Job) -> dict[str, Any]:
        return {key: value for key, value in job.params.items() if key not in PRIVATE_PARAMS}

    def get_url(self, job: Job) -> str:
        request = self.context.get("request")
        path = reverse("api:job-detail", args=[job.pk])
        return request.build_absolute_uri(path) if request is not None else path


def visible_jobs(request: Request) -> QuerySet[Job]:
    jobs = Job.objects.visible_to(request.user)
    token = token_of(request)
    if token is not None and token.project_id is not None:
        jobs = jobs.filter(project_id=token.project_id)  # a project token sees that project's jobs only
    return jobs


class JobConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


@method_decorator(login_not_required, name="dispatch")
class JobDetail(generics.RetrieveAPIView):
    """A background job: status, progress, and (when it failed) its error report. 404 for non-members."""

    serializer_class = JobSerializer
    lookup_url_kwarg = "job_id"

    def get_queryset(self) -> QuerySet[Job]:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        return visible_jobs(self.request)

    @extend_schema(responses={200: JobSerializer, **error_responses(404)})
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_object(self) -> Job:
        return live(super().get_object())


@method_decorator(login_not_required, name="dispatch")
class JobCancel(generics.GenericAPIView):
    """Cancel a job: one still queued, or a running pre-annotation or export (its queued chunks never
    start, its running ones stop at their next progress write; what it keeps is what a failure keeps).
    Whoever started the job, or a manager of its project. 409 when it has ended or cannot stop halfway."""

    serializer_class = JobSerializer

    def get_queryset(self) -> QuerySet[Job]:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        return visible_jobs(self.request)

    @extend_schema(request=None, responses={200: JobSerializer, **error_responses(403, 404, 409)})
    def post(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(self.get_queryset(), pk=job_id)
        user = user_of(request)
        if job.created_by_id != user.pk and not (
            job.project_id and can_manage(role_in(request, job.project_id))
        ):
            raise exceptions.PermissionDenied(
                "Only whoever started the job and the project's managers can cancel it."
            )
        if job.is_finished:
            raise JobConflict(f"The job has already ended ({job.get_status_display().lower()}).")
        job = cancel_job(job)
        if job.status == JobStatus.RUNNING:
            raise JobConflict(
                "This job runs in one piece and cannot stop halfway; it can be cancelled only while queued."
            )
        if job.status != JobStatus.CANCELLED:  # it ended meanwhile
            raise JobConflict(f"The job has already ended ({job.get_status_display().lower()}).")
        return Response(self.get_serializer(live(job)).data)
