"""What every format shares: the records it reads and writes, error reports, and the registry.

Nothing in `formats/` imports Django. A reader turns a `Source` (one file, or the members of an archive)
into `DocumentRecord`s, logging what is wrong with the input to a `ProblemLog` and skipping the records
it cannot read, so that one pass reports every problem it can find. Export (a later issue) writes the
same records back through a `Writer` in the same module, so that import(export(x)) == x on everything
the format can carry.

Offsets in records are half-open code point indices into the record's `text` exactly as the source has
it (line endings included). `interchange.checks` normalises line endings and remaps the offsets before
anything is stored, so readers never do offset arithmetic of their own beyond their format's rules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, Protocol, TypeVar


@dataclass(frozen=True)
class Where:
    """Where something was read: a file (or `archive.zip:member`), a line (1-based) when the format has
    lines, and for formats without lines (a JSON array, a DocBin) the item, as a path like `[3]`."""

    file: str
    line: int | None = None
    item: str | None = None

    def field(self, name: str | None) -> str | None:
        """A field of the item, as reports name it: `[3].annotations[0]`, or just the field."""
        if self.item is None:
            return name
        if name is None:
            return self.item
        return f"{self.item}{'' if name.startswith('[') else '.'}{name}"


AttributeValue = bool | str
# The attribute that holds a free-text note on a span (brat `#` AnnotatorNotes, a Label Studio text area
# on a region): created as a free-text attribute, where other text values make one-of-a-list attributes.
NOTE = "Note"
# The attribute that holds a link to a KB the project does not have, as `KB:ID` (free text too).
REFERENCE = "Reference"


def attribute_pairs(values: Mapping[str, AttributeValue]) -> tuple[tuple[str, AttributeValue], ...]:
    """A span's attribute values in the one order records keep them (by name), so records compare equal."""
    return tuple(sorted(values.items()))


@dataclass(frozen=True)
class SpanRecord:
    """An entity mention. `id` is unique in its document; relations and links refer to it.

    A discontinuous mention (brat `T1 ORG 0 5;10 15`) keeps every piece in `fragments`, in order, and
    `start`/`end` are the first piece's start and the last piece's end. `text` is the surface the source
    declares, if it declares one (pieces joined by one space, as brat does); it must match the text.
    `attributes` are the span's attribute values as (name, value) pairs sorted by name: `True`/`False`
    for a yes-or-no attribute, a text otherwise (brat `A`/`M` lines, JSONL `attributes`).
    """

    id: str
    start: int
    end: int
    label: str
    text: str | None = None
    fragments: tuple[tuple[int, int], ...] = ()
    where: Where | None = field(default=None, compare=False)
    provenance: Mapping[str, Any] | None = field(default=None, compare=False)
    attributes: tuple[tuple[str, AttributeValue], ...] = ()


_new = object.__new__
_set = object.__setattr__


def span_record(
    id: str, start: int, end: int, label: str, text: str | None, where: Where | None
) -> SpanRecord:
    """`SpanRecord(id, start, end, label, text, (), where)`, equal to it in every way, made in half the time:
    a frozen dataclass's __init__ sets each of its nine fields through object.__setattr__, and a big
    import makes half a million of them."""
    record = _new(SpanRecord)
    _set(record, "__dict__", {
        "id": id, "start": start, "end": end, "label": label, "text": text, "fragments": (), "where": where,
        "provenance": None, "attributes": (),
    })  # fmt: skip
    return record


@dataclass(frozen=True)
class RelationRecord:
    """A typed relation from the span `head` to the span `tail` (span ids of the same document)."""

    head: str
    tail: str
    label: str
    id: str | None = None
    where: Where | None = field(default=None, compare=False)
    provenance: Mapping[str, Any] | None = field(default=None, compare=False)
    # The source says the relation has no direction (a brat equivalence): a type the import creates for
    # it is symmetric.
    symmetric: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class LinkRecord:
    """A span's link into a knowledge base: `kb_id` None means NIL (known not to be in the KB).

    `kb` names the knowledge base when the source says which one (brat `Wikidata:Q42`).
    """

    span: str
    kb_id: str | None
    kb: str | None = None
    where: Where | None = field(default=None, compare=False)
    provenance: Mapping[str, Any] | None = field(default=None, compare=False)
    # An id in none of the project's KBs is kept on the span as its `Reference` (`KB:ID`), with a warning,
    # rather than refused: a brat normalisation names ids of KBs the project need not have.
    keep_unknown: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class DocumentRecord:
    """One article as a format carries it.

    `annotated` says whether the source speaks about annotations at all: a brat document with no T
    lines has none (and re-importing it empties its set), a CSV row says nothing about them.
    Exports fill `provenance` with at least `article_id` (the article's primary key).
    """

    text: str
    external_id: str | None = None
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    annotated: bool = False
    spans: tuple[SpanRecord, ...] = ()
    relations: tuple[RelationRecord, ...] = ()
    links: tuple[LinkRecord, ...] = ()
    where: Where = field(default=Where(""), compare=False)
    # What an export knows about where the annotations come from (the set, who, when, which suggestion);
    # informative only: an import makes its own rows, so it is never compared.
    provenance: Mapping[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, said where and why."""

    file: str
    line: int | None
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Notice:
    """Something an import read but skipped or changed: the import goes on, and says so.

    `kind` names what it was and `action` what became of it, so that notices add up by kind:
    ("brat event", "kept as a trigger span and argument relations") -> "3 brat events kept as ...".
    """

    file: str
    line: int | None
    field: str | None
    kind: str
    action: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "line": self.line, "field": self.field, "kind": self.kind,
            "action": self.action, "message": self.message,
        }  # fmt: skip


class TooManyProblems(Exception):
    """The report is full: reading on would only make it longer."""


class ProblemLog:
    """Collects problems (errors: nothing is imported) up to `limit`, then stops the read by raising
    TooManyProblems; and warnings (`warn`: imported, with something skipped or changed), every one
    counted by kind, the first `limit` kept in full. `strict` makes every warning an error."""

    def __init__(self, limit: int = 100, *, strict: bool = False) -> None:
        self.limit = limit
        self.strict = strict
        self.items: list[Problem] = []
        self.warnings: list[Notice] = []
        self.counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()  # the reader (read ahead in a thread) and the importer both warn

    def warn(
        self,
        where: Where,
        message: str,
        *,
        kind: str,
        action: str,
        field: str | None = None,
        line: int | None = None,
        count: int = 1,
    ) -> None:
        """Note that `count` things of `kind` were skipped or changed (`action`), and why (`message`)."""
        if self.strict:
            self.add(where, f"{message} (refused: the import is strict)", field=field, line=line)
            return
        line = line if line is not None else where.line
        with self._lock:
            self.counts[(kind, action)] = self.counts.get((kind, action), 0) + count
            if len(self.warnings) < self.limit:
                self.warnings.append(Notice(where.file, line, where.field(field), kind, action, message))

    def warning_counts(self) -> list[dict[str, Any]]:
        return [
            {"kind": kind, "action": action, "count": count}
            for (kind, action), count in sorted(self.counts.items())
        ]

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, where: Where, message: str, *, field: str | None = None, line: int | None = None) -> None:
        line = line if line is not None else where.line
        self.items.append(Problem(where.file, line, where.field(field), message))
        if len(self.items) >= self.limit:
            raise TooManyProblems

    def as_dicts(self) -> list[dict[str, Any]]:
        return [problem.as_dict() for problem in self.items]


@dataclass(frozen=True)
class Limits:
    """What an input may hold before it is refused. The service fills these in from the settings."""

    max_members: int = 100_000  # files in an archive
    max_total_bytes: int = 20 * 2**30  # bytes inflated from an archive or a compressed file, in all
    max_ratio: float = 100.0  # inflated / compressed size of any member past its first MiB
    max_record_bytes: int = 64 * 2**20  # one line (JSONL, CSV...) or one whole-file document (.txt, .ann)


class FormatError(ValueError):
    """A request a format cannot serve at all (unknown format, bad option), before any input is read."""


@dataclass(frozen=True)
class Member:
    """One file to read: a whole upload, or one member of an archive. `open()` streams its bytes."""

    name: str
    open: Callable[[], AbstractContextManager[IO[bytes]]]
    size: int | None = None

    @property
    def suffix(self) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""

    @property
    def stem(self) -> str:
        """The name without its last extension: `news/a1.txt` -> `news/a1`."""
        return self.name[: len(self.name) - len(self.suffix)] if self.suffix else self.name


class Source(Protocol):
    """Something to import: one file or an archive. Yields its members in a stable order."""

    name: str
    is_archive: bool
    limits: Limits

    def members(self) -> Iterator[Member]: ...

    @property
    def bytes_read(self) -> int: ...

    @property
    def bytes_total(self) -> int | None: ...


def where_in(source: Source, member: Member, line: int | None = None) -> Where:
    """How reports name a member: the file itself, or `archive.zip:member` inside an archive."""
    return Where(f"{source.name}:{member.name}" if source.is_archive else source.name, line)


def is_ignorable(name: str) -> bool:
    """Archive members no reader wants: folders, macOS resource forks (`__MACOSX/`), hidden files."""
    parts = name.split("/")
    return name.endswith("/") or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def skipped_member(
    source: Source, member: Member, label: str, suffixes: Iterable[str], problems: ProblemLog
) -> None:
    """Warn that an archive member is not read: it is not a file of the format (a photo, a script)."""
    problems.warn(
        where_in(source, member),
        f"This member is not read: the {label} format reads {', '.join(suffixes)} files.",
        kind="archive member",
        action="skipped",
    )


class Reader(Protocol):
    """Reads one format. Options (e.g. a CSV column mapping) are checked before anything is read."""

    name: ClassVar[str]
    label: ClassVar[str]
    option_names: ClassVar[frozenset[str]]

    def read(
        self, source: Source, problems: ProblemLog, options: Mapping[str, Any] | None = None
    ) -> Iterator[DocumentRecord]: ...


class Writer(Protocol):
    """Writes records as a stream of byte chunks, so that the same module's reader reads back equal records.

    `streamable` says whether the first bytes come before the last record is read (a DocBin is one
    compressed blob: it holds everything until the end). `extension` names the file it makes.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    media_type: ClassVar[str]
    extension: ClassVar[str]
    streamable: ClassVar[bool]

    def write(self, documents: Iterable[DocumentRecord]) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class MemberContext:
    """What a reader knows while it reads one member: where it is, and what it was asked to do."""

    member: Member
    where: Where
    options: Mapping[str, Any]
    limits: Limits

    def at(self, line: int | None = None, item: str | None = None) -> Where:
        return Where(self.where.file, line, item)


class StreamReader:
    """A reader of formats where each member is read on its own, one stream at a time.

    Subclasses say which member names they read (`suffixes`) and implement `read_member`. A single
    uploaded file is always read, whatever its name: the person chose the format.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]
    option_names: ClassVar[frozenset[str]] = frozenset()

    def check_options(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - self.option_names)
        if unknown:
            allowed = ", ".join(sorted(self.option_names)) or "none"
            raise FormatError(
                f"The {self.label} format has no option {unknown[0]!r} (its options: {allowed})."
            )

    def read(
        self, source: Source, problems: ProblemLog, options: Mapping[str, Any] | None = None
    ) -> Iterator[DocumentRecord]:
        options = dict(options or {})
        self.check_options(options)
        for member in source.members():
            if source.is_archive and is_ignorable(member.name):
                continue
            if source.is_archive and member.suffix not in self.suffixes:
                skipped_member(source, member, self.label, self.suffixes, problems)
                continue
            context = MemberContext(member, where_in(source, member), options, source.limits)
            with member.open() as stream:
                yield from self.read_member(stream, context, problems)

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        raise NotImplementedError


@dataclass(frozen=True)
class Registry:
    """The formats by name. Asking for one that does not exist raises FormatError."""

    readers: Mapping[str, Reader]
    writers: Mapping[str, Writer] = field(default_factory=dict)

    def reader(self, name: str) -> Reader:
        try:
            return self.readers[name]
        except KeyError:
            known = ", ".join(sorted(self.readers))
            raise FormatError(f"Unknown format {name!r}. Known formats: {known}.") from None

    def writer(self, name: str) -> Writer:
        try:
            return self.writers[name]
        except KeyError:
            known = ", ".join(sorted(self.writers))
            raise FormatError(f"Unknown export format {name!r}. Export formats: {known}.") from None

    def choices(self) -> list[tuple[str, str]]:
        return [(name, reader.label) for name, reader in self.readers.items()]

    def export_choices(self) -> list[tuple[str, str]]:
        return [(name, writer.label) for name, writer in self.writers.items()]

    def __contains__(self, name: object) -> bool:
        return name in self.readers


T = TypeVar("T", Reader, Writer)


def _by_name(formats: Iterable[T]) -> dict[str, T]:
    table: dict[str, T] = {}
    for format_ in formats:
        if format_.name in table:
            raise ValueError(f"Two formats are named {format_.name!r}.")
        table[format_.name] = format_
    return table


def build_registry(readers: Iterable[Reader], writers: Iterable[Writer] = ()) -> Registry:
    return Registry(_by_name(readers), _by_name(writers))
