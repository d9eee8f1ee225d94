"""From a SuggesterVersion to suggestions for texts: which pipeline, with which gazetteer, in which schema.

Reads only: `SuggestionRunner.run` turns texts into plain `Suggested` records (entities, relations
between them, KB link candidates); `generate.py` stores them, the raw-text API returns them as they are.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from annotator.kb.models import KBEntity
from annotator.kb.search import Candidate, find_candidates
from annotator.projects.models import EntityType, RelationType
from annotator.suggestions import gazetteer, nlp
from annotator.suggestions.models import SuggesterKind, SuggesterVersion
from annotator.suggestions.relations import Mention, PairClassifier, RelationSchema, find_relations

RULES_NAME, RULES_VERSION = "rules", "1"  # bump the version when the rules change what they find
LINK_SOURCE = "kb-candidates"
RELATIONS_FILE = "relations.json"


def parse_label_map(value: str) -> dict[str, str]:
    """`FAC=LOC,CARDINAL=` -> {"FAC": "LOC", "CARDINAL": ""}: an empty target drops the label."""
    mapping: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        source, equals, target = item.partition("=")
        if not equals or not source.strip():
            raise ImproperlyConfigured(
                f"ANNOTATOR_SPACY_LABEL_MAP: {item.strip()!r} is not LABEL=TYPE; write pairs such as "
                "FAC=LOC,CARDINAL= (an empty type drops the label)."
            )
        mapping[source.strip()] = target.strip()
    return mapping


def pipeline_mode() -> str:
    mode = settings.ANNOTATOR_SPACY_PIPELINE_MODE
    if mode not in ("add", "replace"):
        raise ImproperlyConfigured(
            f"ANNOTATOR_SPACY_PIPELINE_MODE is {mode!r}; it must be 'add' (with the gazetteer) or 'replace'."
        )
    return mode


@dataclass(frozen=True)
class SuggesterSpec:
    """How to build a suggester in memory; `key` changes whenever what it loads does."""

    key: str
    kind: str
    name: str
    version: str
    model: str | None  # a package name or directory for the NER part; None for rules alone
    rules: bool
    label_map: tuple[tuple[str, str], ...]
    model_source: str | None
    relations_path: str | None


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def rules_spec() -> SuggesterSpec:
    return SuggesterSpec(
        key=f"rules:{RULES_VERSION}",
        kind=SuggesterKind.RULES,
        name=RULES_NAME,
        version=RULES_VERSION,
        model=None,
        rules=True,
        label_map=(),
        model_source=None,
        relations_path=None,
    )


@cache
def _pipeline_meta(model: str) -> dict[str, Any]:
    return nlp.model_meta(model)


def configured_pipeline_spec() -> SuggesterSpec | None:
    """The pipeline ANNOTATOR_SPACY_PIPELINE names, if any, as a spec (loads its meta once per process)."""
    model = settings.ANNOTATOR_SPACY_PIPELINE
    if not model:
        return None
    label_map = parse_label_map(settings.ANNOTATOR_SPACY_LABEL_MAP)
    rules = pipeline_mode() == "add"
    try:
        meta = _pipeline_meta(model)
    except OSError as error:
        raise ImproperlyConfigured(
            f"ANNOTATOR_SPACY_PIPELINE is {model!r}, which is neither an installed spaCy package nor a "
            f"pipeline directory ({error})."
        ) from None
    version = f"{meta['version']}+{_digest([sorted(label_map.items()), rules])}"
    return SuggesterSpec(
        key=f"pipeline:{model}:{version}",
        kind=SuggesterKind.PIPELINE,
        name=meta["name"],
        version=version,
        model=model,
        rules=rules,
        label_map=tuple(sorted(label_map.items())),
        model_source=f"pipeline:{meta['name']}-{meta['version']}"[:100],
        relations_path=None,
    )


def spec_for(version: SuggesterVersion) -> SuggesterSpec:
    """The spec a stored SuggesterVersion was made with."""
    if version.kind == SuggesterKind.RULES:
        return rules_spec()
    config = version.config or {}
    relations = Path(version.path) / RELATIONS_FILE if version.kind == SuggesterKind.TRAINED else None
    return SuggesterSpec(
        key=f"{version.kind}:{version.pk}:{version.path}",
        kind=version.kind,
        name=version.name,
        version=version.version,
        model=version.path or None,
        rules=bool(config.get("rules", True)),
        label_map=tuple(sorted((config.get("label_map") or {}).items())),
        model_source=config.get("source") or f"{version.kind}:{version.name}-{version.version}"[:100],
        relations_path=str(relations) if relations is not None and relations.exists() else None,
    )


def default_spec() -> SuggesterSpec:
    """What a project that never chose a suggester uses: the configured pipeline, else the rules."""
    return configured_pipeline_spec() or rules_spec()


def version_fields(spec: SuggesterSpec) -> dict[str, Any]:
    """The SuggesterVersion columns that record a spec."""
    config: dict[str, Any] = {"rules": spec.rules}
    if spec.kind == SuggesterKind.PIPELINE:
        config["label_map"] = dict(spec.label_map)
        config["mode"] = "add" if spec.rules else "replace"
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
) -> nlp.Suggester:
    """The spec's pipeline for this project, built once per process, its gazetteer brought up to date."""
    excluded = sorted(exclude_articles)
    key = f"{spec.key}|project:{project_id}|excluding:{_digest(excluded) if excluded else ''}"

    def build() -> nlp.Suggester:
        return nlp.build_suggester(
            model=spec.model, model_source=spec.model_source, rules=spec.rules, label_map=dict(spec.label_map)
        )

    suggester = nlp.cached_suggester(key, build)
    if spec.rules:
        suggester.ensure_patterns(
            gazetteer.fingerprint(project_id, exclude_articles=excluded, kb=kb_fingerprint),
            lambda: gazetteer.project_patterns(project_id, exclude_articles=excluded),
        )
    return suggester


def current_fingerprint(spec: SuggesterSpec, project_id: int) -> str:
    """What a stored run must have seen to be current: the gazetteer's fingerprint (rules only)."""
    return gazetteer.fingerprint(project_id) if spec.rules else "model"


@dataclass(frozen=True)
class ProjectSchema:
    """The project's entity and relation types, read once per run."""

    entity_types: dict[str, EntityType]
    relation_types: dict[str, RelationType]
    relations: tuple[RelationSchema, ...]
    linkable: frozenset[str] | None  # entity types the KB has entities of; None means every type

    @classmethod
    def load(cls, project_id: int) -> ProjectSchema:
        entity_types = {t.name: t for t in EntityType.objects.filter(project_id=project_id)}
        relation_types = {
            r.name: r
            for r in RelationType.objects.filter(project_id=project_id).prefetch_related(
                "head_types", "tail_types"
            )
        }
        relations = tuple(
            RelationSchema(
                name=r.name,
                directed=r.directed,
                heads=frozenset(t.name for t in r.head_types.all()),
                tails=frozenset(t.name for t in r.tail_types.all()),
            )
            for r in relation_types.values()
        )
        kb_types = set(
            KBEntity.objects.filter(knowledge_base__project_id=project_id, merged_into__isnull=True)
            .values_list("type", flat=True)
            .distinct()
        )
        linkable = None if "" in kb_types else frozenset(kb_types)
        return cls(entity_types, relation_types, relations, linkable)


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
    """Everything suggested for one text."""

    entities: tuple[SuggestedEntity, ...]
    relations: tuple[SuggestedRelation, ...]
    links: tuple[SuggestedLink, ...]


class LinkCandidates:
    """KB candidates per (mention, type), asked once while the KB stays the same: news repeats its
    names. Shared by the runs and requests of a process (see `link_candidates`)."""

    MAX_CACHED = 200_000

    def __init__(self, project_id: int, limit: int) -> None:
        self.project_id = project_id
        self.limit = limit
        self._cache: dict[tuple[str, str], list[Candidate]] = {}

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
    ) -> None:
        self.project_id = project_id
        self.spec = spec
        self.schema = schema or ProjectSchema.load(project_id)
        kb = gazetteer.kb_fingerprint(project_id)
        self.suggester = load_suggester(
            spec, project_id, exclude_articles=exclude_articles, kb_fingerprint=kb
        )
        self.fingerprint = self.suggester.fingerprint or "model"
        limit = settings.ANNOTATOR_LINK_CANDIDATES if link_limit is None else link_limit
        self.candidates = link_candidates(project_id, kb, limit) if limit > 0 else None
        self.classifier = _classifier(spec)

    def run(self, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[Suggested]:
        originals: deque[str] = deque()

        def remember() -> Iterator[str]:
            for text in texts:
                originals.append(text)
                yield text

        for analysis in self.suggester.analyse(remember(), batch_size=batch_size):
            yield self._suggested(originals.popleft(), analysis)

    def _suggested(self, text: str, analysis: nlp.Analysis) -> Suggested:
        known = self.schema.entity_types
        found = [e for e in analysis.entities if e.label in known]
        entities = tuple(
            SuggestedEntity(e.start, e.end, text[e.start : e.end], e.label, e.score, e.source) for e in found
        )
        mentions = [Mention(e.start, e.end, e.entity_type) for e in entities]
        relations = tuple(
            SuggestedRelation(r.head, r.tail, r.relation, r.score, r.source)
            for r in find_relations(
                text, mentions, analysis.sentences, self.schema.relations, self.classifier
            )
        )
        return Suggested(entities, relations, self._links(entities))

    def _links(self, entities: tuple[SuggestedEntity, ...]) -> tuple[SuggestedLink, ...]:
        if self.candidates is None:
            return ()
        linkable = self.schema.linkable
        links = []
        for index, entity in enumerate(entities):
            if linkable is not None and entity.entity_type not in linkable:
                continue
            for rank, candidate in enumerate(self.candidates(entity.text, entity.entity_type)):
                links.append(
                    SuggestedLink(
                        index, candidate.entity_id, candidate.kb_id, candidate.name, rank, candidate.score
                    )
                )
        return tuple(links)


def _classifier(spec: SuggesterSpec) -> PairClassifier | None:
    if spec.relations_path is None:
        return None
    return _load_classifier(spec.relations_path, spec.model_source or spec.key)


@cache
def _load_classifier(path: str, source: str) -> PairClassifier:
    weights = json.loads(Path(path).read_text(encoding="utf-8"))
    return PairClassifier(weights, source=f"{source}:relations"[:100])
