"""Merging and deleting an entity type that many spans use: the schema editor's biggest write.

    python bench/schema_merge.py            # SQLite (temporary file)
    DATABASE_URL=postgres://... python bench/schema_merge.py

Builds SETS annotation sets with SPANS_PER_SET spans of type A each (one in ten also has a B span at the
same place, which the merge folds), then times merge_entity_type(A into B) and delete_entity_type of a
third type with as many spans. Both run in one transaction with a history row per changed span.
"""

from __future__ import annotations

import time

from _harness import bench_database

SETS = 500
SPANS_PER_SET = 10
TEXT = "word " * 200


def main() -> None:
    with bench_database("merge") as vendor:
        from django.contrib.auth import get_user_model

        from annotator.annotations.models import AnnotationSet, SetKind, Span
        from annotator.articles.models import Article, content_hash
        from annotator.projects.models import EntityType, Project
        from annotator.projects.schema_changes import delete_entity_type, merge_entity_type

        user = get_user_model().objects.create_user("bench")
        project = Project.objects.create(name="Bench", slug="bench")
        a, b, c = (EntityType.objects.create(project=project, name=name) for name in "ABC")
        articles = Article.objects.bulk_create(
            Article(project=project, text=TEXT, external_id=f"a{i}", content_hash=content_hash(TEXT))
            for i in range(SETS)
        )
        sets = AnnotationSet.objects.bulk_create(
            AnnotationSet(article=article, kind=SetKind.ANNOTATOR, annotator=user) for article in articles
        )
        spans = []
        for annotation_set in sets:
            for k in range(SPANS_PER_SET):
                start = 5 * k
                spans.append(
                    Span(
                        annotation_set=annotation_set,
                        start=start,
                        end=start + 4,
                        entity_type=a,
                        surface="word",
                    )
                )
                spans.append(
                    Span(
                        annotation_set=annotation_set,
                        start=start,
                        end=start + 4,
                        entity_type=c,
                        surface="word",
                    )
                )
                if k == 0:
                    spans.append(
                        Span(
                            annotation_set=annotation_set,
                            start=start,
                            end=start + 4,
                            entity_type=b,
                            surface="word",
                        )
                    )
        Span.objects.bulk_create(spans, batch_size=2000)
        count = SETS * SPANS_PER_SET
        print(f"database: {vendor}; {count} spans of A in {SETS} sets ({SETS} of them duplicated by B)")
        began = time.perf_counter()
        report = merge_entity_type(source=a, into=b, by=user)
        took = time.perf_counter() - began
        print(f"merge A into B: {took * 1000:8.0f} ms  ({count / took:7.0f} spans/s)  {report}")
        began = time.perf_counter()
        usage = delete_entity_type(entity_type=c, by=user)
        took = time.perf_counter() - began
        print(
            f"delete C:       {took * 1000:8.0f} ms  ({usage.spans / took:7.0f} spans/s)  {usage.spans} spans"
        )


if __name__ == "__main__":
    main()
