"""Jobs over the API: a job's status, progress and error report, to poll after starting one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers

from annotator.jobs.models import Job

# Job params that are the server's business (where a file sits on its disk), never shown to clients.
PRIVATE_PARAMS = frozenset({"path", "uploaded"})

ERROR = inline_serializer(
    "Error",
    fields={
        "error": inline_serializer(
            "ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
            },
        )
    },
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The one error shape (see api/errors.py) for each of these status codes, for the schema."""
    descriptions = {
        400: "The request is not valid; `fields` says which input is wrong.",
        403: "You are a member, but your role does not allow this.",
        404: "No such object among your projects' objects.",
        409: "The object cannot change in its current state.",
        412: "The object changed since you read it.",
    }
    return {code: OpenApiResponse(ERROR, description=descriptions[code]) for code in codes}


class JobSerializer(serializers.ModelSerializer[Job]):
    percent = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Progress in %, when known."
    )
    params = serializers.SerializerMethodField(help_text="What the job was asked to do.")

    class Meta:
        model = Job
        fields = [
            "id", "kind", "status", "project", "params", "progress_done", "progress_total", "percent", "message",
            "errors", "result", "attempts", "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_params(self, job: Job) -> dict[str, Any]:
        return {key: value for key, value in job.params.items() if key not in PRIVATE_PARAMS}


@method_decorator(login_not_required, name="dispatch")
class JobDetail(generics.RetrieveAPIView):
    """A job of one of your projects (or one you started): status, progress, message, error report, result.

    Poll it until `status` is `succeeded`, `failed` or `cancelled`. `errors` lists
    `{file, line, field, message}` items for a file that was refused.
    """

    serializer_class = JobSerializer
    lookup_url_kwarg = "job_id"

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.visible_to(self.request.user)

    @extend_schema(responses={200: JobSerializer, **error_responses(404)})
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)
