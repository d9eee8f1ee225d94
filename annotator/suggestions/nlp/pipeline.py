"""Pipelines: build or load one, keep it per process, update its gazetteer, turn its docs into records."""

from __future__ import annotations

import os
import re
import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from annotator.suggestions.nlp.merge import NO_MERGE, Candidate, FoundEntity, Merge, merge_candidates
from annotator.suggestions.nlp.names import NAME_RULE_LANGUAGES, find_names
from annotator.suggestions.nlp.patterns import acronym_pattern, date_patterns, is_weak_name

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

RULER_KEY = "annotator_ruler"
MAX_TEXT_LENGTH = 5_000_000  # characters; spaCy refuses more than 1,000,000 unless told
DATE_RULE_LANGUAGES = frozenset({"en"})  # the date rules know English month and weekday names only

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


@dataclass(frozen=True)
class Analysis:
    """What the pipeline found in one text: non-overlapping entities in text order, and sentences."""

    entities: tuple[FoundEntity, ...]
    sentences: tuple[tuple[int, int], ...]
    candidates: tuple[Candidate, ...] = ()  # every source's, unmerged (only when asked for)


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

    def __init__(
        self, nlp: Language, *, ruler: bool, model_source: str | None, name_guesses: bool | None = None
    ):
        self.nlp = nlp
        self.model_source = model_source  # the source name of NER entities, None when there is no NER
        self.has_ruler = ruler
        # The name rules' guesses from the shape of a name: by default only without a model; a trained
        # model's merge weighs them by what its cross-validation measured, so it keeps them.
        self.name_guesses = model_source is None if name_guesses is None else name_guesses
        self._ruler_state = _RulerState()
        self._lock = threading.Lock()

    @property
    def lang(self) -> str:
        return str(self.nlp.lang)

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
        self._drop_weak_gold(wanted)
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
            _add_token_patterns(ruler, state, self.lang)
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

    def _drop_weak_gold(self, wanted: dict[str, set[tuple[str, str]]]) -> None:
        """Gold mentions that make poor patterns: a lone determiner or pronoun ("The" from a sentence
        break inside a name), lowercase words, stop words. They stay gold; they just do not match."""
        for group in [g for g in wanted if g.startswith("gold:")]:
            kept = {
                (label, text) for label, text in wanted[group] if not is_weak_name(self.nlp.make_doc(text))
            }
            if kept:
                wanted[group] = kept
            else:
                del wanted[group]

    def pattern_count(self) -> int:
        ruler: Any = self.nlp.get_pipe("span_ruler")
        return len(ruler) if self.has_ruler else 0

    # Analysis

    def analyse(
        self,
        texts: Iterable[str],
        *,
        merge: Merge = NO_MERGE,
        batch_size: int = 64,
        keep_candidates: bool = False,
        process: PipeProcess | None = None,
    ) -> Iterator[Analysis]:
        """Records for each text, in order. Streams: texts are read as the pipeline needs them.
        `keep_candidates`: also every source's candidates, unmerged and with the sources' own labels
        (to measure each source on gold). `process`: this suggester's pipeline running in a child
        process (`PipeProcess`), which then runs the pipeline while this one makes the records of the
        texts before (same records)."""
        parts = (
            process.parts(texts)
            if process is not None
            else (self.pipe_part(doc, original) for doc, original in self._docs(texts, batch_size))
        )
        names = self.has_ruler and self.lang in NAME_RULE_LANGUAGES
        for original, candidates, model, sentences in parts:
            if names:
                # With a model, guessing from the shape of a name is the model's job.
                candidates.extend(find_names(original, candidates, guesses=self.name_guesses))
            if model:
                candidates.extend(model)
            found = merge_candidates(candidates, merge, original)
            yield Analysis(
                entities=tuple(found),
                sentences=sentences,
                candidates=tuple(candidates) if keep_candidates else (),
            )

    def pipe_part(self, doc: Doc, original: str) -> _PipePart:
        """What `analyse` takes from a doc: the text, the gazetteer's and rules' candidates, the model's,
        and the sentences (plain tuples: a child process sends them; see `PipeProcess`)."""
        found = _ruler_candidates(doc) if self.has_ruler else []
        model: list[Candidate] = []
        if self.model_source is not None:
            source = self.model_source
            model = [Candidate(_start(ent), ent.end_char, ent.label_, source) for ent in doc.ents]
        return original, found, model, _sentences(doc, original)

    def _docs(self, texts: Iterable[str], batch_size: int) -> Iterator[tuple[Doc, str]]:
        """Each text's doc, a batch at a time. The pipeline runs under the lock `ensure_patterns` changes
        the gazetteer under: a web process serves requests in threads (gunicorn.conf.py), and a batch read
        while another thread replaced the ruler's patterns would match some, none or half of them."""
        remaining = iter(texts)
        while batch := list(islice(remaining, batch_size)):
            with self._lock:
                docs = list(self.nlp.pipe([prepare(text) for text in batch], batch_size=batch_size))
            yield from zip(docs, batch, strict=True)

    def docs(self, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[Doc]:
        """The bare pipeline over the prepared texts (what `analyse` costs without its records)."""
        return self.nlp.pipe((prepare(text) for text in texts), batch_size=batch_size)


_PipePart = tuple[str, list[Candidate], list[Candidate], tuple[tuple[int, int], ...]]


class PipeProcessFailed(RuntimeError):
    """The child process running the pipeline failed or died."""


class PipeProcess:
    """A suggester's pipeline in a child process (forked: the pipeline and its gazetteer are there
    already), so that on a spare core it runs on the next texts while this process makes the records
    of those before. It sends what `Suggester.pipe_part` takes from each doc (candidates, sentences:
    tuples), batch by batch; the name rules, the merge and everything after stay here, where their
    share of the work balances the pipeline's.

    Start it before other threads (a fork copies only the forking thread, and the locks other threads
    held); use it for one `analyse` at a time, and close it (a context manager) to end the child."""

    AHEAD = 2  # batches of texts the child holds at once: one it runs, one waiting

    def __init__(self, suggester: Suggester, *, batch_size: int = 64) -> None:
        import multiprocessing

        self.suggester = suggester
        self.batch_size = batch_size
        context = multiprocessing.get_context("fork")
        self._texts: Any = context.Queue()
        self._parts: Any = context.Queue()
        self._child = context.Process(
            target=_pipe_child,
            args=(suggester, self._texts, self._parts, batch_size, os.getpid()),
            name="annotator-pipeline",
            daemon=True,
        )
        self._child.start()
        self._outstanding = 0  # batches sent whose parts were not received

    def __enter__(self) -> PipeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def parts(self, texts: Iterable[str]) -> Iterator[_PipePart]:
        """`Suggester.pipe_part` of each text, in order, the child running up to AHEAD batches ahead."""
        batches = _batched(texts, self.batch_size)
        waiting: deque[list[str]] = deque()
        for batch in batches:
            self._send(batch)
            waiting.append(batch)
            if len(waiting) >= self.AHEAD:
                break
        while waiting:
            found = self._receive()
            originals = waiting.popleft()
            following = next(batches, None)
            if following is not None:
                self._send(following)
                waiting.append(following)
            make = tuple.__new__  # the child sends plain tuples: candidates again as NamedTuples
            for original, (ruler, model, sentences) in zip(originals, found, strict=True):
                yield (
                    original,
                    [make(Candidate, c) for c in ruler],
                    [make(Candidate, c) for c in model],
                    sentences,
                )

    def _send(self, batch: list[str]) -> None:
        self._texts.put(batch)
        self._outstanding += 1

    def _receive(self) -> list[tuple[list[tuple], list[tuple], tuple[tuple[int, int], ...]]]:
        import queue

        while True:
            try:
                found = self._parts.get(timeout=1.0)
            except queue.Empty:
                if not self._child.is_alive():
                    raise PipeProcessFailed(
                        f"The pipeline's process ended (exit code {self._child.exitcode})."
                    ) from None
                continue
            if isinstance(found, str):
                raise PipeProcessFailed(f"The pipeline's process failed:\n{found}")
            self._outstanding -= 1
            return found  # type: ignore[no-any-return]

    def close(self) -> None:
        """End the child: at once when it still has texts (the caller stopped early or failed), else
        when it has read the end of its input."""
        if self._outstanding == 0 and self._child.is_alive():
            self._texts.put(None)
            self._child.join(timeout=10)
        if self._child.is_alive():
            self._child.terminate()
            self._child.join()
        for channel in (self._texts, self._parts):
            channel.close()
            channel.cancel_join_thread()  # nobody reads what is left in them


def _batched(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(texts)
    while batch := list(islice(iterator, size)):
        yield batch


def _pipe_child(suggester: Suggester, texts: Any, parts: Any, batch_size: int, parent: int) -> None:
    """The child's loop: a batch of texts in, their `pipe_part`s out (as plain tuples), until None. A
    failure goes back as its traceback; a parent that died (killed: no None comes) ends it too."""
    import queue

    try:
        while True:
            try:
                batch = texts.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:
                    parts.cancel_join_thread()  # nobody will read what is left
                    return
                continue
            if batch is None:
                break
            docs = suggester.nlp.pipe([prepare(text) for text in batch], batch_size=batch_size)
            found = []
            for doc, original in zip(docs, batch, strict=True):
                _, ruler, model, sentences = suggester.pipe_part(doc, original)
                found.append(([tuple(c) for c in ruler], [tuple(c) for c in model], sentences))
            parts.put(found)
    except BaseException:
        import traceback

        parts.put(traceback.format_exc())
    finally:
        parts.close()
        parts.join_thread()


def _start(ent: Any) -> int:
    """Where a model's entity starts: after a leading "the" (OntoNotes-trained models include it in
    "the European Commission"; guidelines mark the name alone, as the gazetteer does)."""
    if len(ent) > 1 and ent[0].lower_ == "the":
        return int(ent[1].idx)
    return int(ent.start_char)


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
        # Only the breaks inside this sentence (a 1 MB text has thousands of each: not every pair).
        index = bisect_right(cuts, start)
        while index < len(cuts) and cuts[index] < end:
            sentences.append((start, cuts[index]))
            start = cuts[index]
            index += 1
        sentences.append((start, end))
    return tuple((start, end) for start, end in sentences if original[start:end].strip())


def _source_of(group: str) -> str:
    """The source name of a ruler group."""
    if group.startswith(("kb:", "kb-shared:")):
        return "kb-ruler"
    if group.startswith("gold:"):
        return "gold-ruler"
    if group.startswith("rule:date"):
        return "rule:date"
    return group  # "list:<name>", "rule:name-acronym"


_PLACE_LISTS = frozenset({"list:countries", "list:cities", "list:regions"})
_Facts = tuple[str, str | None, int]  # source, KB id, tokens to trim at the start
_GROUPS: dict[int, _Facts] = {}  # group id hash -> how its matches count


def _group_facts(doc: Doc, group_hash: int) -> _Facts:
    facts = _GROUPS.get(group_hash)
    if facts is None:
        group = doc.vocab.strings[group_hash]
        # "in 1999": the preposition only anchors the year.
        trim = 1 if group == "rule:date-after" else 0
        kb_id = group[3:] if group.startswith("kb:") else None
        facts = (_source_of(group), kb_id, trim)
        _GROUPS[group_hash] = facts
    return facts


def _ruler_candidates(doc: Doc) -> list[Candidate]:
    candidates: list[Candidate] = []
    seen: set[tuple[int, int, int, str]] = set()
    acronyms: dict[int, Any] = {}  # end token of "Name (ACR)" -> the longest such match
    strings = doc.vocab.strings
    labels: dict[int, str] = {}
    make = tuple.__new__  # a NamedTuple's own constructor costs as much again, per match
    facts_of = _GROUPS.get
    for span in doc.spans[RULER_KEY]:
        facts = facts_of(span.id)
        source, kb_id, trim = facts if facts is not None else _group_facts(doc, span.id)
        if source == "rule:date" or source == "rule:name-acronym":
            if source == "rule:name-acronym":
                best = acronyms.get(span.end)
                if best is None or span.start < best.start:
                    acronyms[span.end] = span
                continue
            start, end = span.start + trim, span.end
            if doc[end - 1].text == "," or (end - start == 1 and doc[start].text == "May"):
                continue  # the date ends before the comma; a lone "May" is more often the verb
            marker = (start, end, span.label, source)
            if marker in seen:
                continue
            seen.add(marker)
            candidates.append(Candidate(doc[start].idx, span.end_char, strings[span.label], source, kb_id))
            continue
        # Gazetteer matches (most of them): the span's own character offsets, no token objects.
        label = span.label
        marker = (span.start, span.end, label, source)
        if marker in seen:
            continue  # another entity with the same alias: one mention, whichever entity it names
        seen.add(marker)
        name = labels.get(label)
        if name is None:
            name = labels[label] = strings[label]
        candidates.append(make(Candidate, (span.start_char, span.end_char, name, source, kb_id)))
    if acronyms:
        places = {(c.start, c.end) for c in candidates if c.source in _PLACE_LISTS}
        for span in acronyms.values():
            acronym = span[-2]
            if (acronym.idx, acronym.idx + len(acronym.text)) not in places:
                # "Lance Armstrong (U.S.)" gives a nationality, not an acronym.
                candidates.extend(_name_and_acronym(span))
    return candidates


def _name_and_acronym(span: Any) -> list[Candidate]:
    """Split "Full Name (ACR)" into the name and the acronym. The name starts where its initials
    spell the acronym when they do, else at the longest run of capitalised words without "and"."""
    tokens = list(span)
    acronym = tokens[-2]
    name = tokens[:-3]
    start = _name_start(name, acronym.text)
    if start is None:
        return []
    first, last = name[start], name[-1]
    source = "rule:name-acronym"
    return [
        Candidate(first.idx, last.idx + len(last.text), span.label_, source),
        Candidate(acronym.idx, acronym.idx + len(acronym.text), span.label_, source),
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


def _add_token_patterns(ruler: Any, state: _RulerState, lang: str) -> None:
    patterns = [acronym_pattern()]
    if lang in DATE_RULE_LANGUAGES:
        patterns.extend(date_patterns())
        state.groups["rule:date"] = frozenset()
        state.groups["rule:date-after"] = frozenset()
    ruler.add_patterns(patterns)
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
    lang: str = "en",
    name_guesses: bool | None = None,
) -> Suggester:
    """A new pipeline: `model` (a package name or a directory) with the rules added, or the blank
    pipeline of `lang` with the rules alone. `name_guesses`: whether the name rules guess from a name's
    shape (default: only without a model)."""
    import spacy

    nlp = spacy.blank(lang) if model is None else spacy.load(model, exclude=["lemmatizer"])
    nlp.max_length = MAX_TEXT_LENGTH
    if rules:
        _add_rules(nlp)
    elif not any(name in nlp.pipe_names for name in ("parser", "senter", "sentencizer")):
        nlp.add_pipe("sentencizer")
    suggester = Suggester(
        nlp, ruler=rules, model_source=model_source if model is not None else None, name_guesses=name_guesses
    )
    if rules:
        _add_token_patterns(nlp.get_pipe("span_ruler"), suggester._ruler_state, suggester.lang)
    return suggester


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
