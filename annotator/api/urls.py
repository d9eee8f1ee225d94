"""The REST API, version 1: the same services as the pages, documented by the OpenAPI schema."""

from django.urls import path

from annotator.api import imports, views

app_name = "api"
urlpatterns = [
    path("schema/", views.Schema.as_view(), name="schema"),
    path("docs/", views.Docs.as_view(url_name="api:schema"), name="docs"),
    path("projects/", views.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", views.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:project_id>/imports/", imports.ProjectImports.as_view(), name="project-imports"),
    path("jobs/<int:job_id>/", imports.JobDetail.as_view(), name="job-detail"),
]
