"""KB import: the job, the command line and the service behind them, on files the tests write."""

import gzip
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from annotator.annotations.services import create_span, link_span
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import run_job
from annotator.kb import imports
from annotator.kb.imports import observe_imports, start_kb_import
from annotator.kb.models import Alias, KBEntity, KnowledgeBase
from annotator.kb.services import create_entity
from tests.conftest import NARYSHKIN
from tests.kb_samples import dump, jsonl, kb_entities, wikidata_entity

pytestmark = pytest.mark.django_db


def wikidata_file(tmp_path, *entities, name="latest-all.json.gz"):
    path = tmp_path / name
    path.write_bytes(gzip.compress(dump(*entities)))
    return path


def run_import(knowledge_base, path, **kwargs):
    job = start_kb_import(
        knowledge_base=knowledge_base, path=path, file_label=path.name, by=None, queue=False, **kwargs
    )
    return run_job(job)


NARYSHKIN_WD = wikidata_entity(
    "Q1370509",
    {"en": "Sergey Naryshkin", "ru": "Сергей Нарышкин", "de": "Sergei Naryschkin"},
    descriptions={"en": "Russian politician", "ru": "российский политик"},
    aliases={"en": ["Naryshkin"], "ru": ["Нарышкин"], "uk": ["Наришкін"]},
    p31=["Q5"],
    sitelinks=300,
)
BELARUS_WD = wikidata_entity(
    "Q184",
    {"en": "Belarus", "ru": "Беларусь"},
    descriptions={"en": "country in Eastern Europe"},
    aliases={"en": ["Republic of Belarus", "BY"], "ru": ["Белоруссия", "Республика Беларусь"]},
    p31=["Q3624078", "Q6256"],
    sitelinks=0,
)


def test_wikidata_lines_in_several_languages_import_correctly(news, tmp_path):
    knowledge_base = KnowledgeBase.objects.create(
        project=news.project, name="Wikidata", languages=["en", "ru"]
    )
    path = wikidata_file(
        tmp_path, NARYSHKIN_WD, BELARUS_WD, {"type": "property", "id": "P31", "labels": {}}
    )  # a property: skipped
    job = run_import(knowledge_base, path)
    assert (job.status, job.kind, job.project_id) == (JobStatus.SUCCEEDED, JobKind.IMPORT_KB, news.project.pk)
    assert job.message == "Imported 2 entities into Wikidata: 2 new, 0 updated, 0 unchanged, 1 lines skipped."
    assert job.result == {
        "format": "wikidata", "created": 2, "updated": 0, "unchanged": 0, "skipped": 1,
        "knowledge_base_id": knowledge_base.pk,
    }  # fmt: skip
    assert (job.progress_done, job.progress_total) == (path.stat().st_size, path.stat().st_size)
    assert kb_entities(knowledge_base) == {
        "Q1370509": (
            "Sergey Naryshkin", "Russian politician", "PERSON", 1.0, ("Q5",), {"sitelinks": 300},
            [
                ("Naryshkin", "en", "naryshkin", False),
                ("Sergey Naryshkin", "en", "sergey naryshkin", False),
                ("Нарышкин", "ru", "нарышкин", False),
                ("Сергей Нарышкин", "ru", "сергей нарышкин", False),
            ],
        ),
        "Q184": (
            "Belarus", "country in Eastern Europe", "GPE", 0.0, ("Q3624078", "Q6256"), {},
            [
                ("BY", "en", "by", False),
                ("Belarus", "en", "belarus", False),
                ("Republic of Belarus", "en", "republic of belarus", False),
                ("Беларусь", "ru", "беларусь", False),
                ("Белоруссия", "ru", "белоруссия", False),
                ("Республика Беларусь", "ru", "республика беларусь", False),
            ],
        ),
    }  # fmt: skip


def test_reimporting_updates_in_place_keeps_links_and_manual_aliases_and_writes_nothing_when_unchanged(
    news, tmp_path
):
    knowledge_base = KnowledgeBase.objects.create(project=news.project, name="Wikidata", languages=["en"])
    path = wikidata_file(tmp_path, NARYSHKIN_WD, BELARUS_WD)
    run_import(knowledge_base, path)
    naryshkin = KBEntity.objects.get(kb_id="Q1370509")
    span = create_span(
        annotation_set=news.annotation_set, start=NARYSHKIN[0], end=NARYSHKIN[1], entity_type=news.person,
        by=news.annotator, expected_version=1,
    )  # fmt: skip
    link_span(span=span, kb_entity=naryshkin, by=news.annotator, expected_version=2)
    Alias.objects.create(entity=naryshkin, text="S. E. Naryshkin", manual=True)
    before = kb_entities(knowledge_base)
    stamps = dict(KBEntity.objects.values_list("kb_id", "updated_at"))

    again = run_import(knowledge_base, path)
    assert again.message == "Imported 2 entities into Wikidata: 0 new, 0 updated, 2 unchanged."
    assert kb_entities(knowledge_base) == before
    assert dict(KBEntity.objects.values_list("kb_id", "updated_at")) == stamps

    changed = dict(NARYSHKIN_WD, labels={"en": {"language": "en", "value": "Sergei Naryshkin"}})
    changed["aliases"] = {"en": [{"language": "en", "value": "Naryshkin S."}]}
    run_import(knowledge_base, wikidata_file(tmp_path, changed, BELARUS_WD, name="second.json"))
    naryshkin.refresh_from_db()
    assert naryshkin.name == "Sergei Naryshkin"
    assert sorted(naryshkin.aliases.values_list("text", "manual")) == [
        ("Naryshkin S.", False),
        ("S. E. Naryshkin", True),  # added by a person: re-imports keep it
        ("Sergei Naryshkin", False),
    ]
    assert naryshkin.links.get().span == span  # same row, link untouched
    assert KBEntity.objects.get(kb_id="Q184").updated_at == stamps["Q184"]


def test_a_file_with_bad_lines_writes_nothing_and_reports_each_line(news, tmp_path):
    path = tmp_path / "people.jsonl"
    path.write_bytes(
        jsonl({"id": "a", "name": "Alpha"}, {"id": "b", "name": ""}, {"id": "c", "name": "Gamma", "prior": 2})
        + b"{broken\n"
        + jsonl({"id": "d", "name": "Delta"})
    )
    job = run_import(news.kb, path)
    assert job.status == JobStatus.FAILED
    assert job.message == "3 errors in people.jsonl; nothing was imported."
    assert job.errors == [
        {"file": "people.jsonl", "line": 2, "field": "name", "message": "The name is missing."},
        {"file": "people.jsonl", "line": 3, "field": "prior",
         "message": "The prior must be a number between 0 and 1 (got 2.0)."},
        {"file": "people.jsonl", "line": 4, "field": "",
         "message": "This line is not valid JSON (unexpected character, expected a string key: "
                    "line 1 column 2 (char 1))."},
    ]  # fmt: skip
    assert sorted(KBEntity.objects.values_list("kb_id", flat=True)) == ["minsk", "sergey-naryshkin"]


def test_the_report_lists_the_first_thousand_errors(news, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "MAX_REPORTED_ERRORS", 2)
    path = tmp_path / "bad.csv"
    path.write_text("id,name\n,A\n,B\n,C\nd,D\n")
    job = run_import(news.kb, path)
    assert job.message == "3 errors in bad.csv (the first 2 are listed); nothing was imported."
    assert [error["line"] for error in job.errors] == [2, 3]


def test_a_truncated_gzip_file_is_a_bad_line_not_a_crash(news, tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(*({"id": f"e{i}", "name": f"E {i}"} for i in range(500))))[:-30])
    job = run_import(news.kb, path)
    assert job.status == JobStatus.FAILED
    assert job.errors[-1]["message"].startswith("The file cannot be read past this point (")
    assert KBEntity.objects.filter(knowledge_base=news.kb).count() == 2


def test_empty_files_and_files_without_names_in_the_kept_languages_fail(news, tmp_path):
    path = wikidata_file(tmp_path, wikidata_entity("Q1", {"fr": "Un"}))
    job = run_import(news.kb, path, languages=["en", "ru"])
    assert job.message == "latest-all.json.gz holds no entities with a name in en, ru; nothing was imported."


def test_missing_files_and_knowledge_bases_fail_the_job(news, tmp_path):
    path = tmp_path / "kb.jsonl"
    path.write_bytes(jsonl({"id": "a", "name": "A"}))
    job = start_kb_import(knowledge_base=news.kb, path=path, file_label="kb.jsonl", by=None, queue=False)
    path.unlink()
    assert run_job(job).message == "The file kb.jsonl is gone; upload or give it again."
    other = KnowledgeBase.objects.create(project=news.project, name="Temporary")
    path.write_bytes(jsonl({"id": "a", "name": "A"}))
    job = start_kb_import(knowledge_base=other, path=path, file_label="kb.jsonl", by=None, queue=False)
    other.delete()
    assert run_job(job).message == "The knowledge base to import into no longer exists."


def test_uploaded_files_are_deleted_when_their_job_ends(news, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    path = imports.upload_path("../../etc/kb.csv")
    assert path.parent.parent == tmp_path / "kb-imports"
    assert path.name == "kb.csv"  # never a path from the client
    path.write_text("id,name\nx,X\n")
    job = start_kb_import(
        knowledge_base=news.kb, path=path, file_label="kb.csv", by=None, uploaded=True, queue=False
    )
    assert run_job(job).status == JobStatus.SUCCEEDED
    assert not path.parent.exists()


def test_import_writes_in_batches_so_queries_do_not_grow_with_entities(news, tmp_path, monkeypatch):
    # 30 entities and 90 aliases fit one INSERT each, even within SQLite's 999 parameters per query.
    monkeypatch.setattr(imports, "BATCH_SIZE", 30)

    def queries_to_import(count, name):
        path = tmp_path / name
        path.write_bytes(
            jsonl(
                *({"id": f"{name}-{i}", "name": f"E{i}", "aliases": [f"A{i}", f"B{i}"]} for i in range(count))
            )
        )
        knowledge_base = KnowledgeBase.objects.create(project=news.project, name=name)
        with CaptureQueriesContext(connection) as queries:
            imports.import_kb_file(knowledge_base=knowledge_base, path=path, file_label=name)
        assert Alias.objects.filter(knowledge_base=knowledge_base).count() == 3 * count
        return len(queries)

    two_batches = queries_to_import(31, "small")
    assert queries_to_import(60, "large") == two_batches
    assert queries_to_import(61, "three") > two_batches


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_other_connections_while_the_import_runs(news, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "PROGRESS_INTERVAL", 0)
    monkeypatch.setattr(imports, "BATCH_SIZE", 50)
    path = tmp_path / "many.jsonl"
    path.write_bytes(jsonl(*({"id": f"e{i}", "name": f"Entity {i}"} for i in range(400))))
    job = start_kb_import(knowledge_base=news.kb, path=path, file_label="many.jsonl", by=None, queue=False)
    seen = []
    reader = connections.create_connection("default")

    def look(done, total, entities):
        with reader.cursor() as cursor:
            cursor.execute(
                "SELECT status, progress_done, progress_total, message FROM jobs_job WHERE id = %s", [job.pk]
            )
            seen.append(cursor.fetchone())

    try:
        with observe_imports(look):
            job = run_job(job)
    finally:
        reader.close()
    size = path.stat().st_size
    assert job.status == JobStatus.SUCCEEDED
    running = [row for row in seen if row[0] == JobStatus.RUNNING and 0 < row[1] < size]
    assert running, seen[:5]
    assert all(row[2] == size for row in running)
    # Reading and checking the file is the job's one chunk; then its entities are written, all at once.
    assert running[-1][3] == "0 of 1 parts done."
    writing = [row[1:] for row in seen if row[0] == JobStatus.RUNNING and row[3].startswith("Importing: ")]
    assert writing[-1] == (size, size, "Importing: 400 of 400 entities written.")


def test_the_command_line_imports_with_a_progress_bar(news, tmp_path):
    path = tmp_path / "kb.csv"
    path.write_text(
        "id,name,aliases,type,prior\nq1,Ivan Tertel,Tertel|Іван Тэртэль,PERSON,0.6\n", encoding="utf-8"
    )
    out, err = StringIO(), StringIO()
    call_command(
        "import_kb", str(path), "--project", "news", "--kb", "Local", "--create", stdout=out, stderr=err
    )
    assert out.getvalue() == "Imported 1 entities into Local: 1 new, 0 updated, 0 unchanged.\n"
    assert "kb.csv: 100%" in err.getvalue()  # tqdm's bar
    knowledge_base = KnowledgeBase.objects.get(project=news.project, name="Local")
    assert kb_entities(knowledge_base)["q1"][-1] == [
        ("Ivan Tertel", "", "ivan tertel", False),
        ("Tertel", "", "tertel", False),
        ("Іван Тэртэль", "", "іван тэртэль", False),
    ]
    assert Job.objects.get().params["file_label"] == "kb.csv"


def test_the_command_line_reports_errors_and_refuses_unknown_projects_and_kbs(news, tmp_path):
    path = tmp_path / "kb.csv"
    path.write_text("id,name\nq1,\n")
    err = StringIO()
    with pytest.raises(CommandError, match=r"^1 error in kb.csv; nothing was imported.$"):
        call_command("import_kb", str(path), "--project", "news", "--kb", "News KB", stderr=err)
    assert "kb.csv, line 2 [name]: The name is missing." in err.getvalue()
    with pytest.raises(CommandError, match=r"^1 error in kb.csv; nothing was imported.$"):
        call_command(
            "import_kb", str(path), "--project", "news", "--kb", "New", "--create", stderr=StringIO()
        )
    assert not KnowledgeBase.objects.filter(name="New").exists()  # made for the import, removed with it
    with pytest.raises(CommandError, match="News has no knowledge base named 'Other' \\(add --create\\)."):
        call_command("import_kb", str(path), "--project", "news", "--kb", "Other")
    with pytest.raises(CommandError, match="No project has the slug or id 'nope'."):
        call_command("import_kb", str(path), "--project", "nope", "--kb", "Other")
    with pytest.raises(CommandError, match="--type takes CLASS=TYPE"):
        call_command("import_kb", str(path), "--project", "news", "--kb", "News KB", "--type", "Q5")


def test_the_command_line_can_queue_the_job_and_map_wikidata_classes(
    news, tmp_path, django_capture_on_commit_callbacks
):
    path = wikidata_file(tmp_path, NARYSHKIN_WD)
    out = StringIO()
    call_command(
        "import_kb", str(path), "--project", str(news.project.pk), "--kb", "News KB", "--queue", "--type", "Q5=HUMAN",
        "--languages", "ru,en", stdout=out,
    )  # fmt: skip
    job = Job.objects.get()
    assert out.getvalue() == f"Queued job {job.pk}: a worker (manage.py db_worker) will run it.\n"
    assert (job.status, job.params["languages"], job.params["type_map"]) == (
        "queued",
        ["ru", "en"],
        {"Q5": "HUMAN"},
    )
    run_job(job)
    entity = KBEntity.objects.get(kb_id="Q1370509")
    assert (entity.name, entity.type) == ("Сергей Нарышкин", "HUMAN")


def test_created_entities_aliases_survive_a_reimport_of_the_same_id(news, tmp_path):
    entity = create_entity(
        knowledge_base=news.kb, kb_id="local-1", name="Local One", aliases=["L1"], by=news.manager
    )
    path = tmp_path / "kb.jsonl"
    path.write_bytes(jsonl({"id": "local-1", "name": "Local One", "aliases": ["Uno"]}))
    run_import(news.kb, path)
    assert sorted(entity.aliases.values_list("text", "manual")) == [
        ("L1", True),
        ("Local One", True),
        ("Uno", False),
    ]
