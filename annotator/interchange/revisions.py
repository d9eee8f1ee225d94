"""Updating an article that is already in the project, from a re-imported record (`--on-duplicate update`).

An edited text becomes a new revision: the old text is kept as an ArticleRevision, and every annotation
of the article is moved to the new text by a diff. Spans whose text is intact move silently; spans whose
text changed stay where the diff puts them and are flagged; spans whose text is gone are removed from
their set and kept, in full, in a `lost` flag. Every set that changes claims its next version, so open
pages get a conflict rather than stale offsets. The import's own set is brought to exactly what the
record holds, keeping the spans it already had (and their history) where they still match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef

from annotator.annotations.editing import SetEditor, edit_set
from annotator.annotations.models import (
    AnnotationSet,
    EntityLink,
    Relation,
    SetKind,
    SetStatus,
    Span,
    SpanAttribute,
)
from annotator.articles.models import Article, ArticleRevision
from annotator.interchange.models import FlagKind, ReanchorFlag
from annotator.interchange.reanchor import Fit, Moved, OffsetMap
from annotator.kb.models import KBEntity
from annotator.suggestions.models import Decision, Suggestion

if TYPE_CHECKING:
    from annotator.interchange.importer import Importer, Plan

Key = tuple[int, int, int, Any]  # start, end, entity type id, fragments (a list, or None)


def update_article(*, importer: Importer, article_id: int, plan: Plan) -> None:
    """Bring an existing article up to the record: text (as a revision), title, metadata, its import set."""
    record, by = plan.record, importer.by
    article = Article.objects.select_for_update().get(pk=article_id)
    target = _target_set(importer, article) if record.annotated else None
    if (
        target is not None
        and target.status != SetStatus.IN_PROGRESS
        and _differs(importer, target, plan, article, record.text)
    ):
        importer.problems.add(
            record.where,
            f"The {'gold' if target.kind == SetKind.GOLD else repr(target.name)} set of article #{article.pk} is "
            f"{target.get_status_display().lower()}: reopen it before importing into it.",
            field="external_id" if record.external_id is not None else "text",
        )
        return
    text_changed = article.text != record.text
    content_changed = record.annotated and (
        target is None or _differs(importer, target, plan, article, record.text)
    )
    if not (
        text_changed
        or content_changed
        or (article.title, article.metadata) != (record.title, record.metadata)
    ):
        importer.result.unchanged += 1
        return
    old_text = article.text
    if text_changed:
        revision = ArticleRevision.objects.create(
            article=article, number=article.revision, text=old_text, content_hash=article.content_hash,
            replaced_by=by, job=importer.job,
        )  # fmt: skip
        article.text, article.revision = record.text, article.revision + 1
    article.title, article.metadata = record.title, record.metadata
    article.save()
    if text_changed:
        mapping = OffsetMap(old_text, record.text)
        summary = _reanchor(
            importer, article, mapping, revision, skip=target.pk if target and record.annotated else None
        )
        revision.summary = summary
        revision.save(update_fields=["summary"])
        importer.result.revisions += 1
        importer.result.flags += summary["spans_changed"] + summary["spans_lost"]
    if content_changed:
        move = _exact_move(OffsetMap(old_text, record.text)) if text_changed else _unmoved
        _bring_to_plan(importer, article, target, plan, move)
    importer.result.updated += 1


def _target_set(importer: Importer, article: Article) -> AnnotationSet | None:
    sets = AnnotationSet.objects.filter(article=article, kind=importer.options.set_kind)
    if importer.options.set_kind == SetKind.IMPORTED:
        sets = sets.filter(name=importer.options.set_name)
    return sets.select_for_update().first()


def _planned_keys(plan: Plan) -> list[Key]:
    return [(start, end, type_id, fragments) for start, end, type_id, _, fragments in plan.spans]


def _differs(importer: Importer, target: AnnotationSet, plan: Plan, article: Article, new_text: str) -> bool:
    if article.text != new_text:
        return True
    spans = {
        span.pk: (span.start, span.end, span.entity_type_id, span.fragments) for span in target.spans.all()
    }
    keys = _planned_keys(plan)
    if sorted(spans.values(), key=repr) != sorted(keys, key=repr):
        return True
    position = {key: index for index, key in enumerate(keys)}
    links = {
        position[spans[span]]: entity
        for span, entity in EntityLink.objects.filter(span__annotation_set=target).values_list(
            "span", "kb_entity"
        )
    }
    relations = {
        (position[spans[head]], position[spans[tail]], type_id)
        for head, tail, type_id in Relation.objects.filter(annotation_set=target).values_list(
            "head", "tail", "relation_type"
        )
    }
    attributes = {
        (position[spans[span]], attribute): value
        for span, attribute, value in SpanAttribute.objects.filter(span__annotation_set=target).values_list(
            "span", "attribute", "value"
        )
    }
    return (
        links != dict(plan.links)
        or relations != set(plan.relations)
        or attributes != {(index, attribute): value for index, attribute, value in plan.attributes}
    )


MoveFn = Callable[[int, int, Any], "tuple[int, int, Any] | None"]


def _unmoved(start: int, end: int, fragments: Any) -> tuple[int, int, Any]:
    return start, end, fragments


def _exact_move(mapping: OffsetMap) -> MoveFn:
    """Where a span of the import's own set goes in the new text, if it moves there intact."""

    def move(start: int, end: int, fragments: Any) -> tuple[int, int, Any] | None:
        moved = mapping.span(start, end, tuple(tuple(piece) for piece in fragments or ()))
        if moved.fit != Fit.EXACT:
            return None
        return moved.start, moved.end, [list(piece) for piece in moved.fragments] or None

    return move


def _bring_to_plan(
    importer: Importer, article: Article, target: AnnotationSet | None, plan: Plan, move: MoveFn
) -> None:
    """Make the import's set hold exactly the record's annotations, keeping the spans that already match."""
    if target is None:
        set_id = importer.writer.reserve_ids(importer.tables.sets, 1)[0]
        importer.write_contents([(set_id, article.pk, plan)], new_sets=True)
        return
    keys = _planned_keys(plan)
    wanted = {key: index for index, key in enumerate(keys)}
    ids: dict[int, int] = {}  # plan position -> span id
    moves: list[tuple[Span, int, int, Any]] = []
    with edit_set(target, expected_version=target.version, by=importer.by) as editor:
        for span in Span.objects.filter(annotation_set=target).select_related("link"):
            moved = move(span.start, span.end, span.fragments)
            key = (*moved[:2], span.entity_type_id, moved[2]) if moved else None
            if key is None or key not in wanted or wanted[key] in ids:
                editor.remove_span(span)
                continue
            ids[wanted[key]] = span.pk
            if moved and (moved[0], moved[1]) != (span.start, span.end):
                moves.append((span, moved[0], moved[1], moved[2]))
        _move_spans(editor, moves, article.text)
        _sync_links_and_relations(importer, editor, target, plan, ids)


def _sync_links_and_relations(
    importer: Importer, editor: SetEditor, target: AnnotationSet, plan: Plan, ids: dict[int, int]
) -> None:
    kept = dict(ids)
    fresh = [index for index in range(len(plan.spans)) if index not in kept]
    new_ids = importer.writer.reserve_ids(importer.tables.spans, len(fresh))
    ids.update(zip(fresh, new_ids, strict=True))
    now, by = importer.now, importer.by.pk if importer.by else None
    history = (now, importer.reason, "+", by)
    importer.insert_rows(
        "spans",
        [
            (ids[i], target.pk, *plan.spans[i][:3], plan.spans[i][3], plan.spans[i][4], by, now, now)
            for i in fresh
        ],
        history,
    )
    links = dict(plan.links)
    current = {
        link.span_id: link
        for link in EntityLink.objects.filter(span__annotation_set=target).select_related("span")
    }
    for index, span_id in kept.items():
        link = current.get(span_id)
        if index not in links and link is not None:
            editor.unlink(link.span)
        elif index in links and (link is None or link.kb_entity_id != links[index]):
            kb_entity = links[index]
            entity = KBEntity.objects.get(pk=kb_entity) if kb_entity is not None else None
            editor.link(link.span if link else Span.objects.get(pk=span_id), entity)
    new_links = [(ids[index], entity) for index, entity in plan.links if index not in kept]
    link_ids = importer.writer.reserve_ids(importer.tables.links, len(new_links))
    importer.insert_rows(
        "links",
        [(pk, span, entity, by, now, now) for pk, (span, entity) in zip(link_ids, new_links, strict=True)],
        history,
    )
    _sync_attributes(importer, editor, target, plan, kept, ids, history)
    wanted = {(ids[head], ids[tail], type_id) for head, tail, type_id in plan.relations}
    for relation in Relation.objects.filter(annotation_set=target):
        key = (relation.head_id, relation.tail_id, relation.relation_type_id)
        if key in wanted:
            wanted.discard(key)
        else:
            editor.remove_relation(relation)
    relation_ids = importer.writer.reserve_ids(importer.tables.relations, len(wanted))
    importer.insert_rows(
        "relations",
        [
            (pk, target.pk, head, tail, type_id, by, now, now)
            for pk, (head, tail, type_id) in zip(relation_ids, sorted(wanted), strict=True)
        ],
        history,
    )
    importer.result.spans += len(fresh)
    importer.result.links += len(new_links)
    importer.result.relations += len(relation_ids)


def _sync_attributes(
    importer: Importer,
    editor: SetEditor,
    target: AnnotationSet,
    plan: Plan,
    kept: dict[int, int],
    ids: dict[int, int],
    history: tuple[Any, ...],
) -> None:
    """Kept spans get the record's attribute values through the editor (with history); new spans get rows."""
    wanted = {(ids[index], attribute): value for index, attribute, value in plan.attributes}
    kept_spans = set(kept.values())
    for row in SpanAttribute.objects.filter(span__annotation_set=target).select_related("span", "attribute"):
        key = (row.span_id, row.attribute_id)
        if key not in wanted:
            editor.clear_attribute(row.span, row.attribute)
        elif wanted[key] != row.value:
            editor.set_attribute(row.span, row.attribute, wanted[key])
        wanted.pop(key, None)
    missing_on_kept = [
        (span, attribute, value) for (span, attribute), value in wanted.items() if span in kept_spans
    ]
    if missing_on_kept:
        spans = Span.objects.in_bulk([span for span, _, _ in missing_on_kept])
        attributes = {a.pk: a for a in importer.schema.attributes.values()}
        for span, attribute, value in missing_on_kept:
            editor.set_attribute(spans[span], attributes[attribute], value)
    importer.insert_attributes(
        [(span, attribute, value) for (span, attribute), value in wanted.items() if span not in kept_spans],
        history,
    )


def _move_spans(editor: SetEditor, moves: list[tuple[Span, int, int, Any]], text: str) -> None:
    """Give spans their new offsets. Two steps, because the database checks uniqueness row by row and
    a span may move onto the place another one is about to leave."""
    if not moves:
        return
    parked = len(text) + max(span.end for span, *_ in moves) + 1
    for span, *_ in moves:
        Span.objects.filter(pk=span.pk).update(start=span.start + parked, end=span.end + parked)
    for span, start, end, fragments in moves:
        span.start, span.end, span.surface, span.fragments = start, end, text[start:end], fragments
        span._history_user = editor.by  # type: ignore[attr-defined]  # read by simple_history
        span.save()


def _reanchor(
    importer: Importer, article: Article, mapping: OffsetMap, revision: ArticleRevision, *, skip: int | None
) -> dict[str, int]:
    """Move every set's spans (but the import's own set) and the suggestions to the new text."""
    summary = dict.fromkeys(
        ("spans_moved", "spans_changed", "spans_lost", "suggestions_moved", "suggestions_removed"), 0
    )
    sets = AnnotationSet.objects.filter(article=article)
    if skip is not None:
        sets = sets.exclude(pk=skip)
    for annotation_set in sets.select_for_update():
        spans = list(
            Span.objects.filter(annotation_set=annotation_set)
            .select_related("entity_type", "link__kb_entity")
            .order_by("start", "end", "pk")
        )
        fates = {
            span.pk: mapping.span(span.start, span.end, tuple(tuple(p) for p in span.fragments or ()))
            for span in spans
        }
        if all(
            fates[s.pk].fit == Fit.EXACT and (fates[s.pk].start, fates[s.pk].end) == (s.start, s.end)
            for s in spans
        ):
            continue
        with edit_set(
            annotation_set,
            expected_version=annotation_set.version,
            by=importer.by,
            status=annotation_set.status,
        ) as editor:
            _reanchor_set(editor, article, revision, spans, fates, summary)
    _reanchor_suggestions(article, mapping, summary)
    return summary


def _reanchor_set(
    editor: SetEditor,
    article: Article,
    revision: ArticleRevision,
    spans: list[Span],
    fates: dict[int, Moved],
    summary: dict[str, int],
) -> None:
    taken: set[tuple[int, int, int]] = set()
    reach = -1
    moves, lost, changed = [], [], []
    overlaps_allowed = article.project.allow_overlapping_spans
    for span in spans:
        fate = fates[span.pk]
        key = (fate.start, fate.end, span.entity_type_id)
        if fate.fit == Fit.LOST or key in taken or (not overlaps_allowed and fate.start < reach):
            lost.append(span)
            continue
        taken.add(key)
        reach = max(reach, fate.end)
        moves.append((span, fate.start, fate.end, [list(p) for p in fate.fragments] or None))
        if fate.fit == Fit.CHANGED:
            changed.append((span, span.start, span.end, span.surface))
        else:
            summary["spans_moved"] += 1
    for span in lost:
        ReanchorFlag.objects.create(
            article=article, revision=revision, annotation_set=editor.annotation_set, kind=FlagKind.LOST,
            label=span.entity_type.name, old_start=span.start, old_end=span.end, old_surface=span.surface,
            detail=_snapshot(span),
        )  # fmt: skip
        editor.remove_span(span)
    summary["spans_lost"] += len(lost)
    _move_spans(
        editor,
        [m for m in moves if (m[1], m[2], m[3]) != (m[0].start, m[0].end, m[0].fragments)],
        article.text,
    )
    for span, old_start, old_end, old_surface in changed:
        ReanchorFlag.objects.create(
            article=article, revision=revision, annotation_set=editor.annotation_set, span=span,
            kind=FlagKind.CHANGED, label=span.entity_type.name, old_start=old_start, old_end=old_end,
            old_surface=old_surface, new_start=span.start, new_end=span.end, new_surface=span.surface,
        )  # fmt: skip
    summary["spans_changed"] += len(changed)


def _snapshot(span: Span) -> dict[str, Any]:
    """Everything that goes with a span that is about to be removed, for the flag that keeps it."""
    link = getattr(span, "link", None)
    relations = [
        {"type": r.relation_type.name, "role": "head", "other": r.tail.surface, "other_start": r.tail.start}
        for r in Relation.objects.filter(head=span).select_related("relation_type", "tail")
    ] + [
        {"type": r.relation_type.name, "role": "tail", "other": r.head.surface, "other_start": r.head.start}
        for r in Relation.objects.filter(tail=span).select_related("relation_type", "head")
    ]
    return {
        "fragments": span.fragments,
        "link": None if link is None else {"kb_id": link.kb_entity.kb_id if link.kb_entity else None},
        "relations": relations,
    }


def _reanchor_suggestions(article: Article, mapping: OffsetMap, summary: dict[str, int]) -> None:
    """Suggestions are model output for the old text: moved when intact, kept (moved) when a decision
    refers to them and something is left, removed otherwise (pre-annotation suggests again)."""
    decided = Exists(Decision.objects.filter(suggestion=OuterRef("pk")))
    removed = []
    for suggestion in Suggestion.objects.filter(article=article).annotate(decided=decided):
        head = mapping.span(suggestion.start, suggestion.end)
        tail = None
        if suggestion.tail_start is not None and suggestion.tail_end is not None:
            tail = mapping.span(suggestion.tail_start, suggestion.tail_end)
        fates = [head] + ([tail] if tail else [])
        intact = all(fate.fit == Fit.EXACT for fate in fates)
        if intact or (suggestion.decided and all(fate.fit != Fit.LOST for fate in fates)):
            fields = {"start": head.start, "end": head.end}
            if tail is not None:
                fields |= {"tail_start": tail.start, "tail_end": tail.end}
            Suggestion.objects.filter(pk=suggestion.pk).update(**fields)
            summary["suggestions_moved"] += 1
        else:
            removed.append(suggestion.pk)
    Suggestion.objects.filter(pk__in=removed).delete()
    summary["suggestions_removed"] += len(removed)
