"""Schemas a new project can start from: news entities like the demo's, CoNLL-2003's four, or nothing."""

from __future__ import annotations

import json

from django.conf import settings

from annotator.projects.colours import propose_legible
from annotator.projects.schema_spec import SchemaSpec, parse_schema

CONLL = {
    "entity_types": [
        {"name": "PER", "key": "p", "colour": "#1f9bd1", "description": "A person's name."},
        {
            "name": "ORG",
            "key": "o",
            "colour": "#3aa83a",
            "description": "An organisation: company, agency, team.",
        },
        {
            "name": "LOC",
            "key": "l",
            "colour": "#e0712b",
            "description": "A location: country, city, region, site.",
        },
        {
            "name": "MISC",
            "key": "m",
            "colour": "#8c8c8c",
            "description": "Any other name: events, nationalities, works.",
        },
    ]
}

PRESETS = {
    "news": "News (OntoNotes-style, as the demo): PERSON, ORG, GPE, LOC, DATE, EVENT, NORP and their relations",
    "conll": "CoNLL-2003: PER, ORG, LOC, MISC",
    "empty": "Empty: add the types yourself",
}


def _news() -> dict:
    """The demo's schema, its pastel colours darkened to legible ones (the demo keeps its own)."""
    demo = json.loads((settings.BASE_DIR / "fixtures" / "demo" / "project.json").read_text(encoding="utf-8"))
    keep = ("name", "key", "description")
    return {
        "entity_types": [
            {**{k: t[k] for k in keep}, "colour": propose_legible(t["colour"])} for t in demo["entity_types"]
        ],
        "relation_types": demo["relation_types"],
    }


def preset_schema(name: str) -> SchemaSpec:
    """The schema of a preset by name (a KeyError names an unknown one)."""
    if name not in PRESETS:
        raise KeyError(f"No preset {name!r}; the presets are {', '.join(PRESETS)}.")
    if name == "news":
        return parse_schema(_news())
    if name == "conll":
        return parse_schema(CONLL)
    return SchemaSpec()
