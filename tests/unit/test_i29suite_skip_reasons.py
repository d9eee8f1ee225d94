"""Every skip in the suite says what the skipped test needs ("needs PostgreSQL: ..."), so that the skip
list of a run tells what did not run and why; a skip with no reason or another wording fails here."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SKIPPING = {"skip", "skipif", "importorskip"}


def skip_calls(tree: ast.AST):
    """(line, name, reason node or None) of each pytest.skip(...), pytest.mark.skip(if)(...) and
    pytest.importorskip(...) call."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        owner = ast.unparse(node.func.value)
        if name not in SKIPPING or owner not in ("pytest", "pytest.mark"):
            continue
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        if name == "skip":
            reason = keywords.get("reason", node.args[0] if node.args else None)
        elif name == "skipif":
            reason = keywords.get("reason")
        else:  # importorskip: pytest names the missing module itself unless told more
            reason = keywords.get("reason", ast.Constant("needs the module"))
        yield node.lineno, f"{owner}.{name}", reason


def opening(reason: ast.expr | None) -> str:
    """The reason's text as far as it is written out in the source (the start of an f-string or of
    implicitly joined literals)."""
    if isinstance(reason, ast.Constant) and isinstance(reason.value, str):
        return reason.value
    if isinstance(reason, ast.JoinedStr) and reason.values and isinstance(reason.values[0], ast.Constant):
        return str(reason.values[0].value)
    return ""


def unexplained_skips(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for line, name, reason in skip_calls(ast.parse(path.read_text(), str(path))):
            if not opening(reason).startswith("needs "):
                found.append(f"{path.relative_to(root.parent)}:{line}: {name} without 'needs ...' reason")
    return found


def test_every_skip_in_the_suite_names_what_it_needs():
    assert unexplained_skips(TESTS) == []


def test_a_skip_without_a_reason_or_with_another_wording_is_found(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import pytest\n"
        "pytestmark = pytest.mark.skipif(\"connection.vendor != 'postgresql'\")\n"
        "@pytest.mark.skipif(True, reason='PostgreSQL only')\n"
        "def test_a():\n"
        "    pytest.skip(f'{1} later')\n"
        "@pytest.mark.skipif(True, reason='needs PostgreSQL: ' 'row locks')\n"
        "def test_b():\n"
        "    pytest.skip(reason=f'needs a server on port {1}')\n"
        "    pytest.importorskip('lz4')\n"
    )
    assert unexplained_skips(tmp_path / "tests") == [
        "tests/test_x.py:2: pytest.mark.skipif without 'needs ...' reason",
        "tests/test_x.py:3: pytest.mark.skipif without 'needs ...' reason",
        "tests/test_x.py:5: pytest.skip without 'needs ...' reason",
    ]
