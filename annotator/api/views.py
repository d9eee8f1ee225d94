"""API views: membership-scoped querysets over the same models and services as the pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.access import projects_for
from annotator.api.projects import create_schema, start_project
from annotator.api.serializers import ProjectDetailSerializer, ProjectSerializer
from annotator.core.middleware import POLICY
from annotator.projects.models import Project


# DRF authenticates API clients itself (sessions today, tokens too later), so the page-login
# middleware must not redirect them to a login form.
@method_decorator(login_not_required, name="dispatch")
class ProjectList(generics.ListAPIView):
    """The projects you are a member of, with your role in each."""

    serializer_class = ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        return projects_for(self.request).with_role_of(self.request.user)

    @create_schema
    def post(self, request: Request) -> Response:
        return start_project(request)


@method_decorator(login_not_required, name="dispatch")
class ProjectDetail(generics.RetrieveAPIView):
    """One project with its label schema. 404 when you are not a member."""

    serializer_class = ProjectDetailSerializer

    def get_queryset(self) -> QuerySet[Project]:
        return (
            projects_for(self.request)
            .with_role_of(self.request.user)
            .prefetch_related("entity_types", "relation_types__head_types", "relation_types__tail_types")
        )


@method_decorator(login_not_required, name="dispatch")
class Schema(SpectacularAPIView):
    """The OpenAPI schema, public so that clients can generate code before they have a token."""


@method_decorator(login_not_required, name="dispatch")
class Docs(SpectacularSwaggerSplitView):
    """Swagger UI from vendored assets. Its script is served as a file, so the CSP can stay strict."""

    def finalize_response(
        self, request: Request, response: Response, *args: object, **kwargs: object
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Swagger UI styles elements inline; scripts stay 'self' only.
        response["Content-Security-Policy"] = POLICY.replace(
            "style-src 'self'", "style-src 'self' 'unsafe-inline'"
        )
        return response
