"""Label Studio JSON export: a JSON array of tasks, read one task at a time (ijson) whatever its size.

    [{"id": 7, "data": {"text": "…", "external_id": "a1"},
      "annotations": [{"result": [
          {"id": "r1", "type": "labels", "value": {"start": 0, "end": 16, "text": "Sergey Naryshkin",
                                                   "labels": ["PERSON"]}},
          {"type": "relation", "from_id": "r1", "to_id": "r2", "direction": "right", "labels": ["visited"]}]}]}]

The text is `data.text` (option `text_key` names another key); `data.external_id` and `data.title`
become those fields and the other data keys, with the task's `meta`, the metadata (Label Studio's task
id as `label_studio_id`). The first annotation that was not cancelled is imported (the others are
warned about); predictions are model output, not annotations, and are left out with a warning
(pre-annotation is its own job). Results: `labels` regions are spans (a region with several labels is
one span per label; identical regions are merged with a warning), `relation`s relations, `choices` on a
region the span's attribute named after the control (`from_name`), a `textarea` on a region its `Note`,
and choices or text areas of the whole task go into the metadata under the control's name. Every other
result type is skipped with a warning. A HyperText (HTML) task is imported as the text its HTML shows (a
warning says the markup is not kept), its regions placed by their XPaths or global offsets and checked
against their own text (`hypertext.py`): a region that cannot be placed exactly refuses the task.
Older Label Studio versions counted offsets in UTF-16 units: when the offsets only match the region's
text that way, they are converted to code points.

The writer streams one array: `data` holds the text, external id and title, `meta` the metadata, and
one annotation per task holds a `labels` region per span (offsets in code points, with the region's
text), a `choices` result on the region per text attribute of the span (a `textarea` for its Note), and
a `relation` result per relation. Label Studio has no place for KB links, nor for yes-or-no attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import IO, Any, ClassVar

import ijson
import orjson

from annotator.core.offsets import OffsetError, Utf16Index
from annotator.interchange.formats.base import (
    NOTE,
    AttributeValue,
    DocumentRecord,
    FormatError,
    MemberContext,
    ProblemLog,
    RelationRecord,
    SpanRecord,
    StreamReader,
    Where,
    attribute_pairs,
)
from annotator.interchange.formats.hypertext import HyperText
from annotator.interchange.formats.jsonfields import (
    Invalid,
    collecting,
    get,
    identifier,
    ijson_reason,
    json_kind,
    report,
    require,
)
from annotator.interchange.formats.lines import BOM
from annotator.interchange.formats.merging import merge_duplicates


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
            problems.add(
                context.at(item=f"[{index + 1}]"),
                f"The JSON cannot be read past this task: {ijson_reason(error)}.",
            )

    @staticmethod
    def html_key(task: dict[str, Any], data: dict[str, Any], text_key: str) -> str | None:
        """The data key holding a HyperText task's HTML, or None for a Text task: the text key when the task
        has HyperText regions and its value is markup, or, without a text key, the first value that is."""

        def markup(key: str) -> bool:
            return isinstance(data.get(key), str) and data[key].lstrip().startswith("<")

        if text_key in data:
            annotations: list[Any] = task["annotations"] if isinstance(task.get("annotations"), list) else []
            regions = (
                result.get("type")
                for annotation in annotations
                if isinstance(annotation, dict) and isinstance(annotation.get("result"), list)
                for result in annotation["result"]
                if isinstance(result, dict)
            )
            return text_key if markup(text_key) and any(kind in _HTML_TYPES for kind in regions) else None
        return next((key for key in data if markup(key)), None)

    def document(
        self, task: dict[str, Any], text_key: str, where: Where, problems: ProblemLog
    ) -> DocumentRecord | None:
        errors: list[Invalid] = []
        data: dict[str, Any] = {}
        text: str | None = None
        external_id: str | None = None
        hyper: HyperText | None = None
        with collecting(errors):
            data = require(task, "data", dict, "")
            html_key = self.html_key(task, data, text_key)
            if html_key is not None:
                hyper = HyperText(data[html_key])
                text, text_key = hyper.text, html_key
                problems.warn(
                    where,
                    f"data.{html_key} is HTML (a HyperText task): it is imported as the text it shows, and its "
                    "regions are placed in that text; the markup is not kept.",
                    kind="Label Studio HyperText task",
                    action="converted to text",
                    field=f"data.{html_key}",
                )
            else:
                if data.get(text_key) is None:
                    raise Invalid(
                        f"data.{text_key}",
                        f"The task has no data.{text_key} (its data holds: {', '.join(map(str, data)) or 'nothing'}). "
                        "Only text tasks are imported; name the key that holds the text with the text_key option.",
                    )
                text = require(data, text_key, str, "data")
            if data.get("external_id") is not None:
                external_id = identifier(data["external_id"], "data.external_id")
        title = data["title"] if isinstance(data.get("title"), str) else ""
        metadata = {k: v for k, v in data.items() if k not in (text_key, "external_id", "title")}
        with collecting(errors):
            metadata.update(get(task, "meta", dict, "", required=False) or {})
        if "id" in task:
            metadata["label_studio_id"] = task["id"]
        spans: tuple[SpanRecord, ...] = ()
        relations: tuple[RelationRecord, ...] = ()
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
            others = sum(1 for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")) - 1
            if others > 0:
                problems.warn(
                    where,
                    f"The task has {others + 1} annotations; the first one is imported, the others are not "
                    "(import each annotator's export into a set of its own).",
                    kind="further Label Studio annotation",
                    action="skipped",
                    field="annotations",
                    count=others,
                )
            if isinstance(task.get("predictions"), list) and task["predictions"]:
                problems.warn(
                    where,
                    "Predictions are a model's output, not annotations: they are not imported.",
                    kind="Label Studio prediction",
                    action="skipped",
                    field="predictions",
                    count=len(task["predictions"]),
                )
            if chosen is not None and text is not None:
                annotated = True
                index, annotation = chosen
                path = f"annotations[{index}].result"
                results = get(annotation, "result", list, f"annotations[{index}]", required=False) or []
                regions = _Regions(text, where, problems, hyper)
                for number, result in enumerate(results):
                    with collecting(errors):
                        regions.read(result, f"{path}[{number}]")
                with collecting(errors):
                    spans, relations = regions.records()
                metadata.update(regions.task_values)
        if errors or text is None:
            report(errors, problems, where)
            return None
        return DocumentRecord(
            text=text,
            external_id=external_id,
            title=title,
            metadata=metadata,
            annotated=annotated,
            spans=spans,
            relations=relations,
            where=where,
        )


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


# Result types over HTML (HyperText) address text by XPath, not offsets into a plain text.
_HTML_TYPES = frozenset({"hypertextlabels", "htmllabels"})


class _Regions:
    """One annotation's results: labelled regions (spans), relations between them, and the values given
    per region (choices and text areas, which become the span's attributes) or per task (metadata)."""

    def __init__(self, text: str, where: Where, problems: ProblemLog, hyper: HyperText | None = None) -> None:
        self.text, self.where, self.problems, self.hyper = text, where, problems, hyper
        self.spans: list[SpanRecord] = []
        self.regions: dict[str, list[int]] = {}  # region id -> its spans (one per label)
        self.relations: list[RelationRecord] = []
        self.values: list[tuple[str, str, str, list[str], str]] = []  # region, type, name, values, path
        self.task_values: dict[str, Any] = {}

    def read(self, result: Any, path: str) -> None:
        if not isinstance(result, dict):
            raise Invalid(path, f"Each result must be an object, not {json_kind(result)}.")
        kind = result.get("type")
        if kind == "labels":
            self.labels(result, path)
        elif kind == "relation":
            self.relation(result, path)
        elif kind in ("choices", "textarea"):
            value = require(result, "value", dict, path)
            key = "choices" if kind == "choices" else "text"
            given = value.get(key)
            given = [given] if isinstance(given, str) else given
            if not isinstance(given, list) or not all(isinstance(item, str) for item in given):
                raise Invalid(f"{path}.value.{key}", f"The {kind} value must be a list of texts.")
            name = result.get("from_name") if isinstance(result.get("from_name"), str) else kind
            region = result.get("id")
            self.values.append((str(region) if region is not None else "", kind, str(name), given, path))
        elif kind in _HTML_TYPES:
            self.html_region(result, path)
        else:
            self.problems.warn(
                self.where,
                f"A Label Studio {kind!r} result has no place here (labels, relations, and choices and text "
                "areas are read): it is skipped.",
                kind=f"Label Studio {kind} result",
                action="skipped",
                field=f"{path}.type",
            )

    def labels(self, result: dict[str, Any], path: str) -> None:
        value = require(result, "value", dict, path)
        region = identifier(result.get("id"), f"{path}.id")
        start, end = offsets(value, self.text, f"{path}.value")
        labels = require(value, "labels", list, f"{path}.value")
        if not labels or not all(isinstance(label, str) for label in labels):
            raise Invalid(f"{path}.value.labels", "A labelled region needs at least one label (a string).")
        for number, label in enumerate(labels):
            span_id = region if number == 0 else f"{region}#{number + 1}"
            self.regions.setdefault(region, []).append(len(self.spans))
            self.spans.append(
                SpanRecord(span_id, start, end, label, text=value.get("text"), where=self.where)
            )

    def html_region(self, result: dict[str, Any], path: str) -> None:
        """A HyperText region, placed in the task's text by its XPaths (or global offsets), checked."""
        if self.hyper is None:
            raise Invalid(
                f"{path}.type",
                "This HyperText region is on a task whose data is not HTML: it cannot be placed, and the task is "
                "not imported.",
            )
        value = require(result, "value", dict, path)
        region = identifier(result.get("id"), f"{path}.id")
        labels = value.get("hypertextlabels", value.get("htmllabels"))
        if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
            raise Invalid(
                f"{path}.value.hypertextlabels", "A labelled region needs at least one label (a string)."
            )
        if not isinstance(value.get("text"), str):
            raise Invalid(
                f"{path}.value.text",
                "The HyperText region has no text to check its place against: it cannot be placed exactly, and "
                "the task is not imported.",
            )
        place = self.hyper.place(value)
        if place is None:
            raise Invalid(
                f"{path}.value",
                f"The region's XPaths and offsets do not lead to its text {value['text']!r} in the HTML: it "
                "cannot be placed, and the task is not imported.",
            )
        for number, label in enumerate(labels):
            span_id = region if number == 0 else f"{region}#{number + 1}"
            self.regions.setdefault(region, []).append(len(self.spans))
            self.spans.append(SpanRecord(span_id, *place, label, where=self.where))

    def relation(self, result: dict[str, Any], path: str) -> None:
        head = identifier(result.get("from_id"), f"{path}.from_id")
        tail = identifier(result.get("to_id"), f"{path}.to_id")
        if result.get("direction") == "left":
            head, tail = tail, head
        labels = get(result, "labels", list, path, required=False) or []
        if not labels or not all(isinstance(label, str) for label in labels):
            raise Invalid(f"{path}.labels", "A relation needs a label: give it one in Label Studio first.")
        self.relations.extend(RelationRecord(head, tail, label, where=self.where) for label in labels)

    def records(self) -> tuple[tuple[SpanRecord, ...], tuple[RelationRecord, ...]]:
        """The spans with the values given per region as their attributes, duplicates merged; values of
        no region go into the task's metadata."""
        regions = self.regions
        attributes: dict[int, dict[str, AttributeValue]] = {}
        for region, kind, name, given, _ in self.values:
            if region not in regions:
                self.task_values[name] = given if kind == "choices" else "\n".join(given)
                continue
            value = ", ".join(given) if kind == "choices" else "\n".join(given)
            attribute = NOTE if kind == "textarea" else name
            for position in regions[region]:
                attributes.setdefault(position, {})[attribute] = value
        spans = [
            replace(span, attributes=attribute_pairs(attributes[position]))
            if position in attributes
            else span
            for position, span in enumerate(self.spans)
        ]
        return merge_duplicates(spans, self.relations, self.where, self.problems)


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
        for span in record.spans:  # attributes as values on the region: text attributes only
            for name, value in span.attributes:
                if name == NOTE:
                    results.append({"id": span.id, "from_name": "note", "to_name": "text", "type": "textarea",
                                    "value": {"text": [value]}})  # fmt: skip
                elif isinstance(value, str):
                    results.append({"id": span.id, "from_name": name, "to_name": "text", "type": "choices",
                                    "value": {"choices": [value]}})  # fmt: skip
        results.extend(
            {"type": "relation", "from_id": relation.head, "to_id": relation.tail, "direction": "right",
             "labels": [relation.label]}
            for relation in record.relations
        )  # fmt: skip
        task: dict[str, Any] = {"data": data, "annotations": [{"result": results}]}
        if record.metadata:
            task["meta"] = record.metadata
        return task
