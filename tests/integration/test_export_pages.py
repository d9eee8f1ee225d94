"""The export page (curators and managers), its background jobs with live progress and files, and
`manage.py export`."""

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotator.interchange.exports import ExportQuery, export_bytes
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import run_job
from annotator.projects.models import Role
from tests.factories import ArticleFactory, MembershipFactory, UserFactory
from tests.integration.test_export_service import with_gold

pytestmark = pytest.mark.django_db
HOSTILE = "<script>alert(1)</script> {{ x }} 🇧🇾 مرحبا"


@pytest.fixture
def gold(news):
    return with_gold(news)


def page(project):
    return reverse("exports:exports", args=[project.pk])


def test_the_page_offers_every_format_and_the_members_as_annotators_with_hostile_text_escaped(client, gold):
    gold.project.name = HOSTILE
    gold.project.save()
    MembershipFactory(project=gold.project, user=UserFactory(username="<b>eve</b>"), role=Role.ANNOTATOR)
    Job.objects.create(project=gold.project, kind=JobKind.EXPORT, params={"format": "jsonl", "sets": "annotator",
                       "annotator": "<i>x</i>"}, created_by=gold.manager)  # fmt: skip
    client.force_login(gold.manager)
    response = client.get(page(gold.project))
    assert response.status_code == 200
    content = response.content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ x }} 🇧🇾 مرحبا" in content
    assert '<option value="&lt;b&gt;eve&lt;/b&gt;">&lt;b&gt;eve&lt;/b&gt;</option>' in content
    assert "annotator (&lt;i&gt;x&lt;/i&gt;)" in content
    assert [value for value, _ in response.context["form"].fields["format"].choices] == [
        "jsonl", "spacy", "conll", "brat", "doccano", "labelstudio", "csv",
    ]  # fmt: skip
    dashboard = client.get(reverse("projects:detail", args=[gold.project.pk])).content.decode()
    assert f'href="{page(gold.project)}"' in dashboard


def test_annotators_cannot_export_and_do_not_see_the_link(client, gold):
    client.force_login(gold.annotator)
    assert client.get(page(gold.project)).status_code == 403
    assert client.post(page(gold.project), {"format": "jsonl", "sets": "gold"}).status_code == 403
    assert (
        page(gold.project)
        not in client.get(reverse("projects:detail", args=[gold.project.pk])).content.decode()
    )


def test_a_curator_downloads_at_once_what_streams(client, gold, today):
    curator = UserFactory(username="carl")
    MembershipFactory(project=gold.project, user=curator, role=Role.CURATOR)
    client.force_login(curator)
    a1 = gold.project.articles.get(external_id="a1")
    response = client.post(page(gold.project), {"format": "jsonl", "sets": "gold", "ids": f" {a1.pk}, "})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="news-gold-{today:%Y-%m-%d}.jsonl"'
    data = b"".join(response.streaming_content)
    assert data == b"".join(export_bytes(gold.project, ExportQuery(article_ids=(a1.pk,))))
    assert orjson.loads(data)["external_id"] == "a1"


def test_form_errors_name_the_field(client, gold, outsider):
    client.force_login(gold.manager)
    theirs = ArticleFactory(project=outsider.memberships.get().project)
    response = client.post(page(gold.project), {"format": "jsonl", "sets": "gold", "ids": f"{theirs.pk}"})
    assert response.status_code == 400
    assert response.context["form"].errors == {"ids": [f"No article with id {theirs.pk} in this project."]}
    response = client.post(page(gold.project), {"format": "jsonl", "sets": "annotator"})
    assert response.context["form"].errors == {
        "annotator": ["Name the annotator when (and only when) exporting one annotator's sets."]
    }
    response = client.post(page(gold.project), {"format": "xml", "sets": "gold"})
    assert list(response.context["form"].errors) == ["format"]


def test_a_large_docbin_becomes_a_job_with_progress_and_a_file(client, gold, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_EXPORT_INLINE_MAX_ARTICLES = 2
    client.force_login(gold.manager)
    response = client.post(page(gold.project), {"format": "spacy", "sets": "gold"})
    job = Job.objects.get(kind=JobKind.EXPORT)
    detail = reverse("exports:detail", args=[gold.project.pk, job.pk])
    assert response.status_code == 302
    assert response["Location"] == detail
    queued = client.get(detail)
    assert b'hx-trigger="every 1s"' in queued.content
    assert b"spaCy DocBin (.spacy) \xc2\xb7 gold standard" in queued.content
    assert run_job(job).status == JobStatus.SUCCEEDED
    partial = client.get(detail, HTTP_HX_REQUEST="true")
    content = partial.content.decode()
    assert content.lstrip().startswith('<section id="job-status"')
    assert "hx-trigger" not in content
    assert "Exported 3 articles" in content
    download = reverse("exports:download", args=[gold.project.pk, job.pk])
    assert f'href="{download}"' in content
    response = client.get(download)
    assert b"".join(response.streaming_content) == b"".join(
        export_bytes(gold.project, ExportQuery(format="spacy"))
    )
    assert response["Content-Type"] == "application/octet-stream"


def test_any_export_can_be_prepared_in_the_background_and_an_unfinished_one_has_no_file(client, gold):
    client.force_login(gold.manager)
    client.post(page(gold.project), {"format": "csv", "sets": "all", "background": "on"})
    job = Job.objects.get(kind=JobKind.EXPORT)
    assert (job.params["format"], job.params["sets"], job.status) == ("csv", "all", JobStatus.QUEUED)
    assert client.get(reverse("exports:download", args=[gold.project.pk, job.pk])).status_code == 404


def test_the_command_writes_a_file_or_stdout_with_the_same_filters(gold, tmp_path, capfdbinary):
    out = tmp_path / "gold.conll"
    call_command(
        "export", "--project", "news", "--format", "conll", "-o", str(out), "--set-status", "in_progress"
    )
    assert out.read_bytes() == b"".join(export_bytes(gold.project, ExportQuery(format="conll")))
    assert not (tmp_path / "gold.conll.partial").exists()
    a2 = gold.project.articles.get(external_id="a2")
    call_command("export", "--project", str(gold.project.pk), "--ids", str(a2.pk))
    captured = capfdbinary.readouterr()
    assert [orjson.loads(line)["external_id"] for line in captured.out.splitlines()] == ["a2"]
    assert captured.err.startswith(b"Exported ")
    with pytest.raises(CommandError, match="Name the annotator"):
        call_command("export", "--project", "news", "--set", "annotator")
    with pytest.raises(CommandError, match="No article with id 999999 in News"):
        call_command("export", "--project", "news", "--ids", "999999")
