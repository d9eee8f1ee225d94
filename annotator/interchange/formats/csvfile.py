"""CSV with a header row: articles only, with a mapping from the file's columns to the article's fields.

Options: `text` (the column holding the text; default "text"), `external_id` (default "external_id", or
"id" when there is such a column), `title` (default "title"), `metadata` (the columns kept as metadata;
default every other column), `delimiter` (default ","). Empty metadata cells are left out.

The writer writes one row per span (articles without spans have no row), for spreadsheets: a cell that
a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) gets a leading
`'`. Reading such a file back gives articles only, like any CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, ClassVar

from annotator.interchange.formats.base import (
    DocumentRecord,
    FormatError,
    MemberContext,
    ProblemLog,
    StreamReader,
    Where,
)
from annotator.interchange.formats.lines import byte_lines, decode
from annotator.interchange.formats.writing import links_by_span, surface

ROLES = ("text", "external_id", "title")


class Csv(StreamReader):
    name: ClassVar[str] = "csv"
    label: ClassVar[str] = "CSV (column mapping)"
    suffixes: ClassVar[tuple[str, ...]] = (".csv", ".tsv")
    option_names: ClassVar[frozenset[str]] = frozenset({*ROLES, "metadata", "delimiter"})

    def check_options(self, options: Mapping[str, Any]) -> None:
        super().check_options(options)
        delimiter = options.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
            raise FormatError("The CSV delimiter must be one character (not a quote or a line break).")
        metadata = options.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, list) and all(isinstance(c, str) for c in metadata)
        ):
            raise FormatError("The CSV metadata option must be a list of column names.")
        for role in ROLES:
            if role in options and not (isinstance(options[role], str) and options[role]):
                raise FormatError(f"The CSV {role} option must name a column.")

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        where, options, limits = context.where, context.options, context.limits
        csv.field_size_limit(limits.max_record_bytes)
        bad_lines: set[int] = set()

        def text_lines() -> Iterator[str]:
            for number, line in byte_lines(stream, where, problems, max_bytes=limits.max_record_bytes):
                text = decode(line, where, problems, line=number)
                if text is None:
                    bad_lines.add(number)
                    text = line.decode("utf-8", "replace")  # keeps the CSV structure; the record is refused
                yield text

        rows = csv.reader(text_lines(), delimiter=options.get("delimiter", ","), strict=True)
        before = len(problems)
        try:
            header = next(rows)
        except StopIteration:
            if len(problems) == before:  # not when the lines could not be read (UTF-16, say)
                problems.add(Where(where.file, 1), "The file is empty: a CSV file needs a header row.")
            return
        except csv.Error as error:
            problems.add(Where(where.file, 1), f"The header row cannot be read: {error}.")
            return
        columns = self.columns(header, options, Where(where.file, 1), problems)
        if columns is None:
            return
        text_at, id_at, title_at, metadata_at = columns
        first = rows.line_num + 1
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as error:
                problems.add(Where(where.file, first), self.explain(error, first, rows.line_num))
                first = rows.line_num + 1
                continue
            at, last = Where(where.file, first), rows.line_num
            first = last + 1
            if not row or bad_lines.intersection(range(at.line or 0, last + 1)):
                continue
            if len(row) != len(header):
                problems.add(at, f"The row has {len(row)} fields; the header has {len(header)}.")
                continue
            yield DocumentRecord(
                text=row[text_at],
                external_id=(row[id_at] or None) if id_at is not None else None,
                title=row[title_at] if title_at is not None else "",
                metadata={header[i]: row[i] for i in metadata_at if row[i] != ""},
                where=at,
            )

    @staticmethod
    def explain(error: csv.Error, first: int, last: int) -> str:
        if "unexpected end of data" in str(error):
            return f"A quoted field that starts on line {first} is never closed (the file ends inside it)."
        return f"The row starting on line {first} cannot be read: {error}."

    @staticmethod
    def columns(
        header: list[str], options: Mapping[str, Any], where: Where, problems: ProblemLog
    ) -> tuple[int, int | None, int | None, list[int]] | None:
        """Where the text, external id, title and metadata are in each row, per the mapping."""
        position = {name: index for index, name in reversed(list(enumerate(header)))}
        if len(position) != len(header):
            repeated = next(name for name in header if header.count(name) > 1)
            problems.add(where, f"The header names the column {repeated!r} twice.", field=repeated)
            return None
        defaults = {
            "text": "text",
            "external_id": "external_id" if "external_id" in position else "id",
            "title": "title",
        }
        found: dict[str, int | None] = {}
        for role in ROLES:
            column = options.get(role, defaults[role])
            if column not in position and (role == "text" or role in options):
                problems.add(
                    where,
                    f"There is no column {column!r} for the {role.replace('_', ' ')} "
                    f"(the columns are: {', '.join(header)}).",
                    field=role,
                )
                return None
            found[role] = position.get(column)
        used = {index for index in found.values() if index is not None}
        if "metadata" in options:
            missing = [name for name in options["metadata"] if name not in position]
            if missing:
                problems.add(where, f"There is no column {missing[0]!r} for the metadata.", field="metadata")
                return None
            metadata = [position[name] for name in options["metadata"]]
        else:
            metadata = [index for index in range(len(header)) if index not in used]
        text_at = found["text"]
        assert text_at is not None  # a missing text column returned above
        return text_at, found["external_id"], found["title"], metadata


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "article_id", "external_id", "title", "set", "annotator", "span_id", "start", "end", "label", "text",
    "kb", "kb_id",
)  # fmt: skip


def neutralised(value: Any) -> str:
    """The cell as text that no spreadsheet runs as a formula."""
    cell = "" if value is None else str(value)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


class CsvWriter:
    """One row per span: where it is, its label and text, and its KB link (`NIL`, or empty: not linked)."""

    name: ClassVar[str] = "csv"
    label: ClassVar[str] = "CSV (one row per span)"
    media_type: ClassVar[str] = "text/csv; charset=utf-8"
    extension: ClassVar[str] = ".csv"
    streamable: ClassVar[bool] = True

    def write(self, documents: Iterable[DocumentRecord]) -> Iterator[bytes]:
        text = io.StringIO()
        rows = csv.writer(text, lineterminator="\r\n")
        rows.writerow(CSV_COLUMNS)
        for record in documents:
            provenance = record.provenance or {}
            links = links_by_span(record)
            for span in record.spans:
                link = links.get(span.id)
                cells = (
                    provenance.get("article_id"), record.external_id, record.title, provenance.get("set"),
                    provenance.get("annotator"), span.id, span.start, span.end, span.label,
                    surface(record, span), link.kb if link else None,
                    (link.kb_id or "NIL") if link else None,
                )  # fmt: skip
                rows.writerow([neutralised(cell) for cell in cells])
            yield text.getvalue().encode("utf-8")
            text.seek(0)
            text.truncate()
        yield text.getvalue().encode("utf-8")
