"""Which project type a source's label becomes: defaults found by name, a project's own choices on top.

Pure Python. Every source speaks its own labels (the shipped lists say GPE and NORP, the date rules DATE,
spaCy's English pipelines OntoNotes labels, a KB its entity types); a project has its own types (CoNLL's
PER, ORG, LOC, MISC; the demo's PERSON, GPE...). A label maps to one project type, or to nothing ("":
the label is dropped, and what a source finds under it never claims a span).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# For each label, the project types it may become, best first. A label not listed here becomes a type
# of the same name, if the project has one. Matching is case-insensitive.
FALLBACKS: dict[str, tuple[str, ...]] = {
    "PERSON": ("PERSON", "PER", "PEOPLE"),
    "PER": ("PER", "PERSON"),
    "ORG": ("ORG", "ORGANIZATION", "ORGANISATION"),
    "GPE": ("GPE", "LOC", "LOCATION", "PLACE"),
    "LOC": ("LOC", "LOCATION", "PLACE"),
    "FAC": ("FAC", "FACILITY", "LOC", "LOCATION", "PLACE"),
    "NORP": ("NORP", "MISC"),
    "EVENT": ("EVENT", "MISC"),
    "PRODUCT": ("PRODUCT", "MISC"),
    "WORK_OF_ART": ("WORK_OF_ART", "MISC"),
    "LAW": ("LAW", "MISC"),
    "LANGUAGE": ("LANGUAGE", "MISC"),
    "MISC": ("MISC",),
}


def default_target(label: str, types: Iterable[str]) -> str:
    """The project type `label` becomes when nobody chose: by name, then by the fallbacks above."""
    by_upper = {name.upper(): name for name in types}
    for candidate in FALLBACKS.get(label.upper(), (label,)):
        if candidate.upper() in by_upper:
            return by_upper[candidate.upper()]
    return ""


def effective_map(labels: Iterable[str], types: Iterable[str], chosen: Mapping[str, str]) -> dict[str, str]:
    """Label -> project type ("" drops it) for every label: the project's choice where it made one (and
    the type still exists), else the default."""
    names = set(types)
    mapping = {}
    for label in labels:
        target = chosen.get(label)
        if target is None or (target and target not in names):
            target = default_target(label, names)
        mapping[label] = target
    return mapping


def parse_pairs(value: str) -> dict[str, str]:
    """`FAC=LOC,CARDINAL=` -> {"FAC": "LOC", "CARDINAL": ""}. Raises ValueError naming the bad pair."""
    mapping: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        source, equals, target = item.partition("=")
        if not equals or not source.strip():
            raise ValueError(item.strip())
        mapping[source.strip()] = target.strip()
    return mapping
