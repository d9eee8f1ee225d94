"""Label Studio JSON export: a JSON array of tasks, read one task at a time (ijson) whatever its size.

    [{"id": 7, "data": {"text": "…", "external_id": "a1"},
      "annotations": [{"result": [
          {"id": "r1", "type": "labels", "value": {"start": 0, "end": 16, "text": "Sergey Naryshkin",
                                                   "labels": ["PERSON"]}},
          {"type": "relation", "from_id": "r1", "to_id": "r2", "direction": "right", "labels": ["visited"]}]}]}]

The text is `data.text` (option `text_key` names another key); `data.external_id` and `data.title`
become those fields and the other data keys, with the task's `meta`, the metadata (Label Studio's task
id as `label_studio_id`). The first annotation that was not cancelled is imported; predictions are model
output, not annotations, and are left out (pre-annotation is its own job), as are results other than
`labels` and `relation` (choices, ratings...). A region with several labels is one span per label.
Older Label Studio versions counted offsets in UTF-16 units: when the offsets only match the region's
text that way, they are converted to code points.

The writer streams one array: `data` holds the text, external id and title, `meta` the metadata, and
one annotation per task holds a `labels` region per span (offsets in code points, with the region's
text) and a `relation` result per relation. Label Studio has no place for KB links.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, ClassVar

import ijson
import orjson

from annotator.core.offsets import OffsetError, Utf16Index
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
    get,
    identifier,
    json_kind,
    report,
    require,
)
from annotator.interchange.formats.lines import BOM


class LabelStudio(StreamReader):
    name: ClassVar[str] = "labelstudio"
    label: ClassVar[str] = "Label Studio JSON"
    suffixes: ClassVar[tuple[str, ...]] = (".json",)
    option_names: ClassVar[frozenset[str]] = frozenset({"text_key"})

    def check_options(self, options: Mapping[str, Any]) -> None:
        super().check_options(options)
        if not isinstance(options.get("text_key", "text"), str) or not options.get("text_key", "text"):
            raise FormatError("The Label Studio text_key option must name a key of the tasks' data.")

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        head = stream.peek(64)  # type: ignore[attr-defined]
        if head.startswith(BOM):
            stream.read(len(BOM))
            head = head[len(BOM) :]
        first = head.lstrip()[:1]
        if first not in (b"[", b"{"):
            problems.add(
                context.where, "A Label Studio export is a JSON array of tasks (it starts with '[')."
            )
            return
        tasks = ijson.items(stream, "item" if first == b"[" else "", use_float=True)
        text_key = context.options.get("text_key", "text")
        index = -1
        try:
            for index, task in enumerate(tasks):  # the index names the task where the JSON breaks
                where = context.at(item=f"[{index}]")
                if not isinstance(task, dict):
                    problems.add(where, f"Each task must be a JSON object, not {json_kind(task)}.")
                    continue
                if (record := self.document(task, text_key, where, problems)) is not None:
                    yield record
        except (ijson.JSONError, UnicodeDecodeError) as error:
            # ijson's C backend reports bad UTF-8 as a JSONError, its Python backend as a UnicodeDecodeError.
            message = error.args[0] if error.args and isinstance(error, ijson.JSONError) else ""
            # yajl's messages come as bytes: show their first line, not a Python bytes literal
            message = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
            reason = message.strip().splitlines()[0].rstrip(".") if message.strip() else type(error).__name__
            if "premature EOF" in reason:
                reason = "the file ends in the middle of the JSON: it looks cut short"
            elif "invalid bytes in UTF8" in reason or isinstance(error, UnicodeDecodeError):
                reason = "the text is not UTF-8; save the file as UTF-8"
            problems.add(
                context.at(item=f"[{index + 1}]"), f"The JSON cannot be read past this task: {reason}."
            )

    def document(
        self, task: dict[str, Any], text_key: str, where: Where, problems: ProblemLog
    ) -> DocumentRecord | None:
        errors: list[Invalid] = []
        data: dict[str, Any] = {}
        text: str | None = None
        external_id: str | None = None
        with collecting(errors):
            data = require(task, "data", dict, "")
            text = require(data, text_key, str, "data")
            if data.get("external_id") is not None:
                external_id = identifier(data["external_id"], "data.external_id")
        title = data["title"] if isinstance(data.get("title"), str) else ""
        metadata = {k: v for k, v in data.items() if k not in (text_key, "external_id", "title")}
        with collecting(errors):
            metadata.update(get(task, "meta", dict, "", required=False) or {})
        if "id" in task:
            metadata["label_studio_id"] = task["id"]
        spans: list[SpanRecord] = []
        relations: list[RelationRecord] = []
        annotated = False
        with collecting(errors):
            annotations = get(task, "annotations", list, "", required=False) or []
            chosen = next(
                (
                    (i, a)
                    for i, a in enumerate(annotations)
                    if isinstance(a, dict) and not a.get("was_cancelled")
                ),
                None,
            )
            if chosen is not None and text is not None:
                annotated = True
                index, annotation = chosen
                path = f"annotations[{index}].result"
                results = get(annotation, "result", list, f"annotations[{index}]", required=False) or []
                for number, result in enumerate(results):
                    with collecting(errors):
                        self.result(result, f"{path}[{number}]", text, where, spans, relations)
        if errors or text is None:
            report(errors, problems, where)
            return None
        return DocumentRecord(
            text=text,
            external_id=external_id,
            title=title,
            metadata=metadata,
            annotated=annotated,
            spans=tuple(spans),
            relations=tuple(relations),
            where=where,
        )

    def result(
        self,
        result: Any,
        path: str,
        text: str,
        where: Where,
        spans: list[SpanRecord],
        relations: list[RelationRecord],
    ) -> None:
        if not isinstance(result, dict):
            raise Invalid(path, f"Each result must be an object, not {json_kind(result)}.")
        kind = result.get("type")
        if kind == "labels":
            value = require(result, "value", dict, path)
            region = identifier(result.get("id"), f"{path}.id")
            start, end = self.offsets(value, text, f"{path}.value")
            labels = require(value, "labels", list, f"{path}.value")
            if not labels or not all(isinstance(label, str) for label in labels):
                raise Invalid(
                    f"{path}.value.labels", "A labelled region needs at least one label (a string)."
                )
            for number, label in enumerate(labels):
                span_id = region if number == 0 else f"{region}#{number + 1}"
                spans.append(SpanRecord(span_id, start, end, label, text=value.get("text"), where=where))
        elif kind == "relation":
            head = identifier(result.get("from_id"), f"{path}.from_id")
            tail = identifier(result.get("to_id"), f"{path}.to_id")
            if result.get("direction") == "left":
                head, tail = tail, head
            labels = get(result, "labels", list, path, required=False) or []
            if not labels or not all(isinstance(label, str) for label in labels):
                raise Invalid(
                    f"{path}.labels", "A relation needs a label: give it one in Label Studio first."
                )
            relations.extend(RelationRecord(head, tail, label, where=where) for label in labels)

    @staticmethod
    def offsets(value: dict[str, Any], text: str, path: str) -> tuple[int, int]:
        """The region's offsets in code points, converted from UTF-16 when only that reading fits its text."""
        start, end = require(value, "start", int, path), require(value, "end", int, path)
        surface = value.get("text")
        if isinstance(surface, str) and text[start:end] != surface:
            index = Utf16Index(text)
            try:
                converted = index.from_utf16(start), index.from_utf16(end)
            except OffsetError:
                return start, end
            if text[converted[0] : converted[1]] == surface:
                return converted
        return start, end


class LabelStudioWriter:
    """A JSON array of Label Studio tasks, one task at a time."""

    name: ClassVar[str] = "labelstudio"
    label: ClassVar[str] = "Label Studio JSON"
    media_type: ClassVar[str] = "application/json"
    extension: ClassVar[str] = ".json"
    streamable: ClassVar[bool] = True

    def write(self, documents: Iterable[DocumentRecord]) -> Iterator[bytes]:
        separator = b"[\n"
        for record in documents:
            yield separator + orjson.dumps(self.task(record))
            separator = b",\n"
        yield b"[]\n" if separator == b"[\n" else b"\n]\n"

    @staticmethod
    def task(record: DocumentRecord) -> dict[str, Any]:
        data: dict[str, Any] = {"text": record.text, "external_id": record.external_id}
        if record.title:
            data["title"] = record.title
        results: list[dict[str, Any]] = [
            {
                "id": span.id, "from_name": "label", "to_name": "text", "type": "labels",
                "value": {"start": span.start, "end": span.end, "text": record.text[span.start : span.end],
                          "labels": [span.label]},
            }
            for span in record.spans
        ]  # fmt: skip
        results.extend(
            {"type": "relation", "from_id": relation.head, "to_id": relation.tail, "direction": "right",
             "labels": [relation.label]}
            for relation in record.relations
        )  # fmt: skip
        task: dict[str, Any] = {"data": data, "annotations": [{"result": results}]}
        if record.metadata:
            task["meta"] = record.metadata
        return task
