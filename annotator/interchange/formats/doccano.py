"""doccano JSONL, both variants doccano exports for sequence labelling, told apart line by line.

    {"text": "…", "label": [[0, 16, "PERSON"], [25, 30, "GPE"]]}                       (plain)
    {"text": "…", "entities": [{"id": 1, "label": "PERSON", "start_offset": 0, "end_offset": 16}],
     "relations": [{"id": 1, "from_id": 1, "to_id": 2, "type": "visited"}]}             (relations)

doccano's own `id` is kept in the metadata as `doccano_id`; an `external_id` key becomes the external
id; every other key (doccano writes its metadata at the top level) goes into the metadata.

The writer writes the relation variant, with `external_id`, `title` and the metadata at the top level
(a metadata key that doccano itself uses, like `text` or `entities`, is left out). doccano has no place
for KB links.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, ClassVar

import orjson

from annotator.interchange.formats.base import (
    DocumentRecord,
    FormatError,
    MemberContext,
    ProblemLog,
    RelationRecord,
    SpanRecord,
    StreamReader,
    Where,
)
from annotator.interchange.formats.jsonfields import (
    Invalid,
    collecting,
    each,
    get,
    identifier,
    json_kind,
    offset,
    report,
    require,
)
from annotator.interchange.formats.jsonl import json_objects
from annotator.interchange.formats.merging import merge_duplicates

_ANNOTATION_KEYS = ("label", "labels", "entities", "relations", "annotations")


class Doccano(StreamReader):
    name: ClassVar[str] = "doccano"
    label: ClassVar[str] = "doccano JSONL (plain or with relations)"
    suffixes: ClassVar[tuple[str, ...]] = (".jsonl", ".json")
    option_names: ClassVar[frozenset[str]] = frozenset({"text", "label"})

    def check_options(self, options: Mapping[str, Any]) -> None:
        super().check_options(options)
        for key in ("text", "label"):
            if key in options and not (isinstance(options[key], str) and options[key]):
                raise FormatError(f"The doccano {key} option must name a key of the lines (a column).")

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        text_key, label_key = context.options.get("text", "text"), context.options.get("label")
        for at, obj in json_objects(stream, context, problems):
            if text_key != "text" and text_key in obj:
                obj["text"] = obj.pop(text_key)
            if label_key is not None and label_key in obj:
                obj["label"] = obj.pop(label_key)
            if (record := self.document(obj, at, problems)) is not None:
                yield record

    def document(self, obj: dict[str, Any], where: Where, problems: ProblemLog) -> DocumentRecord | None:
        errors: list[Invalid] = []
        text, external_id = None, None
        with collecting(errors):
            if obj.get("text") is None:
                keys = ", ".join(sorted(map(str, obj))) or "nothing"
                raise Invalid(
                    "text",
                    f"The line has no text (it holds: {keys}). Only text is imported; name the key that holds "
                    "it with the text option.",
                )
            text = require(obj, "text", str, "")
        for key in ("external_id", "id"):  # doccano's own id is the document's id when nothing else is
            if obj.get(key) is not None and external_id is None:
                with collecting(errors):
                    external_id = identifier(obj[key], key)
        spans: list[SpanRecord] = []
        relations: list[RelationRecord] = []
        categories: list[Any] = []
        if "entities" in obj or "relations" in obj:
            with collecting(errors):
                spans, relations = self.with_relations(obj, where, errors)
        if "annotations" in obj:  # doccano 1.x: every annotator's spans in one list, labels by name or number
            with collecting(errors):
                spans.extend(self.annotations(obj["annotations"], where, problems, errors, categories))
        for key in ("label", "labels"):
            triples = obj.get(key) or []
            if not isinstance(triples, list):
                errors.append(
                    Invalid(key, f"{key!r} must be a list of [start, end, label], not {json_kind(triples)}.")
                )
                continue
            for index, triple in enumerate(triples):
                if isinstance(triple, str):  # a text classification label: the document's category
                    categories.append(triple)
                    continue
                with collecting(errors):
                    spans.append(self.triple(triple, f"{key}[{index}]", where))
        if errors or text is None:
            report(errors, problems, where)
            return None
        metadata = {
            k: v for k, v in obj.items() if k not in ("text", "external_id", "id", "meta", *_ANNOTATION_KEYS)
        }
        if isinstance(obj.get("meta"), dict):
            metadata.update(obj["meta"])  # doccano 1.x keeps the document's metadata under `meta`
        elif obj.get("meta") is not None:
            metadata["meta"] = obj["meta"]
        if "id" in obj:
            metadata["doccano_id"] = obj["id"]
        if categories:
            metadata["categories"] = categories
        merged, kept_relations = merge_duplicates(spans, relations, where, problems)
        return DocumentRecord(
            text=text,
            external_id=external_id,
            metadata=metadata,
            annotated=True,
            spans=merged,
            relations=kept_relations,
            where=where,
        )

    @staticmethod
    def triple(triple: Any, path: str, where: Where) -> SpanRecord:
        if not (isinstance(triple, list) and len(triple) == 3):
            raise Invalid(path, "Each label must be [start, end, label].")
        start, end, label = triple
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (start, end)):
            raise Invalid(path, "The start and end of a label must be offsets (whole numbers from 0).")
        if not isinstance(label, str):
            raise Invalid(path, f"The label must be a string, not {json_kind(label)}.")
        return SpanRecord(path.rsplit("[", 1)[1].rstrip("]"), start, end, label, where=where)

    @staticmethod
    def annotations(
        items: Any, where: Where, problems: ProblemLog, errors: list[Invalid], categories: list[Any]
    ) -> list[SpanRecord]:
        """doccano 1.x `annotations`: spans with offsets, and document categories (a label, no offsets)."""
        if not isinstance(items, list):
            raise Invalid("annotations", f"'annotations' must be a list, not {json_kind(items)}.")
        spans = []
        for index, item in enumerate(items):
            path = f"annotations[{index}]"
            if not isinstance(item, dict):
                errors.append(Invalid(path, f"Each annotation must be an object, not {json_kind(item)}."))
                continue
            label = item.get("label")
            if isinstance(label, bool) or not isinstance(label, str | int):
                errors.append(Invalid(f"{path}.label", "The label must be a name or a number."))
                continue
            if isinstance(label, int):
                problems.warn(
                    where,
                    f"The label is doccano's number {label} (this export does not name its labels): "
                    f"it is kept as the label {str(label)!r}; rename the type once imported.",
                    kind="numbered doccano label",
                    action="kept as its number",
                    field=f"{path}.label",
                )
            if "start_offset" not in item and "end_offset" not in item:
                categories.append(label)
                continue
            with collecting(errors):
                spans.append(
                    SpanRecord(
                        f"annotations-{index}",
                        offset(item, "start_offset", path),
                        offset(item, "end_offset", path),
                        str(label),
                        where=where,
                    )
                )
        return spans

    @staticmethod
    def with_relations(
        obj: dict[str, Any], where: Where, errors: list[Invalid]
    ) -> tuple[list[SpanRecord], list[RelationRecord]]:
        entities = get(obj, "entities", list, "", required=False) or []
        relations = get(obj, "relations", list, "", required=False) or []
        spans: list[SpanRecord] = []
        for index, item in enumerate(entities):
            if isinstance(item, list):  # `[start, end, label]`, as in doccano's own examples
                with collecting(errors):
                    spans.append(Doccano.triple(item, f"entities[{index}]", where))

        def entity(item: dict[str, Any], path: str) -> SpanRecord:
            return SpanRecord(
                id=identifier(item.get("id"), f"{path}.id"),
                start=offset(item, "start_offset", path),
                end=offset(item, "end_offset", path),
                label=require(item, "label", str, path),
                where=where,
            )

        def relation(item: dict[str, Any], path: str) -> RelationRecord:
            relation_id = item.get("id")
            return RelationRecord(
                head=identifier(item.get("from_id"), f"{path}.from_id"),
                tail=identifier(item.get("to_id"), f"{path}.to_id"),
                label=require(item, "type", str, path),
                id=None if relation_id is None else identifier(relation_id, f"{path}.id"),
                where=where,
            )

        objects = [item for item in entities if not isinstance(item, list)]
        spans.extend(each(objects, "entities", entity, errors))
        return spans, list(each(relations, "relations", relation, errors))


class DoccanoWriter:
    """doccano's relation variant: numbered entities and relations between them."""

    name: ClassVar[str] = "doccano"
    label: ClassVar[str] = "doccano JSONL (with relations)"
    media_type: ClassVar[str] = "application/x-ndjson"
    extension: ClassVar[str] = ".jsonl"
    streamable: ClassVar[bool] = True

    def write(self, documents: Iterable[DocumentRecord]) -> Iterator[bytes]:
        reserved = {"text", "id", "external_id", "title", *_ANNOTATION_KEYS}
        for record in documents:
            numbers = {span.id: number for number, span in enumerate(record.spans, start=1)}
            line: dict[str, Any] = {
                key: value for key, value in record.metadata.items() if key not in reserved
            }
            line |= {"text": record.text, "external_id": record.external_id}
            if record.title:
                line["title"] = record.title
            line["entities"] = [
                {
                    "id": numbers[span.id],
                    "label": span.label,
                    "start_offset": span.start,
                    "end_offset": span.end,
                }
                for span in record.spans
            ]
            line["relations"] = [
                {"id": number, "from_id": numbers[relation.head], "to_id": numbers[relation.tail],
                 "type": relation.label}
                for number, relation in enumerate(record.relations, start=1)
            ]  # fmt: skip
            yield orjson.dumps(line) + b"\n"
