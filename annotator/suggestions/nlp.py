"""The one module that imports spaCy (lazily): builds, loads, caches and trains pipelines, returns records.

Nothing here knows Django. Callers hand in patterns and texts and get plain dataclasses back, never a
`Doc`. Offsets in every record are code points into the text as given.

A pipeline is a `Suggester`: optionally a trained or installed NER pipeline, plus a sentencizer and a
`span_ruler` gazetteer (KB names, gold mentions, the shipped lists, token patterns for dates and for
"Full Name (ACR)"). The ruler writes to its own span group, never to `doc.ents`, so that this module
decides how ruler matches and NER entities combine: ruler matches win, longest first, and NER entities
fill the gaps with a lower score (a self-trained NER raises recall but is less precise than the KB).
"""

from __future__ import annotations

import contextvars
import io
import itertools
import re
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

RULER_KEY = "annotator_ruler"
MAX_TEXT_LENGTH = 5_000_000  # characters; spaCy refuses more than 1,000,000 unless told

# How much each source is trusted; measured precision on news puts the KB first (DESIGN.md section 4).
SCORES = {"kb": 0.9, "gold": 0.85, "list": 0.8, "rule:date": 0.75, "rule:name-acronym": 0.6}
MODEL_SCORE = 0.5
# Which source wins when two say the same span with different labels (lower wins).
PRIORITY = {"kb": 0, "gold": 1, "list": 2, "rule:date": 3, "rule:name-acronym": 4}

# Connectors allowed inside a "Full Name (ACR)" name, and words that end such a name's left edge.
_NAME_JOINERS = {"of", "the", "for", "and", "on", "in", "de", "du", "la", "&"}


@dataclass(frozen=True)
class Pattern:
    """One gazetteer entry: `text` is matched token by token, case-sensitively, and labelled `label`.

    `group` says where it comes from and is the unit of incremental updates: "kb:<kb id>",
    "kb-shared:<text>" (a name several KB entities share), "gold:<text>" or "list:<list name>".
    """

    label: str
    text: str
    group: str


class FoundEntity(NamedTuple):
    """A mention the pipeline proposes: [start, end) of `label`, with where it came from."""

    start: int
    end: int
    label: str
    score: float
    source: str
    kb_id: str | None = None  # the KB id a gazetteer match came from


@dataclass(frozen=True)
class Analysis:
    """What the pipeline found in one text: non-overlapping entities in text order, and sentences."""

    entities: tuple[FoundEntity, ...]
    sentences: tuple[tuple[int, int], ...]


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


@dataclass
class _RulerState:
    fingerprint: str | None = None
    groups: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)


def prepare(text: str) -> str:
    """The text the pipeline sees: line breaks become spaces, so names broken across lines (PDF
    extractions) still match. The length is unchanged, so offsets need no mapping."""
    return text.replace("\n", " ").replace("\r", " ").replace("\t", " ")


def _paragraph_breaks(text: str) -> list[int]:
    return [match.end() for match in re.finditer(r"\n\s*\n", text)]


class Suggester:
    """A loaded pipeline with its gazetteer; `analyse` turns texts into records."""

    def __init__(self, nlp: Language, *, ruler: bool, model_source: str | None, label_map: dict[str, str]):
        self.nlp = nlp
        self.model_source = model_source  # the source name of NER entities, None when there is no NER
        self.label_map = label_map  # model label -> project label ("" drops it)
        self.has_ruler = ruler
        self._ruler_state = _RulerState()
        self._lock = threading.Lock()

    # The gazetteer

    @property
    def fingerprint(self) -> str | None:
        return self._ruler_state.fingerprint

    def ensure_patterns(self, fingerprint: str, load: Callable[[], Iterable[Pattern]]) -> bool:
        """Bring the gazetteer up to date with the patterns `fingerprint` names, loading them only when
        it changed. Changed groups are replaced, others kept (re-adding re-tokenises every pattern).
        Returns whether anything was loaded."""
        if not self.has_ruler:
            return False
        with self._lock:
            if self._ruler_state.fingerprint == fingerprint:
                return False
            self._update(load())
            self._ruler_state.fingerprint = fingerprint
            return True

    def _update(self, patterns: Iterable[Pattern]) -> None:
        wanted: dict[str, set[tuple[str, str]]] = {}
        for pattern in patterns:
            text = _clean_pattern(pattern.text)
            if text:
                wanted.setdefault(pattern.group, set()).add((pattern.label, text))
        ruler: Any = self.nlp.get_pipe("span_ruler")
        state = self._ruler_state
        new_groups = {group: frozenset(entries) for group, entries in wanted.items()}
        changed = [
            g for g in state.groups if not g.startswith("rule:") and new_groups.get(g) != state.groups[g]
        ]
        added = [g for g in new_groups if g not in state.groups]
        if len(changed) > max(100, len(state.groups) // 10):
            # Many groups moved: one rebuild costs less than many removals (each walks every pattern).
            ruler.clear()
            state.groups = {}
            _add_token_patterns(ruler, state)
            changed, added = [], list(new_groups)
        for group in changed:
            ruler.remove_by_id(group)
            del state.groups[group]
            if group in new_groups:
                added.append(group)
        entries = [
            {"label": label, "pattern": text, "id": group}
            for group in added
            for label, text in sorted(new_groups[group])
        ]
        if entries:
            ruler.add_patterns(entries)
        for group in added:
            state.groups[group] = new_groups[group]

    def pattern_count(self) -> int:
        ruler: Any = self.nlp.get_pipe("span_ruler")
        return len(ruler) if self.has_ruler else 0

    # Analysis

    def analyse(self, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[Analysis]:
        """Records for each text, in order. Streams: texts are read as the pipeline needs them."""
        originals: deque[str] = deque()

        def prepared() -> Iterator[str]:
            for text in texts:
                originals.append(text)
                yield prepare(text)

        for doc in self.nlp.pipe(prepared(), batch_size=batch_size):
            yield self._records(doc, originals.popleft())

    def docs(self, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[Doc]:
        """The bare pipeline over the prepared texts (what `analyse` costs without its records)."""
        return self.nlp.pipe((prepare(text) for text in texts), batch_size=batch_size)

    def _records(self, doc: Doc, original: str) -> Analysis:
        candidates = _ruler_candidates(doc) if self.has_ruler else []
        chosen = _resolve(candidates, len(original))
        if self.model_source is not None:
            chosen = _fill_with_model(chosen, doc, self.model_source, self.label_map)
        return Analysis(entities=tuple(chosen), sentences=_sentences(doc, original))


def _clean_pattern(text: str) -> str:
    """Gazetteer text as it is matched: one line, no leading article (guidelines mark "Kremlin", not
    "the Kremlin"), at least two characters."""
    text = " ".join(prepare(text).split())
    for article in ("the ", "The "):
        if text.startswith(article):
            text = text[len(article) :]
    return text if len(text) >= 2 else ""


def _sentences(doc: Doc, original: str) -> tuple[tuple[int, int], ...]:
    """Sentence boundaries from the pipeline, split again at blank lines (headlines, captions and
    paragraphs end there even without a full stop)."""
    cuts = _paragraph_breaks(original)
    sentences = []
    for sent in doc.sents:
        start, end = sent.start_char, sent.end_char
        for cut in cuts:
            if start < cut < end:
                sentences.append((start, cut))
                start = cut
        sentences.append((start, end))
    return tuple((start, end) for start, end in sentences if original[start:end].strip())


def _source_of(group: str) -> tuple[str, str]:
    """(score key, source name) of a ruler group."""
    if group.startswith(("kb:", "kb-shared:")):
        return "kb", "kb-ruler"
    if group.startswith("gold:"):
        return "gold", "gold-ruler"
    if group.startswith("list:"):
        return "list", group
    if group.startswith("rule:date"):
        return "rule:date", "rule:date"
    return group, group


# A ruler match as (start, end, label, priority, score, source, kb id): plain tuples, as there are hundreds
# per document when aliases are ambiguous (each entity an alias names is a match of its own).
_Candidate = tuple[int, int, str, int, float, str, str | None]
_Facts = tuple[int, str, float, str, str | None, int]  # priority, key, score, source, KB id, tokens to trim
_GROUPS: dict[int, _Facts] = {}  # group id hash -> how its matches count


def _group_facts(doc: Doc, group_hash: int) -> _Facts:
    facts = _GROUPS.get(group_hash)
    if facts is None:
        group = doc.vocab.strings[group_hash]
        key, source = _source_of(group)
        # "in 1999": the preposition only anchors the year.
        trim = 1 if group == "rule:date-after" else 0
        kb_id = group[3:] if group.startswith("kb:") else None
        facts = (PRIORITY[key], key, SCORES[key], source, kb_id, trim)
        _GROUPS[group_hash] = facts
    return facts


def _ruler_candidates(doc: Doc) -> list[_Candidate]:
    candidates: list[_Candidate] = []
    seen: set[tuple[int, int, int, int]] = set()
    acronyms: dict[int, Any] = {}  # end token of "Name (ACR)" -> the longest such match
    strings = doc.vocab.strings
    for span in doc.spans[RULER_KEY]:
        priority, key, score, source, kb_id, trim = _group_facts(doc, span.id)
        if key == "rule:name-acronym":
            best = acronyms.get(span.end)
            if best is None or span.start < best.start:
                acronyms[span.end] = span
            continue
        start, end = span.start + trim, span.end
        marker = (start, end, span.label, priority)
        if marker in seen:
            continue  # another entity with the same alias: one mention, whichever entity it names
        seen.add(marker)
        first, last = doc[start], doc[end - 1]
        candidates.append(
            (first.idx, last.idx + len(last), strings[span.label], priority, score, source, kb_id)
        )
    for span in acronyms.values():
        candidates.extend(_name_and_acronym(span))
    return candidates


def _name_and_acronym(span: Any) -> list[_Candidate]:
    """Split "Full Name (ACR)" into the name and the acronym. The name starts where its initials
    spell the acronym when they do, else at the longest run of capitalised words without "and"."""
    tokens = list(span)
    acronym = tokens[-2]
    name = tokens[:-3]
    start = _name_start(name, acronym.text)
    if start is None:
        return []
    first, last = name[start], name[-1]
    key = "rule:name-acronym"
    return [
        (first.idx, last.idx + len(last.text), span.label_, PRIORITY[key], SCORES[key], key, None),
        (acronym.idx, acronym.idx + len(acronym.text), span.label_, PRIORITY[key], SCORES[key], key, None),
    ]


def _name_start(name: list[Any], acronym: str) -> int | None:
    letters = acronym.replace(".", "").replace("&", "").upper()
    for start in range(len(name)):
        if name[start].text in _NAME_JOINERS:
            continue
        initials = "".join(t.text[0] for t in name[start:] if t.text not in _NAME_JOINERS).upper()
        if initials == letters:
            return start
    start = len(name)
    while start > 0 and name[start - 1].text != "and":
        start -= 1
    while start < len(name) and name[start].text in _NAME_JOINERS:
        start += 1
    return start if start < len(name) else None


def _resolve(candidates: list[_Candidate], length: int) -> list[FoundEntity]:
    """Non-overlapping entities: the longest match wins; for the same span, the most trusted source."""
    ordered = sorted(candidates, key=lambda c: (c[0] - c[1], c[3], c[0], c[2]))
    taken = bytearray(length)
    chosen: list[FoundEntity] = []
    for start, end, label, _, score, source, kb_id in ordered:
        if taken.find(1, start, end) != -1:
            continue
        taken[start:end] = b"\x01" * (end - start)
        chosen.append(FoundEntity(start, end, label, score, source, kb_id))
    return sorted(chosen, key=lambda e: (e.start, e.end))


def _fill_with_model(
    chosen: list[FoundEntity], doc: Doc, source: str, label_map: dict[str, str]
) -> list[FoundEntity]:
    """Add the model's entities that overlap no ruler match, with their label mapped."""
    taken = [(e.start, e.end) for e in chosen]
    extra = []
    for ent in doc.ents:
        label = label_map.get(ent.label_, ent.label_)
        if not label:
            continue
        start, end = ent.start_char, ent.end_char
        if any(start < e and s < end for s, e in taken):
            continue
        extra.append(FoundEntity(start, end, label, MODEL_SCORE, source))
    return sorted([*chosen, *extra], key=lambda e: (e.start, e.end))


# Token patterns: dates and "Full Name (ACR)".

_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December", "Jan.", "Feb.", "Mar.", "Apr.", "Aug.", "Sept.", "Sep.", "Oct.", "Nov.", "Dec.",
]  # fmt: skip
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_UNITS = ["day", "days", "week", "weeks", "weekend", "weekends", "month", "months", "year", "years",
          "decade", "decades", "century", "centuries", "hour", "hours"]  # fmt: skip
_PERIODS = ["week", "weekend", "month", "year", "decade", "century", "spring", "summer", "autumn", "fall",
            "winter", "quarter"]  # fmt: skip
_DAY = {"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])(st|nd|rd|th)?$"}}
_YEAR = {"TEXT": {"REGEX": r"^(1[5-9]|20)\d\d$"}}


def _date_patterns() -> list[dict[str, Any]]:
    month = {"ORTH": {"IN": _MONTHS}}
    lone_month = {"ORTH": {"IN": [m for m in _MONTHS if m != "May"]}}  # "may" is a verb at a sentence start
    weekday = {"ORTH": {"IN": _WEEKDAYS}}
    token_patterns = [
        [month, _DAY],
        [month, _DAY, {"ORTH": ","}, _YEAR],
        [month, _DAY, _YEAR],
        [_DAY, month],
        [_DAY, month, _YEAR],
        [month, _YEAR],
        [lone_month],
        [weekday],
        [{"LOWER": {"IN": ["last", "next", "this", "past", "coming", "previous"]}},
         {"LOWER": {"IN": [*_PERIODS, *(d.lower() for d in _WEEKDAYS)]}}],
        [{"LOWER": "recent"}, {"LOWER": {"IN": ["days", "weeks", "months", "years", "decades"]}}],
        [{"LIKE_NUM": True}, {"LOWER": {"IN": _UNITS}}],
        [{"LIKE_NUM": True}, {"LOWER": {"IN": _UNITS}}, {"LOWER": "ago"}],
        [{"LOWER": {"IN": ["today", "yesterday", "tomorrow"]}}],
        [{"TEXT": {"REGEX": r"^(1[5-9]|20)\d0s$"}}],
    ]  # fmt: skip
    after = [
        {"LOWER": {"IN": ["in", "since", "until", "by", "from", "before", "after", "during", "of"]}},
        _YEAR,
    ]
    patterns: list[dict[str, Any]] = [
        {"label": "DATE", "pattern": p, "id": "rule:date"} for p in token_patterns
    ]
    patterns.append({"label": "DATE", "pattern": after, "id": "rule:date-after"})
    return patterns


def _acronym_pattern() -> dict[str, Any]:
    word = r"^(?:[A-Z][\w’'.&-]*|of|the|for|and|on|in|de|du|la|&)$"
    return {
        "label": "ORG",
        "id": "rule:name-acronym",
        "pattern": [
            {"IS_TITLE": True},
            {"TEXT": {"REGEX": word}, "OP": "*"},
            {"ORTH": "("},
            {"TEXT": {"REGEX": r"^[A-Z][A-Z0-9&.-]{1,9}$"}},
            {"ORTH": ")"},
        ],
    }


def _add_token_patterns(ruler: Any, state: _RulerState) -> None:
    ruler.add_patterns([*_date_patterns(), _acronym_pattern()])
    state.groups["rule:date"] = frozenset()
    state.groups["rule:date-after"] = frozenset()
    state.groups["rule:name-acronym"] = frozenset()


# Building and loading pipelines


def _add_rules(nlp: Language) -> None:
    if not any(name in nlp.pipe_names for name in ("parser", "senter", "sentencizer")):
        nlp.add_pipe("sentencizer")
    nlp.add_pipe(
        "span_ruler",
        config={"spans_key": RULER_KEY, "annotate_ents": False, "overwrite": True, "validate": False},
    )


def build_suggester(
    *,
    model: str | None = None,
    model_source: str | None = None,
    rules: bool = True,
    label_map: dict[str, str] | None = None,
) -> Suggester:
    """A new pipeline: `model` (a package name or a directory) with the rules added, or a blank English
    pipeline with the rules alone."""
    import spacy

    nlp = spacy.blank("en") if model is None else spacy.load(model, exclude=["lemmatizer"])
    nlp.max_length = MAX_TEXT_LENGTH
    if rules:
        _add_rules(nlp)
    elif not any(name in nlp.pipe_names for name in ("parser", "senter", "sentencizer")):
        nlp.add_pipe("sentencizer")
    suggester = Suggester(
        nlp,
        ruler=rules,
        model_source=model_source if model is not None else None,
        label_map=label_map or {},
    )
    if rules:
        _add_token_patterns(nlp.get_pipe("span_ruler"), suggester._ruler_state)
    return suggester


def model_meta(model: str) -> dict[str, Any]:
    """The name, version and labels of an installed package or a pipeline directory."""
    import spacy

    nlp = spacy.load(model, exclude=["lemmatizer"])
    labels: set[str] = set()
    for name in ("ner", "entity_ruler", "spancat"):
        if name in nlp.pipe_names:
            pipe: Any = nlp.get_pipe(name)
            labels.update(pipe.labels)
    meta = nlp.meta
    return {
        "name": f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}",
        "version": str(meta.get("version", "0.0.0")),
        "spacy_version": str(meta.get("spacy_version", "")),
        "labels": sorted(labels),
    }


_cache: dict[str, Suggester] = {}
_cache_lock = threading.Lock()
CACHE_SIZE = 8


def cached_suggester(key: str, build: Callable[[], Suggester]) -> Suggester:
    """The pipeline under `key`, built once per process (the key must change when what it loads does)."""
    with _cache_lock:
        suggester = _cache.get(key)
        if suggester is None:
            suggester = build()
            if len(_cache) >= CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[key] = suggester
        return suggester


def forget_suggesters() -> None:
    """Drop every cached pipeline (tests; and after a pipeline directory was replaced on disk)."""
    with _cache_lock:
        _cache.clear()


# Training

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
    on_progress: Callable[[int, int], None] | None = None,
) -> TrainingResult:
    """Train an NER pipeline with spaCy's config system (the CPU "efficiency" recipe), save it at
    `output` and return what it learnt. Runs in this process, on the CPU, with no download."""
    import shutil

    import spacy
    from spacy.cli.init_config import init_config
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as train_loop

    _register_progress_callback()
    blank = spacy.blank("en")
    with tempfile.TemporaryDirectory(prefix="annotator-train-") as work:
        work_dir = Path(work)
        train_bin, skipped = _doc_bin(blank, train)
        dev_bin, _ = _doc_bin(blank, dev)
        train_bin.to_disk(work_dir / "train.spacy")
        dev_bin.to_disk(work_dir / "dev.spacy")
        config = init_config(lang="en", pipeline=["ner"], optimize="efficiency", gpu=False)
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
