"""Identical annotations given twice (two annotators' copies in one export, a tool's own duplicates):
kept once, with a warning, and relations to the copy moved onto the span that is kept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from annotator.interchange.formats.base import ProblemLog, RelationRecord, SpanRecord, Where


def merge_duplicates(
    spans: Iterable[SpanRecord],
    relations: Iterable[RelationRecord],
    where: Where,
    problems: ProblemLog,
) -> tuple[tuple[SpanRecord, ...], tuple[RelationRecord, ...]]:
    """The spans with each (start, end, label, fragments, attributes) once, and the relations with their
    ends moved to the kept copies (a relation that then repeats another is merged too)."""
    kept: dict[tuple[object, ...], SpanRecord] = {}
    moved: dict[str, str] = {}
    for span in spans:
        key = (span.start, span.end, span.label, span.fragments, span.attributes)
        first = kept.get(key)
        if first is None:
            kept[key] = span
            continue
        moved[span.id] = first.id
        problems.warn(
            span.where or where,
            f"The {span.label} span at [{span.start}, {span.end}) is there twice ({first.id} and {span.id}): "
            "it is imported once.",
            kind="duplicate span",
            action="merged",
            field=f"entities[{span.id}]",
        )
    if not moved:
        return tuple(kept.values()), tuple(relations)
    seen: set[tuple[str, str, str]] = set()
    result = []
    for relation in relations:
        relation = replace(
            relation,
            head=moved.get(relation.head, relation.head),
            tail=moved.get(relation.tail, relation.tail),
        )
        ends = (relation.head, relation.tail, relation.label)
        if relation.head == relation.tail:
            problems.warn(
                relation.where or where,
                f"The relation {relation.label} joined a span to its own duplicate: once they are merged there "
                "is nothing to relate, and it is skipped.",
                kind="duplicate-joining relation",
                action="skipped",
            )
            continue
        if ends in seen:
            problems.warn(
                relation.where or where,
                f"The relation {relation.head} -{relation.label}-> {relation.tail} is there twice once the "
                "duplicate spans are merged: it is imported once.",
                kind="duplicate relation",
                action="merged",
            )
            continue
        seen.add(ends)
        result.append(relation)
    return tuple(kept.values()), tuple(result)
