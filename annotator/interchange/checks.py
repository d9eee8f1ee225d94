"""The checks every imported document passes before the database sees it; pure Python, no Django.

`prepare()` applies the offsets contract (line endings normalised to \\n, offsets remapped, NUL and lone
surrogates refused) and checks everything that needs only the record: lengths, offsets inside the text,
declared surfaces, ids, references between spans, relations and links, duplicates. The service checks
what needs the database (the schema, the KB, existing articles).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import replace
from itertools import pairwise
from typing import Any, NamedTuple

import orjson

from annotator.core.offsets import OffsetError, check_offsets, check_text, normalize_newlines
from annotator.interchange.formats.base import DocumentRecord, LinkRecord, ProblemLog, SpanRecord, Where

MAX_EXTERNAL_ID = 255  # Article.external_id
MAX_TITLE = 1000  # Article.title
MAX_LABEL = 64  # EntityType.name, RelationType.name
MAX_KB_ID = 255  # KBEntity.kb_id


def _has_float(value: Any) -> bool:
    """Whether a float hides in the JSON (orjson writes NaN as null: those are checked the slow way)."""
    if type(value) is float:
        return True
    if type(value) is dict:
        return any(type(item) is not str and _has_float(item) for item in value.values())
    if type(value) is list:
        return any(type(item) is not str and _has_float(item) for item in value)
    return False


def bad_characters(value: str) -> str | None:
    """What the offsets contract refuses in a string, if anything: a NUL character, a lone surrogate."""
    if "\x00" in value:
        return "a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate"
    return None


class _Checker:
    def __init__(self, record: DocumentRecord, problems: ProblemLog) -> None:
        self.record = record
        self.problems = problems
        self.failed = False

    def refuse(self, message: str, field: str, where: Where | None = None) -> None:
        self.failed = True
        self.problems.add(where or self.record.where, message, field=field)

    def string(self, value: str, field: str, what: str, *, limit: int, where: Where | None = None) -> None:
        if (kind := bad_characters(value)) is not None:
            self.refuse(f"The {what} contains {kind}.", field, where)
        elif len(value) > limit:
            self.refuse(
                f"The {what} is {len(value):,} characters long; the limit is {limit:,}.", field, where
            )

    def metadata(self, metadata: dict[str, Any]) -> bytes | None:
        """JSON the database stores as it is: no NUL (jsonb refuses it), no lone surrogates, no NaN.
        Returns the JSON (as the writer sends it) when the metadata passes, else None."""
        if not metadata:
            return b"{}"
        try:
            dumped = orjson.dumps(metadata)
            if b"\\u0000" not in dumped and not _has_float(metadata):
                return dumped
        except (TypeError, orjson.JSONEncodeError):
            pass
        failed = self.failed
        self.json_value(metadata, "metadata")  # says what is wrong, and where
        if self.failed and not failed:
            return None
        try:
            return orjson.dumps(metadata)  # finite floats, say: JSON all the same
        except (TypeError, orjson.JSONEncodeError) as error:  # an integer past 64 bits (not from JSON Lines)
            self.refuse(f"The metadata is not JSON the database can store: {error}.", "metadata")
            return None

    def json_value(self, value: Any, field: str) -> None:
        if type(value) is str:
            if bad_characters(value) is not None:
                self.string(value, field, f"metadata value {field!r}", limit=10**9)
        elif isinstance(value, str):
            self.string(value, field, f"metadata value {field!r}", limit=10**9)
        elif isinstance(value, float) and not math.isfinite(value):
            self.refuse(f"The metadata value {field!r} is not a finite number.", field)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.json_value(item, f"{field}[{index}]")
        elif isinstance(value, dict):
            for key, item in value.items():
                if type(key) is str and type(item) is str and bad_characters(key) is None:
                    if bad_characters(item) is not None:
                        self.string(item, f"{field}.{key}", f"metadata value {field}.{key!r}", limit=10**9)
                elif not isinstance(key, str):
                    self.refuse(f"The metadata key {key!r} is not a string.", field)
                else:
                    self.string(key, f"{field}.{key}", "metadata key", limit=10**9)
                    self.json_value(item, f"{field}.{key}")
        elif value is not None and not isinstance(value, bool | int | float):
            self.refuse(f"The metadata value {field!r} is not JSON ({type(value).__name__}).", field)


class Prepared(NamedTuple):
    """A record in stored form, with the SHA-256 of its text (the articles' dedupe key, `content_hash`),
    computed here because checking the text already encodes it; and the metadata in jsonb's binary form
    (version byte 1, then the JSON dumped here to be checked), which the PostgreSQL writer sends as it is
    instead of dumping it again (importer.py). A new bytes object of its exact size: orjson's own output
    keeps the buffer orjson grew it in, and held from the reader to the writer those buffers added 50 MB
    to the peak memory of 20,000 articles. (Not the text's UTF-8 either: that was another third.)"""

    record: DocumentRecord
    content_hash: str
    metadata_jsonb: bytes = b"\x01{}"
    # The span rows, (start, end, entity type id, surface, fragments), when the reader could make them from
    # the types known when it read the record (importer.draft_spans); None leaves them to Importer.plan.
    spans: list[tuple[int, int, int, str, Any]] | None = None


def prepare(record: DocumentRecord, *, max_chars: int, problems: ProblemLog) -> Prepared | None:
    """The record in stored form (newlines normalised, offsets remapped), or None with its problems logged."""
    check = _Checker(record, problems)
    encoded = None
    if not record.text:
        check.refuse("The text is empty.", "text")
    elif record.text.isspace():
        check.refuse("The text is empty: it holds only whitespace.", "text")
    elif len(record.text) > max_chars:
        check.refuse(f"The text has {len(record.text):,} characters; the limit is {max_chars:,}.", "text")
    else:
        with contextlib.suppress(UnicodeError):
            encoded = record.text.encode("utf-8")  # fails on lone surrogates
        # NUL is looked for in the bytes: in a str of 2-byte characters `"\x00" in text` walks every
        # character (the high bytes of ASCII letters are NULs), 4.5 µs per news article, a tenth of an
        # import's CPU; the bytes hold a 0 byte exactly when the text holds U+0000.
        if encoded is None or b"\x00" in encoded:
            encoded = None
            try:
                check_text(record.text)
            except OffsetError as error:
                check.refuse(str(error), "text")
    if record.external_id is not None:
        if not record.external_id.strip():
            check.refuse("The external id is blank.", "external_id")
        check.string(record.external_id, "external_id", "external id", limit=MAX_EXTERNAL_ID)
    check.string(record.title, "title", "title", limit=MAX_TITLE)
    metadata_json = check.metadata(record.metadata)
    if encoded is None:
        return None
    normalized = normalize_newlines(record.text)
    remap = normalized.to_normalized if normalized.removed else None
    spans = tuple(_span(check, span, normalized.text, remap) for span in record.spans)
    _check_references(check, record)
    if check.failed or metadata_json is None:
        return None
    # A lone \r becomes \n in place (no offset moves, so no remap), but the text still changes.
    unchanged = normalized.text is record.text
    if unchanged and all(new is old for new, old in zip(spans, record.spans, strict=True)):
        return Prepared(record, hashlib.sha256(encoded).hexdigest(), b"\x01" + metadata_json)
    digest = hashlib.sha256(normalized.text.encode("utf-8")).hexdigest()
    return Prepared(replace(record, text=normalized.text, spans=spans), digest, b"\x01" + metadata_json)


# Labels already found acceptable (a file uses a handful, half a million times): checked once each.
_GOOD_LABELS: set[str] = set()


def _good_label(label: str) -> bool:
    good = 0 < len(label) <= MAX_LABEL and bool(label.strip()) and bad_characters(label) is None
    if good and len(_GOOD_LABELS) < 10_000:
        _GOOD_LABELS.add(label)
    return good


def _span(check: _Checker, span: SpanRecord, text: str, remap: Callable[[int], int] | None) -> SpanRecord:
    """The span in stored form: the same object when nothing about it changes (most spans, and fast)."""
    start, end, label = span.start, span.end, span.label
    if (
        remap is None
        and not span.fragments
        and 0 <= start < end <= len(text)
        and (span.text is None or span.text == text[start:end])
        and (label in _GOOD_LABELS or _good_label(label))
    ):
        return span
    field = f"entities[{span.id}]"
    where = span.where
    check.string(span.label, f"{field}.label", "label", limit=MAX_LABEL, where=where)
    if not span.label.strip():
        check.refuse("The label is empty.", f"{field}.label", where)
    pieces = span.fragments or ((span.start, span.end),)
    for start, end in pieces:
        try:
            check_offsets(text_length=len(check.record.text), start=start, end=end)
        except OffsetError as error:
            check.refuse(str(error), f"{field}.start", where)
            return span
    if span.fragments:
        ordered = all(a[1] <= b[0] for a, b in pairwise(pieces))
        if not ordered or (pieces[0][0], pieces[-1][1]) != (span.start, span.end):
            check.refuse(
                "The fragments must be in text order, must not overlap, and must run from start to end.",
                f"{field}.fragments",
                where,
            )
            return span
    moved = pieces if remap is None else tuple((remap(start), remap(end)) for start, end in pieces)
    if any(start >= end for start, end in moved):
        check.refuse(
            f"The span [{span.start}, {span.end}) holds only the \\r of a \\r\\n line break, which is not kept.",
            f"{field}.start",
            where,
        )
        return span
    actual = " ".join(text[start:end] for start, end in moved)
    declared = None if span.text is None else normalize_newlines(span.text).text
    if declared is not None and declared != actual:
        check.refuse(
            f"The text at [{span.start}, {span.end}) is {actual!r}, not {declared!r}: "
            "the offsets do not match the text.",
            f"{field}.text",
            where,
        )
    return replace(
        span,
        start=moved[0][0],
        end=moved[-1][1],
        text=declared,
        fragments=moved if span.fragments else (),
    )


def _check_references(check: _Checker, record: DocumentRecord) -> None:
    ids: set[str] = set()
    seen_spans: set[tuple[Any, ...]] = set()
    for span in record.spans:
        if span.id in ids:
            check.refuse(f"Two entities have the id {span.id!r}.", f"entities[{span.id}].id", span.where)
        ids.add(span.id)
        span_key = (span.start, span.end, span.label)
        if span_key in seen_spans:
            check.refuse(
                f"The same {span.label} entity at [{span.start}, {span.end}) is there twice.",
                f"entities[{span.id}]",
                span.where,
            )
        seen_spans.add(span_key)
    seen_relations: set[tuple[str, str, str]] = set()
    for index, relation in enumerate(record.relations):
        field = f"relations[{relation.id or index}]"
        for role, span_id in (("head", relation.head), ("tail", relation.tail)):
            if span_id not in ids:
                check.refuse(
                    f"The {role} {span_id!r} is not an entity of this document.",
                    f"{field}.{role}",
                    relation.where,
                )
        if relation.head == relation.tail:
            check.refuse("A relation needs two different entities.", f"{field}.tail", relation.where)
        check.string(
            relation.label, f"{field}.label", "relation label", limit=MAX_LABEL, where=relation.where
        )
        if not relation.label.strip():
            check.refuse("The relation label is empty.", f"{field}.label", relation.where)
        key = (relation.head, relation.tail, relation.label)
        if key in seen_relations:
            check.refuse(
                f"The relation {relation.head} -{relation.label}-> {relation.tail} is there twice.",
                field,
                relation.where,
            )
        seen_relations.add(key)
    _check_links(check, record.links, ids)


def _check_links(check: _Checker, links: Iterable[LinkRecord], ids: set[str]) -> None:
    linked: set[str] = set()
    for link in links:
        field = f"entities[{link.span}].kb_id"
        if link.span not in ids:
            check.refuse(
                f"The link is for {link.span!r}, which is not an entity of this document.", field, link.where
            )
        elif link.span in linked:
            check.refuse(f"The entity {link.span!r} is linked twice.", field, link.where)
        linked.add(link.span)
        if link.kb_id is not None:
            if not link.kb_id.strip():
                check.refuse("The KB id is blank (use null, or NIL, for 'not in the KB').", field, link.where)
            check.string(link.kb_id, field, "KB id", limit=MAX_KB_ID, where=link.where)
