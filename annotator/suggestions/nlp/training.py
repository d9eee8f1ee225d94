"""Training an NER pipeline with spaCy's config system, on the CPU, from gold texts."""

from __future__ import annotations

import contextvars
import io
import itertools
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotator.suggestions.nlp.pipeline import MAX_TEXT_LENGTH, prepare

if TYPE_CHECKING:
    from spacy.language import Language


@dataclass(frozen=True)
class TrainingDoc:
    """One gold text for training: its entities as (start, end, label)."""

    text: str
    entities: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class TrainingResult:
    path: Path
    labels: tuple[str, ...]
    examples: int
    skipped_entities: int  # gold entities whose offsets fall inside a token, so NER cannot learn them


_progress: contextvars.ContextVar[Callable[[int, int], None] | None] = contextvars.ContextVar(
    "annotator_training_progress", default=None
)


def _register_progress_callback() -> None:
    import spacy

    name = "annotator.report_progress.v1"
    if name in spacy.registry.callbacks:
        return

    @spacy.registry.callbacks(name)
    def report_progress() -> Callable[[Language, dict[str, Any]], None]:
        def before_update(nlp: Language, args: dict[str, Any]) -> None:
            callback = _progress.get()
            if callback is not None:
                callback(int(args["epoch"]), int(args["step"]))

        return before_update


def _doc_bin(nlp: Language, docs: Sequence[TrainingDoc]) -> tuple[Any, int]:
    from spacy.tokens import DocBin
    from spacy.util import filter_spans

    doc_bin = DocBin(attrs=["ORTH", "ENT_IOB", "ENT_TYPE"])
    skipped = 0
    for item in docs:
        doc = nlp.make_doc(prepare(item.text))
        spans = []
        for start, end, label in item.entities:
            span = doc.char_span(start, end, label=label)
            if span is None:
                skipped += 1
            else:
                spans.append(span)
        kept = filter_spans(spans)
        skipped += len(spans) - len(kept)
        doc.ents = kept
        doc_bin.add(doc)
    return doc_bin, skipped


def train_ner(
    *,
    train: Sequence[TrainingDoc],
    dev: Sequence[TrainingDoc],
    output: Path,
    max_epochs: int,
    seed: int = 0,
    lang: str = "en",
    on_progress: Callable[[int, int], None] | None = None,
) -> TrainingResult:
    """Train an NER pipeline with spaCy's config system (the CPU "efficiency" recipe) on the blank
    pipeline of `lang`, save it at `output` and return what it learnt. Runs in this process, on the
    CPU, with no download."""
    import shutil

    import spacy
    from spacy.cli.init_config import init_config
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as train_loop

    _register_progress_callback()
    blank = spacy.blank(lang)
    with tempfile.TemporaryDirectory(prefix="annotator-train-") as work:
        work_dir = Path(work)
        train_bin, skipped = _doc_bin(blank, train)
        dev_bin, _ = _doc_bin(blank, dev)
        train_bin.to_disk(work_dir / "train.spacy")
        dev_bin.to_disk(work_dir / "dev.spacy")
        config = init_config(lang=lang, pipeline=["ner"], optimize="efficiency", gpu=False)
        config = config.merge(
            {
                "paths": {"train": str(work_dir / "train.spacy"), "dev": str(work_dir / "dev.spacy")},
                "system": {"seed": seed},
                "training": {
                    "max_epochs": max_epochs,
                    "max_steps": 0,
                    "patience": 0,
                    "eval_frequency": 1000,
                    "before_update": {"@callbacks": "annotator.report_progress.v1"},
                },
                "nlp": {"batch_size": 256},
            }
        )
        nlp = init_nlp(config)
        nlp.max_length = MAX_TEXT_LENGTH
        out_dir = work_dir / "out"
        out_dir.mkdir()
        token = _progress.set(on_progress)
        try:
            train_loop(nlp, out_dir, stdout=io.StringIO(), stderr=io.StringIO())
        finally:
            _progress.reset(token)
        if output.exists():
            shutil.rmtree(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(out_dir / "model-last", output)
    ner: Any = nlp.get_pipe("ner")
    labels = tuple(sorted(ner.labels))
    return TrainingResult(path=output, labels=labels, examples=len(train), skipped_entities=skipped)


def split_for_training(
    text: str, entities: Sequence[tuple[int, int, str]], *, max_chars: int = 2000
) -> list[TrainingDoc]:
    """Cut a long gold text into pieces of about `max_chars` at blank lines or full stops, never inside
    an entity, so that training batches stay small."""
    if len(text) <= max_chars:
        return [TrainingDoc(text, tuple(entities))]
    inside = [False] * (len(text) + 1)
    for start, end, _ in entities:
        for i in range(start + 1, end):
            inside[i] = True
    cuts = [0]
    for match in re.finditer(r"(?:\n\s*\n|[.!?]\s)", text):
        position = match.end()
        if position - cuts[-1] >= max_chars and not inside[position]:
            cuts.append(position)
    cuts.append(len(text))
    pieces = []
    for start, end in itertools.pairwise(cuts):
        if start == end:
            continue
        inner = tuple((s - start, e - start, label) for s, e, label in entities if start <= s and e <= end)
        pieces.append(TrainingDoc(text[start:end], inner))
    return pieces


def measure_patterns(
    docs: Sequence[TrainingDoc], patterns: Iterable[tuple[str, str]], *, lang: str = "en"
) -> dict[tuple[str, str], tuple[int, int]]:
    """How precise each (label, text) gazetteer pattern would be on gold texts: (times it matches a
    gold entity of that label exactly, times its text occurs as whole tokens). Case-sensitive, as the
    gazetteer matches."""
    import spacy
    from spacy.matcher import PhraseMatcher

    nlp = spacy.blank(lang)
    nlp.max_length = MAX_TEXT_LENGTH
    matcher = PhraseMatcher(nlp.vocab)
    wanted = sorted(set(patterns))
    by_text: dict[str, list[str]] = {}
    for label, text in wanted:
        by_text.setdefault(text, []).append(label)
    texts = list(by_text)
    tokenizer: Any = nlp.tokenizer
    for key, doc in zip(texts, tokenizer.pipe(texts), strict=True):
        matcher.add(key, [doc])
    counts = {pattern: [0, 0] for pattern in wanted}
    strings = nlp.vocab.strings
    for item, doc in zip(docs, tokenizer.pipe(prepare(d.text) for d in docs), strict=True):
        gold = {(start, end): label for start, end, label in item.entities}
        for match_id, start, end in matcher(doc):
            text = strings[match_id]
            span = doc[start:end]
            found = gold.get((span.start_char, span.end_char))
            for label in by_text[text]:
                tally = counts[(label, text)]
                tally[1] += 1
                if found == label:
                    tally[0] += 1
    return {pattern: (right, seen) for pattern, (right, seen) in counts.items()}
