"""axe-core (vendored from its npm tarball, see vendor/axe-core/README.md) run on a page in chromium.

The page keeps its Content-Security-Policy: axe is put in through the DevTools protocol (Playwright's
evaluate), which a page's policy does not govern, and it reads the page as the user's browser renders it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA: what the project promises.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

RUN = """
async ([tags, include]) => {
  const results = await window.axe.run(include ? { include: [include] } : document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return results.violations.map((violation) => ({
    id: violation.id,
    help: violation.help,
    nodes: violation.nodes.slice(0, 5).map(
      (node) => `${node.target.join(" ")}: ${node.failureSummary.replace(/\\s+/g, " ")}`,
    ),
  }));
}
"""


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def _axe(page, include: str | None = None) -> list[str]:
    """axe's WCAG 2.1 AA violations on the page as it is now (or inside `include`, a CSS selector)."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(_source() + "\n;0")
    found = page.evaluate(RUN, [TAGS, include])
    return [f"{v['id']} ({v['help']}): {' | '.join(v['nodes'])}" for v in found]


OWN_CHECKS = """() => {
  // What axe's WCAG rules let pass: references to ids that do not exist, header cells without a name.
  const problems = [];
  for (const element of document.querySelectorAll("[aria-describedby], [aria-labelledby], [aria-controls]")) {
    for (const name of ["aria-describedby", "aria-labelledby", "aria-controls"]) {
      for (const id of (element.getAttribute(name) || "").split(/\\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) problems.push(`${name}="${id}" names no element`);
      }
    }
  }
  for (const cell of document.querySelectorAll("th")) {
    if (!cell.textContent.trim() && !cell.getAttribute("aria-label")) {
      problems.push(`an empty header cell: ${cell.closest("table").id || "a table"}`);
    }
  }
  return problems;
}"""


def violations(page, include: str | None = None) -> list[str]:
    return _axe(page, include) + ([] if include else page.evaluate(OWN_CHECKS))


def assert_accessible(page, where: str, include: str | None = None) -> None:
    problems = violations(page, include)
    assert not problems, f"axe on {where}:\n" + "\n".join(problems)
