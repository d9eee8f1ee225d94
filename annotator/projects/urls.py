from django.urls import path

from annotator.projects import create_views, views

app_name = "projects"
urlpatterns = [
    path("", views.project_list, name="list"),
    path("new/", create_views.project_create, name="create"),
    path("<int:project_id>/", views.project_detail, name="detail"),
    path("<int:project_id>/settings/", views.project_settings, name="settings"),
    path("<int:project_id>/members/", views.members, name="members"),
    path("<int:project_id>/guidelines/", views.guidelines, name="guidelines"),
    path("<int:project_id>/schema.css", views.schema_css, name="schema_css"),
]
