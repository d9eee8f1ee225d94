"""WSGI entry point for gunicorn: Django's handler, resolving each path once per process (core/handler.py)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
django.setup(set_prefix=False)  # what get_wsgi_application() does before making Django's handler

from annotator.core.handler import AnnotatorWSGIHandler  # noqa: E402 (needs the apps set up)

application = AnnotatorWSGIHandler()
