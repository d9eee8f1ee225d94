"""KB file formats: JSONL, CSV and Wikidata's JSON dump, read as a stream of records. Pure Python, no Django.

Every reader takes a binary stream (already decompressed) and yields `(line, item)` pairs, where `item`
is an EntityRecord, a LineError (the line is bad, and why), or None (the line is fine but holds nothing
to keep: a Wikidata property, or an entity with no label in the chosen languages). Memory stays
constant: one line (or one CSV record) at a time, however large the file.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

import orjson

from annotator.interchange.formats.lines import bounded_lines
from annotator.kb.records import EntityRecord, record_problems

# A Wikidata entity with every claim can run to a few MB on one line; anything past this is not a KB line.
MAX_LINE_BYTES = 32 * 1024 * 1024
# Wikidata entities with this many sitelinks (Wikipedia editions and the like) get the highest prior.
SITELINKS_FOR_FULL_PRIOR = 300

# P31 (instance of) classes that map to the usual NER types. A project can pass its own mapping.
DEFAULT_TYPE_MAP: Mapping[str, str] = {
    "Q5": "PERSON",  # human
    "Q6256": "GPE",  # country
    "Q3624078": "GPE",  # sovereign state
    "Q515": "GPE",  # city
    "Q1549591": "GPE",  # big city
    "Q5119": "GPE",  # capital
    "Q3957": "GPE",  # town
    "Q532": "GPE",  # village
    "Q10864048": "GPE",  # first-level administrative division
    "Q43229": "ORG",  # organization
    "Q4830453": "ORG",  # business
    "Q783794": "ORG",  # company
    "Q7278": "ORG",  # political party
    "Q327333": "ORG",  # government agency
    "Q7188": "ORG",  # government
    "Q484652": "ORG",  # international organization
    "Q1802801": "ORG",  # intelligence agency
    "Q4438121": "ORG",  # sports organization
    "Q3918": "ORG",  # university
    "Q82794": "LOC",  # geographic region
    "Q8502": "LOC",  # mountain
    "Q4022": "LOC",  # river
    "Q1656682": "EVENT",  # event
    "Q198": "EVENT",  # war
}


@dataclass(frozen=True)
class LineError:
    """Why one line of the file cannot be imported."""

    line: int
    field: str
    message: str


@dataclass(frozen=True)
class ReadOptions:
    languages: tuple[str, ...] = ("en",)  # Wikidata: labels, aliases and descriptions kept, in this order
    type_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TYPE_MAP))


Item = tuple[int, EntityRecord | LineError | None]


def open_decompressed(raw: IO[bytes]) -> IO[bytes]:
    """The stream itself, or a streaming decompressor over it when it starts like gzip or bzip2."""
    start = raw.read(3)
    raw.seek(0)
    if start[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if start == b"BZh":
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    return raw


def iter_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes without the line break); None for a line longer than MAX_LINE_BYTES."""
    for number, line in bounded_lines(stream, max_bytes=MAX_LINE_BYTES):
        yield number, None if line is None else line.rstrip(b"\r\n")


def _too_long(number: int) -> LineError:
    return LineError(number, "", f"The line is longer than {MAX_LINE_BYTES // (1024 * 1024)} MB.")


def _parse_json(number: int, line: bytes) -> dict[str, Any] | LineError:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return LineError(number, "", f"This line is not valid JSON ({error}).")
    if not isinstance(value, dict):
        return LineError(number, "", f"Each line must hold a JSON object, not {type(value).__name__}.")
    return value


def _checked(number: int, record: EntityRecord) -> EntityRecord | LineError:
    problems = record_problems(record)
    if problems:
        return LineError(number, problems[0][0], problems[0][1])
    return record


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _text(item: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = item.get(name)
    if value is None or value == "":
        if required:
            raise _FieldError(name, f"The {name} is missing.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _FieldError(name, f"The {name} must be text, not {type(value).__name__}.")
    return str(value)


def _optional(item: Mapping[str, Any], name: str, default: Any) -> Any:
    value = item.get(name)
    return default if value is None else value


def _prior(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise _FieldError("prior", "The prior must be a number between 0 and 1, not true or false.")
    try:
        prior = float(value)
    except (TypeError, ValueError):
        raise _FieldError("prior", f"The prior must be a number between 0 and 1 (got {value!r}).") from None
    if not math.isfinite(prior):
        raise _FieldError("prior", f"The prior must be a number between 0 and 1 (got {value!r}).")
    return prior


class _UnreadableLine(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _text_lines(stream: IO[bytes]) -> Iterator[str]:
    """The stream's lines as text, line breaks kept (the csv module wants them), a leading BOM dropped."""
    for number, line in enumerate(iter(lambda: stream.readline(MAX_LINE_BYTES + 1), b""), start=1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise _UnreadableLine(number, _too_long(number).message)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise _UnreadableLine(number, "This line is not UTF-8 text.") from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def _read_objects(
    stream: IO[bytes], build: Callable[[dict[str, Any]], EntityRecord | None], *, dump: bool = False
) -> Iterator[Item]:
    """One JSON object per line, each turned into a record by `build`. A dump's lines may end with a comma,
    and its first and last lines are the array's brackets."""
    for number, line in iter_lines(stream):
        if line is None:
            yield number, _too_long(number)
            continue
        line = line.strip()
        if dump and line.endswith(b","):
            line = line[:-1]
        if not line or (dump and line in (b"[", b"]")):
            continue
        item = _parse_json(number, line)
        if isinstance(item, LineError):
            yield number, item
            continue
        try:
            record = build(item)
        except _FieldError as error:
            yield number, LineError(number, error.field, error.message)
            continue
        yield number, None if record is None else _checked(number, record)


class JsonLines:
    """One JSON object per line: id, name, aliases (texts or {text, language}), description, type, prior,
    and optionally instance_of (ids), language (of the name) and metadata (an object)."""

    name: ClassVar[str] = "jsonl"
    label: ClassVar[str] = "JSON lines"

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        return _read_objects(stream, lambda item: self._record(item))

    def _record(self, item: dict[str, Any]) -> EntityRecord:
        aliases = _optional(item, "aliases", [])
        if not isinstance(aliases, list):
            raise _FieldError("aliases", "The aliases must be a list.")
        pairs = []
        for alias in aliases:
            if isinstance(alias, str):
                pairs.append((alias, ""))
            elif isinstance(alias, dict) and isinstance(alias.get("text"), str):
                language = alias.get("language") or ""
                if not isinstance(language, str):
                    raise _FieldError("aliases", "An alias's language must be text.")
                pairs.append((alias["text"], language))
            else:
                raise _FieldError("aliases", "Each alias must be text or an object with a text.")
        instance_of = _optional(item, "instance_of", [])
        if not isinstance(instance_of, list) or not all(isinstance(i, str) for i in instance_of):
            raise _FieldError("instance_of", "instance_of must be a list of ids.")
        metadata = _optional(item, "metadata", {})
        if not isinstance(metadata, dict):
            raise _FieldError("metadata", "The metadata must be an object.")
        return EntityRecord(
            kb_id=_text(item, "id", required=True).strip(),
            name=_text(item, "name", required=True),
            aliases=tuple(pairs),
            description=_text(item, "description"),
            type=_text(item, "type"),
            prior=_prior(item.get("prior")),
            instance_of=tuple(instance_of),
            metadata=metadata,
            language=_text(item, "language"),
        )


class Csv:
    """A header row, then one entity per row: id, name, aliases (separated by |), description, type, prior;
    optionally instance_of (separated by |) and language. Only id and name are required."""

    name: ClassVar[str] = "csv"
    label: ClassVar[str] = "CSV"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "id", "name", "aliases", "description", "type", "prior", "instance_of", "language",
    )  # fmt: skip
    SEPARATOR: ClassVar[str] = "|"

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        reader = csv.reader(_text_lines(stream), strict=True)
        last_line = 0
        try:
            header = [cell.strip().lower() for cell in next(reader, [])]
            last_line = reader.line_num
            if problem := self._header_problem(header):
                yield 1, LineError(1, problem[0], problem[1])
                return
            for row in reader:
                number, last_line = last_line + 1, reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    yield (
                        number,
                        LineError(
                            number, "", f"This row has {len(row)} cells; the header has {len(header)}."
                        ),
                    )
                    continue
                try:
                    record = self._record(dict(zip(header, row, strict=True)))
                except _FieldError as error:
                    yield number, LineError(number, error.field, error.message)
                    continue
                yield number, _checked(number, record)
        except _UnreadableLine as error:
            # Past a line that cannot be decoded, where the quoted cells begin and end is unknown: stop.
            yield error.line, LineError(error.line, "", error.message)
        except csv.Error as error:
            yield last_line + 1, LineError(last_line + 1, "", f"This is not valid CSV ({error}).")

    def _header_problem(self, header: list[str]) -> tuple[str, str] | None:
        missing = [column for column in ("id", "name") if column not in header]
        if missing:
            return missing[0], f"The header row has no {missing[0]!r} column (it needs id and name)."
        unknown = [column for column in header if column not in self.COLUMNS]
        if unknown:
            return unknown[0], (
                f"The header row has an unknown column {unknown[0]!r}; the columns are {', '.join(self.COLUMNS)}."
            )
        if len(set(header)) != len(header):
            return "", "The header row names a column twice."
        return None

    def _split(self, cell: str) -> list[str]:
        return [part.strip() for part in cell.split(self.SEPARATOR) if part.strip()]

    def _record(self, row: dict[str, str]) -> EntityRecord:
        language = row.get("language", "").strip()
        return EntityRecord(
            kb_id=row["id"].strip(),
            name=row["name"].strip(),
            aliases=tuple((alias, language) for alias in self._split(row.get("aliases", ""))),
            description=row.get("description", "").strip(),
            type=row.get("type", "").strip(),
            prior=_prior(row.get("prior", "").strip()),
            instance_of=tuple(self._split(row.get("instance_of", ""))),
            language=language,
        )


_QID = re.compile(r"^Q[1-9][0-9]*$")


class WikidataDump:
    """Wikidata's JSON dump (latest-all.json): a `[` line, one entity object per line each followed by a
    comma, a `]` line. Items only; labels, aliases and descriptions in the chosen languages; P31 ids."""

    name: ClassVar[str] = "wikidata"
    label: ClassVar[str] = "Wikidata JSON dump"

    def read(self, stream: IO[bytes], options: ReadOptions) -> Iterator[Item]:
        return _read_objects(stream, lambda item: self._record(item, options), dump=True)

    def _record(self, item: dict[str, Any], options: ReadOptions) -> EntityRecord | None:
        if item.get("type") != "item":
            return None  # properties and lexemes are not things mentions refer to
        kb_id = item.get("id")
        if not isinstance(kb_id, str) or not _QID.match(kb_id):
            raise _FieldError("id", f"An item's id must look like Q42 (got {kb_id!r}).")
        labels = self._by_language(item, "labels", options.languages)
        if not labels:
            return None  # no name in any language the KB keeps
        language, name = next(iter(labels.items()))
        descriptions = self._by_language(item, "descriptions", options.languages)
        aliases = [(text, lang) for lang, text in labels.items()]
        aliases.extend(self._aliases(item, options.languages))
        instance_of = self._instance_of(item)
        sitelinks = item.get("sitelinks") or {}
        if not isinstance(sitelinks, dict):
            raise _FieldError("sitelinks", "The sitelinks must be an object.")
        prior = min(1.0, math.log1p(len(sitelinks)) / math.log1p(SITELINKS_FOR_FULL_PRIOR))
        return EntityRecord(
            kb_id=kb_id,
            name=name,
            aliases=tuple(dict.fromkeys(aliases)),
            description=next(iter(descriptions.values()), ""),
            type=next((options.type_map[c] for c in instance_of if c in options.type_map), ""),
            prior=round(prior, 4),
            instance_of=instance_of,
            metadata={"sitelinks": len(sitelinks)} if sitelinks else {},
            language=language,
        )

    def _by_language(self, item: dict[str, Any], key: str, languages: Sequence[str]) -> dict[str, str]:
        """{language: value} of a labels/descriptions map, in the order of `languages`."""
        values = item.get(key) or {}
        if not isinstance(values, dict):
            raise _FieldError(key, f"The {key} must be an object keyed by language.")
        found = {}
        for language in languages:
            entry = values.get(language)
            if entry is None:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                raise _FieldError(key, f"The {language} entry of {key} has no text value.")
            if entry["value"].strip():
                found[language] = entry["value"]
        return found

    def _aliases(self, item: dict[str, Any], languages: Sequence[str]) -> list[tuple[str, str]]:
        values = item.get("aliases") or {}
        if not isinstance(values, dict):
            raise _FieldError("aliases", "The aliases must be an object keyed by language.")
        found = []
        for language in languages:
            entries = values.get(language) or []
            if not isinstance(entries, list):
                raise _FieldError("aliases", f"The {language} aliases must be a list.")
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                    raise _FieldError("aliases", f"An alias in {language} has no text value.")
                found.append((entry["value"], language))
        return found

    def _instance_of(self, item: dict[str, Any]) -> tuple[str, ...]:
        claims = item.get("claims") or {}
        if not isinstance(claims, dict):
            raise _FieldError("claims", "The claims must be an object keyed by property.")
        statements = claims.get("P31") or []
        if not isinstance(statements, list):
            raise _FieldError("claims", "The P31 claims must be a list.")
        classes = []
        for statement in statements:
            if not isinstance(statement, dict) or statement.get("rank") == "deprecated":
                continue
            snak = statement.get("mainsnak") or {}
            if not isinstance(snak, dict) or snak.get("snaktype") != "value":
                continue  # "no value" and "unknown value" name no class
            value = (snak.get("datavalue") or {}).get("value")
            if not isinstance(value, dict):
                raise _FieldError("claims", "A P31 claim has no item as its value.")
            class_id = value.get("id") or (f"Q{value['numeric-id']}" if "numeric-id" in value else None)
            if not isinstance(class_id, str) or not _QID.match(class_id):
                raise _FieldError("claims", f"A P31 claim's value must be an item id (got {class_id!r}).")
            classes.append(class_id)
        return tuple(dict.fromkeys(classes))


FORMATS: dict[str, JsonLines | Csv | WikidataDump] = {
    reader.name: reader for reader in (JsonLines(), Csv(), WikidataDump())
}


def detect_format(stream: IO[bytes]) -> str:
    """The format a (decompressed, seekable or peekable) stream looks like, from its first bytes."""
    head = stream.peek(64) if hasattr(stream, "peek") else b""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"[":
        return WikidataDump.name
    if start == b"{":
        return JsonLines.name
    return Csv.name


def reader_for(name: str) -> JsonLines | Csv | WikidataDump:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"Unknown KB format {name!r}; use one of {', '.join(FORMATS)}.") from None
