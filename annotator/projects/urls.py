from django.urls import path

from annotator.projects import create_views, schema_views, views

app_name = "projects"
urlpatterns = [
    path("", views.project_list, name="list"),
    path("new/", create_views.project_create, name="create"),
    path("<int:project_id>/", views.project_detail, name="detail"),
    path("<int:project_id>/settings/", views.project_settings, name="settings"),
    path("<int:project_id>/members/", views.members, name="members"),
    path("<int:project_id>/guidelines/", views.guidelines, name="guidelines"),
    path("<int:project_id>/guidelines/edit/", views.guidelines_edit, name="guidelines_edit"),
    path("<int:project_id>/schema/", schema_views.schema, name="schema"),
    path("<int:project_id>/schema/types/new/", schema_views.entity_type_edit, name="entity_type_new"),
    path("<int:project_id>/schema/types/<int:type_id>/", schema_views.entity_type_edit, name="entity_type"),
    path(
        "<int:project_id>/schema/types/<int:type_id>/remove/",
        schema_views.entity_type_remove,
        name="entity_type_remove",
    ),
    path(
        "<int:project_id>/schema/types/<int:type_id>/attributes/new/",
        schema_views.attribute_edit,
        name="attribute_new",
    ),
    path(
        "<int:project_id>/schema/types/<int:type_id>/attributes/<int:attribute_id>/",
        schema_views.attribute_edit,
        name="attribute",
    ),
    path(
        "<int:project_id>/schema/types/<int:type_id>/attributes/<int:attribute_id>/remove/",
        schema_views.attribute_remove,
        name="attribute_remove",
    ),
    path("<int:project_id>/schema/relations/new/", schema_views.relation_type_edit, name="relation_type_new"),
    path(
        "<int:project_id>/schema/relations/<int:type_id>/",
        schema_views.relation_type_edit,
        name="relation_type",
    ),
    path(
        "<int:project_id>/schema/relations/<int:type_id>/remove/",
        schema_views.relation_type_remove,
        name="relation_type_remove",
    ),
    path("<int:project_id>/schema.css", views.schema_css, name="schema_css"),
]
