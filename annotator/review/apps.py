from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "annotator.review"
    label = "review"
    verbose_name = "Review"

    def ready(self) -> None:
        from annotator.review import lifecycle  # noqa: F401  # registers the project deletion job's handler
