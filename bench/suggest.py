"""Batch pre-annotation end-to-end against bare `nlp.pipe`, and the raw-text endpoint's latency.

    python bench/suggest.py                    # SQLite (temporary file), 10,000 articles
    DATABASE_URL=postgres://... python bench/suggest.py
    python bench/suggest.py --articles 2000    # a quicker run
    python bench/suggest.py --link-candidates 0  # without storing KB link candidates

Generates news-like articles (~2,500 characters, ~50 mentions each) over a generated KB, then, with the
same pipeline (the offline default: blank English, sentencizer, span_ruler gazetteer of the KB, the
shipped lists and the rules):
- bare `nlp.pipe` over the texts, in memory, doing nothing with the docs (the baseline, run twice: before
  and after the end-to-end run, to see the machine's noise);
- `preannotate_articles`: read the articles from the database, `nlp.pipe`, turn the docs into records,
  resolve overlaps, relation rules, diff against what is stored, write the rows (the KB link
  candidates are left to each article's first need, as in production: `--eager-links` looks them up
  here too; the first need's own cost is printed after the re-run);
and prints docs/s of both and their ratio (goal: at least 0.7), with the load average, and the same ratio
in CPU time (steadier on a loaded machine; PostgreSQL's own work is not in it). Then the
p50/p95 latency of `POST /api/v1/suggest` for a 2.5 KB article (in-process test client: the view, the
pipeline, the candidate queries, JSON), against bare `nlp(text)` on the same text.

When pre-annotation runs its pipeline in a child process (ANNOTATOR_PIPELINE_PROCESS, `--pipe-process`;
by default when this machine has two cores or more), the CPU lines count that child too: each process's
CPU per article, and the ratio bare / the busier of the two (the pace two free cores would allow) beside
bare / both (what the split costs in all). On a machine shared with other sessions the docs/s ratio says
little about the split: Linux's autogroup scheduling gives this session one share of the CPU for all its
processes.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time

from _harness import bench_database, report, timed

FIRST = ["Anna", "Boris", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Irina", "Jonas", "Katya", "Lars",
         "Mila", "Nikolai", "Olga", "Pavel", "Rosa", "Stefan", "Tamara", "Viktor", "Yuri", "Zofia", "Andrei", "Bella",
         "Cyril", "Daria", "Emil", "Fiona", "Gleb", "Hanna"]  # fmt: skip
LAST = ["Kowalski", "Petrov", "Jansen", "Moreau", "Haddad", "Lindqvist", "Novak", "Sokolov", "Berg", "Romero",
        "Tanaka", "Keller", "Dubois", "Horvat", "Almeida", "Ivanenko", "Marsh", "Okafor", "Quist", "Ruiz", "Schultz",
        "Varga", "Wolff", "Yilmaz", "Zanetti", "Brandt", "Costa", "Engel", "Falk", "Gruber"]  # fmt: skip
ORG_HEADS = ["National", "Federal", "Central", "State", "United", "Northern"]
ORG_BODIES = ["Bank", "Council", "Agency", "Bureau", "Committee", "Authority", "Guard", "Service"]
ORG_FIELDS = ["of Trade", "of Energy", "for Security", "of Transport", "for Media"]
PLACES = ["Vienna", "Warsaw", "Riga", "Tbilisi", "Baku", "Lisbon", "Minsk", "Kyiv", "Vilnius", "Tallinn", "Prague",
          "Budapest", "Poland", "Belarus", "Ukraine", "Latvia", "Georgia", "Armenia"]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "April 15", "May 3", "last week", "two days"]
NATIONS = ["Polish", "Belarusian", "Ukrainian", "Latvian", "Georgian", "Russian", "Western"]
SENTENCES = [
    "{P} met {P2} of the {O} in {G} on {D}.",
    "The {O} said {P} would visit {G} within {D}.",
    "According to {P}, {N} officials in {G} have questioned the {O}.",
    "{G}’s {O} denied reports from {G2} on {D}.",
    "{P}, head of the {O}, spoke with reporters.",
]
FILLER = [
    "Analysts expect further talks in the coming months, officials said.",
    "The statement gave no further details about the timing of the plan.",
    "Critics said the decision had been taken without any public consultation.",
    "The figures could not be independently verified by the newspaper.",
]


def generated_kb(rng: random.Random) -> tuple[list[str], list[tuple[str, str]]]:
    people = [f"{f} {last}" for f in FIRST for last in LAST]
    rng.shuffle(people)
    orgs = []
    for head in ORG_HEADS:
        for body in ORG_BODIES:
            for field in ORG_FIELDS:
                name = f"{head} {body} {field}"
                acronym = "".join(w[0] for w in name.split() if w[0].isupper())
                orgs.append((name, acronym))
    return people, orgs


def article_text(rng: random.Random, people: list[str], orgs: list[tuple[str, str]]) -> str:
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < 2450:
        if rng.random() < 0.6:
            parts.append(rng.choice(FILLER))
            continue
        org = rng.choice(orgs)
        parts.append(
            rng.choice(SENTENCES).format(
                P=rng.choice(people[:600]),
                P2=rng.choice(people[:600]),
                O=org[0] if rng.random() < 0.7 else org[1],
                G=rng.choice(PLACES),
                G2=rng.choice(PLACES),
                D=rng.choice(DAYS),
                N=rng.choice(NATIONS),
            )
        )
    return " ".join(parts)[:2500]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--link-candidates",
        type=int,
        default=None,
        help="ANNOTATOR_LINK_CANDIDATES for this run (0: no link rows)",
    )
    parser.add_argument(
        "--eager-links", action="store_true", help="look the KB link candidates up during pre-annotation"
    )
    parser.add_argument(
        "--pipe-process",
        choices=("auto", "on", "off"),
        default=None,
        help="ANNOTATOR_PIPELINE_PROCESS for this run: the pipeline in a child process or not",
    )
    args = parser.parse_args()
    # The endpoint's throttle (60/minute by default) would refuse most of the timed requests.
    os.environ.setdefault("ANNOTATOR_API_RATE_SUGGEST", "1000000/minute")
    with bench_database("suggest") as vendor:
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.test import Client, override_settings

        from annotator.articles.models import Article, content_hash
        from annotator.kb.models import Alias, KBEntity, KnowledgeBase
        from annotator.kb.normalize import normalize_alias
        from annotator.projects.demo import load_demo
        from annotator.projects.models import Role
        from annotator.projects.services import add_member
        from annotator.suggestions.engine import load_suggester, rules_spec
        from annotator.suggestions.generate import preannotate_articles
        from annotator.suggestions.models import Suggestion

        if args.link_candidates is not None:
            settings.ANNOTATOR_LINK_CANDIDATES = args.link_candidates
        if args.pipe_process is not None:
            settings.ANNOTATOR_PIPELINE_PROCESS = args.pipe_process
        rng = random.Random(2026)
        project = load_demo().project
        Article.objects.filter(project=project).delete()
        people, orgs = generated_kb(rng)
        kb = KnowledgeBase.objects.create(project=project, name="Generated KB")
        entities = KBEntity.objects.bulk_create(
            [
                KBEntity(knowledge_base=kb, kb_id=f"p{i}", name=n, type="PERSON", prior=0.5)
                for i, n in enumerate(people)
            ]
            + [
                KBEntity(knowledge_base=kb, kb_id=f"o{i}", name=n, type="ORG", prior=0.5)
                for i, (n, _) in enumerate(orgs)
            ]
        )
        aliases = []
        for entity in entities:
            names = {entity.name}
            if entity.type == "PERSON":
                names.add(entity.name.split()[-1])
            else:
                names.add(orgs[int(entity.kb_id[1:])][1])
            aliases += [
                Alias(entity=entity, knowledge_base=kb, text=n, normalized=normalize_alias(n), language="en")
                for n in names
            ]
        Alias.objects.bulk_create(aliases, batch_size=5000)
        texts = [article_text(rng, people, orgs) for _ in range(args.articles)]
        Article.objects.bulk_create(
            [
                Article(
                    project=project,
                    external_id=f"bench-{i}",
                    title=f"Bench {i}",
                    text=t,
                    content_hash=content_hash(t),
                )
                for i, t in enumerate(texts)
            ],
            batch_size=2000,
        )
        spec = rules_spec()
        started = time.perf_counter()
        suggester = load_suggester(spec, project.pk)
        loading = time.perf_counter() - started
        chars = sum(map(len, texts)) / len(texts)
        print(
            f"database: {vendor}; {len(texts)} articles of {chars:.0f} characters on average; KB of {len(entities)} "
            f"generated + 26 demo entities, {len(aliases)} generated aliases; gazetteer of "
            f"{suggester.pattern_count()} patterns loaded in {loading:.1f} s",
            flush=True,
        )

        cpu: dict[str, float] = {}  # this process's CPU seconds per phase (all its threads)

        def bare() -> float:
            started, on_cpu = time.perf_counter(), time.process_time()
            for _ in suggester.docs(texts):
                pass
            cpu["bare"] = cpu.get("bare", 0.0) + time.process_time() - on_cpu
            return len(texts) / (time.perf_counter() - started)

        bare_before = bare()
        print(f"{'bare nlp.pipe (baseline), first run':<44} {bare_before:8.1f} docs/s", flush=True)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started, on_cpu = time.perf_counter(), time.process_time()
        result = preannotate_articles(project=project, defer_links=not args.eager_links)
        elapsed = time.perf_counter() - started
        cpu["end-to-end"] = time.process_time() - on_cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pipeline's child, ended and waited for
        cpu["child"] = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        end_to_end = len(texts) / elapsed
        stored = Suggestion.objects.count()
        print(
            f"{'pre-annotation end-to-end':<44} {end_to_end:8.1f} docs/s   ({elapsed:.1f} s, {stored} suggestions "
            f"written: {stored / len(texts):.1f} per article; {result.created} created)",
            flush=True,
        )
        bare_after = bare()
        print(f"{'bare nlp.pipe (baseline), second run':<44} {bare_after:8.1f} docs/s", flush=True)
        baseline = (bare_before + bare_after) / 2
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"ratio end-to-end / bare nlp.pipe: {end_to_end / baseline:.2f} (goal: >= 0.7); load average {load}",
            flush=True,
        )
        # Less noisy on a shared machine, but blind to PostgreSQL's own processes (they do the COPY).
        per_doc = {phase: 1000 * seconds / len(texts) for phase, seconds in cpu.items()}
        bare_cpu = per_doc["bare"] / 2
        if cpu["child"] > 0:
            own, child = per_doc["end-to-end"], per_doc["child"]
            print(
                f"CPU per article: bare nlp.pipe {bare_cpu:.2f} ms; end-to-end {own:.2f} ms in this process "
                f"+ {child:.2f} ms in the pipeline's child process; ratio bare / the busier "
                f"{bare_cpu / max(own, child):.2f}, bare / both {bare_cpu / (own + child):.2f}",
                flush=True,
            )
        else:
            print(
                f"CPU of this process per article: bare nlp.pipe {bare_cpu:.2f} ms, end-to-end "
                f"{per_doc['end-to-end']:.2f} ms; ratio {bare_cpu / per_doc['end-to-end']:.2f}",
                flush=True,
            )
        entities_per = Suggestion.objects.filter(kind="entity").count() / len(texts)
        print(f"entity suggestions per article: {entities_per:.1f}", flush=True)

        started = time.perf_counter()
        again = preannotate_articles(project=project, defer_links=not args.eager_links)
        print(
            f"{'re-run (nothing changed)':<44} {len(texts) / (time.perf_counter() - started):8.1f} docs/s   "
            f"({again.created} created, {again.deleted} deleted, {again.kept} unchanged)",
            flush=True,
        )

        # What the deferred link candidates cost when first needed: an article at a time, as page opens
        # and the API ask (its own look-ups and rows; the KB candidate cache starts cold).
        from annotator.suggestions.generate import complete_links
        from annotator.suggestions.models import SuggesterVersion, SuggestionRun

        version = SuggesterVersion.objects.get(project=project, is_active=True)
        pending = list(
            SuggestionRun.objects.filter(suggester_version=version, pending_links__isnull=False)
            .order_by("article_id")
            .values_list("article_id", flat=True)[:200]
        )
        if pending:
            stored = []

            by_id = dict(Article.objects.filter(pk__in=pending).values_list("pk", "text"))

            def first_need() -> None:  # the page and the API have the article's text at hand
                article_id = pending[len(stored)]
                stored.append(
                    complete_links(
                        version=version, article_ids=[article_id], texts={article_id: by_id[article_id]}
                    )
                )

            report(f"links on first need, 1 article ({len(pending)})", timed(first_need, len(pending)))
            print(f"{'':<44} {sum(stored) / len(stored):.1f} link suggestions stored per article", flush=True)

        # The production settings want collected static files for the URL conf; the endpoint does not.
        simple_static = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        override = override_settings(STORAGES=simple_static)
        override.enable()
        user = get_user_model().objects.create_user("bench")
        add_member(project=project, user=user, role=Role.ANNOTATOR)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        text = texts[0]
        body = {"project": project.pk, "text": text}

        def call() -> None:
            response = client.post("/api/v1/suggest", body, content_type="application/json")
            assert response.status_code == 200, response.content

        for _ in range(10):
            call()
        baseline_times = timed(lambda: next(iter(suggester.docs([text]))), args.requests)
        report(f"bare nlp(text), {len(text)} characters", baseline_times)
        report("POST /api/v1/suggest, same text", timed(call, args.requests), baseline_times)
        print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        override.disable()


if __name__ == "__main__":
    main()
