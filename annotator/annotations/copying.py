"""Copying annotations from one set into another (gold), inside an edit of the target set.

A span is copied with what it says: its link and its attribute values.

Items are matched by their natural keys, not ids: a span by (start, end, entity type), a relation by its
spans' keys and its type, so that copying what the target already has changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from annotator.annotations.models import EntityLink, Relation, Span, SpanAttribute

if TYPE_CHECKING:
    from annotator.annotations.editing import SetEditor

SpanKey = tuple[int, int, int]

# What copying reads of a source span and relation: load them with these, and copying costs no more reads.
SPAN_PARTS = ("entity_type", "link__kb_entity")
RELATION_PARTS = (
    "relation_type",
    "head__entity_type",
    "tail__entity_type",
    "head__link__kb_entity",
    "tail__link__kb_entity",
)


def span_key(span: Span) -> SpanKey:
    return (span.start, span.end, span.entity_type_id)


def link_of(span: Span) -> EntityLink | None:
    try:
        return span.link
    except EntityLink.DoesNotExist:
        return None


def link_value(span: Span) -> int | str | None:
    """What a span's link says: a KB entity id, "NIL", or None when it has no link."""
    link = link_of(span)
    if link is None:
        return None
    return "NIL" if link.kb_entity_id is None else link.kb_entity_id


def copy_span(editor: SetEditor, span: Span, *, with_link: bool = True) -> tuple[Span, bool]:
    """The target's span with the source span's key, made if missing; (span, whether anything changed).

    With `with_link`, the target's link is made to say what the source's says (including no link).
    """
    target = editor.find_span(start=span.start, end=span.end, entity_type=span.entity_type)
    changed = target is None
    if target is None:
        target = editor.add_span(start=span.start, end=span.end, entity_type=span.entity_type)
    if with_link:
        changed |= _copy_link(editor, span, target)
        changed |= _copy_attributes(editor, span, target)
    return target, changed


def _copy_link(editor: SetEditor, source: Span, target: Span) -> bool:
    wanted, current = link_of(source), EntityLink.objects.filter(span=target).first()
    if wanted is None:
        if current is None:
            return False
        editor.unlink(target)
        return True
    if current is not None and current.kb_entity_id == wanted.kb_entity_id:
        return False
    editor.link(target, wanted.kb_entity)
    return True


def _copy_attributes(editor: SetEditor, source: Span, target: Span) -> bool:
    """Make the target's attribute values those of the source (same type, so same attributes)."""
    wanted = {row.attribute_id: row for row in source.attribute_values.select_related("attribute")}
    changed = False
    for current in SpanAttribute.objects.filter(span=target).select_related("attribute"):
        source_row = wanted.pop(current.attribute_id, None)
        if source_row is None:
            editor.clear_attribute(target, current.attribute)
            changed = True
        elif current.value != source_row.value:
            editor.set_attribute(target, current.attribute, source_row.value)
            changed = True
    for row in wanted.values():
        editor.set_attribute(target, row.attribute, row.value)
        changed = True
    return changed


def copy_relation(editor: SetEditor, relation: Relation) -> tuple[Relation, bool]:
    """The target's relation between copies of the source's head and tail (made as needed, links kept)."""
    head, head_new = copy_span(editor, relation.head, with_link=False)
    tail, tail_new = copy_span(editor, relation.tail, with_link=False)
    if head_new:
        _copy_link(editor, relation.head, head)
        _copy_attributes(editor, relation.head, head)
    if tail_new:
        _copy_link(editor, relation.tail, tail)
        _copy_attributes(editor, relation.tail, tail)
    existing = editor.find_relation(head=head, tail=tail, relation_type=relation.relation_type)
    if existing is not None:
        return existing, head_new or tail_new
    return editor.add_relation(head=head, tail=tail, relation_type=relation.relation_type), True


def replace_contents(editor: SetEditor, spans: list[Span], relations: list[Relation]) -> None:
    """Make the target hold exactly these spans (with their links) and relations."""
    for span in Span.objects.filter(annotation_set=editor.annotation_set).select_related("entity_type"):
        editor.remove_span(span)
    for span in spans:
        copy_span(editor, span)
    for relation in relations:
        copy_relation(editor, relation)
