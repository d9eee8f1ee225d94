"""brat standoff: `name.txt` (the text) with `name.ann` (its annotations), in a zip archive or a folder.

    T1	PERSON 0 16	Sergey Naryshkin
    T2	ORG 21 26;31 36	Bank ... Minsk          (a discontinuous entity: two fragments)
    R1	head_of Arg1:T1 Arg2:T2
    N1	Reference T1 Wikidata:Q315514	Sergey Naryshkin

T lines are entities (discontinuous ones keep each fragment), R lines relations (first argument head,
second tail), N lines normalisations, i.e. links to KB ids (`Wikidata:Q315514` names the KB, then the id;
`NIL` means not in the KB; an id that no project KB holds is kept on the span as its `Reference`
attribute, with a warning). A and M lines are the span's attributes (yes-or-no without a value, else
one of a list), `#` AnnotatorNotes its `Note`. An event (`E1 Attack:T3 Target:T1 Weapon:T2`) is its
trigger span (T3, typed by the event type) with one relation per argument from the trigger, typed by
the role (`arg:Target`; numbered roles like Theme2 are Theme); attributes and notes on an event go onto
its trigger. An equivalence (`* Equiv T1 T2 T3`) is a chain of symmetric relations of its type (T1-T2,
T2-T3). Notes and attributes on relations have no place and are skipped with a warning, as are
members other than .txt, .ann and brat's .conf files. A .txt without an .ann has no annotations; the
external id is the path without the extension. Offsets are code points into the .txt as it is.
An entity that brat split only at line breaks (it cannot show a fragment across one) is read as the
one contiguous entity it is.

The writer streams a zip: `<external id>.txt` and `.ann` per document (`article-<id>` when the
article has no external id or one that is not a safe relative path; inside `<annotator>/` when the
export holds annotators' sets). Entities that cross a line break are split there, as brat does; labels
with spaces get `_`; a NIL link is `<KB>:NIL`. Everything the reader reads is written back: attributes
as A lines, notes as `#` lines, a Reference as an N line, `arg:` relations as E lines (one event per
trigger), and symmetric Equiv (Equivalent, Coreference, Coref) relations as `*` lines.
"""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from itertools import pairwise
from typing import Any, ClassVar

from annotator.interchange.formats.base import (
    NOTE,
    REFERENCE,
    AttributeValue,
    DocumentRecord,
    FormatError,
    LinkRecord,
    Member,
    ProblemLog,
    RelationRecord,
    Source,
    SpanRecord,
    Where,
    attribute_pairs,
    is_ignorable,
    skipped_member,
    where_in,
)
from annotator.interchange.formats.lines import read_whole
from annotator.interchange.formats.merging import merge_duplicates
from annotator.interchange.formats.writing import Buffer, links_by_span, surface, token_label

_FRAGMENT = re.compile(r"^(\d+) (\d+)$")
# brat's own configuration files describe the schema, not documents: nothing in them is lost.
_CONFIGURATION = {"annotation.conf", "visual.conf", "tools.conf", "kb_shortcuts.conf", "acl.conf"}
_NUMBERED_ROLE = re.compile(r"\d+$")  # brat numbers a role that repeats: Theme, Theme2, Theme3
# Event arguments are relations from the trigger typed by their role, under this prefix (`arg:Target`),
# so that an export can tell them from other relations and write the event back.
EVENT_ROLE_PREFIX = "arg:"
# Symmetric relations of these types are written back as brat equivalences (`*` lines), as they came.
EQUIVALENCES = frozenset({"Equiv", "Equivalent", "Coreference", "Coref"})


class Brat:
    name: ClassVar[str] = "brat"
    label: ClassVar[str] = "brat standoff (.txt + .ann, zipped)"
    option_names: ClassVar[frozenset[str]] = frozenset()

    def read(
        self, source: Source, problems: ProblemLog, options: Mapping[str, Any] | None = None
    ) -> Iterator[DocumentRecord]:
        if options:
            raise FormatError(f"The brat format has no option {sorted(options)[0]!r} (its options: none).")
        if not source.is_archive:
            problems.add(
                Where(source.name), "brat documents are pairs of .txt and .ann files: upload them zipped."
            )
            return
        texts: dict[str, Member] = {}
        annotations: dict[str, Member] = {}
        for member in source.members():
            if is_ignorable(member.name):
                continue
            if member.suffix in (".txt", ".ann"):
                (texts if member.suffix == ".txt" else annotations)[member.stem] = member
            elif member.name.rsplit("/", 1)[-1] not in _CONFIGURATION:
                skipped_member(source, member, "brat", (".txt", ".ann"), problems)
        for stem, member in annotations.items():
            if stem not in texts:
                problems.add(where_in(source, member), f"There is no {stem}.txt for these annotations.")
        for stem, text_member in texts.items():
            where = where_in(source, text_member)
            with text_member.open() as stream:
                text = read_whole(stream, where, problems, max_bytes=source.limits.max_record_bytes)
            ann_member = annotations.get(stem)
            if ann_member is None:
                if text is not None:
                    yield DocumentRecord(text=text, external_id=stem, where=where)
                continue
            ann_where = where_in(source, ann_member)
            with ann_member.open() as stream:
                ann = read_whole(stream, ann_where, problems, max_bytes=source.limits.max_record_bytes)
            if text is None or ann is None:
                continue
            before = len(problems)
            spans, relations, links = parse_ann(ann, ann_where, problems)
            if len(problems) > before:
                # The document is refused already; what did parse is still checked, so that every line with
                # a problem is named in one report, but nothing that refers to a line that did not parse.
                ids = {span.id for span in spans}
                relations = [r for r in relations if r.head in ids and r.tail in ids]
                links = [link for link in links if link.span in ids]
            yield DocumentRecord(
                text=text,
                external_id=stem,
                annotated=True,
                spans=tuple(_rejoined(span, text) for span in spans),
                relations=tuple(relations),
                links=tuple(links),
                where=where,
            )


def parse_ann(
    ann: str, where: Where, problems: ProblemLog
) -> tuple[list[SpanRecord], list[RelationRecord], list[LinkRecord]]:
    """Every line of an .ann file as records; events, attributes, notes and equivalences included."""
    parsed = _Ann(where, problems)
    for number, raw in enumerate(ann.split("\n"), start=1):
        line = raw.removesuffix("\r")
        at = Where(where.file, number)
        if not line.strip():
            continue
        try:
            parsed.line(line, at)
        except ValueError as error:
            problems.add(at, str(error))
    return parsed.records()


class _Ann:
    """The lines of one .ann file, gathered before they are joined up (a line may refer to a later one)."""

    def __init__(self, where: Where, problems: ProblemLog) -> None:
        self.where, self.problems = where, problems
        self.spans: list[SpanRecord] = []
        self.relations: list[RelationRecord] = []
        self.links: list[LinkRecord] = []
        self.triggers: dict[str, tuple[str, Where]] = {}  # event id -> its trigger's span id
        self.events: list[tuple[str, list[tuple[str, str]], Where]] = []  # id, (role, argument id), where
        self.attributes: list[tuple[str, str, AttributeValue, Where]] = []  # target, name, value, where
        self.equivalences: list[tuple[str, list[str], Where]] = []

    def line(self, line: str, at: Where) -> None:
        kind = line[0]
        if kind == "T":
            self.spans.append(_entity(line, at))
        elif kind == "R":
            self.relations.append(_relation(line, at))
        elif kind == "N":
            self.links.append(_normalization(line, at))
        elif kind == "E":
            self.event(line, at)
        elif kind in "AM":
            attribute_id, middle = _fields(line, 2, "A1<tab>NAME T1 [VALUE]")[:2]
            parts = middle.split()
            if len(parts) not in (2, 3):
                raise ValueError(
                    f"The attribute {attribute_id} needs a name, an annotation and maybe a value."
                )
            self.attributes.append((parts[1], parts[0], parts[2] if len(parts) == 3 else True, at))
        elif kind == "#":
            fields = line.split("\t")
            parts = fields[1].split() if len(fields) >= 3 else []
            if len(parts) != 2 or not fields[2].strip():
                return  # a comment, not a note on an annotation
            self.attributes.append((parts[1], NOTE, "\t".join(fields[2:]).strip(), at))
        elif kind == "*":
            middle = _fields(line, 2, "*<tab>Equiv T1 T2")[1]
            parts = middle.split()
            if len(parts) < 3:
                raise ValueError(
                    "An equivalence needs a type and at least two annotations, like 'Equiv T1 T2'."
                )
            self.equivalences.append((parts[0], parts[1:], at))
        else:
            raise ValueError(f"This is not a brat annotation line (it starts with {kind!r}).")

    def event(self, line: str, at: Where) -> None:
        event_id, middle = _fields(line, 2, "E1<tab>TYPE:T1 ROLE:T2")[:2]
        parts = middle.split()
        if not parts or any(part.count(":") < 1 for part in parts):
            raise ValueError(
                f"The event {event_id} needs a trigger and arguments like 'Attack:T1 Target:T2'."
            )
        trigger = parts[0].split(":", 1)[1]
        self.triggers[event_id] = (trigger, at)
        self.events.append((event_id, [(p.split(":", 1)[0], p.split(":", 1)[1]) for p in parts[1:]], at))

    def span_of(self, target: str) -> str:
        """The span an annotation id stands for: itself, or an event's trigger."""
        return self.triggers[target][0] if target in self.triggers else target

    def records(self) -> tuple[list[SpanRecord], list[RelationRecord], list[LinkRecord]]:
        seen: set[tuple[str, str, str]] = set()
        first_event: dict[str, str] = {}  # trigger -> the first event on it
        for event_id, arguments, at in self.events:
            trigger = self.span_of(event_id)
            if trigger in first_event:
                self.problems.warn(
                    at,
                    f"The event {event_id} has the same trigger ({trigger}) as {first_event[trigger]}: its "
                    "arguments are kept as relations from that trigger (an argument both have is kept once), "
                    "and an export writes them as one event.",
                    kind="shared-trigger brat event",
                    action="merged into one",
                )
            first_event.setdefault(trigger, event_id)
            if not arguments:
                self.problems.warn(
                    at,
                    f"The event {event_id} has no arguments: it is kept as its trigger span {trigger}, and an "
                    "export writes that span without an event line.",
                    kind="argument-less brat event",
                    action="kept as trigger only",
                )
            for role, argument in arguments:
                key = (trigger, self.span_of(argument), EVENT_ROLE_PREFIX + _NUMBERED_ROLE.sub("", role))
                if key not in seen:
                    seen.add(key)
                    self.relations.append(RelationRecord(*key, where=at))
        for label, members, at in self.equivalences:
            ends = list(dict.fromkeys(self.span_of(member) for member in members))
            if len(ends) < 2:
                self.problems.warn(
                    at,
                    f"The equivalence holds only {ends[0]}, with itself: there is no relation to keep.",
                    kind="brat self-equivalence",
                    action="skipped",
                )
            self.relations.extend(
                RelationRecord(a, b, label, where=at, symmetric=True) for a, b in pairwise(ends)
            )
        values: dict[str, dict[str, AttributeValue]] = {}
        relation_ids = {relation.id for relation in self.relations if relation.id and relation.id[0] == "R"}
        for target, name, value, at in self.attributes:
            if target in relation_ids:
                self.problems.warn(
                    at,
                    f"The {'note' if name == NOTE else 'attribute ' + repr(name)} on the relation {target} has no "
                    "place (relations have no attributes or notes): it is skipped.",
                    kind="relation note" if name == NOTE else "relation attribute",
                    action="skipped",
                )
                continue
            if self.span_of(target) not in self.span_ids:
                self.problems.add(
                    at,
                    f"The {'note' if name == NOTE else 'attribute'} is on {target}, which is not an annotation here.",
                )
                continue
            values.setdefault(self.span_of(target), {})[name] = value
        spans = [
            replace(span, attributes=attribute_pairs(values[span.id])) if span.id in values else span
            for span in self.spans
        ]
        merged, relations = merge_duplicates(spans, self.relations, self.where, self.problems)
        if len(merged) == len(spans):
            return spans, self.relations, self.links
        return list(merged), list(relations), self.moved_links({span.id for span in merged})

    def moved_links(self, kept: set[str]) -> list[LinkRecord]:
        """The links of merged duplicate spans moved onto the copy kept (the first one of each)."""
        first: dict[tuple[Any, ...], str] = {}
        for span in self.spans:
            first.setdefault((span.start, span.end, span.label, span.fragments), span.id)
        target = {span.id: first[(span.start, span.end, span.label, span.fragments)] for span in self.spans}
        links: dict[str, LinkRecord] = {}
        for link in self.links:
            span_id = link.span if link.span in kept else target.get(link.span, link.span)
            if span_id in links and links[span_id].kb_id != link.kb_id:
                self.problems.add(
                    link.where or self.where,
                    f"The duplicate entities {span_id} and {link.span} are linked to different KB ids.",
                )
            links.setdefault(span_id, replace(link, span=span_id))
        return list(links.values())

    @property
    def span_ids(self) -> set[str]:
        return {span.id for span in self.spans}


def _fields(line: str, count: int, shape: str) -> list[str]:
    fields = line.split("\t")
    if len(fields) < count:
        raise ValueError(f"The line does not have the brat shape {shape!r} (fields are separated by tabs).")
    return fields


def _entity(line: str, at: Where) -> SpanRecord:
    fields = _fields(line, 3, "T1<tab>TYPE START END<tab>TEXT")
    span_id, middle, surface = fields[0], fields[1], "\t".join(fields[2:])  # the text may hold tabs
    label, _, offsets = middle.partition(" ")
    fragments = []
    for piece in offsets.split(";"):
        found = _FRAGMENT.match(piece.strip())
        if not label or found is None:
            raise ValueError(
                f"The entity {span_id} needs a type and offsets like 'PERSON 0 16' or 'ORG 0 5;9 12'."
            )
        fragments.append((int(found.group(1)), int(found.group(2))))
    return SpanRecord(
        id=span_id,
        start=fragments[0][0],
        end=fragments[-1][1],
        label=label,
        text=surface,
        fragments=tuple(fragments) if len(fragments) > 1 else (),
        where=at,
    )


def _rejoined(span: SpanRecord, text: str) -> SpanRecord:
    """A span whose fragments are apart only by line breaks, as the one contiguous span it is."""
    pieces = span.fragments
    if not pieces or pieces[-1][1] > len(text) or any(b[0] < a[1] for a, b in pairwise(pieces)):
        return span
    if any(text[a[1] : b[0]] not in ("\n", "\r\n") for a, b in pairwise(pieces)):
        return span
    if span.text is not None and span.text != " ".join(text[a:b] for a, b in pieces):
        return span  # left as it is, for the checks to report
    return replace(span, fragments=(), text=text[span.start : span.end])


def _relation(line: str, at: Where) -> RelationRecord:
    relation_id, middle = _fields(line, 2, "R1<tab>TYPE Arg1:T1 Arg2:T2")[:2]
    parts = middle.split()
    if len(parts) != 3 or not all(":" in part for part in parts[1:]):
        raise ValueError(f"The relation {relation_id} needs a type and two arguments like 'Arg1:T1 Arg2:T2'.")
    return RelationRecord(
        head=parts[1].split(":", 1)[1],
        tail=parts[2].split(":", 1)[1],
        label=parts[0],
        id=relation_id,
        where=at,
    )


def _normalization(line: str, at: Where) -> LinkRecord:
    link_id, middle = _fields(line, 2, "N1<tab>Reference T1 KB:ID<tab>NAME")[:2]
    parts = middle.split()
    if len(parts) != 3 or ":" not in parts[2]:
        raise ValueError(f"The normalisation {link_id} needs 'Reference T1 KB:ID'.")
    kb, _, kb_id = parts[2].partition(":")
    if not kb or not kb_id:
        raise ValueError(f"The normalisation {link_id} needs a KB name and an id, like 'Wikidata:Q42'.")
    return LinkRecord(
        span=parts[1], kb_id=None if kb_id == "NIL" else kb_id, kb=kb, where=at, keep_unknown=True
    )


_SAFE_NAME = re.compile(r"[\w.-]+(/[\w.-]+)*")
_UNSAFE = re.compile(r"[^\w.-]")


def file_stem(external_id: str | None, article_id: Any) -> str:
    """The member name of a document: its external id when that is a safe relative path."""
    if (
        external_id is not None
        and len(external_id) <= 200
        and _SAFE_NAME.fullmatch(external_id)
        and not any(part.startswith(".") for part in external_id.split("/"))
    ):
        return external_id
    return f"article-{article_id}"


def line_pieces(text: str, pieces: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The pieces split at line breaks (an .ann line cannot hold one), empty ones dropped."""
    result = []
    for start, end in pieces:
        position = start
        while (newline := text.find("\n", position, end)) >= 0:
            if newline > position:
                result.append((position, newline))
            position = newline + 1
        if position < end:
            result.append((position, end))
    return result


class BratWriter:
    """A zip of .txt and .ann pairs, written member by member (a streamable zip)."""

    name: ClassVar[str] = "brat"
    label: ClassVar[str] = "brat standoff (zip of .txt + .ann)"
    media_type: ClassVar[str] = "application/zip"
    extension: ClassVar[str] = ".zip"
    streamable: ClassVar[bool] = True

    def write(self, documents: Iterable[DocumentRecord]) -> Iterator[bytes]:
        buffer = Buffer()
        stamp = time.localtime()[:6]
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            used: set[str] = set()
            for record in documents:
                provenance = record.provenance or {}
                stem = file_stem(record.external_id, provenance.get("article_id"))
                if annotator := provenance.get("annotator"):
                    stem = f"{_UNSAFE.sub('_', annotator).lstrip('.') or 'annotator'}/{stem}"
                base, number = stem, 1
                while stem in used:  # two annotators whose names differ only in unsafe characters
                    number += 1
                    stem = f"{base}~{number}"
                used.add(stem)
                for suffix, content in ((".txt", record.text), (".ann", self.ann(record))):
                    archive.writestr(zipfile.ZipInfo(stem + suffix, stamp), content.encode("utf-8"))
                yield buffer.take()
        yield buffer.take()

    @staticmethod
    def ann(record: DocumentRecord) -> str:
        text, lines = record.text, []
        spans = {span.id: span for span in record.spans}
        for span in record.spans:
            pieces = line_pieces(text, span.fragments or ((span.start, span.end),))
            offsets = ";".join(f"{start} {end}" for start, end in pieces)
            shown = " ".join(text[start:end] for start, end in pieces)
            lines.append(f"{span.id}\t{token_label(span.label)} {offsets}\t{shown}")
        arguments: dict[str, list[RelationRecord]] = {}
        plain: list[RelationRecord] = []
        for relation in record.relations:
            if relation.label.startswith(EVENT_ROLE_PREFIX):
                arguments.setdefault(relation.head, []).append(relation)
            else:
                plain.append(relation)
        for number, relation in enumerate(plain, start=1):
            label = token_label(relation.label)
            if relation.symmetric and relation.label in EQUIVALENCES:
                lines.append(f"*\t{label} {relation.head} {relation.tail}")
            else:
                lines.append(f"R{number}\t{label} Arg1:{relation.head} Arg2:{relation.tail}")
        for number, (trigger, roles) in enumerate(arguments.items(), start=1):
            lines.append(
                f"E{number}\t{token_label(spans[trigger].label)}:{trigger} " + " ".join(_roles(roles))
            )
        links = links_by_span(record)
        notes = attributes = 0
        for span in record.spans:
            for name, value in span.attributes:
                if name == NOTE:
                    notes += 1
                    lines.append(f"#{notes}\tAnnotatorNotes {span.id}\t{str(value).replace(chr(10), ' ')}")
                elif name == REFERENCE and span.id not in links and ":" in str(value):
                    kb, _, kb_id = str(value).partition(":")
                    links[span.id] = LinkRecord(span.id, kb_id, kb)
                elif value is not False and name != REFERENCE:
                    attributes += 1
                    shown = "" if value is True else f" {token_label(str(value))}"
                    lines.append(f"A{attributes}\t{token_label(name)} {span.id}{shown}")
        for number, (span_id, link) in enumerate(links.items(), start=1):
            kb = token_label(link.kb or "KB").replace(":", "_")
            name = surface(record, spans[span_id]).replace("\n", " ")
            lines.append(f"N{number}\tReference {span_id} {kb}:{link.kb_id or 'NIL'}\t{name}")
        return "".join(line + "\n" for line in lines)


def _roles(relations: list[RelationRecord]) -> list[str]:
    """An event's arguments as brat writes them: a role that repeats is numbered (Theme, Theme2...)."""
    seen: dict[str, int] = {}
    result = []
    for relation in relations:
        role = token_label(relation.label.removeprefix(EVENT_ROLE_PREFIX))
        seen[role] = seen.get(role, 0) + 1
        result.append(f"{role}{seen[role] if seen[role] > 1 else ''}:{relation.tail}")
    return result
