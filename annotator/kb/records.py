"""What one KB entity looks like on its way in, whatever file it came from. Pure Python."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from annotator.kb.normalize import normalize_alias

# Column sizes of the kb tables: a value that does not fit is reported, never cut.
MAX_KB_ID, MAX_NAME, MAX_ALIAS, MAX_LANGUAGE, MAX_TYPE = 255, 500, 500, 16, 100


@dataclass(frozen=True)
class EntityRecord:
    """One KB entity as a source describes it. The name counts as an alias too."""

    kb_id: str
    name: str
    aliases: tuple[tuple[str, str], ...] = ()  # (text, language)
    description: str = ""
    type: str = ""
    prior: float = 0.0
    instance_of: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)
    language: str = ""  # the language of `name`

    def alias_keys(self) -> set[tuple[str, str]]:
        """(text, language) of every name the entity goes by, its own name included; blank names left out."""
        names = {(self.name, self.language), *self.aliases}
        return {(text, language) for text, language in names if normalize_alias(text)}


def _shown(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:40]}…"


def record_problems(record: EntityRecord) -> list[tuple[str, str]]:
    """What keeps the record from being stored, as (field, message) pairs; empty when it is fine."""
    problems = []
    if not record.kb_id.strip():
        problems.append(("id", "The id is missing."))
    elif len(record.kb_id) > MAX_KB_ID:
        problems.append(("id", f"The id {_shown(record.kb_id)!r} is longer than {MAX_KB_ID} characters."))
    if not normalize_alias(record.name):
        problems.append(("name", "The name is missing."))
    elif len(record.name) > MAX_NAME:
        problems.append(("name", f"The name {_shown(record.name)!r} is longer than {MAX_NAME} characters."))
    for text, language in record.aliases:
        if len(text) > MAX_ALIAS:
            problems.append(("aliases", f"The alias {_shown(text)!r} is longer than {MAX_ALIAS} characters."))
        if len(language) > MAX_LANGUAGE:
            problems.append(
                (
                    "aliases",
                    f"The language code {_shown(language)!r} is longer than {MAX_LANGUAGE} characters.",
                )
            )
    if len(record.language) > MAX_LANGUAGE:
        problems.append(
            (
                "language",
                f"The language code {_shown(record.language)!r} is longer than {MAX_LANGUAGE} characters.",
            )
        )
    if len(record.type) > MAX_TYPE:
        problems.append(("type", f"The type {_shown(record.type)!r} is longer than {MAX_TYPE} characters."))
    texts = [
        ("id", record.kb_id),
        ("name", record.name),
        ("description", record.description),
        ("type", record.type),
    ]
    texts.extend(("aliases", text) for text, _ in record.aliases)
    for field_name, text in texts:
        if "\x00" in text:
            problems.append((field_name, f"The {field_name} holds a NUL character, which text cannot hold."))
    if not (math.isfinite(record.prior) and 0.0 <= record.prior <= 1.0):
        problems.append(("prior", f"The prior must be a number between 0 and 1 (got {record.prior})."))
    return problems
