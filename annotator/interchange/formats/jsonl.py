"""JSON Lines, the native format: one article per line, optionally with its entities, relations and links.

    {"external_id": "a1", "title": "…", "text": "…", "metadata": {"url": "…"},
     "entities": [{"id": "T1", "start": 0, "end": 16, "label": "PERSON", "text": "Sergey Naryshkin",
                   "kb_id": "Q315514", "kb": "Wikidata"},
                  {"id": "T2", "start": 20, "end": 31, "label": "ORG", "fragments": [[20, 24], [27, 31]]}],
     "relations": [{"head": "T1", "tail": "T2", "label": "head_of"}]}

An entity may carry `attributes`, an object of its attribute values: `{"Negated": true, "Certainty":
"probable"}` (`true`/`false` for a yes-or-no attribute, a text for the others).

A file holding one pretty-printed object, several, or a JSON array of them is read as what it is (items
are then named `[0]`, `[1]`... instead of lines). Only `text` is required. An entity's `id` defaults to
its position in the list, and relations may refer to entities by id or by position. `kb_id` links the
entity (null: NIL, known not to be in the KB); without the key the entity is not linked. A line with
`entities` or `relations` is annotated: importing it again makes the set hold exactly what the line
holds. Unknown keys are refused, so that a misspelt
`entites` is an error rather than lost annotations; put anything else in `metadata`.

Exports add `provenance` objects to the line (the set: gold or whose, its status, version, guideline
version), to entities (who made it and when, the suggestion it came from, who linked it) and to
relations; imports ignore them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Any, ClassVar

import ijson
import orjson

from annotator.interchange.formats.base import (
    DocumentRecord,
    LinkRecord,
    MemberContext,
    ProblemLog,
    RelationRecord,
    SpanRecord,
    StreamReader,
    Where,
    attribute_pairs,
    span_record,
)
from annotator.interchange.formats.jsonfields import (
    Invalid,
    collecting,
    each,
    get,
    identifier,
    ijson_reason,
    json_kind,
    offset,
    report,
    require,
)
from annotator.interchange.formats.lines import BOM, byte_lines, decode
from annotator.interchange.formats.writing import links_by_span, surface

# `provenance` (who made an annotation, when, from which suggestion) is written by exports and ignored
# by imports, which make their own rows.
DOCUMENT_KEYS = frozenset({"external_id", "title", "text", "metadata", "entities", "relations", "provenance"})
ENTITY_KEYS = frozenset(
    {"id", "start", "end", "label", "text", "fragments", "kb_id", "kb", "attributes", "provenance"}
)
RELATION_KEYS = frozenset({"id", "head", "tail", "label", "provenance"})
QUICK_ENTITY_KEYS = ENTITY_KEYS - {"fragments", "attributes"}  # what quick_document reads itself


def parse_line(line: bytes, where: Where, problems: ProblemLog) -> dict[str, Any] | None:
    """One JSON object from one line, or None (blank lines are skipped; anything else wrong is reported)."""
    if not line.strip():
        return None
    if (nul := line.find(b"\x00")) >= 0:
        problems.add(where, f"The line contains a NUL byte at column {nul + 1}.")
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        if decode(line, where, problems, line=where.line) is None:
            return None
        if error.msg == "unexpected end of data" or error.pos >= len(line.rstrip()):
            message = "The line ends in the middle of its JSON: the file looks cut short."
        elif "surrogate" in error.msg:
            message = f"The line holds a lone surrogate escape (\\ud800-\\udfff) at column {error.colno}."
        else:
            message = f"The line is not valid JSON: {error.msg} at column {error.colno}."
        problems.add(where, message)
        return None
    if not isinstance(value, dict):
        problems.add(where, f"Each line must be a JSON object, not {json_kind(value)}.")
        return None
    return value


def json_objects(
    stream: IO[bytes], context: MemberContext, problems: ProblemLog
) -> Iterator[tuple[Where, dict[str, Any]]]:
    """The JSON objects of a member with where each is: one per line (JSON Lines), or, read as what the file
    is, the items of a JSON array (`[{...}, {...}]`) or pretty-printed objects one after the other."""
    head = stream.peek(2**16)  # type: ignore[attr-defined]
    start = head[len(BOM) :] if head.startswith(BOM) else head
    first = start.lstrip()[:1]
    shape = None
    line = start.lstrip().split(b"\n", 1)[0].rstrip()
    if first == b"[":
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            shape = "item"  # an array spread over lines
        else:  # an array of objects on one line; other arrays are lines that are not objects (reported)
            shape = "item" if value and all(isinstance(item, dict) for item in value) else None
    elif first == b"{" and not line.endswith(b"}"):  # an object over several lines: pretty-printed JSON
        shape = ""
    if shape is None:
        for number, raw in byte_lines(
            stream, context.where, problems, max_bytes=context.limits.max_record_bytes
        ):
            at = context.at(number)
            if (obj := parse_line(raw, at, problems)) is not None:
                yield at, obj
        return
    if head.startswith(BOM):
        stream.read(len(BOM))
    index = -1
    try:
        items = ijson.items(stream, shape, use_float=True, multiple_values=True)
        for index, item in enumerate(items):
            at = context.at(item=f"[{index}]")
            if isinstance(item, dict):
                yield at, item
            else:
                problems.add(at, f"Each item must be a JSON object, not {json_kind(item)}.")
    except (ijson.JSONError, UnicodeDecodeError) as error:
        problems.add(
            context.at(item=f"[{index + 1}]"),
            f"The JSON cannot be read past this item: {ijson_reason(error)}.",
        )


def refuse_unknown(obj: dict[str, Any], allowed: frozenset[str], path: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        field = f"{path}.{unknown[0]}" if path else unknown[0]
        raise Invalid(field, f"Unknown field {unknown[0]!r}; the fields are: {', '.join(sorted(allowed))}.")


def attributes_of(obj: dict[str, Any], path: str) -> tuple[tuple[str, bool | str], ...]:
    """An entity's `attributes` object: names to true/false or a non-empty text."""
    values = get(obj, "attributes", dict, path, required=False) or {}
    for name, value in values.items():
        if not name.strip():
            raise Invalid(f"{path}.attributes", "An attribute needs a name.")
        if not isinstance(value, bool | str):
            raise Invalid(
                f"{path}.attributes.{name}",
                f"An attribute value is true, false or a text, not {json_kind(value)}.",
            )
        if isinstance(value, str) and not value.strip():
            raise Invalid(
                f"{path}.attributes.{name}", "An attribute's text is empty: leave the attribute out."
            )
    return attribute_pairs(values)


def fragments_of(obj: dict[str, Any], path: str) -> tuple[tuple[int, int], ...]:
    pieces = get(obj, "fragments", list, path, required=False) or []
    result = []
    for index, piece in enumerate(pieces):
        valid = isinstance(piece, list) and len(piece) == 2
        if not valid or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in piece):
            raise Invalid(f"{path}.fragments[{index}]", "Each fragment must be [start, end], two offsets.")
        result.append((piece[0], piece[1]))
    return tuple(result)


class JsonLines(StreamReader):
    name: ClassVar[str] = "jsonl"
    label: ClassVar[str] = "JSON Lines (native)"
    suffixes: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson", ".json")

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        for at, obj in json_objects(stream, context, problems):
            record = quick_document(obj, at)
            if record is None:
                record = self.document(obj, at, problems)
            if record is not None:
                yield record

    def document(self, obj: dict[str, Any], where: Where, problems: ProblemLog) -> DocumentRecord | None:
        """The record, with every field checked and every problem reported (the careful path)."""
        errors: list[Invalid] = []
        text = external_id = None
        title, metadata = "", {}
        if "paragraphs" in obj and "text" not in obj:
            problems.add(
                where,
                "This is spaCy's v2 training JSON (paragraphs of tokens), not JSON Lines: convert it to a DocBin "
                "with `python -m spacy convert` and import that.",
            )
            return None
        with collecting(errors):
            refuse_unknown(obj, DOCUMENT_KEYS, "")
        with collecting(errors):
            text = require(obj, "text", str, "")
        if obj.get("external_id") is not None:
            with collecting(errors):
                external_id = identifier(obj["external_id"], "external_id")
        with collecting(errors):
            title = get(obj, "title", str, "", required=False) or ""
        with collecting(errors):
            metadata = get(obj, "metadata", dict, "", required=False) or {}
        entities = obj.get("entities") or []
        relations = obj.get("relations") or []
        for key, value in (("entities", entities), ("relations", relations)):
            if not isinstance(value, list):
                errors.append(Invalid(key, f"{key!r} must be a list, not {json_kind(value)}."))
        spans: list[SpanRecord] = []
        links: list[LinkRecord] = []
        if isinstance(entities, list):
            for span, link in each(
                entities, "entities", lambda item, path: self.entity(item, path, where), errors
            ):
                spans.append(span)
                if link is not None:
                    links.append(link)
        ids = [span.id for span in spans]
        parsed_relations: list[RelationRecord] = []
        if isinstance(relations, list):
            parsed_relations = list(
                each(relations, "relations", lambda item, path: self.relation(item, path, ids, where), errors)
            )
        if errors or text is None:
            report(errors, problems, where)
            return None
        return DocumentRecord(
            text=text,
            external_id=external_id,
            title=title,
            metadata=metadata,
            annotated="entities" in obj or "relations" in obj,
            spans=tuple(spans),
            relations=tuple(parsed_relations),
            links=tuple(links),
            where=where,
        )

    def entity(self, item: dict[str, Any], path: str, where: Where) -> tuple[SpanRecord, LinkRecord | None]:
        refuse_unknown(item, ENTITY_KEYS, path)
        index = int(path.rsplit("[", 1)[1].rstrip("]"))
        span_id = identifier(item["id"], f"{path}.id") if "id" in item else str(index)
        span = SpanRecord(
            id=span_id,
            start=offset(item, "start", path),
            end=offset(item, "end", path),
            label=require(item, "label", str, path),
            text=get(item, "text", str, path, required=False),
            fragments=fragments_of(item, path),
            attributes=attributes_of(item, path),
            where=where,
        )
        link = None
        if "kb_id" in item:
            kb_id = get(item, "kb_id", str, path, required=False)
            link = LinkRecord(span_id, kb_id, get(item, "kb", str, path, required=False), where)
        return span, link

    def relation(self, item: dict[str, Any], path: str, ids: list[str], where: Where) -> RelationRecord:
        refuse_unknown(item, RELATION_KEYS, path)

        def end(key: str) -> str:
            value = item.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                if not 0 <= value < len(ids):
                    raise Invalid(
                        f"{path}.{key}", f"{key!r} is entity number {value}, but there are {len(ids)}."
                    )
                return ids[value]
            if value is None:
                raise Invalid(f"{path}.{key}", f"The field {key!r} is missing.")
            return identifier(value, f"{path}.{key}")

        relation_id = get(item, "id", str, path, required=False)
        return RelationRecord(end("head"), end("tail"), require(item, "label", str, path), relation_id, where)


def _quick_id(value: Any, default: str) -> str | None:
    if value is None:
        return default
    if type(value) is str and value:
        return value
    return str(value) if type(value) is int else None


def quick_document(obj: dict[str, Any], where: Where) -> DocumentRecord | None:
    """The record of a well-formed line, read with as little work as possible; None for anything unusual.

    Most lines of a big import are well formed, and this is the import's hot loop. Anything this does
    not accept goes through `JsonLines.document`, which reads the same fields the same way but checks
    and reports every one (a test holds the two to the same records).
    """
    text, external_id = obj.get("text"), obj.get("external_id")
    title, metadata = obj.get("title") or "", obj.get("metadata") or {}
    entities, relations = obj.get("entities") or [], obj.get("relations") or []
    if not (
        obj.keys() <= DOCUMENT_KEYS
        and type(text) is str
        and (external_id is None or (type(external_id) is str and external_id))
        and type(title) is str
        and type(metadata) is dict
        and type(entities) is list
        and type(relations) is list
    ):
        return None
    spans, links, ids = [], [], []
    get = dict.get
    for index, item in enumerate(entities):
        if type(item) is not dict or not item.keys() <= QUICK_ENTITY_KEYS:
            return None
        start, end, label, surface = (
            get(item, "start"),
            get(item, "end"),
            get(item, "label"),
            get(item, "text"),
        )
        span_id = get(item, "id")
        if span_id is None:
            span_id = str(index)
        elif type(span_id) is not str or not span_id:
            span_id = _quick_id(span_id, "")
        if not (
            type(start) is int
            and type(end) is int
            and start >= 0
            and end >= 0
            and type(label) is str
            and (surface is None or type(surface) is str)
            and span_id
        ):
            return None
        spans.append(span_record(span_id, start, end, label, surface, where))
        ids.append(span_id)
        if "kb_id" in item:
            kb_id, kb = item["kb_id"], item.get("kb")
            if not ((kb_id is None or type(kb_id) is str) and (kb is None or type(kb) is str)):
                return None
            links.append(LinkRecord(span_id, kb_id, kb, where))
    parsed = []
    for item in relations:
        if type(item) is not dict or not item.keys() <= RELATION_KEYS:
            return None
        ends = []
        for key in ("head", "tail"):
            value = item.get(key)
            if type(value) is int:
                if not 0 <= value < len(ids):
                    return None
                value = ids[value]
            if type(value) is not str or not value:
                return None
            ends.append(value)
        label, relation_id = item.get("label"), item.get("id")
        if type(label) is not str or not (relation_id is None or type(relation_id) is str):
            return None
        parsed.append(RelationRecord(ends[0], ends[1], label, relation_id, where))
    return DocumentRecord(
        text=text,
        external_id=external_id,
        title=title,
        metadata=metadata,
        annotated="entities" in obj or "relations" in obj,
        spans=tuple(spans),
        relations=tuple(parsed),
        links=tuple(links),
        where=where,
    )


class JsonLinesWriter:
    """One JSON object per line, everything the native reader reads, plus provenance."""

    name: ClassVar[str] = "jsonl"
    label: ClassVar[str] = "JSON Lines (native, with provenance)"
    media_type: ClassVar[str] = "application/x-ndjson"
    extension: ClassVar[str] = ".jsonl"
    streamable: ClassVar[bool] = True

    def write(self, documents: Iterable[DocumentRecord]) -> Iterator[bytes]:
        for record in documents:
            yield orjson.dumps(self.line(record)) + b"\n"

    @staticmethod
    def line(record: DocumentRecord) -> dict[str, Any]:
        links = links_by_span(record)
        entities = []
        for span in record.spans:
            entity: dict[str, Any] = {
                "id": span.id, "start": span.start, "end": span.end, "label": span.label,
                "text": surface(record, span),
            }  # fmt: skip
            if span.fragments:
                entity["fragments"] = [list(piece) for piece in span.fragments]
            if span.attributes:
                entity["attributes"] = dict(span.attributes)
            provenance = span.provenance
            if (link := links.get(span.id)) is not None:
                entity["kb_id"] = link.kb_id
                if link.kb is not None:
                    entity["kb"] = link.kb
                if link.provenance:
                    provenance = {**(provenance or {}), "link": link.provenance}
            if provenance:
                entity["provenance"] = provenance
            entities.append(entity)
        line: dict[str, Any] = {"external_id": record.external_id, "title": record.title, "text": record.text}
        if record.metadata:
            line["metadata"] = record.metadata
        if record.annotated:
            line["entities"] = entities
            line["relations"] = [
                {"id": relation.id, "head": relation.head, "tail": relation.tail, "label": relation.label}
                | ({"provenance": relation.provenance} if relation.provenance else {})
                for relation in record.relations
            ]
        if record.provenance:
            line["provenance"] = record.provenance
        return line
