"""Storing suggestions: idempotent re-runs, decisions untouched, freshness, links for spans, occurrences."""

import gc
import re
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.annotations import services as annotations
from annotator.annotations.models import Span
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.progress import Progress
from annotator.kb.services import EntityRecord, upsert_entity
from annotator.suggestions import gazetteer, generate, storing
from annotator.suggestions.engine import ProjectSchema
from annotator.suggestions.models import (
    Decision,
    SuggesterKind,
    SuggesterVersion,
    Suggestion,
    SuggestionKind,
    SuggestionRun,
)
from annotator.suggestions.nlp import Pattern
from annotator.suggestions.services import accept_suggestion, reject_suggestion
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import ArticleFactory, SuggesterVersionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("named_news_kb")]


def rows(article, **filters):
    """The article's suggestions as what they say (every article's when `article` is None)."""
    found = (
        Suggestion.objects.filter(**filters)
        if article is None
        else Suggestion.objects.filter(article=article, **filters)
    )
    return sorted(
        found.values_list(
            "kind",
            "start",
            "end",
            "entity_type__name",
            "relation_type__name",
            "kb_entity__kb_id",
            "rank",
            "score",
            "source",
        )
    )


def test_preannotation_stores_entities_relations_and_links_of_the_active_suggester(news):
    report = generate.preannotate_articles(project=news.project)
    version = SuggesterVersion.objects.get(project=news.project)
    assert (version.name, version.version, version.kind, version.is_active) == (
        "rules",
        "4",
        SuggesterKind.RULES,
        True,
    )
    assert report == generate.PreannotateReport(articles=1, created=6, deleted=0, kept=0, suggester="rules 4")
    assert rows(news.article) == [
        ("entity", 0, 16, "PERSON", None, None, 0, 0.9, "kb-ruler"),
        ("entity", 25, 30, "GPE", None, None, 0, 0.9, "kb-ruler"),
        ("entity", 34, 42, "DATE", None, None, 0, 0.75, "rule:date"),
        ("link", 0, 16, "PERSON", None, "sergey-naryshkin", 0, 0.75, "kb-candidates"),
        ("link", 25, 30, "GPE", None, "minsk", 0, 0.75, "kb-candidates"),
        ("relation", 0, 16, "PERSON", "visited", None, 0, 0.7, "rule:visited"),
    ]
    relation = Suggestion.objects.get(kind=SuggestionKind.RELATION)
    assert (relation.tail_start, relation.tail_end, relation.tail_entity_type) == (*MINSK, news.gpe)
    run = SuggestionRun.objects.get()
    assert (run.article, run.suggester_version, run.counts) == (
        news.article,
        version,
        {"entity": 3, "relation": 1, "link": 2},
    )


def test_batch_preannotation_can_leave_link_candidates_to_the_first_need_which_stores_the_same(news):
    upsert_entity(
        knowledge_base=news.kb,
        record=EntityRecord(kb_id="naryshkin-junior", name="Sergey Naryshkin", type="PERSON", prior=0.2),
    )
    generate.preannotate_articles(project=news.project, defer_links=False)
    eager = rows(news.article)
    Suggestion.objects.all().delete()
    SuggestionRun.objects.all().delete()

    report = generate.preannotate_articles(project=news.project, defer_links=True)
    assert (report.created, report.kept) == (4, 0)
    assert rows(news.article) == [row for row in eager if row[0] != "link"]
    run = SuggestionRun.objects.get()
    # The mentions of the types the KB has (PERSON, GPE), not the date.
    assert (run.counts, run.pending_links) == (
        {"entity": 3, "relation": 1, "link": 0},
        [[0, 16, news.person.pk], [25, 30, news.gpe.pk]],
    )
    with CaptureQueriesContext(connection) as queries:
        generate.ensure_article_suggestions(article=news.article)
    # The same candidates, ranks and scores as a run that looks them up at once.
    assert rows(news.article) == eager
    assert [row for row in eager if row[0] == "link"] == [
        ("link", 0, 16, "PERSON", None, "naryshkin-junior", 0, 0.8, "kb-candidates"),
        ("link", 0, 16, "PERSON", None, "sergey-naryshkin", 1, 0.75, "kb-candidates"),
        ("link", 25, 30, "GPE", None, "minsk", 0, 0.75, "kb-candidates"),
    ]
    run.refresh_from_db()
    assert (run.counts, run.pending_links) == ({"entity": 3, "relation": 1, "link": 3}, None)
    # No pipeline: the stored entities stand, only their candidates are looked up and written.
    statements = [re.sub(r"^\d+ times: ", "", q["sql"]).split()[0] for q in queries]
    writes = [verb for verb in statements if verb in ("INSERT", "UPDATE", "DELETE")]
    assert writes == (
        ["UPDATE"] if connection.vendor == "postgresql" else ["INSERT", "UPDATE"]
    )  # COPY: uncaptured
    assert generate.complete_links(version=run.suggester_version, article_ids=[news.article.pk]) == 0
    with CaptureQueriesContext(connection) as queries:
        generate.ensure_article_suggestions(article=news.article)
    assert len(queries) == 3  # current again: the active version with its run, the two gazetteer aggregates
    assert rows(news.article) == eager


def test_a_deferred_re_run_keeps_decided_links_and_looks_the_others_up_again(news):
    generate.preannotate_articles(project=news.project, defer_links=False)
    link = Suggestion.objects.get(kind=SuggestionKind.LINK, start=0)
    reject_suggestion(
        suggestion=link, annotation_set=news.annotation_set, by=news.annotator, expected_version=1
    )
    news.naryshkin.prior = 0.8  # the candidate's score moves: the decided suggestion stands for it
    news.naryshkin.save()
    report = generate.preannotate_articles(project=news.project, defer_links=True)
    assert (report.created, report.deleted, report.kept) == (0, 1, 4)  # Minsk's link waits for the need
    assert (
        generate.complete_links(
            version=link.suggester_version, article_ids=[news.article.pk, news.article.pk + 1]
        )
        == 1
    )
    assert rows(news.article, kind="link") == [
        ("link", 0, 16, "PERSON", None, "sergey-naryshkin", 0, 0.75, "kb-candidates"),  # the decided one
        ("link", 25, 30, "GPE", None, "minsk", 0, 0.75, "kb-candidates"),
    ]
    assert Decision.objects.get().suggestion_id == link.pk


def test_batch_preannotation_defers_links_when_pages_compute_suggestions_on_open(news, settings):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = False  # pages do no suggestion work: pre-annotation is all
    assert generate.preannotate_articles(project=news.project).created == 6
    Suggestion.objects.all().delete()
    SuggestionRun.objects.all().delete()
    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    assert generate.preannotate_articles(project=news.project).created == 4
    assert SuggestionRun.objects.get().pending_links is not None


def test_re_running_writes_nothing_new_and_leaves_decisions_untouched(news):
    generate.preannotate_articles(project=news.project)
    before = list(Suggestion.objects.order_by("pk").values_list("pk", flat=True))
    person = Suggestion.objects.get(kind=SuggestionKind.ENTITY, start=0)
    decision = accept_suggestion(
        suggestion=person, annotation_set=news.annotation_set, by=news.annotator, expected_version=1
    )
    with CaptureQueriesContext(connection) as queries:
        report = generate.preannotate_articles(project=news.project)
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []
    assert (report.created, report.deleted, report.kept) == (0, 0, 6)
    assert list(Suggestion.objects.order_by("pk").values_list("pk", flat=True)) == before
    assert Decision.objects.get() == decision

    # The KB changes: Minsk's entity goes (its link suggestion with it: a foreign key). The rules now
    # find Minsk in the shipped list of cities: that undecided suggestion is replaced; the decided one,
    # its decision and the span it made stay.
    news.minsk.delete()
    report = generate.preannotate_articles(project=news.project)
    assert (report.created, report.deleted, report.kept) == (1, 1, 4)
    assert ("entity", 25, 30, "GPE", None, None, 0, 0.8, "list:cities") in rows(news.article)
    assert Suggestion.objects.filter(pk=person.pk).exists()
    assert list(Decision.objects.values_list("pk", "verdict")) == [(decision.pk, "accepted")]
    assert list(Span.objects.values_list("start", "end")) == [NARYSHKIN]


def test_a_decided_suggestion_is_not_suggested_twice_when_its_score_changes(news):
    generate.preannotate_articles(project=news.project)
    link = Suggestion.objects.get(kind=SuggestionKind.LINK, start=0)
    reject_suggestion(
        suggestion=link, annotation_set=news.annotation_set, by=news.annotator, expected_version=1
    )
    news.naryshkin.prior = 0.8  # the candidate's score moves, the suggestion is the same
    news.naryshkin.save()
    report = generate.preannotate_articles(project=news.project)
    assert (report.created, report.deleted) == (0, 0)
    assert Suggestion.objects.filter(kind=SuggestionKind.LINK, start=0).count() == 1


def test_a_re_run_repairs_duplicate_undecided_rows(news):
    generate.preannotate_articles(project=news.project)
    copy = Suggestion.objects.get(kind=SuggestionKind.ENTITY, start=0)
    copy.pk = None
    copy.save()
    report = generate.preannotate_articles(project=news.project)
    assert (report.created, report.deleted, report.kept) == (0, 1, 6)


def test_preannotation_can_be_limited_to_articles_or_a_status_and_can_run_another_version(news):
    other = ArticleFactory(project=news.project, text="Naryshkin met nobody.")
    annotations.create_span(
        annotation_set=news.annotation_set,
        start=0,
        end=16,
        entity_type=news.person,
        by=news.annotator,
        expected_version=1,
    )
    assert generate.preannotate_articles(project=news.project, article_ids=[other.pk]).articles == 1
    assert generate.preannotate_articles(project=news.project, status="in_progress").articles == 1
    assert set(SuggestionRun.objects.values_list("article_id", flat=True)) == {other.pk, news.article.pk}
    inactive = SuggesterVersionFactory(project=news.project, name="rules", version="1b")
    generate.preannotate_articles(project=news.project, article_ids=[other.pk], suggester_version=inactive)
    assert SuggestionRun.objects.filter(suggester_version=inactive).count() == 1


def test_an_articles_suggestions_are_computed_once_and_again_when_the_kb_changes(news):
    version = generate.ensure_article_suggestions(article=news.article)
    stored = rows(news.article)
    with CaptureQueriesContext(connection) as queries:
        assert generate.ensure_article_suggestions(article=news.article) == version
    assert len(queries) == 3  # the active version with its run's fingerprint, the two gazetteer aggregates
    assert rows(news.article) == stored
    upsert_entity(
        knowledge_base=news.kb,
        record=EntityRecord(kb_id="april", name="April 15", type="PERSON", prior=0.1),
    )
    generate.ensure_article_suggestions(article=news.article)
    assert ("entity", 34, 42, "PERSON", None, None, 0, 0.9, "kb-ruler") in rows(news.article)
    assert ("entity", 34, 42, "DATE", None, None, 0, 0.75, "rule:date") not in rows(news.article)


def test_a_kb_entity_without_a_type_makes_stored_link_suggestions_stale(news):
    generate.ensure_article_suggestions(article=news.article)
    upsert_entity(
        knowledge_base=news.kb, record=EntityRecord(kb_id="minsk-region", name="Minsk", type="", prior=0.9)
    )
    generate.ensure_article_suggestions(article=news.article)
    # Untyped, it is no pattern (the entity suggestion stays the KB's GPE) but it is a candidate.
    assert rows(news.article, start=25) == [
        ("entity", 25, 30, "GPE", None, None, 0, 0.9, "kb-ruler"),
        ("link", 25, 30, "GPE", None, "minsk", 1, 0.75, "kb-candidates"),
        ("link", 25, 30, "GPE", None, "minsk-region", 0, 0.9, "kb-candidates"),  # its prior is higher
    ]


def test_gold_mentions_feed_the_gazetteer(news):
    article = ArticleFactory(project=news.project, text="Oleg Quux spoke.")
    gold = annotations.get_or_create_gold_set(article=article)
    annotations.create_span(
        annotation_set=gold, start=0, end=9, entity_type=news.person, by=None, expected_version=1
    )
    later = ArticleFactory(project=news.project, text="Then Oleg Quux left.")
    generate.ensure_article_suggestions(article=later)
    assert rows(later, kind=SuggestionKind.ENTITY) == [
        ("entity", 5, 14, "PERSON", None, None, 0, 0.85, "gold-ruler")
    ]


def test_the_raw_text_service_writes_nothing_even_without_a_suggester(news):
    with CaptureQueriesContext(connection) as queries:
        spec, version_id, suggested = generate.suggest_text(
            project=news.project, text="Minsk, said Sergey Naryshkin."
        )
    assert [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")] == []
    assert (spec.name, version_id) == ("rules", None)
    assert [(e.text, e.entity_type) for e in suggested.entities] == [
        ("Minsk", "GPE"),
        ("Sergey Naryshkin", "PERSON"),
    ]
    assert [(link.entity, link.kb_id, link.rank) for link in suggested.links] == [
        (0, "minsk", 0),
        (1, "sergey-naryshkin", 0),
    ]
    assert SuggesterVersion.objects.count() == 0


def test_link_suggestions_for_the_spans_of_a_set(news):
    span = annotations.create_span(
        annotation_set=news.annotation_set,
        start=0,
        end=16,
        entity_type=news.person,
        by=news.annotator,
        expected_version=1,
    )
    double = upsert_entity(
        knowledge_base=news.kb,
        record=EntityRecord(kb_id="naryshkin-junior", name="Sergey Naryshkin", type="PERSON", prior=0.2),
    )[0]
    found = generate.suggest_links_for_spans(annotation_set=news.annotation_set)
    # Ranked by score: 0.6 for the exact name, 0.25 x prior, 0.15 for the fitting type.
    assert [(s.start, s.end, s.kb_entity.kb_id, s.rank, s.score, s.source) for s in found] == [
        (0, 16, "naryshkin-junior", 0, 0.8, "kb-candidates:span"),
        (0, 16, "sergey-naryshkin", 1, 0.75, "kb-candidates:span"),
    ]
    assert generate.suggest_links_for_spans(annotation_set=news.annotation_set, spans=[span]) == found
    assert Suggestion.objects.count() == 2
    decision = accept_suggestion(
        suggestion=found[0], annotation_set=news.annotation_set, by=news.annotator, expected_version=2
    )
    assert decision.link.kb_entity == double
    # A re-run of the article keeps these: they were made on demand, not by the article run.
    generate.preannotate_articles(project=news.project)
    assert Suggestion.objects.filter(source="kb-candidates:span").count() == 2


def test_other_occurrences_of_an_accepted_span_are_suggested_with_its_link(news):
    article = ArticleFactory(
        project=news.project,
        text="Naryshkin met Lukashenko. Later, Naryshkin left; Naryshkins and xNaryshkin did not.",
    )
    own = annotations.get_or_create_own_set(article=article, user=news.annotator)
    span = annotations.create_span(
        annotation_set=own, start=0, end=9, entity_type=news.person, by=news.annotator, expected_version=1
    )
    annotations.link_span(span=span, kb_entity=news.naryshkin, by=news.annotator, expected_version=2)
    found = generate.suggest_other_occurrences(span=span)
    assert [(s.kind, s.start, s.end, s.entity_type, s.kb_entity, s.score, s.source) for s in found] == [
        ("entity", 33, 42, news.person, None, 0.8, "other-occurrence"),
        ("link", 33, 42, news.person, news.naryshkin, 0.8, "other-occurrence"),
    ]
    assert generate.suggest_other_occurrences(span=span) == found  # idempotent
    accept_suggestion(suggestion=found[0], annotation_set=own, by=news.annotator, expected_version=3)
    assert list(own.spans.values_list("start", "end")) == [(0, 9), (33, 42)]
    again = generate.suggest_other_occurrences(span=Span.objects.get(annotation_set=own, start=33))
    assert again == []  # the first occurrence is annotated already


def test_the_default_suggester_is_made_active_once(news):
    first = generate.ensure_active_suggester(project=news.project)
    assert generate.ensure_active_suggester(project=news.project) == first
    assert SuggesterVersion.objects.filter(project=news.project, is_active=True).count() == 1


def test_the_preannotate_command_runs_the_job_here_and_reports_it(news):
    out = StringIO()
    call_command("preannotate", "--project", news.project.slug, stdout=out)
    assert out.getvalue() == (
        "Pre-annotated 1 articles: 6 suggestions added, 0 replaced.\n"
        "1 articles by rules 4: 6 suggestions added, 0 undecided ones replaced, 0 unchanged.\n"
    )
    out = StringIO()
    call_command(
        "preannotate", "--project", str(news.project.pk), "--article", str(news.article.pk), stdout=out
    )
    assert out.getvalue().endswith(
        "1 articles by rules 4: 0 suggestions added, 0 undecided ones replaced, 6 unchanged.\n"
    )
    with pytest.raises(CommandError, match="No article with id 999999 in News."):
        call_command("preannotate", "--project", "news", "--article", "999999")
    with pytest.raises(CommandError, match="No project has the slug or id 'nope'."):
        call_command("preannotate", "--project", "nope")
    assert Job.objects.filter(kind=JobKind.PREANNOTATE, status=JobStatus.SUCCEEDED).count() == 2


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_batches_are_stored_by_a_writer_thread_on_postgresql(news, monkeypatch):
    for n in range(4):
        ArticleFactory(project=news.project, text=f"Sergey Naryshkin visited Minsk, day {n}.")
    job = Job.objects.create(project=news.project, kind=JobKind.PREANNOTATE)
    threads = []
    store = generate.store_batch

    thresholds = []

    def watched(*args, **kwargs):
        threads.append(threading.current_thread().name)
        thresholds.append(gc.get_threshold()[0])
        return store(*args, **kwargs)

    monkeypatch.setattr(generate, "store_batch", watched)
    report = generate.preannotate_articles(project=news.project, progress=Progress(job), batch_size=2)
    # SQLite's rows are written on this thread (its driver would hand the GIL back and forth per row).
    writer = "suggestion-writer" if connection.vendor == "postgresql" else threading.current_thread().name
    assert threads == [writer] * 3
    assert min(thresholds) >= 10_000  # the batch collects garbage less often while it runs
    assert (report.articles, report.created) == (5, 6 + 4 * 5)
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (5, 5)
    assert generate.preannotate_articles(project=news.project, batch_size=2).created == 0

    def failing(version, results, *args):
        raise RuntimeError(f"disk full at article {results[0][0]}")

    monkeypatch.setattr(generate, "store_batch", failing)
    collecting = gc.get_threshold()
    with pytest.raises(RuntimeError, match="disk full at article"):
        generate.preannotate_articles(project=news.project, batch_size=2)
    # A batch collects garbage less often while it runs; the process's settings come back, even after a failure.
    assert (gc.get_threshold(), gc.get_freeze_count()) == (collecting, 0)


def test_a_name_several_kb_entities_share_is_one_pattern_and_the_candidates_rank_them(news):
    upsert_entity(
        knowledge_base=news.kb,
        record=EntityRecord(kb_id="naryshkin-junior", name="Sergey Naryshkin", type="PERSON", prior=0.2),
    )
    kb = sorted((p for p in gazetteer.project_patterns(news.project.pk) if p.group.startswith("kb")), key=str)
    assert kb == [
        Pattern("GPE", "Minsk", "kb:minsk"),
        Pattern("PERSON", "Sergey Naryshkin", "kb-shared:Sergey Naryshkin"),
    ]
    generate.preannotate_articles(project=news.project)
    assert rows(news.article, start=0, kind__in=["entity", "link"]) == [
        ("entity", 0, 16, "PERSON", None, None, 0, 0.9, "kb-ruler"),
        ("link", 0, 16, "PERSON", None, "naryshkin-junior", 0, 0.8, "kb-candidates"),
        ("link", 0, 16, "PERSON", None, "sergey-naryshkin", 1, 0.75, "kb-candidates"),
    ]


def test_the_linkable_types_are_read_as_one_row_per_type(news):
    for n in range(5):
        upsert_entity(
            knowledge_base=news.kb, record=EntityRecord(kb_id=f"p{n}", name=f"Person {n}", type="PERSON")
        )
    with CaptureQueriesContext(connection) as queries:
        schema = ProjectSchema.load(news.project.pk)
    assert schema.linkable == frozenset({"PERSON", "GPE"})
    distinct = [q["sql"] for q in queries if "DISTINCT" in q["sql"]]
    assert len(distinct) == 1
    with connection.cursor() as cursor:
        cursor.execute(distinct[0])
        assert sorted(cursor.fetchall()) == [("GPE",), ("PERSON",)]  # not one row per entity


def test_a_batch_of_articles_costs_as_many_queries_as_one_article(news):
    def queries_for(count):
        made = [ArticleFactory(project=news.project, text=news.article.text) for _ in range(count)]
        with CaptureQueriesContext(connection) as queries:
            report = generate.preannotate_articles(project=news.project, article_ids=[a.pk for a in made])
        assert report.created == 6 * count
        # Django records an executemany as "<n> times: <sql>": one statement, whatever n is.
        return [re.sub(r"^\d+ times: ", "", q["sql"]).split()[0] for q in queries]

    queries_for(1)  # the process's caches (pipeline, gazetteer, KB candidates) are warm from here on
    one, twenty = queries_for(1), queries_for(20)
    if connection.vendor == "postgresql":
        assert twenty == one
        assert one.count("INSERT") == 1  # the runs; the rows go by COPY, not a captured query
    else:
        # The rows: one multi-row INSERT per SQLITE_ROWS_PER_INSERT rows (6 or 120 here), then the runs'.
        assert storing.SQLITE_ROWS_PER_INSERT == 66
        assert one.count("INSERT") == 1 + 1
        assert twenty.count("INSERT") == 2 + 1
        assert [q for q in twenty if q != "INSERT"] == [q for q in one if q != "INSERT"]


@pytest.mark.django_db(transaction=True)
def test_preannotation_with_its_pipeline_in_a_child_process_stores_exactly_what_it_stores_without(
    news, settings, monkeypatch
):
    texts = ["Sergey Naryshkin visited Minsk on April 15.", "Minsk welcomed Sergey Naryshkin on Monday."]
    for n in range(150):
        ArticleFactory(project=news.project, text=f"{texts[n % 2]} Day {n}.")
    settings.ANNOTATOR_PIPELINE_PROCESS = "off"
    without = generate.preannotate_articles(project=news.project, defer_links=False, batch_size=40)
    expected = rows(None)
    Suggestion.objects.all().delete()
    SuggestionRun.objects.all().delete()
    started = []

    class Watched(generate.PipeProcess):
        def __init__(self, *args, **kwargs):
            started.append(sorted(t.name for t in threading.enumerate()))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(generate, "PipeProcess", Watched)
    monkeypatch.setattr(generate, "PIPE_PROCESS_MIN_ARTICLES", 100)
    settings.ANNOTATOR_PIPELINE_PROCESS = "on"
    report = generate.preannotate_articles(project=news.project, defer_links=False, batch_size=40)
    (threads,) = started
    assert "suggestion-writer" not in threads  # forked before the writer's thread started
    assert rows(None) == expected
    assert (report.articles, report.created) == (without.articles, without.created) == (151, len(expected))
    kinds = sorted(Suggestion.objects.values_list("kind", flat=True))
    # the fixture's article's 3 entities, 2 links, 1 relation; each new one's 3 and 2; "visited" every other
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "entity": 3 + 150 * 3,
        "link": 2 + 150 * 2,
        "relation": 1 + 75,
    }


def test_the_pipeline_gets_a_child_process_when_a_core_is_spare_for_it(settings, monkeypatch):
    cores = {0, 1}
    monkeypatch.setattr(generate.os, "sched_getaffinity", lambda pid: cores)
    settings.ANNOTATOR_PIPELINE_PROCESS = "auto"
    wanted = generate.pipe_process_wanted
    assert wanted(256) is True
    assert wanted(10_000, model=True) is False  # a statistical model's pipeline: serial unless "on"
    assert wanted(255) is False  # too few articles to pay for the child's start
    assert wanted(10_000, other_workers=1) is False  # two workers on two cores: one core each
    cores = {0, 1, 2, 3}
    assert (wanted(10_000, other_workers=2), wanted(10_000, other_workers=3)) == (True, False)
    cores = {0}
    assert wanted(10_000) is False
    settings.ANNOTATOR_PIPELINE_PROCESS = "on"
    assert (wanted(10_000, other_workers=5), wanted(10_000, model=True), wanted(255)) == (True, True, False)
    settings.ANNOTATOR_PIPELINE_PROCESS = "off"
    assert wanted(10_000) is False


def test_the_usable_cores_are_those_of_the_affinity_mask_within_the_cgroup_quota(monkeypatch, tmp_path):
    monkeypatch.setattr(generate.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert generate.usable_cores(tmp_path) == 4  # no cgroup files
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert generate.usable_cores(tmp_path) == 4  # v1, no limit
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("150000\n")
    assert generate.usable_cores(tmp_path) == 2  # v1, 1.5 cores: a second one in part
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert generate.usable_cores(tmp_path) == 4  # v2 first: no limit
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert generate.usable_cores(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("800000 100000\n")
    assert generate.usable_cores(tmp_path) == 4  # the quota allows more than the mask
    (tmp_path / "cpu.max").write_text("garbled")
    assert generate.usable_cores(tmp_path) == 4


def test_the_busy_workers_of_this_machine_are_those_running_a_chunk_lately(news, settings):
    import socket
    from datetime import timedelta

    from django.utils import timezone

    from annotator.jobs.chunks import worker_name
    from annotator.jobs.models import JobChunk
    from annotator.suggestions.jobs import other_busy_workers

    host, now = socket.gethostname(), timezone.now()
    job = Job.objects.create(project=news.project, kind=JobKind.PREANNOTATE, status=JobStatus.RUNNING)
    late = now - timedelta(seconds=settings.ANNOTATOR_JOB_HEARTBEAT_TIMEOUT + 1)
    for number, (worker, status, beat) in enumerate(
        [
            (worker_name(), JobStatus.RUNNING, now),  # this process
            (f"{host}:1", JobStatus.RUNNING, now),
            (f"{host}:1", JobStatus.RUNNING, now),  # the same process: one worker
            (f"{host}:2/thread-2", JobStatus.RUNNING, now),
            (f"{host}:3", JobStatus.SUCCEEDED, now),
            (f"{host}:4", JobStatus.RUNNING, late),  # silent: dead or stuck
            (f"elsewhere-{host}:5", JobStatus.RUNNING, now),  # another machine
        ],
        start=1,
    ):
        JobChunk.objects.create(
            job=job, number=number, label="", status=status, worker=worker, heartbeat_at=beat
        )
    assert other_busy_workers() == 2
