from django.apps import AppConfig


class SuggestionsConfig(AppConfig):
    name = "annotator.suggestions"
    label = "suggestions"
    verbose_name = "Suggestions"

    def ready(self) -> None:
        from annotator.suggestions import checks, jobs  # noqa: F401  (registers job handlers and checks)
