"""Weigh the project's pretrained pipeline (in `add` mode) on its curated gold: how often each of the
pipeline's types is right in each relation to what the gazetteer and rules settle (a gap, another type on
the same span, a wider or a narrower span), and how often what it would displace is. The merge then lays
the pipeline over the other sources by these counts (`nlp/merge.py`, `nlp/weighing.py`).

The gazetteer is blind to the gold it is measured on: the articles are split into the project's folds,
and each fold is run with the gold mentions of the other folds only (as cross-validation does), so a
gold mention never vouches for itself. Reviewers' decisions on the pipeline's suggestions weigh in
through the merge's evidence per source and type, as for every source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from annotator.suggestions import nlp, sources
from annotator.suggestions.engine import SuggestionRunner, forget_merges, pipeline_spec
from annotator.suggestions.models import PipelineMode, SuggesterSettings
from annotator.suggestions.nlp.weighing import LayerTally
from annotator.suggestions.training import assign_folds, curated_gold

if TYPE_CHECKING:
    from annotator.jobs.progress import Progress
    from annotator.projects.models import Project

MEASURED_KEY = "layered"  # SuggesterSettings.measured[MEASURED_KEY][pipeline source] = LayerTally.as_json


@dataclass(frozen=True)
class Weighed:
    source: str  # the pipeline's source name, as its suggestions carry it
    articles: int
    others_f1: float  # the gazetteer and rules alone on those articles
    keep: float


def weigh_pipeline(*, project: Project, progress: Progress | None = None) -> Weighed | None:
    """Measure the project's pretrained pipeline in add mode on its curated gold and store what was
    measured; None when the project has no pipeline in add mode, or no curated gold yet."""
    chosen = sources.project_settings(project)
    choice = sources.pipeline_choice(chosen)
    if not choice.ref or choice.mode != PipelineMode.ADD:
        return None
    records = curated_gold(project)
    if not records:
        return None
    spec = pipeline_spec(choice.ref, PipelineMode.ADD, project.language)
    assert spec.model_source is not None
    by_id = {r.article_id: r for r in records}
    folds = assign_folds(records, max(1, min(chosen.folds, len(records))))
    tally = LayerTally()
    folds = [fold for fold in folds if fold]
    for number, fold in enumerate(folds, start=1):
        if progress is not None:
            progress.say(
                f"Weighing {spec.name} on fold {number} of {len(folds)} ({len(fold)} gold articles)."
            )
        # Several folds: each blind to its own gold; one fold (one article): blind to it too.
        runner = SuggestionRunner(project_id=project.pk, spec=spec, link_limit=0, exclude_articles=fold)
        test = [by_id[pk] for pk in fold]
        analyses = runner.suggester.analyse((r.text for r in test), merge=runner.merge, keep_candidates=True)
        for record, analysis in zip(test, analyses, strict=True):
            tally.add(analysis.candidates, set(record.entities), runner.merge, record.text)
    nlp.forget_suggesters()  # the folds' pipelines are not needed again
    stored = tally.as_json(len(records))
    with transaction.atomic():  # the settings as they are now (a manager may have changed them meanwhile)
        saved, _ = SuggesterSettings.objects.select_for_update().get_or_create(project=project)
        measured = saved.measured or {}
        weighed = {**(measured.get(MEASURED_KEY) or {}), spec.model_source: stored}
        saved.measured = {**measured, MEASURED_KEY: weighed}
        saved.save(update_fields=["measured"])
    forget_merges()  # merges made from now on use the figures
    return Weighed(spec.model_source, len(records), stored["others_f1"], stored["keep"])


RELATION_NAMES = {
    "gap": "where no other source speaks",
    "unnamed": "where no other source speaks, not reading as a name",
    "relabel": "on the same words, another type",
    "wider": "wider, covering what is there",
    "narrower": "narrower or crossing",
}


def layered_table(chosen: SuggesterSettings) -> list[dict[str, Any]]:
    """For the page: each weighed pipeline with its rows (type, relation, its entities right / measured,
    what they would displace right / measured)."""
    tables = []
    for source, stored in ((chosen.measured or {}).get(MEASURED_KEY) or {}).items():
        rows = []
        for key, (right, total, displaced_right, displaced) in sorted(stored.get("evidence", {}).items()):
            _, label, kind = key.rsplit("|", 2)
            rows.append(
                {
                    "label": label, "relation": RELATION_NAMES.get(kind, kind), "right": right, "total": total,
                    "precision": right / total if total else None, "displaced_right": displaced_right,
                    "displaced": displaced,
                    "displaced_precision": displaced_right / displaced if displaced else None,
                }
            )  # fmt: skip
        tables.append(
            {
                "source": source, "articles": stored.get("articles", 0), "others_f1": stored.get("others_f1"),
                "keep": stored.get("keep"), "rows": rows,
            }
        )  # fmt: skip
    return tables
