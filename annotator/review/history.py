"""An article's history: every recorded change to its sets, spans, links, relations and decisions.

django-simple-history keeps one table per model; the page reads one union of them ordered by time (so
it pages in the database), then describes the rows of the shown page with one query per kind. Only the
sets the reader may read count (blind projects: an annotator sees their own set's history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import CharField, QuerySet, Value

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span
from annotator.core.text import isolate
from annotator.suggestions.models import Decision, Suggestion, SuggestionKind

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.articles.models import Article

ACTIONS = {"+": "added", "~": "changed", "-": "deleted"}


@dataclass(frozen=True)
class Entry:
    when: datetime
    who: str
    set_label: str
    kind: str
    action: str
    what: str


def _rows(queryset: QuerySet[Any], kind: str) -> QuerySet[Any]:
    return (
        queryset.order_by()
        .annotate(record=Value(kind, output_field=CharField()))
        .values("history_id", "history_date", "record")
    )


def history_rows(article: Article, user: User) -> QuerySet[Any]:
    """(history_id, history_date, record: its kind) of every change the user may see, newest first."""
    sets = AnnotationSet.objects.readable_by(user).filter(article=article).values("pk")
    spans = Span.history.model.objects.filter(annotation_set_id__in=sets)
    parts = [
        _rows(AnnotationSet.history.model.objects.filter(id__in=sets), "set"),
        _rows(spans, "span"),
        _rows(EntityLink.history.model.objects.filter(span_id__in=spans.values("id")), "link"),
        _rows(Relation.history.model.objects.filter(annotation_set_id__in=sets), "relation"),
        _rows(Decision.history.model.objects.filter(annotation_set_id__in=sets), "decision"),
    ]
    first, *rest = parts
    return first.union(*rest, all=True).order_by("-history_date", "record", "-history_id")


def describe(rows: list[dict[str, Any]], article: Article) -> list[Entry]:
    """The page's rows as sentences: one query per kind of record, one for the spans they mention."""
    ids: dict[str, list[int]] = {}
    for row in rows:
        ids.setdefault(row["record"], []).append(row["history_id"])
    records = {
        (kind, record.history_id): record
        for kind, model, related in (
            ("set", AnnotationSet.history.model, ["history_user"]),
            ("span", Span.history.model, ["history_user", "entity_type"]),
            ("link", EntityLink.history.model, ["history_user", "kb_entity"]),
            ("relation", Relation.history.model, ["history_user", "relation_type"]),
            ("decision", Decision.history.model, ["history_user"]),
        )
        if ids.get(kind)
        for record in model.objects.filter(history_id__in=ids[kind]).select_related(*related)
    }
    mentioned = {
        getattr(record, name) for record in records.values() for name in ("span_id", "head_id", "tail_id")
        if getattr(record, name, None) is not None
    }  # fmt: skip
    # The latest surface and set of each span mentioned, deleted ones included.
    span_rows = Span.history.model.objects.filter(id__in=mentioned).order_by("id", "history_date")
    spans = {
        pk: (surface, set_id)
        for pk, surface, set_id in span_rows.values_list("id", "surface", "annotation_set_id")
    }
    surfaces = {pk: surface for pk, (surface, _) in spans.items()}
    suggested = {
        suggestion.pk: _suggestion_words(suggestion, article.text)
        for suggestion in Suggestion.objects.filter(
            pk__in=[record.suggestion_id for record in records.values() if hasattr(record, "verdict")]
        ).select_related("entity_type", "relation_type", "kb_entity")
    }
    sets = {s.pk: s for s in AnnotationSet.objects.filter(article=article).select_related("annotator")}
    entries = []
    for row in rows:
        record = records[(row["record"], row["history_id"])]
        set_id = record.id if row["record"] == "set" else getattr(record, "annotation_set_id", None)
        if set_id is None:  # a link: its span's set
            set_id = spans.get(record.span_id, ("", None))[1]
        entries.append(
            Entry(
                when=record.history_date,
                who=record.history_user.get_username() if record.history_user else "(system)",
                set_label=str(_label(sets.get(set_id))),
                kind=row["record"],
                action=ACTIONS.get(record.history_type, record.history_type),
                what=_what(row["record"], record, surfaces, suggested),
            )
        )
    return entries


def _label(annotation_set: AnnotationSet | None) -> str:
    if annotation_set is None:
        return "(deleted set)"
    if annotation_set.annotator is not None:
        return f"{isolate(annotation_set.annotator.get_username())}'s set"
    return "gold" if annotation_set.kind == "gold" else f"{isolate(annotation_set.name)} (imported)"


def _suggestion_words(suggestion: Suggestion, text: str) -> str:
    """A suggestion as a reader knows it (its type and words), never by its internal id."""
    words = f"“{isolate(text[suggestion.start : suggestion.end][:60])}”"
    if suggestion.kind == SuggestionKind.RELATION:
        tail = f"“{isolate(text[suggestion.tail_start or 0 : suggestion.tail_end or 0][:60])}”"
        return f"the relation suggestion {words} {isolate(str(suggestion.relation_type))} {tail}"
    if suggestion.kind == SuggestionKind.LINK:
        return f"the link suggestion {words} → {isolate(str(suggestion.kb_entity))}"
    return f"the suggestion {isolate(str(suggestion.entity_type))} {words}"


def _what(kind: str, record: Any, surfaces: dict[int, str], suggested: dict[int, str]) -> str:
    def quoted(span_id: int) -> str:
        return f"“{isolate(surfaces.get(span_id, '?')[:60])}”"

    if kind == "set":
        return f"status {record.get_status_display().lower()}, version {record.version}"
    if kind == "span":
        return f"{isolate(record.entity_type.name)} “{isolate(record.surface[:60])}” [{record.start}, {record.end})"
    if kind == "link":
        entity = record.kb_entity
        target = "NIL" if entity is None else f"{isolate(entity.name)} ({isolate(entity.kb_id)})"
        return f"link of {quoted(record.span_id)} to {target}"
    if kind == "relation":
        return f"{quoted(record.head_id)} {isolate(record.relation_type.name)} {quoted(record.tail_id)}"
    made = (record.result or {}).get("span") or {}
    fallback = (
        f"a suggestion {made['type']} “{isolate(made['text'][:60])}”"
        if made
        else "a suggestion since replaced"
    )
    return f"{record.verdict} {suggested.get(record.suggestion_id, fallback)}"
