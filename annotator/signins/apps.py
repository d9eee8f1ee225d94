from django.apps import AppConfig


class SigninsConfig(AppConfig):
    name = "annotator.signins"
    label = "signins"
    verbose_name = "Sign-ins"
