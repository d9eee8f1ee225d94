"""KB pages: what they show, who may change what, hostile text shown literally, flat query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations import services as annotations
from annotator.annotations.models import AnnotationSet, EntityLink
from annotator.jobs.models import Job, JobStatus
from annotator.kb import views
from annotator.kb.models import Alias, KBEntity
from annotator.kb.services import create_entity
from tests.conftest import NARYSHKIN
from tests.factories import ArticleFactory, KBEntityFactory, KnowledgeBaseFactory, UserFactory
from tests.integration.test_pages import HOSTILE, assert_shown_literally

pytestmark = pytest.mark.django_db


def add_span(news, annotation_set, start_end, user, entity_type=None, link=None):
    span = annotations.create_span(
        annotation_set=annotation_set, start=start_end[0], end=start_end[1], entity_type=entity_type or news.person,
        by=user, expected_version=annotation_set.version,
    )  # fmt: skip
    if link is not None:
        annotations.link_span(span=span, kb_entity=link, by=user, expected_version=annotation_set.version)
    return span


@pytest.fixture
def mentions(news):
    """Naryshkin mentioned in alice's set (linked), in gold (unlinked), and in a second article (unlinked)."""
    Alias.objects.create(entity=news.naryshkin, text="Naryshkin")
    linked = add_span(news, news.annotation_set, NARYSHKIN, news.annotator, link=news.naryshkin)
    gold = annotations.get_or_create_gold_set(article=news.article)
    in_gold = add_span(news, gold, NARYSHKIN, news.manager)
    second = ArticleFactory(project=news.project, title="Second", text="Then NARYSHKIN  flew to Moscow.")
    alice_second = annotations.get_or_create_own_set(article=second, user=news.annotator)
    in_second = add_span(news, alice_second, (5, 14), news.annotator)
    add_span(news, alice_second, (25, 31), news.annotator, entity_type=news.gpe)  # Moscow: not a name of his
    return {
        "linked": linked,
        "gold": gold,
        "in_gold": in_gold,
        "alice_second": alice_second,
        "in_second": in_second,
    }


def entity_url(news, entity=None):
    return reverse("kb:entity", args=[news.project.pk, (entity or news.naryshkin).pk])


def versions(*sets):
    return {f"version-{s.pk}": AnnotationSet.objects.get(pk=s.pk).version for s in sets}


# The list


def test_the_list_pages_through_a_kb_by_name(client, news, monkeypatch):
    monkeypatch.setattr(views, "ENTITIES_PER_PAGE", 2)
    KBEntityFactory(knowledge_base=news.kb, kb_id="a", name="Alpha")
    KBEntityFactory(knowledge_base=news.kb, kb_id="gone", name="Gone", merged_into=news.minsk)
    client.force_login(news.annotator)
    url = reverse("kb:list", args=[news.project.pk])
    first = client.get(url)
    assert [e.name for e in first.context["entities"]] == ["Alpha", "Minsk"]
    second = client.get(url, {"kb": news.kb.pk, "after": first.context["next_after"]})
    assert [e.name for e in second.context["entities"]] == ["Sergey Naryshkin"]
    assert second.context["next_after"] is None
    assert "← First page" in second.content.decode()


def test_search_as_you_type_returns_the_list_part_with_prefix_then_fuzzy_matches(client, news):
    Alias.objects.create(entity=news.naryshkin, text="Naryshkin")
    Alias.objects.create(entity=news.minsk, text="Minsk")
    client.force_login(news.annotator)
    url = reverse("kb:list", args=[news.project.pk])
    html = client.get(url, {"q": "nary"}, headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<section id="entity-list"')
    assert "<html" not in html
    assert ">Sergey Naryshkin</a>" in html
    assert ">Minsk</a>" not in html
    assert [e.kb_id for e in client.get(url, {"q": "nary"}).context["entities"]] == ["sergey-naryshkin"]
    assert [e.kb_id for e in client.get(url, {"q": "Minks"}).context["entities"]] == ["minsk"]
    assert [e.kb_id for e in client.get(url, {"q": "minsk"}).context["entities"]] == ["minsk"]  # its id
    nothing = client.get(url, {"q": "Zzyzx"}).content.decode()
    assert "Nothing in <bdi>News KB</bdi> is named like “<bdi>Zzyzx</bdi>”." in nothing
    assert f'href="{reverse("kb:entity-create", args=[news.project.pk])}?name=Zzyzx"' in nothing


def test_the_list_costs_the_same_queries_however_many_entities(client, news):
    client.force_login(news.annotator)
    url = reverse("kb:list", args=[news.project.pk])

    def count(params):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, params).status_code == 200
        return len(queries)

    Alias.objects.create(entity=news.minsk, text="Minsk")
    few_browse, few_search = count({}), count({"q": "mins"})
    for i in range(80):
        # Names that share trigrams with the query without starting with it: the fuzzy part reads them all.
        entity = KBEntityFactory(knowledge_base=news.kb, kb_id=f"m{i}", name=f"Kaminsky {i}")
        Alias.objects.create(entity=entity, text=f"Kaminsky {i}")
        Alias.objects.create(entity=entity, text=f"Dyminsky {i}")
    assert (count({}), count({"q": "mins"})) == (few_browse, few_search)


# One entity


def test_the_entity_page_lists_linked_and_unlinked_mentions_with_their_context(client, news, mentions):
    client.force_login(news.manager)  # managers see every set
    response = client.get(entity_url(news))
    assert [s.pk for s in response.context["linked"].object_list] == [mentions["linked"].pk]
    assert [s.pk for s in response.context["unlinked"]] == [mentions["in_gold"].pk, mentions["in_second"].pk]
    second = response.context["unlinked"][1]
    assert (second.before, second.surface, second.after) == ("Then ", "NARYSHKIN", "  flew to Moscow.")
    html = response.content.decode()
    assert "…Then <mark>NARYSHKIN</mark>  flew to Moscow.…" in html
    # Managers edit gold, not alice's sets: only the gold mention can be selected.
    assert response.context["editable"] == {mentions["gold"].pk}
    assert html.count('name="spans"') == 3
    assert html.count("disabled") == 2


def test_annotators_see_only_their_own_sets_on_the_entity_page(client, news, mentions):
    client.force_login(news.annotator)
    response = client.get(entity_url(news))
    assert [s.pk for s in response.context["unlinked"]] == [mentions["in_second"].pk]
    assert response.context["editable"] == {news.annotation_set.pk, mentions["alice_second"].pk}


def test_linking_several_mentions_in_several_sets_claims_one_version_each(client, news, mentions):
    bob = UserFactory(username="bob")
    from annotator.projects.services import add_member

    add_member(project=news.project, user=bob, role="curator")
    bob_set = annotations.get_or_create_own_set(article=news.article, user=bob)
    in_bob = add_span(news, bob_set, NARYSHKIN, bob)
    client.force_login(news.annotator)
    before = versions(news.annotation_set, mentions["alice_second"], bob_set)
    response = client.post(
        entity_url(news),
        {"spans": [mentions["in_second"].pk, mentions["linked"].pk], "action": "link", **before},
    )
    assert response.status_code == 302
    assert EntityLink.objects.get(span=mentions["in_second"]).kb_entity == news.naryshkin
    after = versions(news.annotation_set, mentions["alice_second"], bob_set)
    assert after == {
        f"version-{news.annotation_set.pk}": before[f"version-{news.annotation_set.pk}"],  # nothing to change
        f"version-{mentions['alice_second'].pk}": before[f"version-{mentions['alice_second'].pk}"] + 1,
        f"version-{bob_set.pk}": before[f"version-{bob_set.pk}"],
    }
    page = client.get(response["Location"]).content.decode()
    assert "1 mention linked to Sergey Naryshkin, in 1 annotation set. 1 already were." in page
    assert not EntityLink.objects.filter(span=in_bob).exists()


def test_marking_nil_and_relinking_to_another_entity(client, news, mentions):
    client.force_login(news.annotator)
    url = entity_url(news)
    sets = versions(news.annotation_set, mentions["alice_second"])
    client.post(url, {"spans": [mentions["linked"].pk, mentions["in_second"].pk], "action": "nil", **sets})
    assert set(EntityLink.objects.values_list("kb_entity", flat=True)) == {None}
    sets = versions(news.annotation_set, mentions["alice_second"])
    response = client.post(
        url, {"spans": [mentions["linked"].pk], "action": "relink", "target": news.minsk.pk, **sets}
    )
    assert EntityLink.objects.get(span=mentions["linked"]).kb_entity == news.minsk
    assert (
        "1 mention linked to Minsk, in 1 annotation set." in client.get(response["Location"]).content.decode()
    )


def test_a_stale_set_refuses_the_whole_action_and_names_the_set(client, news, mentions):
    client.force_login(news.annotator)
    sets = versions(news.annotation_set, mentions["alice_second"])
    # Another tab changes alice's second set after the page was loaded.
    add_span(news, mentions["alice_second"], (10, 14), news.annotator, entity_type=news.org)
    links_before = list(EntityLink.objects.values_list("span", "kb_entity"))
    response = client.post(
        entity_url(news),
        {"spans": [mentions["linked"].pk, mentions["in_second"].pk], "action": "nil", **sets},
    )
    assert response.status_code == 409
    stale = sets[f"version-{mentions['alice_second'].pk}"]
    assert response.context["form"].non_field_errors() == [
        f"Alice's annotations of “Second”: This annotation set changed since you loaded it (you had version "
        f"{stale}, it is now at version {stale + 1}). Reload to see the changes, then apply yours again. "
        "Nothing was changed."
    ]
    assert list(EntityLink.objects.values_list("span", "kb_entity")) == links_before
    assert versions(news.annotation_set) == {
        f"version-{news.annotation_set.pk}": sets[f"version-{news.annotation_set.pk}"]
    }


def test_a_submitted_set_or_someone_elses_set_refuses_the_whole_action(client, news, mentions):
    annotations.submit_set(
        annotation_set=mentions["alice_second"],
        by=news.annotator,
        expected_version=mentions["alice_second"].version,
    )
    client.force_login(news.annotator)
    sets = versions(news.annotation_set, mentions["alice_second"])
    response = client.post(
        entity_url(news),
        {"spans": [mentions["linked"].pk, mentions["in_second"].pk], "action": "nil", **sets},
    )
    assert response.context["form"].non_field_errors() == [
        "Alice's annotations of “Second”: This annotation set is submitted; it must be in progress for this "
        "action. Nothing was changed."
    ]
    assert EntityLink.objects.get(span=mentions["linked"]).kb_entity == news.naryshkin
    client.force_login(news.manager)
    response = client.post(
        entity_url(news),
        {"spans": [mentions["in_gold"].pk, mentions["linked"].pk], "action": "link",
         **versions(mentions["gold"], news.annotation_set)},
    )  # fmt: skip
    assert response.context["form"].non_field_errors() == [
        "You cannot edit alice's annotations of “Naryshkin in Minsk”, so nothing was changed."
    ]
    assert not EntityLink.objects.filter(span=mentions["in_gold"]).exists()


def test_ids_outside_what_the_member_sees_are_404_in_the_body(client, news, mentions):
    client.force_login(news.annotator)
    gold_span = client.post(entity_url(news), {"spans": [mentions["in_gold"].pk], "action": "nil"})
    assert gold_span.status_code == 404
    nothing = client.post(entity_url(news), {"action": "relink"})
    assert nothing.status_code == 400
    assert nothing.context["form"].errors == {
        "spans": ["Select mentions first."],
        "target": ["Choose the entity to link to."],
    }
    foreign = KBEntityFactory(knowledge_base=KnowledgeBaseFactory(), kb_id="foreign")
    relink = client.post(
        entity_url(news), {"spans": [mentions["linked"].pk], "action": "relink", "target": foreign.pk}
    )
    assert relink.status_code == 404
    assert client.get(entity_url(news, foreign)).status_code == 404


def test_the_entity_page_costs_the_same_queries_however_many_mentions(client, news, mentions):
    client.force_login(news.manager)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(entity_url(news)).status_code == 200
        return len(queries)

    few = count()
    for i in range(12):
        article = ArticleFactory(project=news.project, title=f"More {i}")
        user = UserFactory(username=f"annotator{i}")
        own = annotations.get_or_create_own_set(article=article, user=user)
        add_span(news, own, NARYSHKIN, user, link=news.naryshkin)
        gold = annotations.get_or_create_gold_set(article=article)
        add_span(news, gold, NARYSHKIN, news.manager)
    assert count() == few


# Edit, create, merge


def test_managers_edit_entities_and_others_only_read(client, news):
    url = reverse("kb:entity-edit", args=[news.project.pk, news.minsk.pk])
    client.force_login(news.annotator)
    assert "Only the project's managers edit its knowledge bases." in client.get(url).content.decode()
    assert client.post(url, {"name": "X", "prior": 0}).status_code == 403
    client.force_login(news.manager)
    response = client.post(
        url,
        {
            "name": "Minsk",
            "description": "Capital.",
            "type": "GPE",
            "prior": "0.8",
            "aliases": "Mensk\n\nMінск",
        },
    )
    assert response.status_code == 302
    news.minsk.refresh_from_db()
    assert (news.minsk.description, news.minsk.prior) == ("Capital.", 0.8)
    assert sorted(news.minsk.aliases.values_list("text", flat=True)) == ["Mensk", "Minsk", "Mінск"]
    bad = client.post(url, {"name": "Minsk", "type": "WEAPON", "prior": "2"})
    assert bad.status_code == 400
    assert bad.context["form"].errors == {
        "type": ["Select a valid choice. WEAPON is not one of the available choices."],
        "prior": ["Ensure this value is less than or equal to 1."],
    }


def test_members_create_entities_and_a_project_without_a_kb_gets_one(client, news):
    client.force_login(news.annotator)
    url = reverse("kb:entity-create", args=[news.project.pk])
    assert client.get(url, {"name": "Ivan Tertel"}).context["form"].initial["name"] == "Ivan Tertel"
    response = client.post(
        url,
        {
            "knowledge_base": news.kb.pk,
            "name": "Ivan Tertel",
            "type": "PERSON",
            "prior": "0.5",
            "aliases": "Tertel",
        },
    )
    entity = KBEntity.objects.get(kb_id="ivan-tertel")
    assert response["Location"] == entity_url(news, entity)
    taken = client.post(url, {"knowledge_base": news.kb.pk, "name": "X", "kb_id": "minsk", "prior": "0"})
    assert taken.context["form"].errors == {"kb_id": ["News KB already has an entity with the id 'minsk'."]}
    news.kb.delete()
    KBEntity.objects.all().delete()
    client.post(url, {"name": "Minsk", "prior": "0.5"})
    assert list(KBEntity.objects.values_list("knowledge_base__name", "kb_id")) == [
        ("Project entities", "minsk")
    ]


def test_managers_merge_a_duplicate_found_by_its_look_alike_name(client, news, mentions):
    duplicate = create_entity(knowledge_base=news.kb, name="Sergei Naryshkin", kb_id="dup", by=None)
    add_span(news, mentions["gold"], (0, 6), news.manager, link=duplicate)  # "Sergey"
    url = reverse("kb:entity-merge", args=[news.project.pk, news.naryshkin.pk])
    client.force_login(news.annotator)
    assert "Only the project's managers merge entities." in client.get(url).content.decode()
    assert client.post(url, {"duplicate": duplicate.pk}).status_code == 403
    client.force_login(news.manager)
    assert [c.kb_id for c in client.get(url).context["look_alikes"]] == ["dup"]
    response = client.post(url, {"duplicate": duplicate.pk})
    assert response.status_code == 302
    assert (
        "Merged Sergei Naryshkin (dup) into Sergey Naryshkin: 1 links and 1 aliases moved, 1 annotation sets changed."
        in client.get(response["Location"]).content.decode()
    )
    assert client.post(url, {"duplicate": news.naryshkin.pk}).context["form"].non_field_errors() == [
        "An entity cannot be merged into itself."
    ]


def test_the_picker_offers_candidates_as_radio_buttons(client, news):
    Alias.objects.create(entity=news.minsk, text="Minsk")
    client.force_login(news.annotator)
    url = reverse("kb:entity-picker", args=[news.project.pk])
    html = client.get(url, {"q": "Minks", "field": "target"}, headers={"HX-Request": "true"}).content.decode()
    assert f'<input type="radio" name="target" value="{news.minsk.pk}" checked>' in html
    excluded = client.get(
        url, {"q": "Minsk", "field": "duplicate", "exclude": news.minsk.pk}
    ).content.decode()
    assert "Nothing is named like “<bdi>Minsk</bdi>”." in excluded


# Import


def test_managers_upload_a_kb_file_and_follow_its_job(
    client, news, tmp_path, settings, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    client.force_login(news.manager)
    url = reverse("kb:import", args=[news.project.pk])
    upload = SimpleUploadedFile("people.csv", "id,name,aliases\ntertel,Ivan Tertel,Tertel|Тэртэль\n".encode())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"file": upload, "new_name": "Local", "format": "auto", "languages": "en, ru"}
        )
    job = Job.objects.get()
    assert response["Location"] == reverse("kb:job", args=[news.project.pk, job.pk])
    assert (job.status, job.message) == (
        JobStatus.SUCCEEDED,
        "Imported 1 entities into Local: 1 new, 0 updated, 0 unchanged.",
    )
    assert KBEntity.objects.get(kb_id="tertel").knowledge_base.languages == ["en", "ru"]
    assert list(tmp_path.glob("kb-imports/*")) == []  # the upload went with its job
    part = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert part.lstrip().startswith('<section id="job-progress"')
    assert "hx-trigger" not in part  # finished: the page stops polling
    assert '<progress value="100" max="100"' in part
    assert "people.csv" in client.get(url).content.decode()  # in the list of recent imports


def test_a_running_job_is_polled_and_a_failed_one_shows_its_report(client, news):
    job = Job.objects.create(
        project=news.project, kind="import_kb", status=JobStatus.RUNNING, progress_done=30, progress_total=120,
        params={"file_label": "kb.jsonl", "knowledge_base_id": news.kb.pk}, message="Importing: 2,000 entities read.",
    )  # fmt: skip
    client.force_login(news.annotator)
    url = reverse("kb:job", args=[news.project.pk, job.pk])
    part = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert f'hx-get="{url}" hx-trigger="every 1s" hx-swap="outerHTML"' in part
    assert '<progress value="25" max="100"' in part
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, message="1 error in kb.jsonl; nothing was imported.",
        errors=[{"file": "kb.jsonl", "line": 7, "field": "prior", "message": "The prior is out of range."}],
    )  # fmt: skip
    html = client.get(url).content.decode()
    assert '<td>kb.jsonl</td><td class="num">7</td><td>prior</td>' in html
    assert "hx-trigger" not in html
    assert "<progress" not in html  # a failed import has no progress to show


def test_only_managers_import_and_bad_forms_say_why(client, news, tmp_path, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    url = reverse("kb:import", args=[news.project.pk])
    client.force_login(news.annotator)
    assert "Only the project's managers import knowledge bases." in client.get(url).content.decode()
    assert client.post(url, {}).status_code == 403
    client.force_login(news.manager)
    settings.ANNOTATOR_KB_UPLOAD_MAX_MB = 0
    response = client.post(
        url, {"file": SimpleUploadedFile("a.csv", b"id,name\n"), "format": "auto", "languages": " "}
    )
    assert response.context["form"].errors == {
        "file": ["The file is larger than 0 MB; import it with `manage.py import_kb` instead."],
        "languages": ["This field is required."],
        "new_name": ["Name the new knowledge base, or choose an existing one."],
    }
    assert Job.objects.count() == 0


# Hostile text


@pytest.fixture
def hostile_kb(news, mentions):
    KBEntity.objects.filter(pk=news.naryshkin.pk).update(
        name=HOSTILE[:500], description=HOSTILE, kb_id=HOSTILE[:255]
    )
    Alias.objects.create(entity=news.naryshkin, text=HOSTILE[:500])
    news.kb.name = HOSTILE[:200]
    news.kb.description = HOSTILE
    news.kb.save()
    mentions["alice_second"].article.__class__.objects.filter(pk=mentions["alice_second"].article_id).update(
        title=HOSTILE
    )
    news.naryshkin.refresh_from_db()
    return news


def test_every_kb_page_shows_hostile_text_literally(client, hostile_kb, mentions):
    news = hostile_kb
    client.force_login(news.manager)
    job = Job.objects.create(
        project=news.project, kind="import_kb", status=JobStatus.FAILED, message=HOSTILE,
        params={"file_label": HOSTILE, "knowledge_base_id": news.kb.pk},
        errors=[{"file": HOSTILE, "line": 1, "field": HOSTILE, "message": HOSTILE}],
    )  # fmt: skip
    project = news.project.pk
    pages = [
        reverse("kb:list", args=[project]),
        reverse("kb:list", args=[project]) + "?q=%3Cscript%3E",
        entity_url(news),
        reverse("kb:entity-edit", args=[project, news.naryshkin.pk]),
        reverse("kb:entity-merge", args=[project, news.naryshkin.pk]),
        reverse("kb:import", args=[project]),
        reverse("kb:job", args=[project, job.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_shown_literally(response)
    Alias.objects.create(entity=news.naryshkin, text="Sergey")
    picker = client.get(reverse("kb:entity-picker", args=[project]), {"q": "Sergey"})
    assert_shown_literally(picker)
