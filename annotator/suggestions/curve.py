"""The learning curve: cross-validated F1 of each trained version by the number of articles it learnt from.

Each point is one trained version's k-fold figures (overall and per label), so the curve grows as the
annotators work. Drawn server-side as an SVG of polylines (no script): `geometry` scales the points
into the plot box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from annotator.projects.models import EntityType
from annotator.suggestions.models import SuggesterKind, SuggesterVersion
from annotator.suggestions.scoring import MICRO

if TYPE_CHECKING:
    from annotator.projects.models import Project

WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 560, 240, 40, 28, 10, 12
OVERALL_COLOUR = "#1f2937"


@dataclass(frozen=True)
class Point:
    version: str
    articles: int
    f1: dict[str, float]  # label (MICRO for all) -> cross-validated F1
    active: bool


def learning_curve(project: Project) -> dict[str, Any]:
    """The points (fewest articles first), the labels, and the SVG geometry."""
    versions = SuggesterVersion.objects.filter(project=project, kind=SuggesterKind.TRAINED).order_by(
        "created_at", "pk"
    )
    points = []
    for version in versions:
        figures = (version.metrics or {}).get("entities") or {}
        articles = (version.trained_on or {}).get("articles")
        if not figures or not articles or "folds" not in version.metrics:
            continue  # trained before versions were cross-validated: no comparable figure
        f1 = {label: float(values["f1"]) for label, values in figures.items()}
        points.append(Point(str(version), int(articles), f1, version.is_active))
    points.sort(key=lambda point: point.articles)  # fewest first (stable: the same count in training order)
    labels = sorted({label for point in points for label in point.f1} - {MICRO})
    colours = dict(EntityType.objects.filter(project=project, name__in=labels).values_list("name", "colour"))
    return {"points": points, "labels": labels, **geometry(points, labels, colours)}


def geometry(points: list[Point], labels: list[str], colours: dict[str, str]) -> dict[str, Any]:
    if not points:
        return {"lines": [], "ticks": []}
    most = max(point.articles for point in points)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(articles: int) -> float:
        return round(LEFT + (articles / most) * plot_w, 1) if most else LEFT

    def y(value: float) -> float:
        return round(TOP + (1 - value) * plot_h, 1)

    lines = []
    for label in [MICRO, *labels]:
        coords = [(x(p.articles), y(p.f1[label])) for p in points if label in p.f1]
        lines.append(
            {
                "label": "all labels" if label == MICRO else label,
                "colour": OVERALL_COLOUR if label == MICRO else colours.get(label, "#6b7280"),
                "points": " ".join(f"{cx},{cy}" for cx, cy in coords),
                "dots": coords,
                "overall": label == MICRO,
            }
        )
    ticks = [{"x": x(p.articles), "label": p.articles} for p in points]
    grid = [{"y": y(v / 4), "label": f"{v / 4:.2f}"} for v in range(5)]
    return {"lines": lines, "ticks": ticks, "grid": grid, "width": WIDTH, "height": HEIGHT, "left": LEFT,
            "right": WIDTH - RIGHT, "bottom": HEIGHT - BOTTOM}  # fmt: skip
