from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "annotator.articles"
    label = "articles"
    verbose_name = "Articles"

    def ready(self) -> None:
        from annotator.articles import indexing  # noqa: F401  # registers the search index job's handler
