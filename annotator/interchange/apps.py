from django.apps import AppConfig


class InterchangeConfig(AppConfig):
    name = "annotator.interchange"
    label = "interchange"
    verbose_name = "Import and export"

    def ready(self) -> None:
        from annotator.interchange import tasks  # noqa: F401  # registers the import job's handler
