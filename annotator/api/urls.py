"""The REST API, version 1: the same services as the pages, documented by the OpenAPI schema."""

from django.urls import path

from annotator.api import jobs, suggestions, views

app_name = "api"
urlpatterns = [
    path("schema/", views.Schema.as_view(), name="schema"),
    path("docs/", views.Docs.as_view(url_name="api:schema"), name="docs"),
    path("projects/", views.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", views.ProjectDetail.as_view(), name="project-detail"),
    path("jobs/<int:job_id>", jobs.JobDetail.as_view(), name="job-detail"),
    path(
        "articles/<int:article_id>/suggestions",
        suggestions.ArticleSuggestions.as_view(),
        name="article-suggestions",
    ),
    path("suggest", suggestions.SuggestText.as_view(), name="suggest"),
    path("projects/<int:project_id>/preannotate", suggestions.Preannotate.as_view(), name="preannotate"),
    path(
        "projects/<int:project_id>/train-suggester",
        suggestions.TrainSuggester.as_view(),
        name="train-suggester",
    ),
    path("projects/<int:project_id>/suggesters", suggestions.SuggesterList.as_view(), name="suggester-list"),
    path(
        "suggesters/<int:suggester_id>/activate",
        suggestions.ActivateSuggester.as_view(),
        name="suggester-activate",
    ),
    path(
        "projects/<int:project_id>/suggestion-quality",
        suggestions.SuggestionQuality.as_view(),
        name="suggestion-quality",
    ),
]
