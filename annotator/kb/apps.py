from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "annotator.kb"
    label = "kb"
    verbose_name = "Knowledge bases"
