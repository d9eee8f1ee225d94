"""Precision, recall and F1 of the default suggester on the two demo articles, against the hand-made gold.

    python bench/demo_quality.py

Gold: tests/data/demo_gold.jsonl (132 entities, 26 relations; see tests/data/README.md). Set-ups:
1. the offline default as a fresh demo project has it: the demo KB (made for these two articles),
   shipped lists, rules, no gold;
2. a KB of the other article's entities only (how DESIGN.md measured the gazetteer on real news);
3. no KB: shipped lists and rules only;
4. the demo KB plus the other article's gold mentions in the gazetteer (gold feeding later articles).
Entities (exact offsets and type), relations (rules over the suggested entities; exact offsets of both
mentions and type) and top-1 KB links (exact offsets and the gold KB id).
"""

from __future__ import annotations

from itertools import chain

from _harness import bench_database

SYMMETRIC = {"met_with", "cooperates_with"}


def line(s) -> str:
    return f"P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}   (tp {s.tp}, fp {s.fp}, fn {s.fn})"


def main() -> None:
    with bench_database("quality"):
        from django.db import transaction

        from annotator.articles.models import Article
        from annotator.kb.models import KBEntity, KnowledgeBase
        from annotator.projects.demo import load_demo
        from annotator.projects.models import Project
        from annotator.suggestions import nlp
        from annotator.suggestions.engine import SuggestionRunner, rules_spec
        from annotator.suggestions.scoring import MICRO, score
        from tests.demo_gold import load_demo_gold, read_demo_gold

        project = load_demo().project
        gold = read_demo_gold()
        articles = {
            g["external_id"]: Article.objects.get(project=project, external_id=g["external_id"]) for g in gold
        }

        def collect(item: dict, exclude: tuple[int, ...] = ()) -> list[list]:
            """[predicted, expected] for entities, relations and top-1 links of one article."""
            ext = item["external_id"]
            nlp.forget_suggesters()
            runner = SuggestionRunner(project_id=project.pk, spec=rules_spec(), exclude_articles=exclude)
            suggested = next(runner.run([articles[ext].text]))
            ents, g = suggested.entities, item["entities"]

            def key(head: tuple, tail: tuple, relation: str) -> tuple:
                if relation in SYMMETRIC and tail < head:
                    head, tail = tail, head
                return ((ext, *head, *tail), relation)

            top = {
                (ents[k.entity].start, ents[k.entity].end): k.kb_id for k in suggested.links if k.rank == 0
            }
            return [
                [((ext, e.start, e.end), e.entity_type) for e in ents],
                [((ext, e["start"], e["end"]), e["type"]) for e in g],
                [
                    key(
                        (ents[r.head].start, ents[r.head].end),
                        (ents[r.tail].start, ents[r.tail].end),
                        r.relation_type,
                    )
                    for r in suggested.relations
                ],
                [
                    key(
                        (g[r["head"]]["start"], g[r["head"]]["end"]),
                        (g[r["tail"]]["start"], g[r["tail"]]["end"]),
                        r["type"],
                    )
                    for r in item["relations"]
                ],
                [((ext, *span, kb_id), "link") for span, kb_id in top.items()],
                [((ext, e["start"], e["end"], e["kb_id"]), "link") for e in g if e["kb_id"]],
            ]

        def show(title: str, parts: list[list[list]]) -> None:
            merged = [list(chain.from_iterable(p[i] for p in parts)) for i in range(6)]
            print(f"\n== {title}")
            for label, value in score(merged[0], merged[1]).items():
                print(f"  {label:<8} {line(value)}")
            print(f"  relations {line(score(merged[2], merged[3])[MICRO])}")
            print(f"  top-1 links {line(score(merged[4], merged[5])[MICRO])}")

        entities, relations = sum(len(g["entities"]) for g in gold), sum(len(g["relations"]) for g in gold)
        print(f"gold: {entities} entities, {relations} relations")
        show(
            "1. demo KB + shipped lists + rules (the offline default of the demo project)",
            [collect(g) for g in gold],
        )

        parts = []
        for item in gold:
            other = {e["kb_id"] for g in gold if g is not item for e in g["entities"] if e["kb_id"]}
            with transaction.atomic():
                KBEntity.objects.filter(knowledge_base__project=project).exclude(kb_id__in=other).delete()
                parts.append(collect(item))
                transaction.set_rollback(True)
        show("2. a KB of the other article's entities only + lists + rules", parts)

        with transaction.atomic():
            KnowledgeBase.objects.filter(project=project).update(
                project=Project.objects.create(name="Away", slug="away")
            )
            parts = [collect(g) for g in gold]
            transaction.set_rollback(True)
        show("3. no KB: shipped lists + rules only", parts)

        load_demo_gold(project)
        parts = [collect(g, exclude=(articles[g["external_id"]].pk,)) for g in gold]
        show("4. demo KB + lists + rules + the other article's gold mentions in the gazetteer", parts)


if __name__ == "__main__":
    main()
