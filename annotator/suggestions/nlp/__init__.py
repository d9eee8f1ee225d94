"""The one package that imports spaCy (lazily): builds, loads, caches and trains pipelines, returns records.

Nothing here knows Django. Callers hand in patterns and texts and get plain dataclasses back, never a
`Doc`. Offsets in every record are code points into the text as given.

A pipeline is a `Suggester`: the blank pipeline of the project's language (or a trained or installed
one) plus a sentencizer and a `span_ruler` gazetteer (KB names, gold mentions, the shipped lists, token
patterns for dates and for "Full Name (ACR)"). The ruler writes to its own span group, never to
`doc.ents`: every source proposes candidates on its own, and `merge.py` alone decides which become
suggestions, under the project's types and label map, by measured evidence.
"""

from annotator.suggestions.nlp import weighing
from annotator.suggestions.nlp.installed import (
    InstalledPipeline,
    installed_pipelines,
    model_meta,
    read_pipeline,
)
from annotator.suggestions.nlp.merge import (
    PRIORS,
    Candidate,
    FoundEntity,
    Measured,
    Merge,
    family,
    merge_candidates,
)
from annotator.suggestions.nlp.pipeline import (
    RULER_KEY,
    Analysis,
    Pattern,
    PipeProcess,
    PipeProcessFailed,
    Suggester,
    build_suggester,
    cached_suggester,
    forget_suggesters,
    prepare,
)
from annotator.suggestions.nlp.training import (
    RECIPE,
    BaseUnusable,
    Recipe,
    TrainingDoc,
    TrainingResult,
    measure_patterns,
    split_for_training,
    train_ner,
)

MODEL_SCORE = PRIORS["model"]

__all__ = [
    "MODEL_SCORE",
    "PRIORS",
    "RECIPE",
    "RULER_KEY",
    "Analysis",
    "BaseUnusable",
    "Candidate",
    "FoundEntity",
    "InstalledPipeline",
    "Measured",
    "Merge",
    "Pattern",
    "PipeProcess",
    "PipeProcessFailed",
    "Recipe",
    "Suggester",
    "TrainingDoc",
    "TrainingResult",
    "build_suggester",
    "cached_suggester",
    "family",
    "forget_suggesters",
    "installed_pipelines",
    "measure_patterns",
    "merge_candidates",
    "model_meta",
    "prepare",
    "read_pipeline",
    "split_for_training",
    "train_ner",
    "weighing",
]
