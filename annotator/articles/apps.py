from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "annotator.articles"
    label = "articles"
    verbose_name = "Articles"
