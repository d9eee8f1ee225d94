"""Imports flow one way: texts and the schema know nothing of annotations; format codecs know no Django.

Read from the source (no import side effects), so a new module is covered the day it is written.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "annotator"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(*parts: str) -> list[Path]:
    base = ROOT.joinpath(*parts)
    files = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
    return [path for path in files if "migrations" not in path.parts]


def offending(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.relative_to(ROOT.parent)} imports {module}"
        for path in paths
        for module in imported_modules(path)
        if module.startswith(forbidden)
    )


ANNOTATION_LAYERS = (
    "annotator.annotations",
    "annotator.suggestions",
    "annotator.review",
    "annotator.agreement",
)


@pytest.mark.parametrize(
    "where",
    [("articles",), ("projects", "models.py"), ("projects", "permissions.py"), ("projects", "languages.py")],
    ids=lambda parts: "/".join(parts),
)
def test_texts_and_the_schema_know_nothing_of_annotations(where):
    assert offending(python_files(*where), ANNOTATION_LAYERS) == []


def test_format_codecs_import_no_django_and_no_app_but_the_offsets_maths():
    allowed_app_modules = ("annotator.interchange.formats", "annotator.core.offsets")
    problems = [
        f"{path.relative_to(ROOT.parent)} imports {module}"
        for path in python_files("interchange", "formats")
        for module in imported_modules(path)
        if module.startswith("django")
        or (module.startswith("annotator") and not module.startswith(allowed_app_modules))
    ]
    assert problems == []


def test_the_offsets_maths_is_pure():
    assert {
        m for m in imported_modules(ROOT / "core" / "offsets.py") if m.startswith(("django", "annotator"))
    } == set()
