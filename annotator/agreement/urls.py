from django.urls import path

from annotator.agreement import views

app_name = "agreement"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("articles/", views.articles, name="articles"),
]
