"""Search documents written after an import commits: the backlog, the index job, what people see meanwhile."""

import io
import json

import pytest
from django.db import connection, transaction
from django.urls import reverse

from annotator.articles import search
from annotator.articles.indexing import start_search_indexing
from annotator.articles.models import Article, SearchBacklog
from annotator.interchange.backup import restore_backup, write_backup
from annotator.interchange.formats.sources import BytesSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import import_articles
from annotator.jobs.models import Job, JobChunk, JobKind, JobStatus
from annotator.jobs.services import run_job
from annotator.review import browse

pytestmark = pytest.mark.django_db

RECORDS = [
    {"external_id": "w-1", "title": "Storm", "text": "Hail over Gomel on Sunday."},
    {"external_id": "w-2", "title": "Frost", "text": "Frost in Gomel and Mogilev."},
    {"external_id": "w-3", "title": "Fog", "text": "Fog at the airport.", "metadata": {"desk": "Belta"}},
]


def import_records(news, records=RECORDS):
    data = ("\n".join(json.dumps(record) for record in records) + "\n").encode()
    return import_articles(
        project=news.project,
        source=BytesSource("weather.jsonl", data),
        options=ImportOptions(format="jsonl"),
        by=news.manager,
    )


def documents():
    """The article ids that have a search document, whatever the database."""
    table = "articles_search" if connection.vendor == "postgresql" else "articles_search_fts"
    column = "article_id" if connection.vendor == "postgresql" else "rowid"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} ORDER BY 1")  # noqa: S608
        return [row[0] for row in cursor.fetchall()]


def found(news, query):
    filters = browse.ArticleFilters(query=query, sort="old")
    return list(browse.filtered(news.project, filters).values_list("title", flat=True))


def imported_ids():
    return list(
        Article.objects.filter(external_id__startswith="w-").order_by("pk").values_list("pk", flat=True)
    )


def test_an_import_writes_the_articles_and_their_backlog_not_their_documents(news):
    before = documents()
    result = import_records(news)
    ids = imported_ids()
    assert result.created == 3
    assert documents() == before  # only the fixture's own article has one
    assert sorted(SearchBacklog.objects.values_list("article_id", "project_id")) == [
        (pk, news.project.pk) for pk in ids
    ]
    # Until the job runs, a search reads the waiting articles word by word: nothing is missed.
    assert found(news, "gomel") == ["Storm", "Frost"]
    assert found(news, "belta") == ["Fog"]
    assert found(news, "gomel mogilev") == ["Frost"]
    assert found(news, "minsk") == ["Naryshkin in Minsk"]  # the indexed article still comes from the index


def test_the_index_job_writes_the_documents_in_chunks_and_empties_the_backlog(news, monkeypatch):
    monkeypatch.setattr(search, "INDEX_CHUNK_ARTICLES", 2)
    import_records(news)
    ids = imported_ids()
    job = start_search_indexing(project=news.project, by=news.manager, queue=False)
    assert job is not None
    assert job.kind == JobKind.INDEX_SEARCH
    run_job(job)
    job.refresh_from_db()
    assert (job.status, job.result, job.progress_done, job.progress_total) == (
        JobStatus.SUCCEEDED,
        {"indexed": 3},
        3,
        3,
    )
    assert list(JobChunk.objects.filter(job=job).values_list("label", "params", "result")) == [
        (f"articles #{ids[0]}–#{ids[1]}", {"first": ids[0], "last": ids[1]}, {"indexed": 2}),
        (f"article #{ids[2]}", {"first": ids[2], "last": ids[2]}, {"indexed": 1}),
    ]
    assert SearchBacklog.objects.count() == 0
    assert documents() == sorted([news.article.pk, *ids])
    assert found(news, "gomel") == ["Storm", "Frost"]
    assert found(news, "belta") == ["Fog"]
    # Nothing left: a second job is not made, and a chunk run again (its worker died) writes nothing.
    assert start_search_indexing(project=news.project, by=news.manager, queue=False) is None
    with transaction.atomic():
        assert search.index_backlog(project_id=news.project.pk, first=ids[0], last=ids[2]) == 0


def test_past_the_fallback_limit_a_search_misses_the_waiting_articles_and_the_page_says_so(
    client, news, monkeypatch
):
    import_records(news)
    client.force_login(news.annotator)
    url = reverse("browse:articles", args=[news.project.pk])
    page = client.get(url, {"q": "gomel"}).content.decode()
    assert (
        '<p class="message" id="search-backlog" role="status">3 articles are still being indexed for search: '
        "a search reads them word by word meanwhile, a little slower.</p>"
    ) in page
    monkeypatch.setattr(search, "FALLBACK_MAX", 2)
    response = client.get(url, {"q": "gomel"})
    assert [row["article"].title for row in response.context["rows"]] == []
    assert (
        "3 articles are still being indexed for search: a search does not find them until they are indexed "
        "(a few minutes after an import).</p>"
    ) in response.content.decode()
    run_job(start_search_indexing(project=news.project, by=news.manager, queue=False))
    response = client.get(url, {"q": "gomel", "sort": "old"})
    assert [row["article"].title for row in response.context["rows"]] == ["Storm", "Frost"]
    assert 'id="search-backlog"' not in response.content.decode()


def test_the_api_says_how_many_articles_are_still_being_indexed(client, news):
    import_records(news, RECORDS[:1])
    client.force_login(news.annotator)
    url = reverse("api:article-list", args=[news.project.pk])
    response = client.get(url, {"search": "hail"})
    assert response["X-Articles-Unindexed"] == "1"
    assert [article["title"] for article in response.json()["results"]] == ["Storm"]
    run_job(start_search_indexing(project=news.project, by=news.manager, queue=False))
    response = client.get(url, {"search": "hail"})
    assert response["X-Articles-Unindexed"] == "0"
    assert [article["title"] for article in response.json()["results"]] == ["Storm"]
    schema = client.get("/api/v1/schema/?format=json").json()
    listed = schema["paths"]["/api/v1/projects/{project_id}/articles/"]["get"]["responses"]["200"]
    assert listed["headers"]["X-Articles-Unindexed"]["schema"] == {"type": "integer"}


def test_an_import_queues_the_index_job_once_it_commits(news, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        import_records(news)
    job = Job.objects.get(kind=JobKind.INDEX_SEARCH)
    assert (job.project, job.created_by, job.status, job.result) == (
        news.project,
        news.manager,
        JobStatus.SUCCEEDED,  # the test settings' task backend runs it at once
        {"indexed": 3},
    )
    assert SearchBacklog.objects.count() == 0


def test_a_dry_run_queues_nothing(news):
    data = (json.dumps(RECORDS[0]) + "\n").encode()
    import_articles(
        project=news.project,
        source=BytesSource("weather.jsonl", data),
        options=ImportOptions(format="jsonl", dry_run=True),
        by=news.manager,
    )
    assert (SearchBacklog.objects.count(), Job.objects.filter(kind=JobKind.INDEX_SEARCH).count()) == (0, 0)


def test_articles_saved_one_at_a_time_get_their_document_at_once_and_leave_the_backlog(news):
    import_records(news, RECORDS[:1])
    article = Article.objects.get(external_id="w-1")
    article.title = "Hailstorm"
    article.save()
    assert SearchBacklog.objects.count() == 0
    assert article.pk in documents()
    assert found(news, "hailstorm") == ["Hailstorm"]
    article.delete()
    assert article.pk not in documents()


def test_a_restored_project_queues_its_articles_for_indexing(news, django_capture_on_commit_callbacks):
    stream = io.BytesIO()
    write_backup(news.project, stream)
    stream.seek(0)
    restored = restore_backup(stream, slug="news-copy", by=news.manager)
    copy = Article.objects.get(project=restored)
    assert list(SearchBacklog.objects.values_list("article_id", flat=True)) == [copy.pk]
    assert Job.objects.get(kind=JobKind.INDEX_SEARCH).project == restored
    assert list(
        search.matching(Article.objects.filter(project=restored), "naryshkin", project_id=restored.pk)
    ) == [copy]


def test_the_command_line_indexes_what_waits(news, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    import_records(news)
    out = StringIO()
    call_command("index_search", project="news", inline=True, stdout=out)
    assert out.getvalue() == "Indexed 3 articles of news for search.\n"
    call_command("index_search", project="news", stdout=out)
    assert out.getvalue().endswith("Every article of news is indexed for search.\n")
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps({"external_id": "w-9", "title": "Heat", "text": "Heat in Pinsk."}) + "\n")
    call_command("import_articles", str(path), project="news", format="jsonl", inline=True, stderr=StringIO(),
                 stdout=StringIO())  # fmt: skip
    assert SearchBacklog.objects.count() == 0  # --inline indexes what it imported, too
    assert Article.objects.get(external_id="w-9").pk in documents()
