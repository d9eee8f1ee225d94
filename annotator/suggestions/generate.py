"""Services that write suggestions: pre-annotate articles, keep an article's suggestions current, suggest
links for annotated spans and other occurrences of an accepted span. One function per action.

Suggestions are immutable rows. Re-running a version on an article replaces only its undecided
suggestions, and writes nothing when the output did not change; decided suggestions, decisions and
annotations are never touched.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from annotator.articles.models import Article
from annotator.suggestions.engine import (
    LinkCandidates,
    ProjectSchema,
    Suggested,
    SuggesterSpec,
    SuggestionRunner,
    current_fingerprint,
    default_spec,
    spec_for,
    version_fields,
)
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind, SuggestionRun

if TYPE_CHECKING:
    from annotator.annotations.models import AnnotationSet, Span
    from annotator.jobs.progress import Progress
    from annotator.projects.models import Project

OCCURRENCE_SOURCE = "other-occurrence"  # another exact occurrence of a span a reviewer accepted
SPAN_LINK_SOURCE = "kb-candidates:span"  # link candidates for a span someone annotated
ON_DEMAND_SOURCES = (OCCURRENCE_SOURCE, SPAN_LINK_SOURCE)  # not the article run's: a re-run keeps them
OCCURRENCE_SCORE = 0.8
BATCH_SIZE = 200

# The columns that say what a suggestion is, and those that also say how it was scored.
_IDENTITY = (
    "article_id", "kind", "start", "end", "entity_type_id", "tail_start", "tail_end", "tail_entity_type_id",
    "relation_type_id", "kb_entity_id",
)  # fmt: skip
_FULL = (*_IDENTITY, "rank", "score", "source")


def active_suggester(project_id: int) -> SuggesterVersion | None:
    return SuggesterVersion.objects.filter(project_id=project_id, is_active=True).first()


def ensure_active_suggester(*, project: Project) -> SuggesterVersion:
    """The project's active suggester; a project that never chose one gets the default, made active."""
    version = active_suggester(project.pk)
    if version is not None:
        return version
    spec = default_spec()
    try:
        with transaction.atomic():
            default, _ = SuggesterVersion.objects.get_or_create(
                project=project, name=spec.name, version=spec.version, defaults=version_fields(spec)
            )
            if not SuggesterVersion.objects.filter(project=project, is_active=True).exists():
                SuggesterVersion.objects.filter(pk=default.pk).update(is_active=True)
    except IntegrityError:
        pass  # another request made one active at the same moment
    return SuggesterVersion.objects.get(project=project, is_active=True)


@dataclass(frozen=True)
class PreannotateReport:
    articles: int
    created: int
    deleted: int
    kept: int
    suggester: str

    def as_dict(self) -> dict[str, int | str]:
        return {
            "articles": self.articles,
            "created": self.created,
            "deleted": self.deleted,
            "kept": self.kept,
            "suggester": self.suggester,
        }


Row = tuple  # the _FULL columns of one suggestion, in that order


def _rows(article_id: int, suggested: Suggested, schema: ProjectSchema) -> list[Row]:
    """The rows of one article's output as tuples of the _FULL columns (plain tuples: a batch holds
    tens of thousands, and model instances would cost more than the pipeline)."""
    types = {name: t.pk for name, t in schema.entity_types.items()}
    relation_types = {name: r.pk for name, r in schema.relation_types.items()}
    entity, relation, link = (
        SuggestionKind.ENTITY.value,
        SuggestionKind.RELATION.value,
        SuggestionKind.LINK.value,
    )
    ents = suggested.entities
    rows: list[Row] = [
        (article_id, entity, e.start, e.end, types[e.entity_type], None, None, None, None, None, 0,
         round(e.score, 4), e.source[:100])
        for e in ents
    ]  # fmt: skip
    for r in suggested.relations:
        head, tail = ents[r.head], ents[r.tail]
        rows.append(
            (article_id, relation, head.start, head.end, types[head.entity_type], tail.start, tail.end,
             types[tail.entity_type], relation_types[r.relation_type], None, 0, round(r.score, 4), r.source[:100])
        )  # fmt: skip
    for found in suggested.links:
        mention = ents[found.entity]
        rows.append(
            (article_id, link, mention.start, mention.end, types[mention.entity_type], None, None, None, None,
             found.kb_entity_id, found.rank, round(min(max(found.score, 0.0), 1.0), 4), found.source)
        )  # fmt: skip
    return rows


def _key(row: Suggestion, columns: Sequence[str]) -> tuple:
    return tuple(getattr(row, column) for column in columns)


@dataclass
class _Diff:
    insert: list[Row]
    delete: list[int]
    kept: int


def _diff(
    version: SuggesterVersion,
    article_ids: list[int],
    new_rows: list[Row],
    *,
    ran: Sequence[int] | None = None,
) -> _Diff:
    """What to write so that the version's article-run suggestions become `new_rows`: decided ones
    stay (and are not suggested twice), identical undecided ones stay, the other undecided ones go.
    `ran`: the articles the version already ran on (only those can have article-run suggestions)."""
    stored_on = article_ids if ran is None else list(ran)
    if not stored_on:
        return _Diff(new_rows, [], 0)
    existing = (
        Suggestion.objects.filter(suggester_version=version, article_id__in=stored_on)
        .exclude(source__in=ON_DEMAND_SOURCES)
        .values_list("pk", *_FULL)
    )
    decided_ids = set(
        Decision.objects.filter(
            suggestion__suggester_version=version, suggestion__article_id__in=stored_on
        ).values_list("suggestion_id", flat=True)
    )
    decided: set[tuple] = set()
    undecided: dict[tuple, list[int]] = {}
    for pk, *values in existing:
        if pk in decided_ids:
            decided.add(tuple(values[: len(_IDENTITY)]))
        else:
            undecided.setdefault(tuple(values), []).append(pk)
    if not decided and not undecided:
        return _Diff(new_rows, [], 0)
    size = len(_IDENTITY)
    insert, kept = [], 0
    for row in new_rows:
        if row[:size] in decided:
            kept += 1  # its decided twin stands for it
            continue
        same = undecided.get(row)
        if same:
            same.pop()
            kept += 1
        else:
            insert.append(row)
    delete = [pk for pks in undecided.values() for pk in pks]
    return _Diff(insert, delete, kept)


def _insert(version: SuggesterVersion, rows: list[Row]) -> None:
    """Insert suggestion rows in bulk: COPY on PostgreSQL, one prepared INSERT for all on SQLite.
    Every value comes from the pipeline and the project's schema; the database's constraints check
    the shapes (entity, relation, link), offsets and scores as for any insert."""
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = [*_FULL, "suggester_version_id", "created_at"]  # _FULL names the columns themselves
    table = quote(Suggestion._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    now = timezone.now()
    extra = (version.pk, now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + extra)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({placeholders})",  # noqa: S608 - quoted model names
                [row + extra for row in rows],
            )


def _store(
    version: SuggesterVersion, results: list[tuple[int, Suggested]], schema: ProjectSchema, fingerprint: str
) -> _Diff:
    """Write one batch of articles' output and record the runs, in one transaction."""
    article_ids = [article_id for article_id, _ in results]
    new_rows: list[Row] = []
    counts: dict[int, dict[str, int]] = {}
    for article_id, suggested in results:
        new_rows.extend(_rows(article_id, suggested, schema))
        counts[article_id] = {
            "entity": len(suggested.entities),
            "relation": len(suggested.relations),
            "link": len(suggested.links),
        }
    with transaction.atomic():
        runs = SuggestionRun.objects.filter(suggester_version=version, article_id__in=article_ids)
        known = {run.article_id: run for run in runs}
        diff = _diff(version, article_ids, new_rows, ran=list(known))
        if diff.delete:
            Suggestion.objects.filter(pk__in=diff.delete).delete()
        _insert(version, diff.insert)
        stale = []
        for article_id, run in known.items():
            if run.fingerprint != fingerprint or run.counts != counts[article_id]:
                run.fingerprint, run.counts, run.updated_at = fingerprint, counts[article_id], timezone.now()
                stale.append(run)
        if stale:
            SuggestionRun.objects.bulk_update(stale, ["fingerprint", "counts", "updated_at"])
        SuggestionRun.objects.bulk_create(
            SuggestionRun(article_id=a, suggester_version=version, fingerprint=fingerprint, counts=counts[a])
            for a in article_ids
            if a not in known
        )
    return diff


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def preannotate_articles(
    *,
    project: Project,
    article_ids: Iterable[int] | None = None,
    status: str | None = None,
    suggester_version: SuggesterVersion | None = None,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> PreannotateReport:
    """Run a suggester (the active one unless told) over the project's articles, or those given and/or
    of one status, storing suggestions batch by batch (each batch in its own transaction)."""
    version = suggester_version or ensure_active_suggester(project=project)
    spec = spec_for(version)
    articles = Article.objects.filter(project=project)
    if article_ids is not None:
        articles = articles.filter(pk__in=list(article_ids))
    if status:
        articles = articles.with_status().filter(status=status)  # type: ignore[misc]
    ids = list(articles.order_by("pk").values_list("pk", flat=True))
    if progress is not None:
        progress.set_total(len(ids))
        progress.say(f"Pre-annotating {len(ids)} articles with {version}.")
    runner = SuggestionRunner(project_id=project.pk, spec=spec)

    def texts() -> Iterator[str]:
        for chunk in _chunks(ids, batch_size):
            found = dict(Article.objects.filter(pk__in=chunk).values_list("pk", "text"))
            yield from (found[pk] for pk in chunk)

    outputs = runner.run(texts())
    batches = ([(pk, next(outputs)) for pk in chunk] for chunk in _chunks(ids, batch_size))

    def store(results: list[tuple[int, Suggested]]) -> _Diff:
        return _store(version, results, runner.schema, runner.fingerprint)

    # Outside a transaction, a writer thread stores each batch while the pipeline runs on the next one.
    # Inside one (a caller's atomic block, a test), another connection could not see its rows: inline.
    writer = _Writer(store, progress) if not connection.in_atomic_block else _Inline(store, progress)
    try:
        for results in batches:
            writer.submit(results)
    finally:
        totals = writer.close()
    if progress is not None:
        progress.say(
            f"Pre-annotated {len(ids)} articles: {totals.created} suggestions added, {totals.deleted} replaced."
        )
    return PreannotateReport(len(ids), totals.created, totals.deleted, totals.kept, str(version))


@dataclass
class _Totals:
    created: int = 0
    deleted: int = 0
    kept: int = 0

    def add(self, diff: _Diff) -> None:
        self.created += len(diff.insert)
        self.deleted += len(diff.delete)
        self.kept += diff.kept


class _Inline:
    """Stores each batch as it comes, on this thread."""

    def __init__(
        self, store: Callable[[list[tuple[int, Suggested]]], _Diff], progress: Progress | None
    ) -> None:
        self.store = store
        self.progress = progress
        self.totals = _Totals()

    def submit(self, results: list[tuple[int, Suggested]]) -> None:
        self.totals.add(self.store(results))
        if self.progress is not None:
            self.progress.advance(len(results))

    def close(self) -> _Totals:
        return self.totals


class _Writer(_Inline):
    """Stores batches on a thread of its own, with its own database connection, so that the database's
    work overlaps the pipeline's. At most two batches wait; the first failure stops everything."""

    def __init__(
        self, store: Callable[[list[tuple[int, Suggested]]], _Diff], progress: Progress | None
    ) -> None:
        super().__init__(store, progress)
        self.queue: queue.Queue[list[tuple[int, Suggested]] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="suggestion-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (results := self.queue.get()) is not None:
                if self.error is None:
                    super().submit(results)
        except BaseException as error:
            self.error = error
            while self.queue.get() is not None:
                pass  # let the producer finish putting (it stops at its next submit)
        finally:
            connections.close_all()  # this thread's connections

    def submit(self, results: list[tuple[int, Suggested]]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(results)

    def close(self) -> _Totals:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.totals


def ensure_article_suggestions(*, article: Article) -> SuggesterVersion:
    """Make sure the active suggester's suggestions for the article are stored and current (run it when
    it never ran on the article, or when the gazetteer changed since). Returns that suggester."""
    version = ensure_active_suggester(project=article.project)
    spec: SuggesterSpec = spec_for(version)
    stored = (
        SuggestionRun.objects.filter(article=article, suggester_version=version)
        .values_list("fingerprint", flat=True)
        .first()
    )
    if stored is not None and stored == current_fingerprint(spec, article.project_id):
        return version
    runner = SuggestionRunner(project_id=article.project_id, spec=spec)
    suggested = next(runner.run([article.text]))
    _store(version, [(article.pk, suggested)], runner.schema, runner.fingerprint)
    return version


def suggest_text(*, project: Project, text: str) -> tuple[SuggesterSpec, int | None, Suggested]:
    """Suggestions for a text that is not stored, by the active suggester (or the default one).
    Writes nothing. Returns the spec used, its SuggesterVersion id when it has one, and the output."""
    version = active_suggester(project.pk)
    spec = spec_for(version) if version is not None else default_spec()
    runner = SuggestionRunner(project_id=project.pk, spec=spec)
    return spec, version.pk if version else None, next(runner.run([text]))


def _existing_identities(
    version: SuggesterVersion, article_id: int, kinds: Sequence[str]
) -> dict[tuple, int]:
    rows = Suggestion.objects.filter(
        suggester_version=version, article_id=article_id, kind__in=kinds
    ).values_list("pk", *_IDENTITY)
    return {tuple(values): pk for pk, *values in rows}


def _add_missing(version: SuggesterVersion, article_id: int, rows: list[Suggestion]) -> list[Suggestion]:
    """Store the rows the version does not already suggest (by identity); return all of them, stored."""
    kinds = sorted({row.kind for row in rows})
    known = _existing_identities(version, article_id, kinds)
    missing = []
    for row in rows:
        row.suggester_version = version
        if _key(row, _IDENTITY) not in known:
            missing.append(row)
            known[_key(row, _IDENTITY)] = -1
    with transaction.atomic():
        Suggestion.objects.bulk_create(missing)
    wanted = {_key(row, _IDENTITY) for row in rows}
    stored = Suggestion.objects.filter(suggester_version=version, article_id=article_id, kind__in=kinds)
    return [s for s in stored.select_related("entity_type", "kb_entity") if _key(s, _IDENTITY) in wanted]


def suggest_links_for_spans(
    *, annotation_set: AnnotationSet, spans: Iterable[Span] | None = None
) -> list[Suggestion]:
    """Link suggestions (top KB candidates, ranked and scored) for spans of the set: all of them, or
    those given. Idempotent: a candidate the active suggester already proposes is not stored twice.
    Returns the link suggestions of those spans, ordered by span then rank."""
    article = annotation_set.article
    version = ensure_active_suggester(project=article.project)
    chosen = list(spans) if spans is not None else list(annotation_set.spans.select_related("entity_type"))
    candidates = LinkCandidates(article.project_id, settings.ANNOTATOR_LINK_CANDIDATES)
    rows = []
    for span in chosen:
        for rank, candidate in enumerate(candidates(span.surface, span.entity_type.name)):
            rows.append(
                Suggestion(
                    article_id=article.pk,
                    kind=SuggestionKind.LINK,
                    start=span.start,
                    end=span.end,
                    entity_type_id=span.entity_type_id,
                    kb_entity_id=candidate.entity_id,
                    rank=rank,
                    score=round(min(max(candidate.score, 0.0), 1.0), 4),
                    source=SPAN_LINK_SOURCE,
                )
            )
    if not rows:
        return []
    found = _add_missing(version, article.pk, rows)
    return sorted(found, key=lambda s: (s.start, s.end, s.rank, s.pk))


def _occurrences(text: str, surface: str) -> Iterator[int]:
    """Starts of `surface` in `text` that are whole words (not inside a longer word)."""
    for match in re.finditer(re.escape(surface), text):
        start, end = match.start(), match.end()
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or after.isalnum()):
            yield start


def suggest_other_occurrences(*, span: Span) -> list[Suggestion]:
    """After a reviewer accepts a span: its other exact occurrences in the article, as entity
    suggestions of the same type (and, when the span is linked, link suggestions to the same entity).
    Occurrences the set already annotates with that type are left out. Idempotent."""
    annotation_set = span.annotation_set
    article = annotation_set.article
    version = ensure_active_suggester(project=article.project)
    annotated = set(
        annotation_set.spans.filter(entity_type_id=span.entity_type_id).values_list("start", "end")
    )
    linked = span.link.kb_entity_id if hasattr(span, "link") else None
    rows = []
    for start in _occurrences(article.text, span.surface):
        end = start + len(span.surface)
        if (start, end) in annotated:
            continue
        common = {"article_id": article.pk, "start": start, "end": end, "entity_type_id": span.entity_type_id}
        rows.append(
            Suggestion(kind=SuggestionKind.ENTITY, score=OCCURRENCE_SCORE, source=OCCURRENCE_SOURCE, **common)
        )
        if linked is not None:
            rows.append(
                Suggestion(
                    kind=SuggestionKind.LINK,
                    kb_entity_id=linked,
                    rank=0,
                    score=OCCURRENCE_SCORE,
                    source=OCCURRENCE_SOURCE,
                    **common,
                )
            )
    if not rows:
        return []
    found = _add_missing(version, article.pk, rows)
    return sorted(found, key=lambda s: (s.start, s.kind, s.rank))
