"""From a SuggesterVersion to suggestions for texts: which pipeline, with which gazetteer, in which schema.

Reads only: `SuggestionRunner.run` turns texts into plain `Suggested` records (entities, relations
between them, KB link candidates); `generate.py` stores them, the raw-text API returns them as they are.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Value

from annotator.kb.models import KBEntity
from annotator.kb.search import Candidate, find_candidates, find_candidates_many
from annotator.projects.models import EntityType, Project, RelationType
from annotator.suggestions import gazetteer, nlp, sources
from annotator.suggestions.models import PipelineMode, SuggesterKind, SuggesterSettings, SuggesterVersion
from annotator.suggestions.relations import Mention, PairClassifier, RelationSchema, find_relations

RULES_NAME, RULES_VERSION = "rules", "4"  # bump the version when the rules change what they find
LINK_SOURCE = "kb-candidates"
RELATIONS_FILE = "relations.json"


@dataclass(frozen=True)
class SuggesterSpec:
    """How to build a suggester in memory; `key` changes whenever what it loads does."""

    key: str
    kind: str
    name: str
    version: str
    model: str | None  # a package name or directory for the NER part; None for rules alone
    rules: bool
    model_source: str | None
    relations_path: str | None
    lang: str = "en"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def rules_spec(lang: str = "en") -> SuggesterSpec:
    return SuggesterSpec(
        key=f"rules:{RULES_VERSION}:{lang}",
        kind=SuggesterKind.RULES,
        name=RULES_NAME,
        version=RULES_VERSION,
        model=None,
        rules=True,
        model_source=None,
        relations_path=None,
        lang=lang,
    )


@cache
def _pipeline_meta(model: str) -> dict[str, Any]:
    return nlp.model_meta(model)


def pipeline_spec(model: str, mode: str, lang: str = "en") -> SuggesterSpec:
    """The spec of an installed pipeline or pipeline directory in `add` or `replace` mode (loads its
    meta once per process)."""
    try:
        meta = _pipeline_meta(model)
    except OSError as error:
        raise ImproperlyConfigured(
            f"The spaCy pipeline {model!r} is neither an installed package nor a pipeline directory ({error})."
        ) from None
    rules = mode == PipelineMode.ADD
    version = f"{meta['version']}+{_digest([rules])}"
    return SuggesterSpec(
        key=f"pipeline:{model}:{version}",
        kind=SuggesterKind.PIPELINE,
        name=meta["name"],
        version=version,
        model=model,
        rules=rules,
        model_source=f"pipeline:{meta['name']}-{meta['version']}"[:100],
        relations_path=None,
        lang=lang,
    )


def spec_for(version: SuggesterVersion, lang: str = "en") -> SuggesterSpec:
    """The spec a stored SuggesterVersion was made with, in the project's language."""
    if version.kind == SuggesterKind.RULES:
        return rules_spec(lang)
    config = version.config or {}
    relations = Path(version.path) / RELATIONS_FILE if version.kind == SuggesterKind.TRAINED else None
    return SuggesterSpec(
        key=f"{version.kind}:{version.pk}:{version.path}",
        kind=version.kind,
        name=version.name,
        version=version.version,
        model=version.path or None,
        rules=bool(config.get("rules", True)),
        model_source=config.get("source") or f"{version.kind}:{version.name}-{version.version}"[:100],
        relations_path=str(relations) if relations is not None and relations.exists() else None,
        lang=lang,
    )


def project_spec(project: Project, chosen: SuggesterSettings | None = None) -> SuggesterSpec:
    """What the project's settings (`chosen`, when the caller read them) choose when no version is
    active: its pretrained pipeline (its own choice, else the site's), else the gazetteer and rules of
    its language."""
    choice = sources.pipeline_choice(chosen or sources.project_settings(project))
    if choice.ref:
        return pipeline_spec(choice.ref, choice.mode, project.language)
    return rules_spec(project.language)


def version_fields(spec: SuggesterSpec) -> dict[str, Any]:
    """The SuggesterVersion columns that record a spec."""
    config: dict[str, Any] = {"rules": spec.rules}
    if spec.kind == SuggesterKind.PIPELINE:
        config["mode"] = PipelineMode.ADD if spec.rules else PipelineMode.REPLACE
        config["source"] = spec.model_source
    if spec.kind == SuggesterKind.RULES:
        config["lists"] = sorted(gazetteer.LISTS)
    return {"kind": spec.kind, "config": config, "path": spec.model or ""}


def load_suggester(
    spec: SuggesterSpec,
    project_id: int,
    *,
    exclude_articles: Iterable[int] = (),
    kb_fingerprint: str | None = None,
    chosen: SuggesterSettings | None = None,
    fingerprint: str | None = None,
) -> nlp.Suggester:
    """The spec's pipeline for this project, built once per process, its gazetteer brought up to date
    (with the patterns `fingerprint` names, when the caller read it: see `gazetteer.fingerprint`)."""
    excluded = sorted(exclude_articles)
    key = f"{spec.key}|project:{project_id}|excluding:{_digest(excluded) if excluded else ''}"

    def build() -> nlp.Suggester:
        # A trained model's merge has measured the name rules' guesses next to it, and a pretrained
        # pipeline is laid over what the rules settle on their own: the guesses stay, weighed.
        guesses = True if spec.kind in (SuggesterKind.TRAINED, SuggesterKind.PIPELINE) else None
        return nlp.build_suggester(
            model=spec.model, model_source=spec.model_source, rules=spec.rules, lang=spec.lang,
            name_guesses=guesses,
        )  # fmt: skip

    suggester = nlp.cached_suggester(key, build)
    if spec.rules:
        chosen = chosen or sources.project_settings(project_id)
        digest = sources.settings_digest(chosen.digest)
        suggester.ensure_patterns(
            fingerprint
            or gazetteer.fingerprint(
                project_id, exclude_articles=excluded, kb=kb_fingerprint, settings=digest
            ),
            lambda: gazetteer.project_patterns(
                project_id,
                exclude_articles=excluded,
                lang=spec.lang,
                dropped=[(label, text) for label, text in sources.dropped_gold_patterns(chosen)],
            ),
        )
    return suggester


def current_fingerprint(
    spec: SuggesterSpec, project_id: int, settings_digest: str | None, kb: str | None = None
) -> str:
    """What a stored run must have seen to be current: the project's settings (label map, dropped
    patterns: their stored digest) and, with rules, the gazetteer's fingerprint (`kb`: the KB's, when
    the caller read it)."""
    digest = sources.settings_digest(settings_digest)
    if spec.rules:
        return gazetteer.fingerprint(project_id, kb=kb, settings=digest)
    return f"model:{digest}"


@dataclass(frozen=True)
class ProjectSchema:
    """The project's entity and relation types, read once per run."""

    entity_types: dict[str, EntityType]
    relation_types: dict[str, RelationType]
    relations: tuple[RelationSchema, ...]
    linkable: frozenset[str] | None  # entity types the KB has entities of; None means every type

    @classmethod
    def load(cls, project_id: int, kb_fingerprint: str | None = None) -> ProjectSchema:
        """Three queries: the entity types, the relation types, and which types each relation type
        allows at either end; the KB's types too unless this process read them for the same state of
        the KB (`kb_fingerprint`, when the caller has it)."""
        entity_types = {t.name: t for t in EntityType.objects.filter(project_id=project_id)}
        relation_types = {r.name: r for r in RelationType.objects.filter(project_id=project_id)}
        ends: dict[tuple[int, int], set[str]] = {}
        if relation_types:
            names = {t.pk: name for name, t in entity_types.items()}
            for relation_id, type_id, side in _relation_ends(project_id):
                ends.setdefault((relation_id, side), set()).add(names[type_id])
        relations = tuple(
            RelationSchema(
                name=r.name,
                directed=r.directed,
                heads=frozenset(ends.get((r.pk, 0), ())),
                tails=frozenset(ends.get((r.pk, 1), ())),
            )
            for r in relation_types.values()
        )
        return cls(entity_types, relation_types, relations, _linkable(project_id, kb_fingerprint))

    def links(self, entity_type: str) -> bool:
        """Whether mentions of this type get KB link candidates (the KB has entities of it)."""
        return self.linkable is None or entity_type in self.linkable

    @cached_property
    def type_ids(self) -> dict[str, int]:
        """Entity type name -> id (rows are written per mention: a dict, not model attributes)."""
        return {name: t.pk for name, t in self.entity_types.items()}

    @cached_property
    def relation_type_ids(self) -> dict[str, int]:
        return {name: r.pk for name, r in self.relation_types.items()}

    @cached_property
    def linked_type_ids(self) -> dict[str, int]:
        """Entity type name -> id, of the types whose mentions get KB link candidates."""
        return {name: pk for name, pk in self.type_ids.items() if self.links(name)}


def _relation_ends(project_id: int) -> list[tuple[int, int, int]]:
    """(relation type id, entity type id, 0 for a head type or 1 for a tail type), in one query."""
    heads = RelationType.head_types.through.objects.filter(relationtype__project_id=project_id)
    tails = RelationType.tail_types.through.objects.filter(relationtype__project_id=project_id)
    columns = ("relationtype_id", "entitytype_id", "side")
    return list(
        heads.annotate(side=Value(0))
        .values_list(*columns)
        .union(tails.annotate(side=Value(1)).values_list(*columns), all=True)
    )


_linkable_types: dict[tuple[int, str], frozenset[str] | None] = {}


def forget_kb_types() -> None:
    """Drop the KB types remembered per state of a KB (tests, where ids and states repeat)."""
    _linkable_types.clear()


def _linkable(project_id: int, kb_fingerprint: str | None) -> frozenset[str] | None:
    """The entity types the project's KB has entities of; None when it has untyped ones (any type
    may then be linked). Remembered per state of the KB when the caller names it."""
    key = (project_id, kb_fingerprint or "")
    if kb_fingerprint is not None and key in _linkable_types:
        return _linkable_types[key]
    kb_types = set(
        KBEntity.objects.filter(knowledge_base__project_id=project_id, merged_into__isnull=True)
        .order_by()  # the model's ordering would put the KB's and project's names in the DISTINCT
        .values_list("type", flat=True)
        .distinct()
    )
    linkable = None if "" in kb_types else frozenset(kb_types)
    if kb_fingerprint is not None:
        if len(_linkable_types) >= 1000:
            _linkable_types.clear()
        _linkable_types[key] = linkable
    return linkable


class SuggestedEntity(NamedTuple):
    start: int
    end: int
    text: str
    entity_type: str
    score: float
    source: str


class SuggestedRelation(NamedTuple):
    head: int  # index into the entities
    tail: int
    relation_type: str
    score: float
    source: str


class SuggestedLink(NamedTuple):
    entity: int  # index into the entities
    kb_entity_id: int
    kb_id: str
    name: str
    rank: int
    score: float
    source: str = LINK_SOURCE


@dataclass(frozen=True)
class Suggested:
    """Everything suggested for one text. `links_pending`: the link candidates were left for later
    (batch pre-annotation), for the entities of a type the KB has (`ProjectSchema.links`)."""

    entities: tuple[SuggestedEntity, ...]
    relations: tuple[SuggestedRelation, ...]
    links: tuple[SuggestedLink, ...]
    links_pending: bool = False


class LinkCandidates:
    """KB candidates per (mention, type), asked once while the KB stays the same: news repeats its
    names. Shared by the runs and requests of a process (see `link_candidates`). `prefetch` looks up
    many mentions at once (a batch of articles' worth)."""

    MAX_CACHED = 200_000

    def __init__(self, project_id: int, limit: int) -> None:
        self.project_id = project_id
        self.limit = limit
        self._cache: dict[tuple[str, str], list[Candidate]] = {}

    def prefetch(self, pairs: Iterable[tuple[str, str]]) -> None:
        missing = sorted({pair for pair in pairs if pair not in self._cache})
        if not missing:
            return
        if len(self._cache) + len(missing) >= self.MAX_CACHED:
            self._cache.clear()
        found = find_candidates_many(project_id=self.project_id, mentions=list(missing), limit=self.limit)
        for (mention, entity_type), candidates in found.items():
            self._cache[(mention, entity_type or "")] = candidates

    def __call__(self, mention: str, entity_type: str) -> list[Candidate]:
        key = (mention, entity_type)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache.clear()
            found = find_candidates(
                project_id=self.project_id, mention=mention, entity_type=entity_type, limit=self.limit
            )
            self._cache[key] = found
        return found


_link_caches: dict[tuple[int, str, int], LinkCandidates] = {}


def link_candidates(project_id: int, kb_fingerprint: str, limit: int) -> LinkCandidates:
    """The process's candidate cache for this state of the project's KB."""
    key = (project_id, kb_fingerprint, limit)
    found = _link_caches.get(key)
    if found is None:
        if len(_link_caches) >= 16:
            _link_caches.pop(next(iter(_link_caches)))
        found = _link_caches[key] = LinkCandidates(project_id, limit)
    return found


class SuggestionRunner:
    """Runs one suggester over texts of one project."""

    def __init__(
        self,
        *,
        project_id: int,
        spec: SuggesterSpec,
        schema: ProjectSchema | None = None,
        link_limit: int | None = None,
        exclude_articles: Iterable[int] = (),
        merge: nlp.Merge | None = None,
        chosen: SuggesterSettings | None = None,
        trust_recent: bool = False,
    ) -> None:
        """`chosen`: the project's suggester settings, when the caller read them. `trust_recent`: take
        the KB's and gold's state as this process read it in the last few seconds
        (`gazetteer.recent_fingerprints`), for requests that come many times a second."""
        self.project_id = project_id
        self.spec = spec
        chosen = chosen or sources.project_settings(project_id)
        excluded = list(exclude_articles)
        fingerprint = None
        if trust_recent and not excluded:
            kb, fingerprint = gazetteer.recent_fingerprints(
                project_id, sources.settings_digest(chosen.digest)
            )
        else:
            kb = gazetteer.kb_fingerprint(project_id)
        self.schema = schema or ProjectSchema.load(project_id, kb)
        self.suggester = load_suggester(
            spec,
            project_id,
            exclude_articles=excluded,
            kb_fingerprint=kb,
            chosen=chosen,
            fingerprint=fingerprint,
        )
        self.merge = merge if merge is not None else project_merge(project_id, self.schema, chosen, spec)
        digest = sources.settings_digest(chosen.digest)
        self.fingerprint = self.suggester.fingerprint or f"model:{digest}"
        limit = settings.ANNOTATOR_LINK_CANDIDATES if link_limit is None else link_limit
        self.candidates = link_candidates(project_id, kb, limit) if limit > 0 else None
        self.classifier = _classifier(spec)

    def run(
        self,
        texts: Iterable[str],
        *,
        batch_size: int = 64,
        links: bool = True,
        process: nlp.PipeProcess | None = None,
    ) -> Iterator[Suggested]:
        """Suggestions for each text, in order. Streams in batches: a batch's KB candidates are looked
        up together. `links=False` leaves the KB candidates for later (`Suggested.links_pending`).
        `process`: this runner's pipeline in a child process (see `nlp.PipeProcess`)."""
        originals: deque[str] = deque()

        def remember() -> Iterator[str]:
            for text in texts:
                originals.append(text)
                yield text

        analyses = self.suggester.analyse(
            remember(), merge=self.merge, batch_size=batch_size, process=process
        )
        while batch := list(islice(analyses, batch_size)):
            done = [(originals.popleft(), analysis) for analysis in batch]
            if self.candidates is not None and links:
                schema = self.schema
                self.candidates.prefetch(
                    (text[e.start : e.end], e.label)
                    for text, analysis in done
                    for e in analysis.entities
                    if schema.links(e.label)
                )
            for text, analysis in done:
                yield self._suggested(text, analysis, links)

    def _suggested(self, text: str, analysis: nlp.Analysis, links: bool = True) -> Suggested:
        make = tuple.__new__  # tens of records per text: a NamedTuple's own constructor costs as much again
        found = analysis.entities
        entities = tuple(
            make(SuggestedEntity, (e.start, e.end, text[e.start : e.end], e.label, e.score, e.source))
            for e in found
        )
        mentions = [make(Mention, (e.start, e.end, e.label)) for e in found]
        relations = tuple(
            SuggestedRelation(r.head, r.tail, r.relation, r.score, r.source)
            for r in find_relations(
                text, mentions, analysis.sentences, self.schema.relations, self.classifier
            )
        )
        if not links:
            return Suggested(entities, relations, (), links_pending=self.candidates is not None)
        return Suggested(entities, relations, self._links(entities))

    def _links(self, entities: tuple[SuggestedEntity, ...]) -> tuple[SuggestedLink, ...]:
        if self.candidates is None:
            return ()
        schema = self.schema
        links = []
        for index, entity in enumerate(entities):
            if not schema.links(entity.entity_type):
                continue
            for rank, candidate in enumerate(self.candidates(entity.text, entity.entity_type)):
                links.append(
                    SuggestedLink(
                        index, candidate.entity_id, candidate.kb_id, candidate.name, rank, candidate.score
                    )
                )
        return tuple(links)


_merges: dict[tuple[Any, ...], tuple[float, nlp.Merge]] = {}
MERGE_TTL = 60.0  # seconds a project's merge (label map, measured evidence) is reused in a process


def project_merge(
    project_id: int, schema: ProjectSchema, chosen: SuggesterSettings, spec: SuggesterSpec | None = None
) -> nlp.Merge:
    """How the project's sources become its suggestions: its types, label map and measured evidence.
    Reused for a minute in a process (the raw-text endpoint and each opened article need it); a change
    of settings or schema makes a new one at once, new decisions weigh in within the minute."""
    types = frozenset(schema.entity_types)
    key = (project_id, chosen.digest, types, spec.key if spec is not None else "")
    cached = _merges.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < MERGE_TTL:
        return cached[1]
    project = Project.objects.only("id", "language").get(pk=project_id)
    extra = (
        sources.pipeline_labels(spec.model)
        if spec is not None and spec.kind == SuggesterKind.PIPELINE and spec.model
        else ()
    )
    situated, mute_below = situated_evidence(chosen, spec)
    layered, layered_keep = layered_evidence(chosen, spec)
    merge = nlp.Merge(
        label_map=sources.effective_label_map(project, extra=extra, chosen=chosen),
        types=types,
        evidence=sources.measured_evidence(project_id, chosen),
        situated=situated,
        mute_below=mute_below,
        layered=layered,
        layered_keep=layered_keep,
        # Replace mode: the pipeline alone, nothing to lay its entities over.
        lay_pipeline=not (spec is not None and spec.kind == SuggesterKind.PIPELINE and not spec.rules),
    )
    if len(_merges) >= 64:
        _merges.clear()
    _merges[key] = (now, merge)
    return merge


def situated_evidence(
    chosen: SuggesterSettings, spec: SuggesterSpec | None
) -> tuple[dict[tuple[str, str, str], nlp.Measured], float]:
    """What the cross-validation of the spec's trained model measured of every source by situation
    (alone, agreed, contested) alongside that model, and the precision under which a measured candidate
    is left out (half the F1 the combination measured). Nothing for any other suggester: the situations
    were measured with that model among the sources."""
    found = ((chosen.measured or {}).get("situated") or {}).get(spec.model_source) if spec else None
    if not found or spec is None or spec.kind != SuggesterKind.TRAINED:
        return {}, nlp.merge.MUTE_BELOW
    evidence = {}
    for key, (right, seen) in (found.get("evidence") or {}).items():
        source, label, situation = key.rsplit("|", 2)
        evidence[(source, label, situation)] = nlp.Measured(int(right), int(seen))
    return evidence, max(nlp.merge.MUTE_BELOW, float(found.get("f1") or 0.0) / 2)


def layered_evidence(
    chosen: SuggesterSettings, spec: SuggesterSpec | None
) -> tuple[dict[tuple[str, str, str], nlp.merge.Layered], float]:
    """What weighing the spec's pretrained pipeline in add mode measured on the project's gold (see
    `layering.py`); nothing for any other suggester, or before it was weighed."""
    if spec is None or spec.kind != SuggesterKind.PIPELINE or not spec.rules or spec.model_source is None:
        return {}, nlp.merge.MUTE_BELOW
    stored = ((chosen.measured or {}).get("layered") or {}).get(spec.model_source)
    return nlp.weighing.layered_evidence(stored)


def situated_table(chosen: SuggesterSettings) -> dict[str, Any]:
    """For the page: what the newest trained model's cross-validation measured by situation, as its merge
    uses it (rows of source, type, situation, right, measured, precision, score, kept), and the threshold."""
    measured = (chosen.measured or {}).get("situated") or {}
    if not measured:
        return {"source": "", "rows": [], "mute_below": nlp.merge.MUTE_BELOW}
    source = list(measured)[-1]
    spec = SuggesterSpec(
        key="", kind=SuggesterKind.TRAINED, name="", version="", model=None, rules=True, model_source=source,
        relations_path=None,
    )  # fmt: skip
    evidence, mute_below = situated_evidence(chosen, spec)
    merge = nlp.Merge(evidence=sources.measured_evidence(chosen.project_id, chosen), situated=evidence)
    rows = []
    for (name, label, situation), found in sorted(evidence.items()):
        score, decisive, _ = merge.score_in(name, label, situation)
        rows.append(
            {
                "source": name, "label": label, "situation": situation, "right": found.right,
                "total": found.total, "precision": found.right / found.total if found.total else None,
                "score": round(score, 3), "kept": not decisive or score >= mute_below,
            }
        )  # fmt: skip
    return {"source": source, "rows": rows, "mute_below": round(mute_below, 3)}


def forget_merges() -> None:
    """Drop the reused merges (tests; a training job after it measured the sources)."""
    _merges.clear()


def _classifier(spec: SuggesterSpec) -> PairClassifier | None:
    if spec.relations_path is None:
        return None
    return _load_classifier(spec.relations_path, spec.model_source or spec.key)


@cache
def _load_classifier(path: str, source: str) -> PairClassifier:
    weights = json.loads(Path(path).read_text(encoding="utf-8"))
    return PairClassifier(weights, source=f"{source}:relations"[:100])
