"""A project's label schema as a document: read from YAML or JSON, checked key by key, written back.

The document (what `manage.py create_project --schema` reads, what the API's `schema` field takes, and
what copying a project carries over):

    entity_types:            # list, in order; each: name (required), key, colour, description, attributes
      - name: PER
        key: p               # one letter or digit, unique in the project
        colour: "#1f77b4"    # #rrggbb
        description: A person
        attributes:          # each: name (required), kind (boolean | choice | text), choices, description
          - {name: negated, kind: boolean}
    relation_types:          # each: name (required), directed (default true), head, tail (type names; none
      - {name: works_for, head: [PER], tail: [ORG]}   # means any), key, description
    guidelines: "Markdown"   # optional
    settings: {annotators_per_article: 2}   # optional; the project settings by name

Errors name the key they are about (`entity_types[2].colour: ...`), so a long file is fixed quickly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from annotator.projects.models import (
    AssignmentStrategy,
    AttributeKind,
    EntityTypeAttribute,
    colour_validator,
    validate_type_key,
)

TOP_KEYS = ("entity_types", "relation_types", "guidelines", "settings")
ENTITY_KEYS = ("name", "key", "colour", "description", "attributes")
ATTRIBUTE_KEYS = ("name", "kind", "choices", "description")
RELATION_KEYS = ("name", "directed", "head", "tail", "key", "description")
SETTING_TYPES: dict[str, type] = {
    "annotators_per_article": int,
    "allow_overlapping_spans": bool,
    "assignment_strategy": str,
    "blind": bool,
    "abandon_after_minutes": int,
    "promote_to_gold": bool,
}
NAME_MAX = 64
# Light enough for dark text on a chip, dark enough to show as an underline on the page (colours.py).
PALETTE = ("#1f9bd1", "#e0712b", "#3aa83a", "#c672d7", "#a99200", "#e0607e", "#8c8c8c", "#18a49a")


class SchemaError(ValueError):
    """A schema document that cannot be used; the message names the key at fault."""


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    kind: str
    choices: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class EntityTypeSpec:
    name: str
    key: str = ""
    colour: str = PALETTE[0]
    description: str = ""
    attributes: tuple[AttributeSpec, ...] = ()


@dataclass(frozen=True)
class RelationTypeSpec:
    name: str
    directed: bool = True
    head: tuple[str, ...] = ()
    tail: tuple[str, ...] = ()
    key: str = ""
    description: str = ""


@dataclass(frozen=True)
class SchemaSpec:
    entity_types: tuple[EntityTypeSpec, ...] = ()
    relation_types: tuple[RelationTypeSpec, ...] = ()
    guidelines: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def as_document(self) -> dict[str, Any]:
        """The spec as plain data (lists, not tuples), ready for JSON or YAML."""
        return json.loads(json.dumps(asdict(self)))


def load_schema_text(text: str, *, filename: str = "") -> SchemaSpec:
    """Parse a schema file: JSON when it is JSON (or named .json), YAML otherwise."""
    if filename.lower().endswith(".json") or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SchemaError(f"Not valid JSON: {error}") from None
    else:
        import yaml  # only the command line and uploads read YAML

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise SchemaError(f"Not valid YAML: {error}") from None
    return parse_schema(data)


def parse_schema(data: object) -> SchemaSpec:
    """Check a schema document and turn it into a SchemaSpec, or raise SchemaError naming the key."""
    if data is None:
        return SchemaSpec()
    document = _mapping(data, "the schema", TOP_KEYS)
    entity_types = tuple(
        _entity_type(item, f"entity_types[{i}]", i)
        for i, item in enumerate(_list(document.get("entity_types", []), "entity_types"))
    )
    _unique([t.name for t in entity_types], "entity_types", "name")
    _unique([t.key for t in entity_types if t.key], "entity_types", "key")
    names = {t.name for t in entity_types}
    relation_types = tuple(
        _relation_type(item, f"relation_types[{i}]", names)
        for i, item in enumerate(_list(document.get("relation_types", []), "relation_types"))
    )
    _unique([t.name for t in relation_types], "relation_types", "name")
    guidelines = document.get("guidelines", "") or ""
    if not isinstance(guidelines, str):
        raise SchemaError("guidelines: give the guidelines as one Markdown text.")
    return SchemaSpec(entity_types, relation_types, guidelines, _settings(document.get("settings", {}) or {}))


def _mapping(data: object, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SchemaError(f"{where}: expected a mapping with the keys {', '.join(allowed)}.")
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise SchemaError(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(allowed)}.")
    return data


def _list(data: object, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise SchemaError(f"{where}: expected a list.")
    return data


def _text(item: dict[str, Any], key: str, where: str, *, required: bool = False, limit: int = 0) -> str:
    value = item.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise SchemaError(f"{where}.{key}: expected text, not {value!r}.")
    value = value.strip() if key == "name" else value
    if required and not value:
        raise SchemaError(f"{where}.{key}: required.")
    if limit and len(value) > limit:
        raise SchemaError(f"{where}.{key}: at most {limit} characters.")
    return value


def _check(validator: Any, value: str, where: str) -> None:
    try:
        validator(value)
    except ValidationError as error:
        raise SchemaError(f"{where}: {' '.join(error.messages)}") from None


def _entity_type(data: object, where: str, position: int) -> EntityTypeSpec:
    item = _mapping(data, where, ENTITY_KEYS)
    key = _text(item, "key", where)
    _check(validate_type_key, key, f"{where}.key")
    colour = _text(item, "colour", where) or PALETTE[position % len(PALETTE)]
    _check(colour_validator, colour, f"{where}.colour")
    attributes = tuple(
        _attribute(entry, f"{where}.attributes[{i}]")
        for i, entry in enumerate(_list(item.get("attributes", []) or [], f"{where}.attributes"))
    )
    _unique([a.name for a in attributes], f"{where}.attributes", "name")
    return EntityTypeSpec(
        name=_text(item, "name", where, required=True, limit=NAME_MAX),
        key=key,
        colour=colour.lower(),
        description=_text(item, "description", where),
        attributes=attributes,
    )


def _attribute(data: object, where: str) -> AttributeSpec:
    item = _mapping(data, where, ATTRIBUTE_KEYS)
    kind = _text(item, "kind", where, required=True)
    if kind not in AttributeKind.values:
        raise SchemaError(f"{where}.kind: one of {', '.join(AttributeKind.values)}, not {kind!r}.")
    choices = item.get("choices", []) or []
    attribute = EntityTypeAttribute(
        name=_text(item, "name", where, required=True, limit=NAME_MAX), kind=kind, choices=choices
    )
    try:
        attribute.clean()
    except ValidationError as error:
        raise SchemaError(f"{where}.choices: {' '.join(error.messages)}") from None
    return AttributeSpec(attribute.name, kind, tuple(choices), _text(item, "description", where))


def _relation_type(data: object, where: str, entity_names: set[str]) -> RelationTypeSpec:
    item = _mapping(data, where, RELATION_KEYS)
    directed = item.get("directed", True)
    if not isinstance(directed, bool):
        raise SchemaError(f"{where}.directed: true or false, not {directed!r}.")
    ends = {}
    for end in ("head", "tail"):
        names = _list(item.get(end, []) or [], f"{where}.{end}")
        for name in names:
            if name not in entity_names:
                raise SchemaError(f"{where}.{end}: {name!r} is not one of the entity_types.")
        ends[end] = tuple(names)
    key = _text(item, "key", where)
    _check(validate_type_key, key, f"{where}.key")
    return RelationTypeSpec(
        name=_text(item, "name", where, required=True, limit=NAME_MAX),
        directed=directed,
        head=ends["head"],
        tail=ends["tail"],
        key=key,
        description=_text(item, "description", where),
    )


def _settings(data: object) -> dict[str, Any]:
    values = _mapping(data, "settings", tuple(SETTING_TYPES))
    for name, value in values.items():
        expected = SETTING_TYPES[name]
        # bool is an int in Python; a setting that counts must not take true/false.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise SchemaError(f"settings.{name}: expected {expected.__name__}, not {value!r}.")
    strategy = values.get("assignment_strategy")
    if strategy is not None and strategy not in AssignmentStrategy.values:
        raise SchemaError(
            f"settings.assignment_strategy: one of {', '.join(AssignmentStrategy.values)}, not {strategy!r}."
        )
    return dict(values)


def _unique(values: list[str], where: str, key: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise SchemaError(f"{where}: two have the {key} {value!r}; each {key} may appear once.")
        seen.add(value)
