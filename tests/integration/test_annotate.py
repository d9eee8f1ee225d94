"""The annotate page and its actions: exact rows written, partial responses, conflicts, undo, scoping."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations import services
from annotator.annotations.models import EntityLink, Relation, SetStatus, Span
from annotator.articles.models import Article
from annotator.kb.models import KBEntity
from annotator.projects.models import Role
from annotator.suggestions.models import Decision, Suggestion, SuggestionKind, Verdict
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import (
    ArticleFactory,
    EntityTypeFactory,
    KBEntityFactory,
    MembershipFactory,
    SuggestionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def act_url(news, action):
    return reverse("review:act", args=[news.article.pk, action])


def act(client, news, action, htmx=True, **data):
    data.setdefault("version", news.annotation_set.version)
    response = client.post(act_url(news, action), data, **(HTMX if htmx else {}))
    news.annotation_set.refresh_from_db()
    return response


def span(news, start_end=NARYSHKIN, entity_type=None):
    return services.create_span(
        annotation_set=news.annotation_set,
        start=start_end[0],
        end=start_end[1],
        entity_type=entity_type or news.person,
        by=news.annotator,
        expected_version=news.annotation_set.version,
    )


@pytest.fixture
def alice(client, news):
    client.force_login(news.annotator)
    return client


# The page


def test_the_page_shows_text_annotations_suggestions_and_the_version(alice, news):
    naryshkin = span(news)
    services.link_span(span=naryshkin, kb_entity=news.naryshkin, by=news.annotator, expected_version=2)
    suggestion = SuggestionFactory(
        article=news.article, start=MINSK[0], end=MINSK[1], entity_type=news.gpe, score=0.87
    )
    response = alice.get(reverse("review:annotate", args=[news.article.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        f'<mark class="m et-{news.person.pk} d0 span link-kb" data-item="s{naryshkin.pk}" data-label="PERSON">'
        in html
    )
    assert f'data-item="g{suggestion.pk}" data-label="GPE 0.87">Minsk</mark>' in html
    assert (
        '<div id="set-state" data-version="3" data-status="in_progress" data-undo="0" data-editable="1" hidden></div>'
        in html
    )
    assert f'data-item="s{naryshkin.pk}" data-type="{news.person.pk}" data-start="0" data-end="16"' in html
    assert "&#8594; Sergey Naryshkin <code>sergey-naryshkin</code>" in html


def test_the_page_shows_hostile_text_literally(alice, news):
    hostile = "<script>alert(1)</script><img src=x onerror=alert(1)> {{ 7|add:1 }} \u202etxt.exe 👩‍👩‍👧"
    article = ArticleFactory(project=news.project, title=hostile, text=f"{hostile}\nSecond line")
    EntityTypeFactory(project=news.project, name='"><img src=x onerror=alert(2)>', key="x")
    own = services.get_or_create_own_set(article=article, user=news.annotator)
    services.create_span(
        annotation_set=own, start=0, end=8, entity_type=news.person, by=news.annotator, expected_version=1
    )
    html = alice.get(reverse("review:annotate", args=[article.pk])).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "{{ 7|add:1 }}" in html
    assert "\u202etxt.exe" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_page_costs_the_same_queries_with_5_or_60_spans_and_suggestions(alice, news):
    url = reverse("review:annotate", args=[news.article.pk])
    article_text = "Naryshkin met Tertel. " * 30
    Article.objects.filter(pk=news.article.pk).update(text=article_text)
    news.article.refresh_from_db()

    def add(count):
        for _ in range(count):
            start = 22 * Span.objects.filter(annotation_set=news.annotation_set).count()
            created = span(news, (start, start + 9))
            services.link_span(
                span=created,
                kb_entity=news.naryshkin,
                by=news.annotator,
                expected_version=news.annotation_set.version,
            )
            SuggestionFactory(article=news.article, start=start + 14, end=start + 20, entity_type=news.person)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert alice.get(url).status_code == 200
        return len(captured)

    add(5)
    few = queries()
    assert few <= 11  # 16 before the hot-path pass: keep it from creeping back
    add(25)
    assert queries() == few


# Actions, with htmx


def test_lazily_loaded_rows_leave_out_suggestions_the_set_already_has(alice, news):
    naryshkin = span(news)
    duplicate = SuggestionFactory(
        article=news.article, start=NARYSHKIN[0], end=NARYSHKIN[1], entity_type=news.person
    )
    minsk = SuggestionFactory(article=news.article, start=MINSK[0], end=MINSK[1], entity_type=news.gpe)
    response = alice.get(reverse("review:blocks", args=[news.article.pk]), {"first": 0, "last": 0}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'class="row span" tabindex="-1" data-item="s{naryshkin.pk}"' in html
    assert f'data-item="g{minsk.pk}" data-kind="entity"' in html
    assert f'data-item="g{duplicate.pk}"' not in html


def test_creating_a_span_writes_it_and_answers_with_the_changed_block_and_version(alice, news):
    response = act(
        alice, news, "create-span", start=0, end=16, entity_type=news.person.pk, surface="Sergey Naryshkin"
    )
    assert response.status_code == 200
    created = Span.objects.get()
    assert (created.start, created.end, created.surface, created.created_by) == (
        0,
        16,
        "Sergey Naryshkin",
        news.annotator,
    )
    html = response.content.decode()
    assert '<div class="blk" id="blk-0" data-s="0" data-e="43" hx-swap-oob="true">' in html
    assert f'data-item="s{created.pk}" data-label="PERSON">Sergey Naryshkin</mark>' in html
    assert 'data-version="2"' in html
    assert "Added PERSON “Sergey Naryshkin”." in html
    assert f'id="focus-hint" data-item="s{created.pk}"' in html
    assert '<div class="group" id="spans-blk-0" data-block="0" hx-swap-oob="true">' in html


def test_a_stale_version_answers_409_with_the_conflict_and_writes_nothing(alice, news):
    span(news)  # another tab moved the set to version 2
    response = act(alice, news, "create-span", version=1, start=25, end=30, entity_type=news.gpe.pk)
    assert response.status_code == 409
    html = response.content.decode()
    assert "you had version 1, it is now at version 2" in html
    assert 'data-action="reload-reapply"' in html
    assert list(Span.objects.values_list("surface", flat=True)) == ["Sergey Naryshkin"]


def test_an_invalid_action_answers_400_with_the_reason(alice, news):
    response = act(
        alice, news, "create-span", start=1, end=17, entity_type=news.person.pk, surface="Sergey Naryshkin"
    )
    assert response.status_code == 400
    assert (
        "The text at [1, 17) is &#x27;ergey Naryshkin &#x27;, not &#x27;Sergey Naryshkin&#x27;"
        in response.content.decode()
    )
    assert Span.objects.count() == 0
    missing = act(alice, news, "create-span", start="", end=3, entity_type=news.person.pk)
    assert (
        "&#x27;start&#x27; must be a whole number written with the digits 0-9 (got &#x27;&#x27;)."
        in missing.content.decode()
    )


def test_without_javascript_an_action_redirects_back_with_a_message(alice, news):
    response = act(alice, news, "create-span", htmx=False, start=25, end=30, entity_type=news.gpe.pk)
    assert response.status_code == 302
    assert response["Location"] == reverse("review:annotate", args=[news.article.pk])
    page = alice.get(response["Location"]).content.decode()
    assert "Added GPE “Minsk”." in page
    stale = act(alice, news, "create-span", htmx=False, version=1, start=0, end=6, entity_type=news.person.pk)
    assert stale.status_code == 302
    assert "changed since you loaded it" in alice.get(stale["Location"]).content.decode()


def test_change_type_and_boundaries_then_delete(alice, news):
    created = span(news, (7, 16))
    act(alice, news, "change-span", span=created.pk, start=0)
    act(alice, news, "change-span", span=created.pk, entity_type=news.org.pk)
    created.refresh_from_db()
    assert (created.start, created.end, created.entity_type, created.surface) == (
        0,
        16,
        news.org,
        "Sergey Naryshkin",
    )
    response = act(alice, news, "delete-span", span=created.pk)
    assert "Deleted ORG “Sergey Naryshkin”." in response.content.decode()
    assert Span.objects.count() == 0
    assert news.annotation_set.version == 5


def test_links_to_a_candidate_or_nil_and_unlink(alice, news):
    created = span(news)
    act(alice, news, "link-span", span=created.pk, kb_entity=news.naryshkin.pk)
    assert EntityLink.objects.get(span=created).kb_entity == news.naryshkin
    response = act(alice, news, "link-span", span=created.pk, nil="1")
    assert "Linked PERSON “Sergey Naryshkin” to NIL (not in the KB)." in response.content.decode()
    assert EntityLink.objects.get(span=created).is_nil
    act(alice, news, "unlink-span", span=created.pk)
    assert EntityLink.objects.count() == 0


def test_relations_where_the_schema_allows_and_the_picker_offers_only_those(alice, news):
    head, tail = span(news), span(news, MINSK, news.gpe)
    picker = alice.get(
        reverse("review:relation_types", args=[news.article.pk]), {"head": head.pk, "tail": tail.pk}
    )
    offered = re.findall(r'data-relation-type="(\d+)"', picker.content.decode())
    assert offered == [str(news.visited.pk)]  # met_with is PERSON-PERSON only
    backwards = alice.get(
        reverse("review:relation_types", args=[news.article.pk]), {"head": tail.pk, "tail": head.pk}
    )
    assert (
        "The schema allows no relation from a <bdi>GPE</bdi> to a <bdi>PERSON</bdi>."
        in backwards.content.decode()
    )
    refused = act(alice, news, "create-relation", head=head.pk, tail=tail.pk, relation_type=news.met_with.pk)
    assert refused.status_code == 400
    assert "The schema does not allow met_with from a PERSON to a GPE." in refused.content.decode()
    act(alice, news, "create-relation", head=head.pk, tail=tail.pk, relation_type=news.visited.pk)
    relation = Relation.objects.get()
    response = act(alice, news, "delete-relation", relation=relation.pk)
    assert "Deleted the relation visited." in response.content.decode()
    assert Relation.objects.count() == 0


def test_accept_reject_and_correct_suggestions(alice, news):
    accepted = SuggestionFactory(article=news.article, start=0, end=16, entity_type=news.person)
    rejected = SuggestionFactory(article=news.article, start=25, end=30, entity_type=news.person)
    corrected = SuggestionFactory(article=news.article, start=34, end=42, entity_type=news.person)
    response = act(alice, news, "accept", suggestion=accepted.pk)
    assert "Accepted PERSON “Sergey Naryshkin”." in response.content.decode()
    act(alice, news, "reject", suggestion=rejected.pk)
    act(alice, news, "correct", suggestion=corrected.pk, entity_type=news.date.pk)
    verdicts = dict(Decision.objects.values_list("suggestion_id", "verdict"))
    assert verdicts == {
        accepted.pk: Verdict.ACCEPTED,
        rejected.pk: Verdict.REJECTED,
        corrected.pk: Verdict.CORRECTED,
    }
    assert sorted(Span.objects.values_list("surface", "entity_type__name")) == [
        ("April 15", "DATE"),
        ("Sergey Naryshkin", "PERSON"),
    ]
    page = alice.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert f'data-item="g{accepted.pk}"' not in page  # decided suggestions leave the list


def test_a_link_suggestion_is_accepted_with_its_mention(alice, news):
    suggestion = SuggestionFactory(
        article=news.article, kind=SuggestionKind.LINK, start=0, end=16, entity_type=news.person,
        kb_entity=news.naryshkin,
    )  # fmt: skip
    act(alice, news, "accept", suggestion=suggestion.pk)
    assert EntityLink.objects.select_related("span").get().span.surface == "Sergey Naryshkin"


# Undo


@pytest.mark.parametrize(
    "action",
    ["create", "delete", "change", "link", "relation", "delete-relation", "accept", "new-entity"],
)
def test_undo_reverts_each_kind_of_action_exactly(alice, news, action):
    head, tail, surname = span(news), span(news, MINSK, news.gpe), span(news, (7, 16))
    services.link_span(span=tail, kb_entity=news.minsk, by=news.annotator, expected_version=4)
    relation = services.create_relation(
        annotation_set=news.annotation_set, head=head, tail=tail, relation_type=news.visited, by=news.annotator,
        expected_version=5,
    )  # fmt: skip

    def state():
        return (
            sorted(Span.objects.values_list("start", "end", "entity_type_id")),
            sorted(EntityLink.objects.values_list("span__start", "kb_entity__kb_id")),
            sorted(Relation.objects.values_list("head__start", "tail__start", "relation_type_id")),
            sorted(Decision.objects.values_list("verdict", flat=True)),
            KBEntity.objects.count(),
        )

    before = state()
    if action == "create":
        act(alice, news, "create-span", start=34, end=42, entity_type=news.date.pk)
    elif action == "delete":
        act(alice, news, "delete-span", span=tail.pk)  # takes its link and its relation with it
    elif action == "change":
        act(alice, news, "change-span", span=head.pk, start=7, entity_type=news.org.pk)
    elif action == "link":
        act(alice, news, "link-span", span=tail.pk, nil="1")
    elif action == "relation":
        act(alice, news, "create-relation", head=surname.pk, tail=head.pk, relation_type=news.met_with.pk)
    elif action == "delete-relation":
        act(alice, news, "delete-relation", relation=relation.pk)
    elif action == "accept":
        act(
            alice,
            news,
            "accept",
            suggestion=SuggestionFactory(article=news.article, start=34, end=42, entity_type=news.date).pk,
        )
    else:
        alice.post(
            reverse("review:new_kb_entity", args=[news.article.pk]),
            {"span": head.pk, "name": "S. N.", "kb_id": "new-1", "knowledge_base": news.kb.pk, "version": 6},
            **HTMX,
        )
        news.annotation_set.refresh_from_db()
    assert state() != before
    version = news.annotation_set.version
    response = alice.post(reverse("review:undo", args=[news.article.pk]), {"version": version}, **HTMX)
    assert response.status_code == 200, response.content.decode()
    assert "Undone." in response.content.decode()
    after = state()
    if action == "new-entity":  # the link is undone; the entity stays in the KB for others to use
        assert after[:4] == before[:4]
        assert after[4] == before[4] + 1
    else:
        assert after == before
    news.annotation_set.refresh_from_db()
    assert news.annotation_set.version == version + 1


def test_undo_with_nothing_to_undo_says_so(alice, news):
    response = alice.post(reverse("review:undo", args=[news.article.pk]), {"version": 1}, **HTMX)
    assert response.status_code == 400
    assert "There is nothing to undo." in response.content.decode()


def test_a_stale_undo_stays_undoable_after_a_reload(alice, news):
    act(alice, news, "create-span", start=0, end=16, entity_type=news.person.pk)
    span(news, MINSK, news.gpe)  # another tab: version 3
    stale = alice.post(reverse("review:undo", args=[news.article.pk]), {"version": 2}, **HTMX)
    assert stale.status_code == 409
    fresh = alice.post(reverse("review:undo", args=[news.article.pk]), {"version": 3}, **HTMX)
    assert fresh.status_code == 200
    assert list(Span.objects.values_list("surface", flat=True)) == ["Minsk"]


# Submit and the queue


def test_submit_goes_to_the_next_article_and_then_back_to_the_dashboard(alice, news):
    second = ArticleFactory(project=news.project)
    response = alice.post(reverse("review:submit", args=[news.article.pk]), {"version": 1}, **HTMX)
    assert response["HX-Redirect"] == reverse("review:annotate", args=[second.pk])
    news.annotation_set.refresh_from_db()
    assert news.annotation_set.status == SetStatus.SUBMITTED
    own = services.get_or_create_own_set(article=second, user=news.annotator)
    last = alice.post(reverse("review:submit", args=[second.pk]), {"version": own.version})
    assert last["Location"] == reverse("projects:detail", args=[news.project.pk])
    assert (
        alice.get(reverse("review:next", args=[news.project.pk]))["Location"]
        == news.project.get_absolute_url()
    )


def test_the_queue_offers_my_unfinished_article_first_then_those_needing_people(alice, news):
    news.project.annotators_per_article = 1
    news.project.save()
    taken = ArticleFactory(project=news.project)
    services.get_or_create_own_set(article=taken, user=UserFactory())  # someone else has it: full
    open_article = ArticleFactory(project=news.project)
    url = reverse("review:next", args=[news.project.pk])
    assert alice.get(url)["Location"] == reverse(
        "review:annotate", args=[news.article.pk]
    )  # mine, in progress
    services.submit_set(annotation_set=news.annotation_set, by=news.annotator, expected_version=1)
    assert alice.get(url)["Location"] == reverse("review:annotate", args=[open_article.pk])


def test_a_submitted_set_is_read_only_on_the_page(alice, news):
    services.submit_set(annotation_set=news.annotation_set, by=news.annotator, expected_version=1)
    page = alice.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert "Read only: this set is submitted." in page
    response = act(alice, news, "create-span", start=0, end=6, entity_type=news.person.pk)
    assert response.status_code == 400
    assert "This annotation set is submitted" in response.content.decode()


# Links: candidates and new entities


def test_candidates_rank_the_kb_and_put_the_suggested_ones_first(alice, news):
    created = span(news)
    suggested = SuggestionFactory(
        article=news.article, kind=SuggestionKind.LINK, start=0, end=16, entity_type=news.person,
        kb_entity=news.naryshkin, score=0.66,
    )  # fmt: skip
    hostile = KBEntityFactory(
        knowledge_base=news.kb, kb_id="h", name="<b>Naryshkin</b>", description="<script>x</script>"
    )
    hostile.aliases.create(text="Naryshkin")
    response = alice.get(
        reverse("review:candidates", args=[news.article.pk]), {"span": created.pk, "q": "Naryshkin"}
    )
    html = response.content.decode()
    assert html.index(f'data-kb="{suggested.kb_entity_id}"') < html.index(f'data-kb="{hostile.pk}"')
    assert "suggested 0.66" in html
    assert "&lt;b&gt;Naryshkin&lt;/b&gt;" in html
    assert "<script>x" not in html
    default = alice.get(reverse("review:candidates", args=[news.article.pk]), {"span": created.pk})
    assert 'value="Sergey Naryshkin"' in default.content.decode()  # searches the span's text by default


def test_a_new_kb_entity_is_created_and_linked_or_nothing_is(alice, news):
    created = span(news)
    url = reverse("review:new_kb_entity", args=[news.article.pk])
    data = {
        "span": created.pk,
        "name": "Sergey Naryshkin",
        "kb_id": "sergey-naryshkin",
        "knowledge_base": news.kb.pk,
    }
    duplicate = alice.post(url, {**data, "version": 2}, **HTMX)
    assert duplicate.status_code == 400
    assert (
        "News KB already has an entity with the id &#x27;sergey-naryshkin&#x27;."
        in duplicate.content.decode()
    )
    stale = alice.post(url, {**data, "kb_id": "q-new", "version": 1}, **HTMX)
    assert stale.status_code == 409
    assert not KBEntity.objects.filter(kb_id="q-new").exists()  # the entity went with the refused link
    made = alice.post(url, {**data, "kb_id": "q-new", "type": "PERSON", "version": 2}, **HTMX)
    assert made.status_code == 200
    assert EntityLink.objects.get(span=created).kb_entity.kb_id == "q-new"


# Who may do what


def test_annotators_cannot_touch_gold_but_curators_can(client, news):
    client.force_login(news.annotator)
    assert client.get(reverse("review:annotate", args=[news.article.pk]) + "?set=gold").status_code == 403
    curator = UserFactory(username="carol")
    MembershipFactory(project=news.project, user=curator, role=Role.CURATOR)
    client.force_login(curator)
    url = reverse("review:act", args=[news.article.pk, "create-span"])
    response = client.post(
        url, {"set": "gold", "version": 1, "start": 0, "end": 16, "entity_type": news.person.pk}, **HTMX
    )
    assert response.status_code == 200
    assert Span.objects.get().annotation_set.kind == "gold"


def test_ids_of_other_projects_in_the_body_are_not_found(alice, news):
    foreign_type = EntityTypeFactory(name="PERSON")
    foreign_entity = KBEntityFactory()
    foreign_suggestion = SuggestionFactory()
    created = span(news)
    assert act(alice, news, "create-span", start=0, end=6, entity_type=foreign_type.pk).status_code == 404
    assert act(alice, news, "link-span", span=created.pk, kb_entity=foreign_entity.pk).status_code == 404
    assert act(alice, news, "accept", suggestion=foreign_suggestion.pk).status_code == 404
    other_set_span = services.create_span(
        annotation_set=services.get_or_create_gold_set(article=news.article), start=25, end=30, entity_type=news.gpe,
        by=news.manager, expected_version=1,
    )  # fmt: skip
    assert act(alice, news, "delete-span", span=other_set_span.pk).status_code == 404
    assert Span.objects.count() == 2


def test_an_action_costs_the_same_queries_however_many_spans_the_set_has(alice, news):
    Article.objects.filter(pk=news.article.pk).update(text="Naryshkin met Tertel. " * 40)

    def queries(start):
        with CaptureQueriesContext(connection) as captured:
            response = act(alice, news, "create-span", start=start, end=start + 9, entity_type=news.person.pk)
            assert response.status_code == 200
        return len(captured)

    queries(22 * 38)  # the first action also makes the project's default suggester (for occurrences)
    first = queries(0)
    assert first <= 27  # 31 before the hot-path pass
    for i in range(1, 30):
        span(news, (22 * i, 22 * i + 9))
    assert queries(22 * 35) == first


@pytest.mark.parametrize(
    "action", ["create-span", "change-span", "delete-span", "link-span", "unlink-span", "create-relation",
               "delete-relation", "accept", "reject", "correct"],
)  # fmt: skip
def test_every_action_answers_with_the_version_the_database_holds(alice, news, action):
    head, tail = span(news), span(news, MINSK, news.gpe)
    services.link_span(span=tail, kb_entity=news.minsk, by=news.annotator, expected_version=3)
    relation = services.create_relation(
        annotation_set=news.annotation_set, head=head, tail=tail, relation_type=news.visited, by=news.annotator,
        expected_version=4,
    )  # fmt: skip
    suggestion = SuggestionFactory(article=news.article, start=34, end=42, entity_type=news.date)
    data = {
        "create-span": {"start": 34, "end": 42, "entity_type": news.date.pk},
        "change-span": {"span": head.pk, "entity_type": news.org.pk},
        "delete-span": {"span": head.pk},
        "link-span": {"span": head.pk, "nil": "1"},
        "unlink-span": {"span": tail.pk},
        "create-relation": {"head": tail.pk, "tail": head.pk, "relation_type": news.met_with.pk},
        "delete-relation": {"relation": relation.pk},
        "accept": {"suggestion": suggestion.pk},
        "reject": {"suggestion": suggestion.pk},
        "correct": {"suggestion": suggestion.pk, "entity_type": news.person.pk},
    }[action]
    if action == "create-relation":
        data = {"head": head.pk, "tail": span(news, (7, 16)).pk, "relation_type": news.met_with.pk}
    response = act(alice, news, action, **data)
    assert response.status_code == 200, response.content.decode()
    assert news.annotation_set.version == (7 if action == "create-relation" else 6)
    assert f'data-version="{news.annotation_set.version}"' in response.content.decode()
    assert (
        f'<span id="version-label" hx-swap-oob="true">{news.annotation_set.version}</span>'
        in response.content.decode()
    )


def test_opening_the_page_computes_suggestions_once_with_the_offline_suggester(client, settings):
    from annotator.projects.demo import load_demo
    from annotator.suggestions.models import Suggestion

    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    project = load_demo().project
    reader = UserFactory(username="reader")
    MembershipFactory(project=project, user=reader, role=Role.ANNOTATOR)
    client.force_login(reader)
    article = Article.objects.get(external_id="000_125af6e3d0378b0b")
    html = client.get(reverse("review:annotate", args=[article.pk])).content.decode()
    stored = Suggestion.objects.filter(article=article)
    naryshkin = article.text.index("Sergey Naryshkin")
    assert stored.filter(kind=SuggestionKind.ENTITY, start=naryshkin, end=naryshkin + 16).exists()
    first = stored.get(kind=SuggestionKind.ENTITY, start=naryshkin, end=naryshkin + 16)
    assert f'data-item="g{first.pk}"' in html
    count = stored.count()
    client.get(reverse("review:annotate", args=[article.pk]))
    assert Suggestion.objects.filter(article=article).count() == count  # not computed twice


def test_accepting_a_span_suggests_its_other_occurrences(alice, news):
    Article.objects.filter(pk=news.article.pk).update(text="Minsk, then Minsk again, and Minsk.")
    news.article.refresh_from_db()
    response = act(alice, news, "create-span", start=0, end=5, entity_type=news.gpe.pk)
    assert "Added GPE “Minsk”. Suggested its 2 other occurrences." in response.content.decode()
    occurrences = Suggestion.objects.filter(article=news.article, source="other-occurrence").order_by("start")
    assert [(s.start, s.end, s.entity_type) for s in occurrences] == [(12, 17, news.gpe), (29, 34, news.gpe)]
    assert f'data-item="g{occurrences[0].pk}"' in response.content.decode()
