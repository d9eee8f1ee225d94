"""Server time of the annotate page and of an accept action, for a small and a very large article.

    python bench/annotate_page.py            # SQLite (temporary file)
    DATABASE_URL=postgres://... python bench/annotate_page.py
    python bench/annotate_page.py small      # the news-sized article only (ANNOTATE_REPEAT opens, 60)

Measured in process with Django's test client (no network): the time from request to full response.
Prints the first open (the active suggester runs on the article then), p50/p95 over repeated opens, the
number of queries and the response size, each with its ratio to `/healthz` through the same client in the
same run, and the load average. Goals (BENCHMARKS.md, issues 17 and 18): a 1 MB article with 5,625
spans renders server-side in < 500 ms and opens the first time in < 500 ms; the page p50 <= 15 ms and
<= 8x `/healthz` for a news-sized one (2.5 KB, 50 spans); queries independent of the number of spans.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time

from _harness import bench_database, report, timed

SENTENCES = [
    "Sergey Naryshkin, Director of the Foreign Intelligence Service (SVR), visited Minsk on April 15.",
    "Alexander Lukashenko met Vladimir Putin in Moscow to discuss the Union State.",
    "The KGB of Belarus and the SVR agreed to deepen intelligence cooperation.",
    "Officials in Warsaw and Vilnius accused Belarus of preparing provocations near the border.",
    "Roman Protasevich was arrested after his Ryanair flight was diverted to Minsk 🇧🇾.",
]
NAMES = ["Sergey Naryshkin", "Foreign Intelligence Service", "SVR", "Minsk", "Alexander Lukashenko",
         "Vladimir Putin", "Moscow", "Union State", "KGB", "Belarus", "Warsaw", "Vilnius", "Roman Protasevich",
         "Ryanair", "April 15"]  # fmt: skip


NEWS_REPEAT = int(os.environ.get("ANNOTATE_REPEAT", "60"))


def news_text(size: int) -> str:
    rng = random.Random(size)
    paragraphs, length = [], 0
    while length < size:
        paragraph = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 5)))
        paragraphs.append(paragraph)
        length += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:size]


def mentions(text: str, limit: int) -> list[tuple[int, int]]:
    found = []
    for name in NAMES:
        start = text.find(name)
        while start != -1:
            found.append((start, start + len(name)))
            start = text.find(name, start + 1)
    found.sort()
    step = max(len(found) // limit, 1)
    return found[::step][:limit]


def measure(
    client,
    project,
    types,
    suggester,
    label: str,
    size: int,
    span_count: int,
    repeat: int,
    baseline: list[float],
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from annotator.annotations.models import Span
    from annotator.annotations.services import get_or_create_own_set
    from annotator.articles.models import Article, content_hash
    from annotator.suggestions.models import Suggestion, SuggestionKind

    user = client.user
    text = news_text(size)
    article = Article.objects.create(
        project=project, text=text, content_hash=content_hash(text), external_id=label
    )
    annotation_set = get_or_create_own_set(article=article, user=user)
    places = mentions(text, span_count * 2)
    spans, pending = places[::2], places[1::2]
    if len(spans) < span_count:  # a short text has fewer mentions than spans: add its words too
        words = [(m.start(), m.end()) for m in re.finditer(r"\w+", text)]
        spans = sorted(set(spans) | set(words))[:span_count]
    Span.objects.bulk_create(
        Span(annotation_set=annotation_set, start=s, end=e, entity_type=types[i % 3], surface=text[s:e])
        for i, (s, e) in enumerate(spans[:span_count])
    )
    suggestions = Suggestion.objects.bulk_create(
        Suggestion(
            article=article,
            suggester_version=suggester,
            kind=SuggestionKind.ENTITY,
            start=s,
            end=e,
            entity_type=types[(i + 1) % 3],
            score=0.8,
            source="bench",
        )
        for i, (s, e) in enumerate(pending)
    )
    url = reverse("review:annotate", args=[article.pk])
    began = time.perf_counter()
    first = client.get(url)
    first_open = (time.perf_counter() - began) * 1000
    assert first.status_code == 200
    from annotator.jobs.models import Job, JobKind
    from annotator.jobs.services import run_job

    waiting = Job.objects.filter(kind=JobKind.PREANNOTATE, params__opened=article.pk, status="queued").first()
    if waiting is not None:  # a long article: a worker computes its suggestions; here, this process
        began = time.perf_counter()
        run_job(waiting)
        print(
            f"   its suggestions came from a job, as a worker runs it: {time.perf_counter() - began:,.1f} s"
        )
    client.get(url)  # the second open reads the KB's and gold's state once per freshness window
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    print(
        f"-- {label}: {len(text):,} characters, {Span.objects.filter(annotation_set=annotation_set).count():,} "
        f"spans, {Suggestion.objects.filter(article=article).count():,} suggestions stored; "
        f"page {len(response.content) / 1024:,.0f} KiB in {len(queries)} queries"
    )
    print(f"first open of the annotate page ({label}): {first_open:,.0f} ms", flush=True)
    report(f"render the annotate page ({label})", timed(lambda: client.get(url), repeat), baseline)
    accepted = iter(suggestions)
    act_url = reverse("review:act", args=[article.pk, "accept"])

    def accept() -> None:
        annotation_set.refresh_from_db(fields=["version"])
        response = client.post(
            act_url,
            {"suggestion": next(accepted).pk, "version": annotation_set.version},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200, response.content[:300]

    with CaptureQueriesContext(connection) as queries:
        accept()
    print(f"   an accept answers in {len(queries) - 1} queries (one more reads the version for the bench)")
    report(f"accept a suggestion ({label})", timed(accept, min(repeat * 3, len(suggestions) - 1)))


def main() -> None:
    with bench_database("annotate") as vendor:
        from django.contrib.auth import get_user_model
        from django.test import Client

        from annotator.projects.models import EntityType, Project, Role
        from annotator.projects.services import add_member

        user = get_user_model().objects.create_user("bench")
        project = Project.objects.create(name="Bench", slug="bench")
        add_member(project=project, user=user, role=Role.ANNOTATOR)
        types = [
            EntityType.objects.create(project=project, name=name, key=key)
            for name, key in [("PERSON", "p"), ("ORG", "o"), ("GPE", "g")]
        ]
        from annotator.suggestions.generate import ensure_active_suggester

        suggester = ensure_active_suggester(project=project)  # the offline default: gazetteer and rules
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        client.user = user
        print(f"database: {vendor}; load average {os.getloadavg()[0]:.1f}")
        client.get("/healthz")
        baseline = timed(lambda: client.get("/healthz"), 200)
        report("baseline: /healthz", baseline)
        measure(client, project, types, suggester, "2.5 KB, 50 spans", 2_500, 50, NEWS_REPEAT, baseline)
        if "small" not in sys.argv[1:]:
            measure(client, project, types, suggester, "1 MB, 5,625 spans", 1_000_000, 5_625, 12, baseline)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
