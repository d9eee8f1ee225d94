"""The REST API, version 1: the same services as the pages, documented by the OpenAPI schema."""

from django.urls import path

from annotator.api import jobs, kb, views

app_name = "api"
urlpatterns = [
    path("schema/", views.Schema.as_view(), name="schema"),
    path("docs/", views.Docs.as_view(url_name="api:schema"), name="docs"),
    path("projects/", views.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", views.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:project_id>/kb/candidates/", kb.CandidateList.as_view(), name="kb-candidates"),
    path("projects/<int:project_id>/kb/entities/", kb.EntityList.as_view(), name="kb-entity-list"),
    path(
        "projects/<int:project_id>/kb/entities/<int:entity_id>/",
        kb.EntityDetail.as_view(),
        name="kb-entity-detail",
    ),
    path("projects/<int:project_id>/kb/imports/", kb.ImportList.as_view(), name="kb-import-list"),
    path("jobs/<int:job_id>/", jobs.JobDetail.as_view(), name="job-detail"),
]
