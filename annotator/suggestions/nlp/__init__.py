"""The one package that imports spaCy (lazily): builds, loads, caches and trains pipelines, returns records.

Nothing here knows Django. Callers hand in patterns and texts and get plain dataclasses back, never a
`Doc`. Offsets in every record are code points into the text as given.

A pipeline is a `Suggester`: optionally a trained or installed NER pipeline, plus a sentencizer and a
`span_ruler` gazetteer (KB names, gold mentions, the shipped lists, token patterns for dates and for
"Full Name (ACR)"). The ruler writes to its own span group, never to `doc.ents`, so that this module
decides how ruler matches and NER entities combine: ruler matches win, longest first, and NER entities
fill the gaps with a lower score (a self-trained NER raises recall but is less precise than the KB).
"""

from annotator.suggestions.nlp.pipeline import (
    MODEL_SCORE,
    RULER_KEY,
    Analysis,
    FoundEntity,
    Pattern,
    Suggester,
    build_suggester,
    cached_suggester,
    forget_suggesters,
    model_meta,
    prepare,
)
from annotator.suggestions.nlp.training import TrainingDoc, TrainingResult, split_for_training, train_ner

__all__ = [
    "MODEL_SCORE",
    "RULER_KEY",
    "Analysis",
    "FoundEntity",
    "Pattern",
    "Suggester",
    "TrainingDoc",
    "TrainingResult",
    "build_suggester",
    "cached_suggester",
    "forget_suggesters",
    "model_meta",
    "prepare",
    "split_for_training",
    "train_ner",
]
