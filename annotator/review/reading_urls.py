"""The article page keeps its `articles:` URL names; its view reads annotation sets, so it lives in review."""

from django.urls import path

from annotator.review import reading

app_name = "articles"
urlpatterns = [
    path("<int:article_id>/", reading.article_detail, name="detail"),
]
