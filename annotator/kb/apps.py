from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "annotator.kb"
    label = "kb"
    verbose_name = "Knowledge bases"

    def ready(self) -> None:
        from annotator.kb import imports  # noqa: F401  (registers the import_kb job handler)
