"""Errors and warnings: an import with something skipped or changed goes on and says so, on the page, in
the API's job and on the command line, counted by kind; `strict` turns every warning into an error."""

import io
import zipfile
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotator.articles.models import Article
from annotator.interchange.formats.base import Limits, Notice, ProblemLog, Where
from annotator.interchange.formats.sources import ZipSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import ImportRejected, import_articles
from annotator.jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db

HOSTILE_MEMBER = "<img src=x onerror=alert(1)>.png"
SKIPPED = "This member is not read: the Plain text (.txt, or a zip of .txt files) format reads .txt files."


def archive(path):
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("a1.txt", "Minsk is a city.")
        out.writestr(HOSTILE_MEMBER, b"\x89PNG\r\n\x1a\n")
        out.writestr("run.py", "print('hi')")
    return path


def test_warnings_are_counted_by_kind_and_only_the_first_are_kept_in_full():
    log = ProblemLog(limit=2)
    for number in range(3):
        log.warn(Where("b.zip:d.ann", number + 1), "Skipped.", kind="brat event", action="skipped")
    log.warn(Where("b.zip"), "Merged.", kind="duplicate span", action="merged", count=4)
    assert log.warnings == [
        Notice("b.zip:d.ann", 1, None, "brat event", "skipped", "Skipped."),
        Notice("b.zip:d.ann", 2, None, "brat event", "skipped", "Skipped."),
    ]
    assert log.warning_counts() == [
        {"kind": "brat event", "action": "skipped", "count": 3},
        {"kind": "duplicate span", "action": "merged", "count": 4},
    ]
    assert not log  # warnings are not errors


def test_an_archive_with_members_that_are_not_text_imports_the_text_and_warns_about_each(news, tmp_path):
    source = ZipSource(archive(tmp_path / "mixed.zip"), "mixed.zip", Limits())
    result = import_articles(
        project=news.project, source=source, options=ImportOptions(format="text"), by=news.manager
    )
    assert Article.objects.get(project=news.project, external_id="a1").text == "Minsk is a city."
    assert result.warnings == [
        {"file": f"mixed.zip:{HOSTILE_MEMBER}", "line": None, "field": None, "kind": "archive member",
         "action": "skipped", "message": SKIPPED},
        {"file": "mixed.zip:run.py", "line": None, "field": None, "kind": "archive member",
         "action": "skipped", "message": SKIPPED},
    ]  # fmt: skip
    assert result.warning_counts == [{"kind": "archive member", "action": "skipped", "count": 2}]
    assert result.summary() == "Imported 1 new article; warnings: 2 archive members skipped."


def test_a_strict_import_refuses_what_would_be_skipped_and_writes_nothing(news, tmp_path):
    source = ZipSource(archive(tmp_path / "mixed.zip"), "mixed.zip", Limits())
    with pytest.raises(ImportRejected) as rejected:
        import_articles(
            project=news.project, source=source, options=ImportOptions(format="text", strict=True), by=None
        )
    assert rejected.value.message == "2 problems in mixed.zip; nothing was imported."
    assert rejected.value.problems[1] == {
        "file": "mixed.zip:run.py", "line": None, "field": None,
        "message": f"{SKIPPED} (refused: the import is strict)",
    }  # fmt: skip
    assert not Article.objects.filter(external_id="a1").exists()


def test_the_command_line_prints_each_warning_and_strict_fails(news, tmp_path):
    path = archive(tmp_path / "mixed.zip")
    out, err = StringIO(), StringIO()
    call_command("import_articles", str(path), project="news", format="text", inline=True,
                 stdout=out, stderr=err)  # fmt: skip
    assert out.getvalue() == "Imported 1 new article; warnings: 2 archive members skipped.\n"
    assert f"warning: mixed.zip:run.py: {SKIPPED}\n" in err.getvalue()
    Article.objects.filter(external_id="a1").delete()
    with pytest.raises(CommandError, match=r"^2 problems in mixed.zip; nothing was imported.$"):
        call_command("import_articles", str(path), project="news", format="text", inline=True, strict=True,
                     stdout=StringIO(), stderr=StringIO())  # fmt: skip
    assert not Article.objects.filter(external_id="a1").exists()


def test_the_page_shows_warnings_escaped_and_the_api_job_carries_them(
    client, news, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    data = archive(io.BytesIO()).getvalue()
    client.force_login(news.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("interchange:imports", args=[news.project.pk]),
            {"file": SimpleUploadedFile("mixed.zip", data), "format": "text", "set_kind": "imported",
             "set_name": "imported", "on_duplicate": "skip"},
        )  # fmt: skip
    html = client.get(response["Location"]).content.decode()
    assert "<img src=x" not in html
    assert "mixed.zip:&lt;img src=x onerror=alert(1)&gt;.png" in html
    assert "<strong>2</strong> × archive member skipped" in html
    listed = client.get(reverse("interchange:imports", args=[news.project.pk])).content.decode()
    assert '<small class="muted">with warnings</small>' in listed
    Article.objects.filter(external_id="a1").delete()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("api:project-imports", args=[news.project.pk]),
            {"file": SimpleUploadedFile("mixed.zip", data), "format": "text", "strict": "true"},
        )
    job = client.get(response.json()["url"]).json()
    assert (job["status"], job["message"], len(job["errors"])) == (
        JobStatus.FAILED, "2 problems in mixed.zip; nothing was imported.", 2,
    )  # fmt: skip
    assert Job.objects.get(pk=job["id"]).params["strict"] is True


def corrupted(path, how):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("a.txt", "Minsk is a city. " * 50)
    data = bytearray(path.read_bytes())
    if how == "member":
        data[40:60] = bytes(20)  # inside a.txt's compressed bytes
    else:
        data = data[:-30]  # the central directory cut short
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("how", "errors"),
    [
        ("member", [{"file": "bad.zip", "line": None, "field": "a.txt",
                     "message": "It is damaged (Bad CRC-32 for file 'a.txt')."}]),
        ("directory", [{"file": "bad.zip", "line": None, "field": None,
                        "message": "The zip archive cannot be read (File is not a zip file)."}]),
    ],
)  # fmt: skip
def test_a_corrupt_zip_fails_the_job_naming_the_problem(news, tmp_path, how, errors):
    from annotator.interchange.services import start_import
    from annotator.jobs.services import run_job

    path = corrupted(tmp_path / "bad.zip", how)
    job = start_import(
        project=news.project, path=path, file_name="bad.zip", options=ImportOptions(format="text"), by=None,
        delete_after=False, queue=False,
    )  # fmt: skip
    job = run_job(job)
    assert (job.status, job.errors) == (JobStatus.FAILED, errors)
    assert not Article.objects.filter(external_id="a").exists()
