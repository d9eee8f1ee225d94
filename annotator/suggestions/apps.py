from django.apps import AppConfig


class SuggestionsConfig(AppConfig):
    name = "annotator.suggestions"
    label = "suggestions"
    verbose_name = "Suggestions"
