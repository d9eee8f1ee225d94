"""A whole-project backup in one file, restored into a new project: backup(restore(backup(p))) == backup(p)."""

import gzip
import io
import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetKind, Span, SpanAttribute
from annotator.annotations.services import (
    create_relation,
    create_span,
    get_or_create_gold_set,
    link_span,
    set_span_attribute,
    submit_set,
)
from annotator.interchange.backup import BackupError, restore_backup, write_backup
from annotator.kb.models import KBEntity
from annotator.projects.demo import load_demo
from annotator.projects.models import EntityTypeAttribute, Membership, Project, Role
from annotator.projects.services import add_member, update_guidelines
from annotator.review.comments import add_comment
from annotator.review.models import Comment
from annotator.suggestions.models import Decision, Suggestion, Verdict
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import SuggestionFactory

pytestmark = pytest.mark.django_db


def backup_of(project):
    stream = io.BytesIO()
    counts = write_backup(project, stream)
    return stream.getvalue(), counts


def round_trip(project, by, slug="copy"):
    first, counts = backup_of(project)
    copy = restore_backup(io.BytesIO(first), slug=slug, by=by)
    second, _ = backup_of(copy)
    return first, second, counts, copy


@pytest.fixture
def everything(news):
    """The news project with every kind of thing a backup holds."""
    update_guidelines(project=news.project, text="# Tag people\nAnd places.", by=news.manager)
    negated = EntityTypeAttribute.objects.create(entity_type=news.person, name="negated", kind="boolean")
    own = news.annotation_set
    person = create_span(annotation_set=own, start=NARYSHKIN[0], end=NARYSHKIN[1], entity_type=news.person,
                         by=news.annotator, expected_version=own.version)  # fmt: skip
    own.refresh_from_db()
    place = create_span(annotation_set=own, start=MINSK[0], end=MINSK[1], entity_type=news.gpe,
                        by=news.annotator, expected_version=own.version)  # fmt: skip
    own.refresh_from_db()
    set_span_attribute(
        span=person, attribute=negated, value=True, by=news.annotator, expected_version=own.version
    )
    own.refresh_from_db()
    link_span(span=person, kb_entity=news.naryshkin, by=news.annotator, expected_version=own.version)
    own.refresh_from_db()
    link_span(span=place, kb_entity=None, by=news.annotator, expected_version=own.version)  # NIL
    own.refresh_from_db()
    create_relation(annotation_set=own, head=person, tail=place, relation_type=news.visited, by=news.annotator,
                    expected_version=own.version)  # fmt: skip
    own.refresh_from_db()
    submit_set(annotation_set=own, by=news.annotator, expected_version=own.version)
    get_or_create_gold_set(article=news.article)
    AnnotationSet.objects.create(article=news.article, kind=SetKind.IMPORTED, name="ner-v1")
    suggestion = SuggestionFactory(article=news.article, entity_type=news.person)
    Decision.objects.create(suggestion=suggestion, annotation_set=own, verdict=Verdict.ACCEPTED, span=person,
                            decided_by=news.annotator)  # fmt: skip
    # A KB entity merged into one with a higher id: the reference points forward in the file.
    duplicate = KBEntity.objects.create(knowledge_base=news.kb, kb_id="minsk-2", name="Minsk again")
    survivor = KBEntity.objects.create(knowledge_base=news.kb, kb_id="minsk-3", name="Minsk, Belarus")
    KBEntity.objects.filter(pk=duplicate.pk).update(merged_into=survivor)
    about_span = add_comment(article=news.article, author=news.annotator, text="PERSON or ORG?", span=person)
    add_comment(article=news.article, author=news.manager, text="<b>Whole</b> article: {{ ok }} \u202edone")
    Comment.objects.filter(pk=about_span.pk).update(
        created_at=datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    )
    return news


def test_a_project_with_every_kind_of_annotation_round_trips_byte_for_byte(everything):
    news = everything
    first, second, counts, copy = round_trip(news.project, news.manager)
    assert first == second
    assert counts["annotations.Span"] == 2
    assert counts["annotations.SpanAttribute"] == 1
    assert counts["annotations.EntityLink"] == 2
    assert counts["annotations.Relation"] == 1
    assert counts["annotations.AnnotationSet"] == 3
    assert counts["suggestions.Decision"] == 1
    assert counts["kb.KBEntity"] == 4
    assert copy.slug == "copy"
    assert copy.name == news.project.name
    # The copy is a project of its own, with its own rows, and the original is untouched.
    assert Span.objects.filter(annotation_set__article__project=copy).count() == 2
    assert Span.objects.filter(annotation_set__article__project=news.project).count() == 2
    restored_link = EntityLink.objects.get(
        span__annotation_set__article__project=copy, kb_entity__isnull=False
    )
    assert restored_link.kb_entity.knowledge_base.project == copy
    assert restored_link.kb_entity.kb_id == "sergey-naryshkin"
    merged = KBEntity.objects.get(knowledge_base__project=copy, kb_id="minsk-2")
    assert merged.merged_into.kb_id == "minsk-3"
    relation = Relation.objects.get(annotation_set__article__project=copy)
    assert (relation.head.surface, relation.tail.surface, relation.relation_type.name) == (
        "Sergey Naryshkin", "Minsk", "visited",
    )  # fmt: skip
    assert sorted(relation.relation_type.head_types.values_list("name", flat=True)) == ["ORG", "PERSON"]
    assert SpanAttribute.objects.get(span__annotation_set__article__project=copy).value is True
    decision = Decision.objects.get(annotation_set__article__project=copy)
    assert decision.suggestion.article.project == copy
    assert decision.span.annotation_set.article.project == copy
    assert Suggestion.objects.get(article__project=copy).suggester_version.project == copy
    assert dict(Membership.objects.filter(project=copy).values_list("user__username", "role")) == {
        "alice": Role.ANNOTATOR, "maria": Role.MANAGER,
    }  # fmt: skip
    assert counts["review.Comment"] == 2
    comments = Comment.objects.filter(article__project=copy).order_by("pk")
    assert [(c.author.username, c.text, c.start, c.end) for c in comments] == [
        ("alice", "PERSON or ORG?", *NARYSHKIN),
        ("maria", "<b>Whole</b> article: {{ ok }} \u202edone", None, None),
    ]
    assert comments[0].span.annotation_set.article.project == copy
    assert comments[0].created_at == datetime(
        2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC
    )  # when it was written


def test_the_demo_round_trips_and_unknown_people_come_back_inactive(django_user_model):
    demo = load_demo().project
    restorer = django_user_model.objects.create_user("restorer")
    add_member(project=demo, user=restorer, role=Role.MANAGER)
    first, second, counts, copy = round_trip(demo, restorer, slug="demo-copy")
    assert first == second
    assert counts["articles.Article"] == 2
    assert counts["kb.KBEntity"] > 10
    stranger_backup, _ = backup_of(demo)
    Project.objects.filter(pk__in=[demo.pk, copy.pk]).delete()
    get_user_model().objects.filter(username="restorer").update(username="renamed")
    renamed = get_user_model().objects.get(username="renamed")
    again = restore_backup(io.BytesIO(stranger_backup), slug="demo-again", by=renamed)
    returned = get_user_model().objects.get(username="restorer")
    assert not returned.is_active
    assert not returned.has_usable_password()
    assert Membership.objects.get(project=again, user=renamed).role == Role.MANAGER


def test_a_bad_file_or_a_taken_slug_restores_nothing(news):
    with pytest.raises(BackupError, match="not a gzipped backup"):
        restore_backup(io.BytesIO(b"hello"), slug="x", by=news.manager)
    data, _ = backup_of(news.project)
    with pytest.raises(BackupError, match="There is already a project named 'news'"):
        restore_backup(io.BytesIO(data), slug="news", by=news.manager)
    assert Project.objects.count() == 1


def test_managers_download_the_backup_and_staff_restore_it(client, everything, tmp_path):
    news = everything
    client.force_login(news.manager)
    download = client.get(reverse("lifecycle:backup", args=[news.project.pk]))
    assert download["Content-Disposition"] == 'attachment; filename="news-backup.jsonl.gz"'
    data = b"".join(download.streaming_content)
    assert data == backup_of(news.project)[0]
    api = client.get(reverse("api:project-backup", args=[news.project.pk]))
    assert b"".join(api.streaming_content) == data
    refused = client.post(reverse("api:project-restore"), {"file": io.BytesIO(data), "slug": "copy"})
    assert refused.status_code == 403
    news.manager.is_staff = True
    news.manager.save()
    upload = SimpleUploadedFile("news-backup.jsonl.gz", data)
    made = client.post(reverse("api:project-restore"), {"file": upload, "slug": "copy"})
    assert made.status_code == 201
    copy = Project.objects.get(slug="copy")
    assert backup_of(copy)[0] == data
    page = client.post(
        reverse("lifecycle:restore"), {"file": SimpleUploadedFile("b.gz", data), "slug": "copy"}
    )
    assert page.status_code == 400
    assert "There is already a project named &#x27;copy&#x27;." in page.content.decode()
    path = tmp_path / "news.jsonl.gz"
    call_command("backup_project", "news", str(path))
    assert path.read_bytes() == data
    call_command("restore_project", str(path), "--slug", "third", "--user", "maria")
    assert backup_of(Project.objects.get(slug="third"))[0] == data


def test_a_version_1_backup_without_comments_still_restores(everything):
    news = everything
    data, _ = backup_of(news.project)
    lines = gzip.decompress(data).decode().splitlines()
    assert json.loads(lines[0]) == {"format": "annotator-project-backup", "version": 2}
    old = [json.dumps({"format": "annotator-project-backup", "version": 1})]
    old += [line for line in lines[1:] if json.loads(line)["model"] != "review.Comment"]
    copy = restore_backup(io.BytesIO(gzip.compress("\n".join(old).encode())), slug="old", by=news.manager)
    assert Span.objects.filter(annotation_set__article__project=copy).count() == 2
    assert not Comment.objects.filter(article__project=copy).exists()
    newer = [json.dumps({"format": "annotator-project-backup", "version": 3}), *lines[1:]]
    with pytest.raises(BackupError, match=r"^This backup is of version 3; this site reads versions 1, 2\.$"):
        restore_backup(io.BytesIO(gzip.compress("\n".join(newer).encode())), slug="newer", by=news.manager)
