"""Jobs in the API: what a started job looks like, and its status for polling."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.decorators import method_decorator
from rest_framework import generics, serializers

from annotator.jobs.models import Job


class JobSerializer(serializers.ModelSerializer[Job]):
    percent = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Progress in %, when known."
    )
    url = serializers.SerializerMethodField(help_text="Where to poll the job's status.")

    class Meta:
        model = Job
        fields = [
            "id",
            "url",
            "kind",
            "status",
            "project",
            "params",
            "progress_done",
            "progress_total",
            "percent",
            "message",
            "errors",
            "result",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, job: Job) -> str:
        return reverse("api:job-detail", args=[job.pk])


@method_decorator(login_not_required, name="dispatch")
class JobDetail(generics.RetrieveAPIView):
    """A job's status and progress (done / total), and its result or error report once finished."""

    serializer_class = JobSerializer
    lookup_url_kwarg = "job_id"

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.visible_to(self.request.user)
