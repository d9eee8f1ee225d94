"""The write path of one annotation action, in process (no HTTP), against a bare INSERT baseline.

    python bench/write_path.py            # SQLite (temporary file)
    DATABASE_URL=postgres://... python bench/write_path.py

Prints p50/p95 of: a bare INSERT of a span row in its own transaction (the floor the database sets),
`create_span` (claim the set's version, check offsets and surface against the text, insert, history),
`accept_suggestion` (the same plus the decision and its provenance), and the whole REST calls
`POST /api/v1/sets/<id>/spans/` and `POST /api/v1/sets/<id>/decisions/` (accept, reject) with a bearer token and
If-Match, through Django's test client (every middleware, authentication, scoping; no network), with the
CPU each REST call costs the app and, on PostgreSQL, the database server. The BENCHMARKS.md goal for that call is
sequential p95 <= 15 ms.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import Any

from _harness import bench_database, cpu_seconds, report, timed

REPEAT = 400
TEXT = ("Sergey Naryshkin, Director of Russia’s Foreign Intelligence Service (SVR), visited Minsk. 🇧🇾 " * 28)[
    :2500
]
# Where one-character spans may go: a span never starts or ends with white space (the services refuse it).
SOLID = [at for at, char in enumerate(TEXT) if not char.isspace()]


def main() -> None:
    # One token makes every call here, faster than any person: its write budget must not end the run.
    os.environ.setdefault("ANNOTATOR_API_RATE_WRITE", "1000000/minute")
    with bench_database("write") as vendor:
        from django.contrib.auth import get_user_model
        from django.db import connection, transaction
        from django.test import Client
        from django.urls import reverse

        from annotator.annotations.services import create_span, get_or_create_own_set
        from annotator.api.tokens import create_token
        from annotator.articles.models import Article
        from annotator.projects.models import EntityType, Project, Role
        from annotator.projects.services import add_member
        from annotator.suggestions.models import SuggesterVersion, Suggestion, SuggestionKind
        from annotator.suggestions.services import accept_suggestion

        print(f"database: {vendor}, article of {len(TEXT)} characters, {REPEAT} actions each")
        user = get_user_model().objects.create_user("bench")
        project = Project.objects.create(name="Bench", slug="bench")
        add_member(project=project, user=user, role=Role.ANNOTATOR)
        person = EntityType.objects.create(project=project, name="PERSON")
        articles = itertools.count()

        def fresh_set():
            article = Article.objects.create(project=project, text=TEXT, external_id=f"a{next(articles)}")
            return get_or_create_own_set(article=article, user=user)

        baseline_set = fresh_set()
        offsets = iter(SOLID)

        def bare_insert() -> None:
            start = next(offsets)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    'INSERT INTO annotations_span (annotation_set_id, start, "end", entity_type_id, surface, '
                    "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                    [baseline_set.pk, start, start + 1, person.pk, TEXT[start]],
                )

        baseline = timed(bare_insert, REPEAT)
        report("bare INSERT (baseline)", baseline)

        service_set = fresh_set()
        offsets = iter(SOLID)

        def one_span() -> None:
            start = next(offsets)
            create_span(
                annotation_set=service_set, start=start, end=start + 1, entity_type=person, by=user,
                expected_version=service_set.version,
            )  # fmt: skip

        report("create_span service", timed(one_span, REPEAT), baseline)

        decision_set = fresh_set()
        version = SuggesterVersion.objects.create(project=project, name="bench", kind="rules", version="1")
        suggestions = iter(
            Suggestion.objects.bulk_create(
                Suggestion(
                    article=decision_set.article,
                    suggester_version=version,
                    kind=SuggestionKind.ENTITY,
                    start=at,
                    end=at + 1,
                    entity_type=person,
                    score=0.9,
                    source="bench",
                )
                for at in SOLID[:REPEAT]
            )
        )

        def one_accept() -> None:
            accept_suggestion(
                suggestion=next(suggestions), annotation_set=decision_set, by=user,
                expected_version=decision_set.version,
            )  # fmt: skip

        report("accept_suggestion service", timed(one_accept, REPEAT), baseline)

        rest_set = fresh_set()
        secret = create_token(user=user, name="bench", scope="write")[1]
        client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
        url = reverse("api:set-spans", args=[rest_set.pk])
        offsets = iter(SOLID)
        versions = itertools.count(1)

        def rest_call() -> None:
            start = next(offsets)
            response = client.post(
                url,
                {"start": start, "end": start + 1, "type": "PERSON", "text": TEXT[start]},
                content_type="application/json",
                HTTP_IF_MATCH=f'"{next(versions)}"',
            )
            assert response.status_code == 201, response.content[:300]

        from django.test.utils import CaptureQueriesContext

        rest_call()  # the token's first use reads it and records when it was used
        with CaptureQueriesContext(connection) as queries:
            rest_call()
        print(f"   the REST call makes {len(queries)} queries")
        report("POST /api/v1/sets/<id>/spans/ (REST)", timed_cpu(rest_call, REPEAT), baseline)

        for verdict in ("accepted", "rejected"):
            decide = decision_call(client, fresh_set(), version, person, verdict)
            decide()  # the token is remembered for a few seconds only: read again if it was forgotten
            with CaptureQueriesContext(connection) as queries:
                decide()
            print(f"   the REST call makes {len(queries)} queries")
            name = f"POST /api/v1/sets/<id>/decisions/ (REST, {verdict.removesuffix('ed')})"
            report(name, timed_cpu(decide, REPEAT - 2), baseline)


def decision_call(
    client: Any, annotation_set: Any, version: Any, entity_type: Any, verdict: str
) -> Callable[[], None]:
    """A REST call that decides the set's next pending suggestion (`verdict`: accepted or rejected), each call
    on a suggestion of its own, with the set's version it expects."""
    from django.urls import reverse

    from annotator.suggestions.models import Suggestion, SuggestionKind

    pending = iter(
        Suggestion.objects.bulk_create(
            Suggestion(article=annotation_set.article, suggester_version=version, kind=SuggestionKind.ENTITY,
                       start=at, end=at + 1, entity_type=entity_type, score=0.9, source="bench")
            for at in SOLID[: REPEAT + 1]
        )
    )  # fmt: skip
    url = reverse("api:set-decisions", args=[annotation_set.pk])
    versions = itertools.count(1)

    def decide() -> None:
        response = client.post(
            url,
            {"suggestion": next(pending).pk, "verdict": verdict},
            content_type="application/json",
            HTTP_IF_MATCH=f'"{next(versions)}"',
        )
        assert response.status_code == 201, response.content[:300]

    return decide


def timed_cpu(action: Callable[[], object], repeat: int) -> list[float]:
    """`timed`, then the CPU each call cost: this process's (the app's: Django, DRF, the services) and,
    on PostgreSQL, the database server process's that serves this connection. CPU hardly depends on what
    else the machine runs, unlike the time."""
    from django.db import connection

    def database_cpu() -> float:
        if connection.vendor != "postgresql":
            return 0.0
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        return cpu_seconds(pid) or 0.0

    app, database = time.process_time(), database_cpu()
    times = timed(action, repeat)
    app, database = time.process_time() - app, database_cpu() - database
    shown = f"{database / repeat * 1000:.2f} ms" if connection.vendor == "postgresql" else "(not measured)"
    print(f"   CPU per call: app {app / repeat * 1000:.2f} ms, database {shown}")
    return times


if __name__ == "__main__":
    main()
