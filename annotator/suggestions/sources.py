"""A project's sources and what they say: which pipeline it picked, the labels each source speaks, how
those become the project's types, and how precise each source has been measured on its decisions and gold.

Reads only. The Suggesters page and the API show what is here; `engine.py` turns it into a `Merge`.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count

from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, Project
from annotator.suggestions import labels, nlp
from annotator.suggestions.gazetteer import LIST_LANGUAGES
from annotator.suggestions.models import (
    Decision,
    PipelineMode,
    SuggesterKind,
    SuggesterSettings,
    SuggesterVersion,
    SuggestionKind,
    Verdict,
)

# The labels the shipped lists and the rules speak (see gazetteer.LISTS and nlp/patterns.py).
LIST_LABELS = {
    "GPE": "countries, cities and regions",
    "LOC": "continents, seas and areas",
    "NORP": "nationalities and groups",
    "ORG": "international organisations and news media",
}
RULE_LABELS = {
    "DATE": "date rules",
    "EVENT": "event rule (“… Cup”, “… Open”)",
    "GPE": "dateline rule",
    "ORG": "“Full Name (ACR)”, organisation and club rules",
    "PERSON": "person rules (titles, given names, ages)",
}


def project_settings(project: Project | int) -> SuggesterSettings:
    """The project's suggester settings; the site's defaults, unsaved, while it has none (reading
    settings writes nothing)."""
    project_id = project if isinstance(project, int) else project.pk
    found = SuggesterSettings.objects.filter(project_id=project_id).first()
    if found is None:
        found = SuggesterSettings(project_id=project_id)
        found.digest = found.compute_digest()
    return found


def site_label_map() -> dict[str, str]:
    try:
        return labels.parse_pairs(settings.ANNOTATOR_SPACY_LABEL_MAP)
    except ValueError as bad:
        raise ImproperlyConfigured(
            f"ANNOTATOR_SPACY_LABEL_MAP: {str(bad)!r} is not LABEL=TYPE; write pairs such as "
            "FAC=LOC,CARDINAL= (an empty type drops the label)."
        ) from None


def site_pipeline_mode() -> str:
    mode = settings.ANNOTATOR_SPACY_PIPELINE_MODE
    if mode not in PipelineMode.values:
        raise ImproperlyConfigured(
            f"ANNOTATOR_SPACY_PIPELINE_MODE is {mode!r}; it must be 'add' (with the gazetteer) or 'replace'."
        )
    return mode


@dataclass(frozen=True)
class PipelineChoice:
    """What a project's settings say about a pretrained pipeline: `ref` ("" for none) and its mode."""

    ref: str
    mode: str
    site_default: bool


def pipeline_choice(chosen: SuggesterSettings) -> PipelineChoice:
    if chosen.use_site_pipeline:
        return PipelineChoice(
            settings.ANNOTATOR_SPACY_PIPELINE, chosen.pipeline_mode or site_pipeline_mode(), True
        )
    return PipelineChoice(chosen.pipeline, chosen.pipeline_mode or site_pipeline_mode(), False)


def pipeline_directories() -> list[Path]:
    directories = [Path(settings.ANNOTATOR_PIPELINES_DIR)]
    site = settings.ANNOTATOR_SPACY_PIPELINE
    if site and Path(site).is_dir():
        directories.append(Path(site))
    return directories


def available_pipelines() -> list[nlp.InstalledPipeline]:
    """The pipelines a manager may pick: installed spaCy packages and pipeline directories."""
    return nlp.installed_pipelines(pipeline_directories())


def find_pipeline(ref: str) -> nlp.InstalledPipeline | None:
    """The available pipeline `ref` names (a package name or one of the listed directories)."""
    return next((p for p in available_pipelines() if p.ref == ref), None)


@cache
def pipeline_labels(ref: str) -> tuple[str, ...]:
    found = nlp.read_pipeline(ref)
    return found.labels if found is not None else ()


def source_labels(
    project: Project, version: SuggesterVersion | None, chosen: SuggesterSettings | None = None
) -> dict[str, list[str]]:
    """Every label a source of the project may speak, with which sources speak it."""
    speakers: dict[str, list[str]] = defaultdict(list)
    if project.language in LIST_LANGUAGES:
        for label, what in LIST_LABELS.items():
            speakers[label].append(f"shipped list: {what}")
    for label, what in RULE_LABELS.items():
        if label != "DATE" or project.language in LIST_LANGUAGES:
            speakers[label].append(what)
    kb_types = (
        KBEntity.objects.filter(knowledge_base__project=project, merged_into__isnull=True)
        .exclude(type="")
        .values_list("type", flat=True)
        .distinct()
        .order_by()
    )
    for label in kb_types:
        speakers[label].append("knowledge base")
    choice = pipeline_choice(chosen or project_settings(project))
    refs = {choice.ref} if choice.ref else set()
    if version is not None and version.kind == SuggesterKind.PIPELINE and version.path:
        refs.add(version.path)
    for ref in sorted(refs):
        for label in pipeline_labels(ref):
            speakers[label].append(f"pipeline {Path(ref).name}")
    return dict(sorted(speakers.items()))


def project_types(project_id: int) -> list[str]:
    return list(
        EntityType.objects.filter(project_id=project_id).order_by("name").values_list("name", flat=True)
    )


def chosen_label_map(chosen: SuggesterSettings) -> dict[str, str]:
    """The site's choices, then the project's on top."""
    return {**site_label_map(), **{str(k): str(v) for k, v in (chosen.label_map or {}).items()}}


def effective_label_map(
    project: Project,
    version: SuggesterVersion | None = None,
    *,
    extra: tuple[str, ...] = (),
    chosen: SuggesterSettings | None = None,
) -> dict[str, str]:
    """Every label a source speaks (and those in `extra`) -> the project type it becomes ("" drops it)."""
    chosen = chosen or project_settings(project)
    choices = chosen_label_map(chosen)
    spoken = set(source_labels(project, version, chosen)) | set(choices) | set(extra)
    return labels.effective_map(sorted(spoken), project_types(project.pk), choices)


def settings_digest(stored: str | None) -> str:
    """Names what changes what the gazetteer and the merge do: the project's settings (their stored
    digest; None when the project has none yet) and the site's label map."""
    value = [stored or SuggesterSettings().compute_digest(), settings.ANNOTATOR_SPACY_LABEL_MAP]
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()[:12]


def dropped_gold_patterns(chosen: SuggesterSettings) -> list[list[str]]:
    """[label, text] of the gold mentions the last measurement found too imprecise as patterns."""
    return list((chosen.measured or {}).get("dropped_gold_patterns", []))


def measured_evidence(
    project_id: int, chosen: SuggesterSettings | None = None
) -> dict[tuple[str, str], nlp.Measured]:
    """(source, project type) -> how often it was right: the reviewers' decisions on its entity
    suggestions (accepted right; corrected or rejected wrong), plus what the last learning job
    measured of each source on the project's gold."""
    right: dict[tuple[str, str], int] = defaultdict(int)
    total: dict[tuple[str, str], int] = defaultdict(int)
    decided = (
        Decision.objects.filter(
            suggestion__suggester_version__project_id=project_id, suggestion__kind=SuggestionKind.ENTITY
        )
        .values_list("suggestion__source", "suggestion__entity_type__name", "verdict")
        .annotate(n=Count("id"))
        .order_by()
    )
    for source, label, verdict, n in decided:
        total[(source, label)] += n
        if verdict == Verdict.ACCEPTED:
            right[(source, label)] += n
    chosen = chosen or project_settings(project_id)
    for key, (good, seen) in ((chosen.measured or {}).get("sources") or {}).items():
        source, _, label = key.rpartition("|")
        total[(source, label)] += int(seen)
        right[(source, label)] += int(good)
    return {key: nlp.Measured(right[key], n) for key, n in total.items()}


def evidence_table(evidence: dict[tuple[str, str], nlp.Measured]) -> list[dict[str, Any]]:
    """Rows for the page: source, type, measured, precision, what the merge uses."""
    merge = nlp.Merge(evidence=evidence)
    rows = []
    for (source, label), measured in sorted(evidence.items()):
        score, decisive = merge.score(source, label)
        rows.append(
            {
                "source": source,
                "label": label,
                "right": measured.right,
                "total": measured.total,
                "precision": measured.right / measured.total if measured.total else None,
                "score": round(score, 3),
                "decisive": decisive,
            }
        )
    return rows
