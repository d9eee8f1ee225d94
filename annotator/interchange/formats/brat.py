"""brat standoff: `name.txt` (the text) with `name.ann` (its annotations), in a zip archive or a folder.

    T1	PERSON 0 16	Sergey Naryshkin
    T2	ORG 21 26;31 36	Bank ... Minsk          (a discontinuous entity: two fragments)
    R1	head_of Arg1:T1 Arg2:T2
    N1	Reference T1 Wikidata:Q315514	Sergey Naryshkin

T lines are entities (discontinuous ones keep each fragment), R lines relations (first argument head,
second tail), N lines normalisations, i.e. links to KB ids (`Wikidata:Q315514` names the KB, then the id;
`NIL` means not in the KB). `#` notes are comments. Events (E), attributes (A, M) and equivalences (*)
have no place in the model and are reported. A .txt without an .ann has no annotations; the
external id is the path without the extension. Offsets are code points into the .txt as it is.
An entity that brat split only at line breaks (it cannot show a fragment across one) is read as the
one contiguous entity it is.

The writer streams a zip: `<external id>.txt` and `.ann` per document (`article-<id>` when the
article has no external id or one that is not a safe relative path; inside `<annotator>/` when the
export holds annotators' sets). Entities that cross a line break are split there, as brat does; labels
with spaces get `_`; a NIL link is `<KB>:NIL`.
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
    DocumentRecord,
    FormatError,
    LinkRecord,
    Member,
    ProblemLog,
    RelationRecord,
    Source,
    SpanRecord,
    Where,
    is_ignorable,
    skipped_member,
    where_in,
)
from annotator.interchange.formats.lines import read_whole
from annotator.interchange.formats.writing import Buffer, links_by_span, surface, token_label

_FRAGMENT = re.compile(r"^(\d+) (\d+)$")
# brat's own configuration files describe the schema, not documents: nothing in them is lost.
_CONFIGURATION = {"annotation.conf", "visual.conf", "tools.conf", "kb_shortcuts.conf", "acl.conf"}
_UNSUPPORTED = {"E": "events", "A": "attributes", "M": "attributes", "*": "equivalences"}


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
            if len(problems) == before:
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
    spans: list[SpanRecord] = []
    relations: list[RelationRecord] = []
    links: list[LinkRecord] = []
    for number, raw in enumerate(ann.split("\n"), start=1):
        line = raw.removesuffix("\r")
        at = Where(where.file, number)
        if not line.strip() or line.startswith("#"):
            continue
        kind = line[0]
        if kind in _UNSUPPORTED:
            problems.add(
                at, f"brat {_UNSUPPORTED[kind]} ({kind} lines) cannot be imported; remove them first."
            )
            continue
        if kind not in "TRN":
            problems.add(at, f"This is not a brat annotation line (it starts with {kind!r}).")
            continue
        try:
            if kind == "T":
                spans.append(_entity(line, at))
            elif kind == "R":
                relations.append(_relation(line, at))
            else:
                links.append(_normalization(line, at))
        except ValueError as error:
            problems.add(at, str(error))
    return spans, relations, links


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
    return LinkRecord(span=parts[1], kb_id=None if kb_id == "NIL" else kb_id, kb=kb, where=at)


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
        for span in record.spans:
            pieces = line_pieces(text, span.fragments or ((span.start, span.end),))
            offsets = ";".join(f"{start} {end}" for start, end in pieces)
            shown = " ".join(text[start:end] for start, end in pieces)
            lines.append(f"{span.id}\t{token_label(span.label)} {offsets}\t{shown}")
        for number, relation in enumerate(record.relations, start=1):
            lines.append(
                f"R{number}\t{token_label(relation.label)} Arg1:{relation.head} Arg2:{relation.tail}"
            )
        spans = {span.id: span for span in record.spans}
        for number, (span_id, link) in enumerate(links_by_span(record).items(), start=1):
            kb = token_label(link.kb or "KB").replace(":", "_")
            name = surface(record, spans[span_id]).replace("\n", " ")
            lines.append(f"N{number}\tReference {span_id} {kb}:{link.kb_id or 'NIL'}\t{name}")
        return "".join(line + "\n" for line in lines)
