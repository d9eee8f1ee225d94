"""Services that write suggestions: pre-annotate articles, keep an article's suggestions current, suggest
links for annotated spans and other occurrences of an accepted span. One function per action.

Suggestions are immutable rows. Re-running a version on an article replaces only its undecided
suggestions, and writes nothing when the output did not change; decided suggestions, decisions and
annotations are never touched.
"""

from __future__ import annotations

import gc
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from annotator.annotations.status import with_status
from annotator.articles.models import Article
from annotator.projects.models import EntityType
from annotator.suggestions import gazetteer, sources
from annotator.suggestions.engine import (
    LINK_SOURCE,
    LinkCandidates,
    Suggested,
    SuggesterSpec,
    SuggestionRunner,
    current_fingerprint,
    link_candidates,
    project_spec,
    spec_for,
    version_fields,
)
from annotator.suggestions.freshness import active_with_run
from annotator.suggestions.models import (
    SuggesterVersion,
    Suggestion,
    SuggestionKind,
    SuggestionRun,
)
from annotator.suggestions.nlp import PipeProcess
from annotator.suggestions.storing import (
    IDENTITY,
    OCCURRENCE_SOURCE,
    SPAN_LINK_SOURCE,
    Diff,
    InlineWriter,
    ThreadWriter,
    key_of,
    link_row,
    store_batch,
    store_links,
)

if TYPE_CHECKING:
    from annotator.annotations.models import AnnotationSet, Span
    from annotator.jobs.progress import Progress
    from annotator.projects.models import Project

OCCURRENCE_SCORE = 0.8
BATCH_SIZE = 200


def active_suggester(project_id: int) -> SuggesterVersion | None:
    return SuggesterVersion.objects.filter(project_id=project_id, is_active=True).order_by().first()


def ensure_active_suggester(*, project: Project) -> SuggesterVersion:
    """The project's active suggester; a project that never chose one gets the default, made active."""
    version = active_suggester(project.pk)
    if version is not None:
        return version
    spec = project_spec(project)
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


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def article_ids_to_preannotate(
    *, project: Project, article_ids: Iterable[int] | None = None, status: str | None = None
) -> list[int]:
    """The project's articles (all, those given, and/or those of one status), in id order."""
    articles = Article.objects.filter(project=project)
    if article_ids is not None:
        articles = articles.filter(pk__in=list(article_ids))
    if status:
        articles = with_status(articles).filter(status=status)  # type: ignore[misc]
    return list(articles.order_by("pk").values_list("pk", flat=True))


def preannotate_articles(
    *,
    project: Project,
    article_ids: Iterable[int] | None = None,
    status: str | None = None,
    suggester_version: SuggesterVersion | None = None,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    defer_links: bool | None = None,
    other_workers: int = 0,
) -> PreannotateReport:
    """Run a suggester (the active one unless told) over the project's articles, or those given and/or
    of one status, storing suggestions batch by batch (each batch in its own transaction).

    `defer_links`: leave the mentions' KB link candidates to the first need of each article (its page
    opening, the API asking for its suggestions, a quality report: `complete_links`). Most articles of
    a large batch are opened much later, and the candidates are a third of the rows and the KB
    look-ups. By default they are deferred when pages compute suggestions on open
    (ANNOTATOR_SUGGEST_ON_OPEN); without that, pre-annotation is all a page gets, links included.

    `other_workers`: how many other processes of this machine are busy with jobs now (the caller's
    count): the pipeline runs in a child process of its own only when a core is left for it
    (`pipe_process_wanted`)."""
    if defer_links is None:
        defer_links = settings.ANNOTATOR_SUGGEST_ON_OPEN
    version = suggester_version or ensure_active_suggester(project=project)
    spec = spec_for(version, project.language)
    ids = article_ids_to_preannotate(project=project, article_ids=article_ids, status=status)
    if progress is not None:
        progress.set_total(len(ids))
        progress.say(f"Pre-annotating {len(ids)} articles with {version}.")
    runner = SuggestionRunner(project_id=project.pk, spec=spec)

    def texts() -> Iterator[str]:
        for chunk in _chunks(ids, batch_size):
            found = dict(Article.objects.filter(pk__in=chunk).values_list("pk", "text"))
            yield from (found[pk] for pk in chunk)

    def store(results: list[tuple[int, Suggested]]) -> Diff:
        return store_batch(version, results, runner.schema, runner.fingerprint)

    # Outside a transaction, a writer thread stores each batch while the pipeline runs on the next one
    # (PostgreSQL does the work in its own process). Inside one (a caller's atomic block, a test), another
    # connection could not see its rows: inline. On SQLite too: the sqlite3 module lets go of the GIL at
    # every row it steps and a writer thread waits for the pipeline's thread to take it back each time, so
    # the rows were written only while the pipeline waited (measured on 1,000 bench articles: inline used
    # 0.12 ms less CPU per article, median of 5 interleaved rounds, and less wall time in 4 of them).
    threaded = not connection.in_atomic_block and connection.vendor != "sqlite"
    with _fewer_collections(), _pipe_process(runner, len(ids), other_workers) as process:
        # The child process, if any, is forked before the writer's thread starts.
        outputs = runner.run(texts(), links=not defer_links, process=process)
        batches = ([(pk, next(outputs)) for pk in chunk] for chunk in _chunks(ids, batch_size))
        writer = ThreadWriter(store, progress) if threaded else InlineWriter(store, progress)
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


PIPE_PROCESS_MIN_ARTICLES = 256  # fewer: the child's start (a fork, ~10-30 ms) is not worth it


def pipe_process_wanted(articles: int, other_workers: int = 0, *, model: bool = False) -> bool:
    """Whether pre-annotating this many articles runs the pipeline in a child process while this one
    makes and stores the records (`nlp.PipeProcess`): ANNOTATOR_PIPELINE_PROCESS "on" or "off", or by
    default ("auto") when the articles are enough to pay for its start and this machine has a core
    for each busy worker (this one, `other_workers`) and one more for the child. Two processes then
    share one worker's work; two workers on two cores are better served by one core each. Auto leaves
    out a pipeline with a statistical `model`: its pipe is most of the work already (little to overlap),
    and a fork after its maths library started threads is not safe with every build."""
    choice = settings.ANNOTATOR_PIPELINE_PROCESS
    if choice == "off" or articles < PIPE_PROCESS_MIN_ARTICLES:
        return False
    if choice == "on":
        return True
    return not model and usable_cores() > other_workers + 1


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may run on, fewer when its control group's CPU quota allows fewer (a
    container started with a CPU limit sees all of the machine's cores): cgroup v2's cpu.max ("<quota>
    <period>" or "max <period>"), else v1's cpu/cpu.cfs_quota_us over cpu/cpu.cfs_period_us (-1: none)."""
    cores = len(os.sched_getaffinity(0))
    quota: float | None = None
    try:
        if (cgroup / "cpu.max").exists():
            limit, period = (cgroup / "cpu.max").read_text().split()
            quota = None if limit == "max" else int(limit) / int(period)
        elif (cgroup / "cpu" / "cpu.cfs_quota_us").exists():
            limit = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
            quota = int(limit) / int(period) if int(limit) > 0 else None
    except (OSError, ValueError):
        quota = None  # unreadable or unexpected: the affinity mask alone
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


@contextmanager
def _pipe_process(
    runner: SuggestionRunner, articles: int, other_workers: int
) -> Iterator[PipeProcess | None]:
    if not pipe_process_wanted(articles, other_workers, model=runner.spec.model is not None):
        yield None
        return
    with PipeProcess(runner.suggester) as process:
        yield process


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """While a batch runs: the objects the process already holds (Django, the pipeline, its vocabulary:
    ~170,000) are left out of garbage collections, and the youngest generation is collected every 10,000
    allocations instead of 700. The pipeline allocates thousands of short-lived objects per article,
    nearly all freed by reference counting: collections took 15-20% of a bench batch's CPU, about half
    that with this. Restored afterwards, also when the batch fails."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], 10_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def ensure_article_suggestions(*, article: Article) -> SuggesterVersion:
    """Make sure the active suggester's suggestions for the article are stored and current (run it when
    it never ran on the article, or when the gazetteer changed since; look its link candidates up when
    batch pre-annotation left them pending). Returns that suggester."""
    active = active_with_run(article)  # one query: this runs on every open
    stored: str | None = getattr(active, "stored_fingerprint", None)
    version = active if active is not None else ensure_active_suggester(project=article.project)
    spec: SuggesterSpec = spec_for(version, version.project.language)
    settings_digest: str | None = getattr(active, "settings_digest", None)
    kb = gazetteer.kb_fingerprint(article.project_id) if spec.rules else None
    if stored is not None and stored == current_fingerprint(spec, article.project_id, settings_digest, kb):
        if getattr(active, "links_pending", False):
            complete_links(
                version=version, article_ids=[article.pk], texts={article.pk: article.text}, kb_fingerprint=kb
            )
        return version
    runner = SuggestionRunner(project_id=article.project_id, spec=spec)
    suggested = next(runner.run([article.text]))
    store_batch(version, [(article.pk, suggested)], runner.schema, runner.fingerprint)
    return version


def complete_links(
    *,
    version: SuggesterVersion,
    article_ids: Sequence[int],
    texts: dict[int, str] | None = None,
    kb_fingerprint: str | None = None,
) -> int:
    """Look up and store the KB link candidates that batch pre-annotation left pending on these
    articles' runs of the version: the same suggestions a run with links stores (same candidates,
    ranks and scores), looked up for all the mentions at once. Idempotent; two requests at the same
    moment store them once (the runs are locked). `texts`: the articles' texts, and `kb_fingerprint`
    the KB's state (it names the process's candidate cache), when the caller has them. Returns how
    many link suggestions were stored."""
    limit = settings.ANNOTATOR_LINK_CANDIDATES
    with transaction.atomic():
        runs = list(
            SuggestionRun.objects.select_for_update()
            .filter(suggester_version=version, article_id__in=list(article_ids), pending_links__isnull=False)
            .order_by("pk")
        )
        if not runs:
            return 0
        wanted = [run.article_id for run in runs if texts is None or run.article_id not in texts]
        texts = {**(texts or {}), **dict(Article.objects.filter(pk__in=wanted).values_list("pk", "text"))}
        names = dict(EntityType.objects.filter(project_id=version.project_id).values_list("pk", "name"))
        mentions = [
            (run.article_id, start, end, type_id, texts[run.article_id][start:end], names[type_id])
            for run in runs
            for start, end, type_id in run.pending_links or ()
            if type_id in names  # a type deleted since took its suggestions with it
        ]
        rows = []
        if limit > 0 and mentions:
            kb = kb_fingerprint or gazetteer.kb_fingerprint(version.project_id)
            candidates = link_candidates(version.project_id, kb, limit)
            candidates.prefetch((mention, name) for *_, mention, name in mentions)
            for article_id, start, end, type_id, mention, name in mentions:
                for rank, found in enumerate(candidates(mention, name)):
                    rows.append(
                        link_row(
                            article_id, start, end, type_id, found.entity_id, rank, found.score, LINK_SOURCE
                        )
                    )
        diff = store_links(version, runs, rows)
    return len(diff.insert)


def suggest_text(*, project: Project, text: str) -> tuple[SuggesterSpec, int | None, Suggested]:
    """Suggestions for a text that is not stored, by the active suggester (or the default one).
    Writes nothing. Returns the spec used, its SuggesterVersion id when it has one, and the output."""
    version = active_suggester(project.pk)
    chosen = sources.project_settings(project.pk)
    spec = spec_for(version, project.language) if version is not None else project_spec(project, chosen)
    # A busy client asks many times a second: the KB's and gold's state as read in the last few seconds.
    runner = SuggestionRunner(project_id=project.pk, spec=spec, chosen=chosen, trust_recent=True)
    return spec, version.pk if version else None, next(runner.run([text]))


def _add_missing(version: SuggesterVersion, article_id: int, rows: list[Suggestion]) -> list[Suggestion]:
    """Store the rows the version does not already suggest (by identity); return all of them, stored.

    Reads only the stored suggestions at the rows' starts (identity includes the start): a long article
    has thousands of others, and accepting a span must not read them all."""
    stored = Suggestion.objects.filter(
        suggester_version=version,
        article_id=article_id,
        kind__in=sorted({row.kind for row in rows}),
        start__in=sorted({row.start for row in rows}),
    ).select_related("entity_type", "kb_entity")
    known = {key_of(suggestion, IDENTITY): suggestion for suggestion in stored}
    missing = []
    for row in rows:
        row.suggester_version = version
        if key_of(row, IDENTITY) not in known:
            missing.append(row)
            known[key_of(row, IDENTITY)] = row
    if missing:
        with transaction.atomic():
            Suggestion.objects.bulk_create(missing)
    return list({key_of(row, IDENTITY): known[key_of(row, IDENTITY)] for row in rows}.values())


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
