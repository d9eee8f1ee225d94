"""Changing a project's suggester settings: its pretrained pipeline, label map and learning loop.

One service for the Suggesters page and the API. Choosing another pipeline (or mode) makes its
SuggesterVersion the active one at once: the manager asked for it. A label map entry is kept only where
it differs from the default found by name, so defaults follow later schema changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction

from annotator.core.errors import DomainError
from annotator.suggestions import labels, sources
from annotator.suggestions.engine import project_spec, version_fields
from annotator.suggestions.models import PipelineMode, SuggesterSettings, SuggesterVersion
from annotator.suggestions.training import activate_suggester

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.projects.models import Project

SITE = "site"  # the pipeline choice that follows ANNOTATOR_SPACY_PIPELINE
NONE = ""  # no pretrained pipeline: the gazetteer and rules (and the project's own model)


class InvalidSettings(DomainError):
    """A suggester setting the project cannot take."""


@dataclass(frozen=True)
class SettingsChange:
    """What to change; None leaves a setting as it is."""

    pipeline: str | None = None  # SITE, NONE, or the ref of an available pipeline
    mode: str | None = None  # add, replace, or "" for the site's default
    label_map: dict[str, str] | None = None  # label -> type or "" (dropped); labels left out: the default
    learn: bool | None = None
    learn_after: int | None = None
    retrain_every: int | None = None
    folds: int | None = None


def _check_pipeline(ref: str) -> None:
    if ref in (SITE, NONE):
        return
    if sources.find_pipeline(ref) is None:
        raise InvalidSettings(
            f"{ref!r} is not an installed spaCy package or a pipeline directory of this site; choose one "
            "from the list (or install one: manage.py install_pipeline).",
            field="pipeline",
        )


def _checked_map(project: Project, wanted: dict[str, str]) -> dict[str, str]:
    types = sources.project_types(project.pk)
    kept = {}
    for label, target in wanted.items():
        label, target = str(label).strip(), str(target).strip()
        if not label or len(label) > 100:
            raise InvalidSettings("A label is empty or longer than 100 characters.", field="label_map")
        if target and target not in types:
            raise InvalidSettings(
                f"{label} cannot become {target!r}: the project has no such entity type "
                f"(its types: {', '.join(types) or 'none'}; empty drops the label).",
                field=f"label_map.{label}",
            )
        if target != labels.default_target(label, types):
            kept[label] = target
    return kept


def _check_numbers(change: SettingsChange) -> None:
    bounds = {"learn_after": (2, 1_000_000), "retrain_every": (1, 1_000_000), "folds": (2, 10)}
    for name, (low, high) in bounds.items():
        value = getattr(change, name)
        if value is not None and not low <= value <= high:
            raise InvalidSettings(
                f"{name.replace('_', ' ')} must be between {low:,} and {high:,}.", field=name
            )
    if change.mode not in (None, "", *PipelineMode.values):
        raise InvalidSettings("The mode is add (with the gazetteer and rules) or replace.", field="mode")


@transaction.atomic
def change_suggester_settings(
    *, project: Project, change: SettingsChange, by: User | None
) -> SuggesterSettings:
    """Apply `change` to the project's settings; all or nothing. A new pipeline or mode becomes active."""
    _check_numbers(change)
    if change.pipeline is not None:
        _check_pipeline(change.pipeline)
    chosen, _ = SuggesterSettings.objects.select_for_update().get_or_create(project=project)
    before = (chosen.use_site_pipeline, chosen.pipeline, chosen.pipeline_mode)
    if change.pipeline is not None:
        chosen.use_site_pipeline = change.pipeline == SITE
        chosen.pipeline = "" if change.pipeline in (SITE, NONE) else change.pipeline
    if change.mode is not None:
        chosen.pipeline_mode = change.mode
    if change.label_map is not None:
        chosen.label_map = _checked_map(project, change.label_map)
    for name in ("learn", "learn_after", "retrain_every", "folds"):
        value = getattr(change, name)
        if value is not None:
            setattr(chosen, name, value)
    chosen.save()
    if (chosen.use_site_pipeline, chosen.pipeline, chosen.pipeline_mode) != before:
        _activate_choice(project, by)
    return chosen


def _activate_choice(project: Project, by: User | None) -> SuggesterVersion:
    spec = project_spec(project)
    version, _ = SuggesterVersion.objects.get_or_create(
        project=project,
        name=spec.name,
        version=spec.version,
        defaults={**version_fields(spec), "created_by": by},
    )
    return activate_suggester(suggester_version=version, by=by)
