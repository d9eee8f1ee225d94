"""System checks: a wrong suggestion setting is reported when the app starts, not at the first suggestion."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register()
def check_suggestion_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from annotator.suggestions.sources import site_label_map, site_pipeline_mode

    problems: list[checks.CheckMessage] = []
    try:
        site_label_map()
    except ImproperlyConfigured as error:
        problems.append(checks.Error(str(error), id="suggestions.E001"))
    try:
        site_pipeline_mode()
    except ImproperlyConfigured as error:
        problems.append(checks.Error(str(error), id="suggestions.E002"))
    model = settings.ANNOTATOR_SPACY_PIPELINE
    if model and not Path(model).is_dir() and not _is_package(model):
        problems.append(
            checks.Error(
                f"ANNOTATOR_SPACY_PIPELINE is {model!r}, which is neither a pipeline directory nor an installed "
                "package. Install the package (e.g. a wheel made by `spacy package`) or give a directory.",
                id="suggestions.E003",
            )
        )
    return problems


def _is_package(name: str) -> bool:
    if "/" in name or "\\" in name or name.startswith("."):
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
