"""Training an NER pipeline with spaCy's config system, on the CPU, from gold texts."""

from __future__ import annotations

import itertools
import re
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
    epochs: int = 0  # epochs run (early stopping may end before the maximum)
    best_epoch: int = 0  # the epoch whose weights were kept (0: the last, when there was no held-out part)
    held_out_f1: float | None = None  # entity F1 of the kept weights on the held-out part


@dataclass(frozen=True)
class Recipe:
    """How the NER is built and trained: spaCy's CNN tok2vec (hashed embeddings of the token's
    attributes, then `depth` convolution layers over a window of `window` tokens each side) under a
    transition-based NER, updated in compounding minibatches of pieces with dropout and averaged weights,
    stopped early on a held-out part."""

    width: int = 96
    depth: int = 4
    window: int = 1
    maxout: int = 3
    attrs: tuple[str, ...] = ("NORM", "PREFIX", "SUFFIX", "SHAPE")
    rows: tuple[int, ...] = (5000, 1000, 2500, 2500)
    hidden_width: int = 64
    dropout: float = 0.2
    batch_start: float = 4.0  # pieces per batch, compounding
    batch_end: float = 32.0
    batch_rate: float = 1.001
    learn_rate: float = 0.001
    # Epochs without a better held-out F1 before training stops. On CoNLL-2003 (50 documents, the model
    # alone on eng.testa) patience 5 and dropout 0.3 stopped at epoch 11 with F1 0.560; patience 10 and
    # dropout 0.2 ran 25 epochs to F1 0.624: a held-out tenth of a few articles is noisy.
    patience: int = 10

    def describe(self, *, architecture: bool = True) -> str:
        """The recipe in words; without `architecture` (a pretrained pipeline's is used), the training
        settings only."""
        built = (
            f"tok2vec width {self.width}, depth {self.depth}, window {self.window}, maxout {self.maxout}, "
            f"attributes {'/'.join(self.attrs)} ({'/'.join(str(r) for r in self.rows)} rows); NER hidden "
            f"width {self.hidden_width}; "
        )
        return (built if architecture else "") + (
            f"compounding minibatches ({self.batch_start:g} to {self.batch_end:g} pieces), learning rate "
            f"{self.learn_rate:g}, dropout {self.dropout}, averaged weights, early stopping on a held-out "
            f"tenth (patience {self.patience})"
        )


RECIPE = Recipe()


def _examples(nlp: Language, docs: Sequence[TrainingDoc]) -> tuple[list[Any], int]:
    from spacy.training import Example
    from spacy.util import filter_spans

    examples = []
    skipped = 0
    for item in docs:
        predicted = nlp.make_doc(prepare(item.text))
        reference = nlp.make_doc(prepare(item.text))
        spans = []
        for start, end, label in item.entities:
            span = reference.char_span(start, end, label=label)
            if span is None:
                skipped += 1
            else:
                spans.append(span)
        kept = filter_spans(spans)
        skipped += len(spans) - len(kept)
        reference.ents = kept
        examples.append(Example(predicted, reference))
    return examples, skipped


def _blank_ner(lang: str, recipe: Recipe) -> Language:
    """The blank pipeline of `lang` with an untrained NER built as the recipe says."""
    from spacy.cli.init_config import init_config
    from spacy.util import load_model_from_config

    config = init_config(lang=lang, pipeline=["ner"], optimize="efficiency", gpu=False)
    model = config["components"]["tok2vec"]["model"]
    model["encode"].update(
        width=recipe.width, depth=recipe.depth, window_size=recipe.window, maxout_pieces=recipe.maxout
    )
    model["embed"].update(attrs=list(recipe.attrs), rows=list(recipe.rows), include_static_vectors=False)
    config["components"]["ner"]["model"]["hidden_width"] = recipe.hidden_width
    return load_model_from_config(config, auto_fill=True, validate=True)


class BaseUnusable(ValueError):
    """A pretrained pipeline cannot be the starting point of a project's NER."""


def _ner_from_pipeline(lang: str, base: str) -> tuple[Language, Callable[[Language], None]]:
    """A new NER (fresh labels) whose token encoder and hidden layer are the pretrained pipeline's NER's:
    the pipeline `base` (a package or directory) is loaded, its NER's tok2vec configuration is used
    inline, and the returned function copies its weights in after initialisation (the output layer,
    one row per label, is the only one learnt from nothing). The vocabulary's norms and static vectors
    come along, as the copied encoder reads them."""
    import copy

    import spacy
    from spacy.cli.init_config import init_config
    from spacy.util import load_model_from_config

    try:
        pretrained = spacy.load(base)
    except (OSError, ValueError) as failure:
        raise BaseUnusable(f"{base} does not load: {failure}") from failure
    if pretrained.lang != lang:
        raise BaseUnusable(f"{base} is a {pretrained.lang} pipeline, not {lang}")
    if "ner" not in pretrained.pipe_names:
        raise BaseUnusable(f"{base} has no NER")
    resolved = pretrained.config.interpolate()
    ner_config = resolved["components"]["ner"]["model"]
    their_ner: Any = pretrained.get_pipe("ner")
    encoder = their_ner.model.get_ref("tok2vec")
    tok2vec_config = copy.deepcopy(ner_config["tok2vec"])
    listens = "Listener" in tok2vec_config.get("@architectures", "")
    if listens:
        upstream = tok2vec_config.get("upstream", "*")
        names = [n for n in pretrained.pipe_names if n == upstream or (upstream == "*" and n == "tok2vec")]
        if not names or "model" not in resolved["components"][names[0]]:
            raise BaseUnusable(f"{base}'s NER listens to a token encoder that is not a tok2vec component")
        tok2vec_config = copy.deepcopy(resolved["components"][names[0]]["model"])
        upstream_pipe: Any = pretrained.get_pipe(names[0])
        encoder = upstream_pipe.model
    config = init_config(lang=lang, pipeline=["ner"], optimize="efficiency", gpu=False)
    del config["components"]["tok2vec"]
    config["nlp"]["pipeline"] = ["ner"]
    ner_model = copy.deepcopy({k: v for k, v in ner_config.items() if k != "tok2vec"})
    ner_model["nO"] = None
    config["components"]["ner"]["model"] = {**ner_model, "tok2vec": tok2vec_config}
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    lookups = pretrained.vocab.lookups
    if lookups.has_table("lexeme_norm"):
        nlp.vocab.lookups.set_table("lexeme_norm", lookups.get_table("lexeme_norm"))
    if pretrained.vocab.vectors.shape[0]:
        nlp.vocab.vectors = pretrained.vocab.vectors
    lower = their_ner.model.get_ref("lower")

    def copy_weights(trained: Language) -> None:
        ner: Any = trained.get_pipe("ner")
        model = ner.model
        mine = model.get_ref("tok2vec")
        target = mine.layers[0] if listens else mine
        try:
            target.from_bytes(encoder.to_bytes())
            model.get_ref("lower").from_bytes(lower.to_bytes())
        except ValueError as failure:  # thinc's shape mismatch
            raise BaseUnusable(f"{base}'s NER weights do not fit: {failure}") from failure

    return nlp, copy_weights


def train_ner(
    *,
    train: Sequence[TrainingDoc],
    dev: Sequence[TrainingDoc],
    output: Path,
    max_epochs: int,
    seed: int = 0,
    lang: str = "en",
    on_progress: Callable[[int, int], None] | None = None,
    recipe: Recipe = RECIPE,
    base: str | None = None,
) -> TrainingResult:
    """Train an NER pipeline (spaCy's CPU "efficiency" architecture on the blank pipeline of `lang`)
    with an explicit loop: each epoch shuffles the pieces and updates in compounding minibatches with
    dropout and averaged weights; after each epoch the averaged weights are scored on `dev` (held out
    from `train` by the caller) and the best are kept; training stops after `patience` epochs without
    a better score, or at `max_epochs`. Without `dev`, all `max_epochs` run and the last weights are
    kept. Saves the pipeline at `output`. Runs in this process, on the CPU, with no download.

    `base`: a pretrained pipeline to start from (its NER's encoder and hidden layer, new labels);
    raises BaseUnusable when it cannot be."""
    import random
    import shutil

    from spacy.util import compounding, fix_random_seed, minibatch
    from thinc.api import Adam

    fix_random_seed(seed)
    if base:
        nlp, copy_weights = _ner_from_pipeline(lang, base)  # its architecture, the recipe's training
    else:
        nlp, copy_weights = _blank_ner(lang, recipe), None
    nlp.max_length = MAX_TEXT_LENGTH
    examples, skipped = _examples(nlp, train)
    held_out, _ = _examples(nlp, dev)
    optimizer = Adam(recipe.learn_rate, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0, use_averages=True)
    nlp.initialize(lambda: examples, sgd=optimizer)
    if copy_weights is not None:
        copy_weights(nlp)
    shuffler = random.Random(seed)  # noqa: S311 - shuffling, not secrets
    best: tuple[float, int, bytes] | None = None
    step = epoch = 0
    # One schedule of batch sizes for the whole training, as spaCy's own loop has it: batches keep the
    # size they grew to from one epoch to the next (restarting it each epoch kept every batch of 946
    # CoNLL documents under ten pieces).
    sizes = compounding(recipe.batch_start, recipe.batch_end, recipe.batch_rate)
    for epoch in range(1, max_epochs + 1):
        shuffler.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=sizes):
            nlp.update(batch, drop=recipe.dropout, sgd=optimizer, losses=losses)
            step += 1
        if on_progress is not None:
            on_progress(epoch, step)
        if not held_out:
            continue
        with nlp.use_params(optimizer.averages):
            f1 = float(nlp.evaluate(held_out).get("ents_f") or 0.0)
            if best is None or f1 > best[0]:
                best = (f1, epoch, nlp.to_bytes())
        if epoch - best[1] >= recipe.patience:
            break
    if best is not None:
        nlp.from_bytes(best[2])
    else:
        with nlp.use_params(optimizer.averages):
            final = nlp.to_bytes()
        nlp.from_bytes(final)
    if output.exists():
        shutil.rmtree(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    ner: Any = nlp.get_pipe("ner")
    return TrainingResult(
        path=output,
        labels=tuple(sorted(ner.labels)),
        examples=len(train),
        skipped_entities=skipped,
        epochs=epoch,
        best_epoch=best[1] if best is not None else 0,
        held_out_f1=round(best[0], 4) if best is not None else None,
    )


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
