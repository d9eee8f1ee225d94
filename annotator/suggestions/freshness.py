"""Whether an article's stored suggestions are current: cheap enough to ask on every page open.

A stored run is current when its fingerprint matches what the suggester would see now: the project's
settings, and with rules the gazetteer (the KB's names and the gold mentions). Naming the gazetteer costs
two aggregate queries over the project's KB aliases and gold sets, whose cost grows with the KB; a busy
project asks the same question hundreds of times a second. So each process keeps the fingerprint for a
few seconds (`ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS`) and a page open costs one indexed query: a KB or
gold edit reaches the suggestions of pages opened after at most that long.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from annotator.core.compiled import CompiledQuery
from annotator.suggestions import gazetteer
from annotator.suggestions.engine import current_fingerprint, forget_kb_types, spec_for
from annotator.suggestions.models import SuggesterSettings, SuggesterVersion, SuggestionRun

if TYPE_CHECKING:
    from annotator.articles.models import Article

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


def suggestions_current(article: Article) -> bool:
    """True when the active suggester ran on the article, left no link candidates to look up, and
    nothing it reads changed since (as far as this process knew in the last few seconds). False means:
    compute them (see generate.py)."""
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
