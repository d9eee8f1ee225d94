"""The demo project: the two seed articles, a news schema and a small KB, loaded from fixtures/demo/.

Loading is idempotent: running it again updates what changed in the fixtures and adds nothing twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from annotator.articles.models import Article
from annotator.core.offsets import check_text, normalize_newlines
from annotator.core.upsert import Change, upsert
from annotator.kb.models import KnowledgeBase
from annotator.kb.services import EntityRecord, upsert_entity
from annotator.projects.models import EntityType, Project, RelationType
from annotator.projects.services import update_guidelines

DEMO_DIR = settings.BASE_DIR / "fixtures" / "demo"


@dataclass
class LoadReport:
    project: Project
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def count(self, what: str, change: Change) -> None:
        if change is Change.UNCHANGED:
            return
        bucket = self.created if change is Change.CREATED else self.updated
        bucket[what] = bucket.get(what, 0) + 1


@transaction.atomic
def load_demo(directory: Path = DEMO_DIR) -> LoadReport:
    spec = json.loads((directory / "project.json").read_text(encoding="utf-8"))
    project, change = upsert(
        Project,
        lookup={"slug": spec["slug"]},
        values={
            "name": spec["name"],
            "description": spec["description"],
            "annotators_per_article": spec["annotators_per_article"],
            "allow_overlapping_spans": spec["allow_overlapping_spans"],
        },
    )
    report = LoadReport(project)
    report.count("project", change)
    _load_schema(project, spec, report)
    before = project.guideline_versions.count()
    update_guidelines(
        project=project, text=(directory / spec["guidelines"]).read_text(encoding="utf-8"), by=None
    )
    if project.guideline_versions.count() > before:
        report.count("guideline version", Change.CREATED)
    _load_kb(project, directory, spec["knowledge_base"], report)
    _load_articles(project, directory, spec["articles"], report)
    return report


def _load_schema(project: Project, spec: dict, report: LoadReport) -> None:
    types = {}
    for position, item in enumerate(spec["entity_types"]):
        entity_type, change = upsert(
            EntityType,
            lookup={"project": project, "name": item["name"]},
            values={
                "key": item["key"],
                "colour": item["colour"],
                "description": item["description"],
                "position": position,
            },
        )
        entity_type.full_clean()
        types[entity_type.name] = entity_type
        report.count("entity type", change)
    for position, item in enumerate(spec["relation_types"]):
        relation_type, change = upsert(
            RelationType,
            lookup={"project": project, "name": item["name"]},
            values={"directed": item["directed"], "description": item["description"], "position": position},
        )
        heads, tails = [types[name] for name in item["head"]], [types[name] for name in item["tail"]]
        if change is Change.UNCHANGED and (
            set(relation_type.head_types.all()) != set(heads)
            or set(relation_type.tail_types.all()) != set(tails)
        ):
            change = Change.UPDATED
        relation_type.head_types.set(heads)
        relation_type.tail_types.set(tails)
        report.count("relation type", change)


def _load_kb(project: Project, directory: Path, spec: dict, report: LoadReport) -> None:
    knowledge_base, change = upsert(
        KnowledgeBase,
        lookup={"project": project, "name": spec["name"]},
        values={"description": spec["description"], "languages": ["en"]},
    )
    report.count("knowledge base", change)
    with (directory / spec["file"]).open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            record = EntityRecord(
                kb_id=item["id"],
                name=item["name"],
                aliases=tuple((alias, "en") for alias in item["aliases"]),
                description=item["description"],
                type=item["type"],
                prior=item["prior"],
                language="en",
            )
            _, change = upsert_entity(knowledge_base=knowledge_base, record=record)
            report.count("KB entity", change)


def _load_articles(project: Project, directory: Path, items: list[dict], report: LoadReport) -> None:
    for item in items:
        raw = (directory / item["file"]).read_bytes().decode("utf-8")
        check_text(raw)
        text = normalize_newlines(raw).text
        article = Article.objects.filter(project=project, external_id=item["external_id"]).first()
        if article is None:
            Article.objects.create(
                project=project, external_id=item["external_id"], title=item["title"], text=text,
                metadata=item["metadata"],
            )  # fmt: skip
            report.count("article", Change.CREATED)
            continue
        changes = {"title": item["title"], "metadata": item["metadata"]}
        if article.text != text:
            if article.annotation_sets.exists():
                report.warnings.append(
                    f"{item['external_id']}: the fixture's text changed, but the article is annotated, so its "
                    "text was kept (annotated texts are immutable)."
                )
            else:
                changes["text"] = text
        if any(getattr(article, name) != value for name, value in changes.items()):
            for name, value in changes.items():
                setattr(article, name, value)
            article.save()
            report.count("article", Change.UPDATED)
