"""What an import is asked to do, and what it did: plain values that travel in a Job's params and result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from annotator.annotations.models import SetKind
from annotator.core.errors import DomainError
from annotator.interchange.formats import FORMATS
from annotator.interchange.formats.base import FormatError

MAX_SET_NAME = 100  # AnnotationSet.name


def counted(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class OnDuplicate(StrEnum):
    """What to do with a record whose article is already in the project (same external id, or same text)."""

    SKIP = "skip"
    UPDATE = "update"
    ERROR = "error"


class InvalidImport(DomainError):
    """An import asked for something that cannot be done (unknown format, bad option), before any reading."""


@dataclass(frozen=True)
class ImportOptions:
    """How to import: the format (and its options), where annotations go, and what to do with duplicates.

    Annotations go into an imported set named `set_name`, or into the gold set (`set_kind="gold"`).
    `create_types` lets the import add entity and relation types the schema lacks; otherwise unknown
    labels are errors. `dry_run` does everything, checks included, then keeps nothing. `strict` refuses
    the import when anything would be skipped or changed (what is otherwise imported with a warning).
    """

    format: str
    format_options: dict[str, Any] = field(default_factory=dict)
    set_kind: str = SetKind.IMPORTED
    set_name: str = "imported"
    on_duplicate: OnDuplicate = OnDuplicate.SKIP
    create_types: bool = False
    dry_run: bool = False
    curated: bool = False  # gold sets the import creates are curated at once (ready to train on)
    strict: bool = False  # every warning (something skipped or changed) is an error: nothing is imported

    def __post_init__(self) -> None:
        try:
            reader = FORMATS.reader(self.format)
            check = getattr(reader, "check_options", None)
            if check is not None:
                check(self.format_options)
            elif self.format_options:
                raise FormatError(f"The {reader.label} format takes no options.")
        except FormatError as error:
            raise InvalidImport(str(error), field="format") from None
        if self.set_kind not in (SetKind.IMPORTED, SetKind.GOLD):
            raise InvalidImport("Annotations go into an imported set or into gold.", field="set_kind")
        if self.set_kind == SetKind.IMPORTED and not 0 < len(self.set_name.strip()) <= MAX_SET_NAME:
            raise InvalidImport(f"Name the imported set (up to {MAX_SET_NAME} characters).", field="set_name")
        if self.curated and self.set_kind != SetKind.GOLD:
            raise InvalidImport("Only gold sets can be imported as curated.", field="curated")
        object.__setattr__(self, "on_duplicate", OnDuplicate(self.on_duplicate))

    def as_params(self) -> dict[str, Any]:
        return {**asdict(self), "on_duplicate": str(self.on_duplicate)}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ImportOptions:
        names = cls.__dataclass_fields__.keys()
        return cls(**{name: value for name, value in params.items() if name in names})


@dataclass
class ImportResult:
    """What an import did (or, in a dry run, would have done)."""

    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    spans: int = 0
    links: int = 0
    relations: int = 0
    attributes: int = 0
    revisions: int = 0
    flags: int = 0
    entity_types_created: list[str] = field(default_factory=list)
    relation_types_created: list[str] = field(default_factory=list)
    attributes_created: list[str] = field(default_factory=list)
    # What was imported with something skipped or changed: {file, line, field, kind, action, message}
    # (the first few hundred), and how many of each kind ({kind, action, count}, all of them).
    warnings: list[dict[str, Any]] = field(default_factory=list)
    warning_counts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One sentence for the job's message and the command line."""
        verb = "Would import" if self.dry_run else "Imported"
        parts = [f"{verb} {counted(self.created, 'new article')}"]
        for count, words in (
            (self.updated, "updated"), (self.unchanged, "unchanged"), (self.skipped, "skipped as duplicates"),
        ):  # fmt: skip
            if count:
                parts.append(f"{count:,} {words}")
        sentence = ", ".join(parts)
        if self.spans or self.relations or self.links:
            found = [
                counted(self.spans, "span"),
                counted(self.relations, "relation"),
                counted(self.links, "link"),
            ]
            if self.attributes:
                found.append(counted(self.attributes, "attribute value"))
            sentence += "; " + ", ".join(found)
        if self.revisions:
            sentence += (
                f"; {counted(self.revisions, 'new text revision')} with "
                f"{counted(self.flags, 'annotation')} to review"
            )
        if self.entity_types_created or self.relation_types_created:
            sentence += f"; new types: {', '.join(self.entity_types_created + self.relation_types_created)}"
        if self.attributes_created:
            sentence += f"; new attributes: {', '.join(self.attributes_created)}"
        if self.warning_counts:
            sentence += "; warnings: " + warning_summary(self.warning_counts)
        return sentence + ("; nothing was kept (dry run)." if self.dry_run else ".")


def warning_summary(counts: list[dict[str, Any]]) -> str:
    """Warnings added up by kind: "3 brat events kept as trigger spans, 1 archive member skipped"."""
    return ", ".join(f"{counted(item['count'], item['kind'])} {item['action']}" for item in counts)
