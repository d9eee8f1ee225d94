"""Project agreement over 10,000 articles x 3 annotators x 20 spans, against fetching the same rows.

    DATABASE_URL=postgres://... python bench/agreement.py            # the figure the issue asks for
    python bench/agreement.py --articles 1000                        # SQLite, quicker

Generates news-like articles (~2,500 characters, the import benchmark's generator) and three submitted
annotator sets each: 20 spans that each annotator shifts, retypes or drops now and then, a NIL or KB
link on a quarter of them, and a few relations. Then prints, medians of a few runs:
- baseline: the same queries the computation makes (sets, spans, relations, links, texts, per chunk),
  rows fetched with values_list and nothing computed: the floor the database sets;
- `compute_agreement`: every figure (F1 exact and overlapping, kappa, alpha, relations, links, per pair,
  label, relation type and article), and its ratio to the baseline;
- `project_agreement` when nothing changed: the remembered figures behind one fingerprint query;
- `project_agreement` after one set changed: that article compared again, the project's figures summed.
"""

from __future__ import annotations

import argparse
import importlib
import random
import statistics
import time

from _harness import bench_database

SPANS_PER_SET = 20
LINKED_SPANS = 5
RELATIONS_PER_SET = 3
BATCH = 5000


def seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def perturbed(rng: random.Random, spans: list[tuple[int, int, str]], labels: list[str]) -> list:
    """One annotator's take on the reference spans: mostly the same, sometimes off by a little."""
    mine = {}
    for start, end, label in spans:
        roll = rng.random()
        if roll < 0.05:
            continue  # missed
        if roll < 0.12:
            end = max(start + 1, end - rng.randint(1, 3))  # a boundary off
        elif roll < 0.16:
            label = rng.choice(labels)  # another type
        mine[(start, end, label)] = None
    return list(mine)


def generate(articles: int, seed: int = 7) -> tuple[int, int]:
    from django.contrib.auth import get_user_model

    from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetKind, SetStatus, Span
    from annotator.articles.models import Article, content_hash
    from annotator.kb.models import KBEntity, KnowledgeBase
    from annotator.projects.models import EntityType, Project, RelationType

    make_article = importlib.import_module("import").article  # the import benchmark's generator
    rng = random.Random(seed)
    project = Project.objects.create(name="Agreement bench", slug="agreement-bench", annotators_per_article=3)
    types = {name: EntityType.objects.create(project=project, name=name) for name in ("PERSON", "ORG", "GPE")}
    met = RelationType.objects.create(project=project, name="met_with", directed=False)
    kb = KnowledgeBase.objects.create(project=project, name="KB")
    entities = KBEntity.objects.bulk_create(
        KBEntity(knowledge_base=kb, kb_id=f"Q{n}", name=f"Entity {n}") for n in range(50)
    )
    users = [get_user_model().objects.create_user(f"annotator{n}") for n in range(3)]
    span_total = 0
    for first in range(0, articles, 1000):
        records = [make_article(rng, n, with_spans=True) for n in range(first, min(articles, first + 1000))]
        rows = Article.objects.bulk_create(
            Article(
                project=project,
                external_id=r["external_id"],
                title=r["title"],
                text=r["text"],
                content_hash=content_hash(r["text"]),
            )
            for r in records
        )
        sets = AnnotationSet.objects.bulk_create(
            AnnotationSet(article=row, kind=SetKind.ANNOTATOR, annotator=user, status=SetStatus.SUBMITTED)
            for row in rows
            for user in users
        )
        spans, plans = [], []
        for index, annotation_set in enumerate(sets):
            record = records[index // len(users)]
            reference = [(e["start"], e["end"], e["label"]) for e in record["entities"][:SPANS_PER_SET]]
            mine = perturbed(rng, reference, list(types))
            spans.extend(
                Span(
                    annotation_set=annotation_set,
                    start=start,
                    end=end,
                    entity_type=types[label],
                    surface=record["text"][start:end],
                )
                for start, end, label in mine
            )
            plans.append(len(mine))
        spans = Span.objects.bulk_create(spans, batch_size=BATCH)
        span_total += len(spans)
        links, relations, offset = [], [], 0
        for annotation_set, count in zip(sets, plans, strict=True):
            mine = spans[offset : offset + count]
            offset += count
            for span in mine[:LINKED_SPANS]:
                entity = None if rng.random() < 0.2 else entities[span.start % len(entities)]
                links.append(EntityLink(span=span, kb_entity=entity))
            for head, tail in zip(
                mine[: RELATIONS_PER_SET * 2 : 2], mine[1 : RELATIONS_PER_SET * 2 : 2], strict=False
            ):
                relations.append(
                    Relation(annotation_set=annotation_set, head=head, tail=tail, relation_type=met)
                )
        EntityLink.objects.bulk_create(links, batch_size=BATCH)
        Relation.objects.bulk_create(relations, batch_size=BATCH)
    return project.pk, span_total


def fetch_only(project_id: int) -> None:
    """The rows compute_agreement reads, by the same queries, with nothing computed."""
    from annotator.agreement import services

    sets, _ = services.counted_sets(project_id, services.counted_statuses(False))
    for chunk in services.chunks(sorted(sets), services.ARTICLES_PER_CHUNK):
        services.load_chunk(chunk, sets)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with bench_database("agreement") as vendor:
        from django.db import connection
        from django.db.models import F

        from annotator.agreement.services import compute_agreement, forget_agreements, project_agreement
        from annotator.annotations.models import AnnotationSet

        started = time.perf_counter()
        project_id, span_total = generate(options.articles)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after a bulk load: the planner needs the stats
        print(
            f"database: {vendor}; {options.articles} articles x 3 annotators, {span_total} spans "
            f"(generated in {time.perf_counter() - started:.1f} s)",
            flush=True,
        )
        baseline = statistics.median(seconds(lambda: fetch_only(project_id)) for _ in range(options.repeat))
        print(f"{'baseline: fetch the same rows (values_list)':<48} {baseline:7.2f} s", flush=True)
        result = compute_agreement(project_id=project_id)
        runs = [seconds(lambda: compute_agreement(project_id=project_id)) for _ in range(options.repeat)]
        median = statistics.median(runs)
        print(
            f"{'compute_agreement (every figure)':<48} {median:7.2f} s   x{median / baseline:4.1f} the baseline"
        )
        forget_agreements()
        project_agreement(project_id=project_id)
        cached = statistics.median(
            seconds(lambda: project_agreement(project_id=project_id)) for _ in range(options.repeat)
        )
        print(f"{'project_agreement, cached (nothing changed)':<48} {cached * 1000:7.1f} ms")
        sets = AnnotationSet.objects.filter(article__project_id=project_id).order_by("pk")

        def one_set_changed() -> None:
            # What an edit does to the set (its version goes up); only its article is compared again.
            sets.filter(pk=sets.values("pk")[:1]).update(version=F("version") + 1)
            project_agreement(project_id=project_id)

        edited = statistics.median(seconds(one_set_changed) for _ in range(options.repeat))
        print(f"{'project_agreement after one set changed':<48} {edited * 1000:7.1f} ms")
        alpha = f"{result.alpha:.3f}" if result.alpha is not None else "n/a"
        exact, overlapping = result.entities.f1 or 0, result.entities_overlapping.f1 or 0
        print(
            f"figures: {len(result.articles)} articles, entity F1 exact {exact:.3f} / overlapping "
            f"{overlapping:.3f}, alpha {alpha}, relations F1 {result.relations.f1 or 0:.3f}, "
            f"links {result.links.agreement or 0:.3f}"
        )


if __name__ == "__main__":
    main()
