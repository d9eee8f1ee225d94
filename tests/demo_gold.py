"""The hand-made gold of the two demo articles (tests/data/demo_gold.jsonl, described in tests/data/README.md)."""

import json
from pathlib import Path

from annotator.annotations.editing import edit_set
from annotator.annotations.services import get_or_create_gold_set, submit_set
from annotator.articles.models import Article
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, RelationType

GOLD_FILE = Path(__file__).resolve().parent / "data" / "demo_gold.jsonl"


def read_demo_gold():
    with GOLD_FILE.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def load_demo_gold(project, *, external_ids=None, curate=True, by=None):
    """Write the demo gold into the articles' gold sets (spans, KB links, relations), then curate them."""
    types = {t.name: t for t in EntityType.objects.filter(project=project)}
    relation_types = {r.name: r for r in RelationType.objects.filter(project=project)}
    kb = {e.kb_id: e for e in KBEntity.objects.filter(knowledge_base__project=project)}
    sets = []
    for item in read_demo_gold():
        if external_ids is not None and item["external_id"] not in external_ids:
            continue
        article = Article.objects.get(project=project, external_id=item["external_id"])
        gold = get_or_create_gold_set(article=article)
        with edit_set(gold, expected_version=gold.version, by=by) as editor:
            spans = []
            for entity in item["entities"]:
                span = editor.add_span(
                    start=entity["start"],
                    end=entity["end"],
                    entity_type=types[entity["type"]],
                    surface=entity["text"],
                )
                spans.append(span)
                if entity["kb_id"] is not None:
                    editor.link(span, kb[entity["kb_id"]])
            for relation in item["relations"]:
                editor.add_relation(
                    head=spans[relation["head"]],
                    tail=spans[relation["tail"]],
                    relation_type=relation_types[relation["type"]],
                )
        if curate:
            submit_set(annotation_set=gold, by=by, expected_version=gold.version)
        sets.append(gold)
    return sets
