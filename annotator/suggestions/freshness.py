"""Whether an article's stored suggestions are current: cheap enough to ask on every page open.

A stored run is current when its fingerprint matches what the suggester would see now: the project's
settings, and with rules the gazetteer (the KB's names and the gold mentions). Naming the gazetteer costs
two aggregate queries over the project's KB aliases and gold sets, whose cost grows with the KB; a busy
project asks the same question hundreds of times a second. So each process keeps the fingerprint for a
few seconds (`ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS`) and a page open costs one indexed query: a KB or
gold edit reaches the suggestions of pages opened after at most that long.

The annotate page asks it with no query of its own: its first query carries the active suggester and
its run on the article as columns (`active_columns`, read back by `active_from`).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)

from annotator.core.compiled import CompiledQuery
from annotator.suggestions import gazetteer
from annotator.suggestions.engine import current_fingerprint, forget_kb_types, spec_for
from annotator.suggestions.models import SuggesterSettings, SuggesterVersion, SuggestionRun

if TYPE_CHECKING:
    from annotator.articles.models import Article
    from annotator.projects.models import Project

_MEMO_LIMIT = 1000  # projects x suggesters a process remembers before it starts over
_memo: dict[tuple[str, bool, int, str | None], tuple[float, str]] = {}
_lock = threading.Lock()


def active_with_run(article: Article) -> SuggesterVersion | None:
    """The project's active suggester, annotated with the fingerprint of its run on the article
    (`stored_fingerprint`, None when it never ran), whether that run left link candidates to look up
    (`links_pending`) and the digest of the project's suggester settings (`settings_digest`): one
    query, compiled once per process."""
    found = _active_with_run(article_id=article.pk, project_id=article.project_id)
    return found[0] if found else None


@CompiledQuery
def _active_with_run(article_id: int, project_id: int) -> QuerySet[SuggesterVersion]:
    run = SuggestionRun.objects.filter(article_id=article_id, suggester_version=OuterRef("pk")).order_by()
    digest = SuggesterSettings.objects.filter(project_id=OuterRef("project_id")).values("digest")[:1]
    return (
        SuggesterVersion.objects.filter(project_id=project_id, is_active=True)
        .annotate(
            stored_fingerprint=Subquery(run.values("fingerprint")[:1]),
            links_pending=Exists(run.filter(pending_links__isnull=False)),
            settings_digest=Subquery(digest),
        )
        .select_related("project")
        .order_by("pk")[:1]
    )


# The fields of the active suggester that its spec (`engine.spec_for`) reads, as `active_<field>` columns.
_SPEC_FIELDS = ("pk", "kind", "name", "version", "path", "config")
UNREAD: Any = object()  # the caller did not read the active suggester: `suggestions_current` does


def active_columns(article: str, project: str) -> dict[str, Any]:
    """What `active_with_run` reads, as columns of another query whose rows name the article and its
    project in the fields `article` and `project` (e.g. "article_id", "article__project_id"): the active
    suggester's fields, its run's fingerprint on the article, whether that run left links to look up,
    and the digest of the project's suggester settings. `active_from` makes the suggester of them.

    Each is a LEFT JOIN of at most one row, not a subquery per column: a project has at most one active
    suggester (`one_active_suggester_per_project`), which has at most one run per article and the project
    one settings row. Nine correlated subqueries, each finding the active suggester again, were about a
    tenth of the page's database time."""
    relation = project.removesuffix("_id")  # the project's foreign key: joined through, not compared
    return {
        "_active": FilteredRelation(
            f"{relation}__suggester_versions",
            condition=Q(**{f"{relation}__suggester_versions__is_active": True}),
        ),
        "_active_run": FilteredRelation("_active__runs", condition=Q(_active__runs__article_id=F(article))),
        **{f"active_{name}": F(f"_active__{'id' if name == 'pk' else name}") for name in _SPEC_FIELDS},
        "active_fingerprint": F("_active_run__fingerprint"),
        "active_links_pending": ExpressionWrapper(
            Q(_active_run__pending_links__isnull=False), output_field=BooleanField()
        ),
        "active_settings_digest": F(f"{relation}__suggester_settings__digest"),
    }


def active_from(row: object, project: Project) -> SuggesterVersion | None:
    """The active suggester as `active_with_run` gives it, from a row carrying `active_columns`; None
    when the project has none."""
    pk = getattr(row, "active_pk")  # noqa: B009 - an annotation
    if pk is None:
        return None
    fields = {name: getattr(row, f"active_{name}") for name in _SPEC_FIELDS}
    active = SuggesterVersion(**fields, project=project, is_active=True)
    active.stored_fingerprint = getattr(row, "active_fingerprint")  # type: ignore[attr-defined]  # noqa: B009
    active.links_pending = getattr(row, "active_links_pending")  # type: ignore[attr-defined]  # noqa: B009
    active.settings_digest = getattr(row, "active_settings_digest")  # type: ignore[attr-defined]  # noqa: B009
    return active


def suggestions_current(article: Article, active: SuggesterVersion | None = UNREAD) -> bool:
    """True when the active suggester ran on the article, left no link candidates to look up, and
    nothing it reads changed since (as far as this process knew in the last few seconds). False means:
    compute them (see generate.py). `active`: the project's active suggester as `active_with_run` or
    `active_from` give it, when the caller read it (None: the project has none)."""
    if active is UNREAD:
        active = active_with_run(article)
    stored: str | None = getattr(active, "stored_fingerprint", None)
    if active is None or stored is None or getattr(active, "links_pending", False):
        return False
    spec = spec_for(active, active.project.language)
    key = (spec.key, spec.rules, article.project_id, getattr(active, "settings_digest", None))
    now = time.monotonic()
    remembered = _memo.get(key)
    if remembered is not None and remembered[0] > now:
        return stored == remembered[1]
    fingerprint = current_fingerprint(spec, article.project_id, key[3])
    with _lock:
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        _memo[key] = (now + settings.ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS, fingerprint)
    return stored == fingerprint


def forget() -> None:
    """Drop every remembered fingerprint (tests; a process that knows its inputs just changed)."""
    with _lock:
        _memo.clear()
    gazetteer.forget_recent()
    forget_kb_types()
