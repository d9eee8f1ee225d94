"""A project's life: archived projects are read-only and out of the queues; deleting needs the slug typed."""

import pytest
from django.urls import reverse

from annotator.accounts.models import Invitation
from annotator.annotations.models import AnnotationSet, Span
from annotator.annotations.services import create_span
from annotator.articles.models import Article
from annotator.core.errors import ProjectArchived
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.kb.models import KBEntity
from annotator.projects.models import Project
from annotator.review.lifecycle import archive_project
from annotator.review.queue import next_article, queue_size
from tests.conftest import NARYSHKIN
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db


def test_an_archived_project_is_read_only_and_out_of_the_queues(client, news):
    client.force_login(news.manager)
    url = reverse("lifecycle:page", args=[news.project.pk])
    client.post(url, {"action": "archive"})
    news.project.refresh_from_db()
    assert news.project.archived_at is not None
    assert queue_size(project=news.project, user=news.annotator) == 0
    assert next_article(project=news.project, user=news.annotator) is None
    own = news.annotation_set
    with pytest.raises(ProjectArchived, match="This project is archived: it is read-only"):
        create_span(annotation_set=own, start=NARYSHKIN[0], end=NARYSHKIN[1], entity_type=news.person,
                    by=news.annotator, expected_version=own.version)  # fmt: skip
    own.refresh_from_db()
    assert own.version == 1  # nothing claimed
    client.force_login(news.annotator)
    api = client.post(
        reverse("api:set-spans", args=[own.pk]),
        {"start": 0, "end": 16, "type": "PERSON", "text": "Sergey Naryshkin"},
        content_type="application/json",
        HTTP_IF_MATCH=f'"{own.version}"',
    )
    assert api.status_code == 409
    assert api.json()["error"]["code"] == "archived"
    assert "This project is archived" in client.get(news.project.get_absolute_url()).content.decode()

    client.force_login(news.manager)
    imported = client.post(reverse("interchange:imports", args=[news.project.pk]), {}, follow=True)
    assert "This project is archived" in imported.content.decode()
    client.post(url, {"action": "unarchive"})
    news.project.refresh_from_db()
    assert news.project.archived_at is None
    create_span(annotation_set=own, start=NARYSHKIN[0], end=NARYSHKIN[1], entity_type=news.person,
                by=news.annotator, expected_version=own.version)  # fmt: skip
    assert queue_size(project=news.project, user=news.annotator) == 1


def test_deleting_needs_the_slug_then_takes_everything(client, news):
    create_span(annotation_set=news.annotation_set, start=NARYSHKIN[0], end=NARYSHKIN[1], entity_type=news.person,
                by=news.annotator, expected_version=news.annotation_set.version)  # fmt: skip
    client.force_login(news.manager)
    url = reverse("lifecycle:page", args=[news.project.pk])
    wrong = client.post(url, {"action": "delete", "confirm": "News"})
    assert wrong.status_code == 400
    assert "Type the project&#x27;s short name, news, to delete it." in wrong.content.decode()
    assert Project.objects.filter(pk=news.project.pk).exists()
    done = client.post(url, {"action": "delete", "confirm": "news"})
    assert done["Location"] == reverse("projects:list")
    assert not Project.objects.filter(pk=news.project.pk).exists()
    assert (Article.objects.count(), AnnotationSet.objects.count(), Span.objects.count()) == (0, 0, 0)
    assert KBEntity.objects.count() == 0
    assert Span.history.model.objects.count() == 0
    assert AnnotationSet.history.model.objects.count() == 0


def test_a_big_project_is_deleted_by_a_job_that_outlives_it(
    client, news, settings, django_capture_on_commit_callbacks
):
    settings.ANNOTATOR_DELETE_INLINE_MAX_ARTICLES = 2
    for n in range(3):
        ArticleFactory(project=news.project, text=f"Article {n}.")
    Invitation.objects.create(project=news.project, role="annotator", username="x", digest="d" * 64,
                              expires_at=news.project.created_at)  # fmt: skip
    client.force_login(news.manager)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            reverse("api:project-delete", args=[news.project.pk]),
            {"confirm": "news"},
            content_type="application/json",
        )
    assert answer.status_code == 202
    job = Job.objects.get(pk=answer.json()["id"])  # the immediate backend ran it
    assert (job.kind, job.status, job.project_id) == (JobKind.DELETE_PROJECT, JobStatus.SUCCEEDED, None)
    assert job.result == {"articles": 4}
    assert (job.progress_done, job.progress_total) == (4, 4)
    assert not Project.objects.filter(pk=news.project.pk).exists()
    assert (
        client.get(reverse("api:job-detail", args=[job.pk])).status_code == 200
    )  # its starter still sees it


def test_the_api_archives_and_unarchives(client, news):
    client.force_login(news.manager)
    url = reverse("api:project-archive", args=[news.project.pk])
    assert client.post(url, {}, content_type="application/json").status_code == 400
    body = client.post(url, {"archived": True}, content_type="application/json").json()
    assert body["archived"] is True
    assert body["archived_at"] is not None
    assert client.post(url, {"archived": False}, content_type="application/json").json() == {
        "archived": False, "archived_at": None,
    }  # fmt: skip


@pytest.mark.parametrize("role", ["annotator", "curator"])
def test_only_managers_archive_or_delete(client, news, role):
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(username="someone")
    MembershipFactory(project=news.project, user=user, role=role)
    client.force_login(user)
    assert (
        client.post(reverse("lifecycle:page", args=[news.project.pk]), {"action": "archive"}).status_code
        == 403
    )
    deleting = client.post(
        reverse("api:project-delete", args=[news.project.pk]),
        {"confirm": "news"},
        content_type="application/json",
    )
    assert deleting.status_code == 403
    news.project.refresh_from_db()
    assert news.project.archived_at is None
    archive_project(project=news.project)
    assert Project.objects.filter(pk=news.project.pk).exists()


def _refusals(news):
    """Every change an archived project refuses besides annotation edits and imports, each a callable."""
    from annotator.kb.services import (
        EntityRecord,
        create_entity,
        merge_entities,
        update_entity,
        upsert_entity,
    )
    from annotator.projects.models import AttributeKind
    from annotator.projects.schema_changes import delete_entity_type, merge_entity_type
    from annotator.projects.schema_editing import (
        delete_relation_type,
        merge_relation_type,
        save_attribute,
        save_entity_type,
        save_relation_type,
    )
    from annotator.projects.services import update_guidelines
    from annotator.review.comments import add_comment

    kb = news.naryshkin.knowledge_base
    values = {"name": "EVENT", "key": "e", "colour": "#336699", "description": "", "position": 9}
    attribute = {
        "name": "negated",
        "kind": AttributeKind.BOOLEAN,
        "choices": [],
        "description": "",
        "position": 0,
    }
    return {
        "new entity type": lambda: save_entity_type(project=news.project, values=values),
        "rename entity type": lambda: save_entity_type(
            project=news.project, entity_type=news.date, values={**values, "key": "d"}
        ),
        "delete entity type": lambda: delete_entity_type(entity_type=news.date, by=news.manager),
        "merge entity type": lambda: merge_entity_type(source=news.date, into=news.org, by=news.manager),
        "new relation type": lambda: save_relation_type(
            project=news.project,
            values={"name": "met", "directed": True, "description": "", "position": 5},
            head_types=[news.person],
            tail_types=[news.person],
            by=news.manager,
        ),
        "delete relation type": lambda: delete_relation_type(relation_type=news.met_with, by=news.manager),
        "merge relation type": lambda: merge_relation_type(
            source=news.met_with, into=news.visited, by=news.manager
        ),
        "new attribute": lambda: save_attribute(entity_type=news.person, values=attribute, by=news.manager),
        "new KB entity": lambda: create_entity(knowledge_base=kb, name="Minsk Region", by=news.manager),
        "edit KB entity": lambda: update_entity(
            entity=news.minsk, name="Minsk", description="capital", type="GPE", prior=0.5, aliases=[]
        ),
        "merge KB entities": lambda: merge_entities(
            duplicate=news.minsk, into=news.naryshkin, by=news.manager
        ),
        "upsert KB entity": lambda: upsert_entity(
            knowledge_base=kb, record=EntityRecord(kb_id="gomel", name="Gomel", type="GPE")
        ),
        "guidelines": lambda: update_guidelines(project=news.project, text="# New rules", by=news.manager),
        "comment": lambda: add_comment(article=news.article, author=news.annotator, text="Is this a PERSON?"),
    }


def _everything(news):
    from annotator.kb.models import Alias
    from annotator.projects.models import EntityType, EntityTypeAttribute, GuidelineVersion, RelationType
    from annotator.review.models import Comment

    return [
        list(EntityType.objects.filter(project=news.project).values_list("pk", "name", "key").order_by("pk")),
        list(RelationType.objects.filter(project=news.project).values_list("pk", "name").order_by("pk")),
        EntityTypeAttribute.objects.count(),
        list(KBEntity.objects.values_list("pk", "name", "description", "prior").order_by("pk")),
        Alias.objects.count(),
        GuidelineVersion.objects.count(),
        Comment.objects.count(),
    ]


CHANGES = ["new entity type", "rename entity type", "delete entity type", "merge entity type", "new relation type",
           "delete relation type", "merge relation type", "new attribute", "new KB entity", "edit KB entity",
           "merge KB entities", "upsert KB entity", "guidelines", "comment"]  # fmt: skip


@pytest.mark.parametrize("change", CHANGES)
def test_an_archived_project_refuses_schema_kb_guideline_and_comment_changes(news, change):
    refusals = _refusals(news)
    assert set(refusals) == set(CHANGES)
    before = _everything(news)
    archive_project(project=news.project)  # the instances the callables hold still say "not archived"
    with pytest.raises(ProjectArchived, match="This project is archived: it is read-only until a manager"):
        refusals[change]()
    assert _everything(news) == before


def test_pages_and_the_api_say_an_archived_project_is_read_only(client, news):
    from annotator.review.models import Comment

    archive_project(project=news.project)
    client.force_login(news.manager)
    schema = reverse("projects:schema", args=[news.project.pk])
    page = client.post(
        reverse("projects:entity_type_new", args=[news.project.pk]),
        {"name": "EVENT", "key": "e", "colour": "#336699", "description": "", "position": 9},
        HTTP_REFERER=f"http://testserver{schema}",
    )
    assert (page.status_code, page["Location"]) == (303, f"http://testserver{schema}")
    shown = client.get(schema).content.decode()
    assert "This project is archived: it is read-only until a manager unarchives it." in shown
    assert not news.project.entity_types.filter(name="EVENT").exists()

    api = client.post(
        reverse("api:kb-entity-list", args=[news.project.pk]),
        {"name": "Gomel", "type": "GPE"},
        content_type="application/json",
    )
    assert api.status_code == 409
    assert api.json()["error"] == {
        "code": "archived",
        "message": "This project is archived: it is read-only until a manager unarchives it.",
        "fields": {},
    }
    assert not KBEntity.objects.filter(name="Gomel").exists()

    commented = client.post(
        reverse("review:comment", args=[news.article.pk]), {"text": "Still a PERSON?"}, HTTP_HX_REQUEST="true"
    )
    assert commented.status_code == 400
    assert (
        "This project is archived: it is read-only until a manager unarchives it."
        in commented.content.decode()
    )
    assert Comment.objects.count() == 0
