"""The REST API, version 1: the same services as the pages, documented by the OpenAPI schema."""

from django.urls import path

from annotator.api import (
    agreement,
    annotations,
    exports,
    imports,
    jobs,
    kb,
    schema_editor,
    suggestions,
    teams,
    token_views,
    views,
)

app_name = "api"
urlpatterns = [
    path("schema/", views.Schema.as_view(), name="schema"),
    path("docs/", views.Docs.as_view(url_name="api:schema"), name="docs"),
    path("tokens/", token_views.TokenList.as_view(), name="token-list"),
    path("tokens/<int:pk>/", token_views.TokenDetail.as_view(), name="token-detail"),
    path("projects/", views.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", views.ProjectDetail.as_view(), name="project-detail"),
    path(
        "projects/<int:project_id>/entity-types/",
        schema_editor.EntityTypeList.as_view(),
        name="entity-type-list",
    ),
    path(
        "projects/<int:project_id>/entity-types/<int:type_id>/",
        schema_editor.EntityTypeDetail.as_view(),
        name="entity-type-detail",
    ),
    path(
        "projects/<int:project_id>/entity-types/<int:type_id>/merge",
        schema_editor.EntityTypeMerge.as_view(),
        name="entity-type-merge",
    ),
    path(
        "projects/<int:project_id>/entity-types/<int:type_id>/attributes/",
        schema_editor.AttributeList.as_view(),
        name="attribute-list",
    ),
    path(
        "projects/<int:project_id>/entity-types/<int:type_id>/attributes/<int:attribute_id>/",
        schema_editor.AttributeDetail.as_view(),
        name="attribute-detail",
    ),
    path(
        "projects/<int:project_id>/relation-types/",
        schema_editor.RelationTypeList.as_view(),
        name="relation-type-list",
    ),
    path(
        "projects/<int:project_id>/relation-types/<int:type_id>/",
        schema_editor.RelationTypeDetail.as_view(),
        name="relation-type-detail",
    ),
    path(
        "projects/<int:project_id>/relation-types/<int:type_id>/merge",
        schema_editor.RelationTypeMerge.as_view(),
        name="relation-type-merge",
    ),
    path("projects/<int:project_id>/articles/", annotations.ArticleList.as_view(), name="article-list"),
    path("articles/<int:pk>/", annotations.ArticleDetail.as_view(), name="article-detail"),
    path("articles/<int:pk>/sets/", annotations.ArticleSets.as_view(), name="article-sets"),
    path("sets/<int:pk>/", annotations.SetDetail.as_view(), name="set-detail"),
    path("sets/<int:pk>/submit/", annotations.SetSubmit.as_view(), name="set-submit"),
    path("sets/<int:pk>/reopen/", annotations.SetReopen.as_view(), name="set-reopen"),
    path("sets/<int:pk>/spans/", annotations.SetSpans.as_view(), name="set-spans"),
    path("sets/<int:pk>/relations/", annotations.SetRelations.as_view(), name="set-relations"),
    path("sets/<int:pk>/decisions/", annotations.SetDecisions.as_view(), name="set-decisions"),
    path("spans/<int:pk>/", annotations.SpanDetail.as_view(), name="span-detail"),
    path("spans/<int:pk>/link/", annotations.SpanLink.as_view(), name="span-link"),
    path("relations/<int:pk>/", annotations.RelationDetail.as_view(), name="relation-detail"),
    path("decisions/<int:pk>/", annotations.DecisionDetail.as_view(), name="decision-detail"),
    path("projects/<int:project_id>/settings", teams.ProjectSettings.as_view(), name="project-settings"),
    path("projects/<int:project_id>/members", teams.ProjectMembers.as_view(), name="project-members"),
    path(
        "projects/<int:project_id>/members/<int:user_id>",
        teams.ProjectMember.as_view(),
        name="project-member",
    ),
    path("projects/<int:project_id>/next-article", teams.NextArticle.as_view(), name="next-article"),
    path("articles/<int:article_id>/curation", teams.Curation.as_view(), name="curation"),
    path("articles/<int:article_id>/curation/take", teams.CurationTake.as_view(), name="curation-take"),
    path(
        "articles/<int:article_id>/curation/take-agreed",
        teams.CurationTakeAgreed.as_view(),
        name="curation-take-agreed",
    ),
    path("articles/<int:article_id>/comments", teams.ArticleComments.as_view(), name="article-comments"),
    path("articles/<int:article_id>/history", teams.ArticleHistory.as_view(), name="article-history"),
    path("projects/<int:project_id>/imports/", imports.ProjectImports.as_view(), name="project-imports"),
    path("jobs/<int:job_id>/", jobs.JobDetail.as_view(), name="job-detail"),
    path("projects/<int:project_id>/export", exports.ProjectExport.as_view(), name="project-export"),
    path("projects/<int:project_id>/exports/", exports.ProjectExportJobs.as_view(), name="project-exports"),
    path("exports/<int:export_job_id>/file", exports.ExportFile.as_view(), name="export-file"),
    path("projects/<int:project_id>/kb/candidates/", kb.CandidateList.as_view(), name="kb-candidates"),
    path("projects/<int:project_id>/kb/entities/", kb.EntityList.as_view(), name="kb-entity-list"),
    path(
        "projects/<int:project_id>/kb/entities/<int:entity_id>/",
        kb.EntityDetail.as_view(),
        name="kb-entity-detail",
    ),
    path("projects/<int:project_id>/kb/imports/", kb.ImportList.as_view(), name="kb-import-list"),
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
        "projects/<int:project_id>/suggester-settings",
        suggestions.SuggesterSettingsView.as_view(),
        name="suggester-settings",
    ),
    path(
        "projects/<int:project_id>/learning-curve", suggestions.LearningCurve.as_view(), name="learning-curve"
    ),
    path("projects/<int:project_id>/gold/curate", suggestions.CurateGold.as_view(), name="curate-gold"),
    path(
        "projects/<int:project_id>/suggestion-quality",
        suggestions.SuggestionQuality.as_view(),
        name="suggestion-quality",
    ),
    path("projects/<int:project_id>/agreement", agreement.ProjectAgreementView.as_view(), name="agreement"),
    path(
        "projects/<int:project_id>/agreement/articles",
        agreement.AgreementArticles.as_view(),
        name="agreement-articles",
    ),
]
