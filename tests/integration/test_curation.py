"""Curation: two annotators' sets compared item by item, items taken into gold, gold marked curated;
submitted sets promoted to gold in single-annotator projects."""

import pytest
from django.urls import reverse

from annotator.annotations import services
from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetKind, SetStatus, Span
from annotator.projects.models import Role
from annotator.review.curation import compare
from tests.factories import ArticleFactory, EntityTypeFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def add(annotation_set, start, end, entity_type, link="none"):
    span = services.create_span(
        annotation_set=annotation_set, start=start, end=end, entity_type=entity_type,
        by=annotation_set.annotator, expected_version=annotation_set.version,
    )  # fmt: skip
    if link != "none":
        services.link_span(
            span=span, kb_entity=link, by=annotation_set.annotator, expected_version=annotation_set.version
        )
    return span


def relate(annotation_set, head, tail, relation_type):
    return services.create_relation(
        annotation_set=annotation_set, head=head, tail=tail, relation_type=relation_type,
        by=annotation_set.annotator, expected_version=annotation_set.version,
    )  # fmt: skip


@pytest.fixture
def two(news):
    """alice and bob annotated the news article and submitted; carol curates.

    Sergey Naryshkin visited Minsk on April 15.
    alice: PERSON [0,16) -> naryshkin, GPE [25,30) -> minsk, DATE [34,42), ORG [7,16), visited(PERSON, GPE)
    bob:   PERSON [0,16) -> NIL,       GPE [25,30) -> minsk, DATE [34,39),            visited(PERSON, GPE)
    """
    news.project.annotators_per_article = 2
    news.project.save()
    bob = UserFactory(username="bob")
    MembershipFactory(project=news.project, user=bob, role=Role.ANNOTATOR)
    carol = UserFactory(username="carol")
    MembershipFactory(project=news.project, user=carol, role=Role.CURATOR)
    alices, bobs = news.annotation_set, services.get_or_create_own_set(article=news.article, user=bob)
    a_person = add(alices, 0, 16, news.person, news.naryshkin)
    a_gpe = add(alices, 25, 30, news.gpe, news.minsk)
    a_date = add(alices, 34, 42, news.date)
    a_org = add(alices, 7, 16, news.org)
    relate(alices, a_person, a_gpe, news.visited)
    b_person = add(bobs, 0, 16, news.person, None)
    b_gpe = add(bobs, 25, 30, news.gpe, news.minsk)
    b_date = add(bobs, 34, 39, news.date)
    relate(bobs, b_person, b_gpe, news.visited)
    for annotation_set in (alices, bobs):
        services.submit_set(
            annotation_set=annotation_set,
            by=annotation_set.annotator,
            expected_version=annotation_set.version,
        )
    news.bob, news.carol, news.alices, news.bobs = bob, carol, alices, bobs
    news.a_date, news.b_date, news.a_person, news.a_org = a_date, b_date, a_person, a_org
    return news


def gold_rows(article):
    gold = AnnotationSet.objects.get(article=article, kind=SetKind.GOLD)
    spans = sorted(
        (
            s.start,
            s.end,
            s.entity_type.name,
            None if not hasattr(s, "link") else (s.link.kb_entity.kb_id if s.link.kb_entity else "NIL"),
        )
        for s in Span.objects.filter(annotation_set=gold).select_related("entity_type", "link__kb_entity")
    )
    relations = sorted(
        (r.head.surface, r.relation_type.name, r.tail.surface)
        for r in Relation.objects.filter(annotation_set=gold)
    )
    return spans, relations


def test_the_comparison_marks_each_span_relation_and_link(two):
    comparison = compare(two.article, None)
    assert [s.annotator.username for s in comparison.sets] == ["alice", "bob"]
    spans = {
        (item.key[0], item.key[1], item.type_name): (item.status, item.link_status)
        for item in comparison.spans
    }
    assert spans == {
        (0, 16, "PERSON"): ("agreed", "disagreed"),
        (7, 16, "ORG"): ("only-in-one", ""),  # nested in a span bob has too: nothing of bob's in its place
        (25, 30, "GPE"): ("agreed", "agreed"),
        (34, 42, "DATE"): ("disagreed", ""),
        (34, 39, "DATE"): ("disagreed", ""),
    }
    assert [(item.example.relation_type.name, item.status) for item in comparison.relations] == [
        ("visited", "agreed")
    ]
    assert comparison.agreed_counts() == {"spans": 2, "relations": 1}


def test_a_single_set_has_nothing_agreed(news):
    add(news.annotation_set, 0, 16, news.person)
    services.submit_set(
        annotation_set=news.annotation_set, by=news.annotator, expected_version=news.annotation_set.version
    )
    comparison = compare(news.article, None)
    assert [(item.status, item.in_gold) for item in comparison.spans] == [("only-in-one", False)]


def test_in_progress_sets_are_not_compared(two):
    services.get_or_create_own_set(article=two.article, user=two.manager)
    assert [s.annotator.username for s in compare(two.article, None).sets] == ["alice", "bob"]


def curate(client, two, action, **data):
    return client.post(reverse(f"review:{action}", args=[two.article.pk]), data, **HTMX)


def gold_of(two):
    return services.get_or_create_gold_set(article=two.article)


def test_take_all_agreed_items_at_once(client, two):
    client.force_login(two.carol)
    response = curate(client, two, "take_agreed", version=1)
    assert response.status_code == 200
    assert (
        "Took 3 agreed items into gold." in response.content.decode()
    )  # 2 spans (1 with its link), 1 relation
    # The PERSON span without a link: the annotators disagree on it; the agreed GPE link comes along.
    assert gold_rows(two.article) == (
        [(0, 16, "PERSON", None), (25, 30, "GPE", "minsk")],
        [("Sergey Naryshkin", "visited", "Minsk")],
    )
    assert gold_of(two).version == 2  # one edit
    again = curate(client, two, "take_agreed", version=2)
    assert "Took 0 agreed items into gold." in again.content.decode()
    assert gold_of(two).version == 3


def test_taking_one_side_replaces_the_other_sides_version_in_gold(client, two):
    client.force_login(two.carol)
    curate(client, two, "take", item="span", id=two.a_date.pk, version=1)
    assert gold_rows(two.article)[0] == [(34, 42, "DATE", None)]
    response = curate(client, two, "take", item="span", id=two.b_date.pk, version=2)
    assert "Took DATE “April” into gold, replacing 1 other version." in response.content.decode()
    assert gold_rows(two.article)[0] == [(34, 39, "DATE", None)]


def test_taking_a_span_brings_its_link_and_a_relation_brings_its_spans(client, two):
    client.force_login(two.carol)
    curate(client, two, "take", item="span", id=two.a_person.pk, version=1)
    assert gold_rows(two.article)[0] == [(0, 16, "PERSON", "sergey-naryshkin")]
    relation = Relation.objects.get(annotation_set=two.bobs)
    curate(client, two, "take", item="relation", id=relation.pk, version=2)
    # The PERSON span gold already had keeps its link; the GPE span comes with bob's link.
    assert gold_rows(two.article) == (
        [(0, 16, "PERSON", "sergey-naryshkin"), (25, 30, "GPE", "minsk")],
        [("Sergey Naryshkin", "visited", "Minsk")],
    )
    # Taking bob's version of PERSON makes gold's link say what bob's says (NIL).
    b_person = Span.objects.get(annotation_set=two.bobs, start=0)
    curate(client, two, "take", item="span", id=b_person.pk, version=3)
    assert gold_rows(two.article)[0][0] == (0, 16, "PERSON", "NIL")
    # The nested ORG has no rival in gold: taking it keeps the PERSON span around it.
    curate(client, two, "take", item="span", id=two.a_org.pk, version=4)
    assert [row[:3] for row in gold_rows(two.article)[0]] == [
        (0, 16, "PERSON"),
        (7, 16, "ORG"),
        (25, 30, "GPE"),
    ]


def test_a_stale_gold_version_is_a_conflict_that_writes_nothing(client, two):
    client.force_login(two.carol)
    curate(client, two, "take", item="span", id=two.a_date.pk, version=1)
    stale = curate(client, two, "take", item="span", id=two.a_person.pk, version=1)
    assert stale.status_code == 409
    page = stale.content.decode()
    assert "Gold changed since you loaded it" in page
    assert 'data-gold-version="2"' in page  # the comparison as it now stands: the reload path
    assert gold_rows(two.article)[0] == [(34, 42, "DATE", None)]


def test_mark_gold_curated_then_reopen(client, two):
    client.force_login(two.carol)
    curate(client, two, "take_agreed", version=1)
    done = curate(client, two, "finish_gold", version=2)
    assert "Gold marked curated." in done.content.decode()
    assert gold_of(two).status == SetStatus.CURATED
    refused = curate(client, two, "take", item="span", id=two.a_date.pk, version=3)
    assert refused.status_code == 400
    assert (
        "This annotation set is curated; it must be in progress for this action." in refused.content.decode()
    )
    curate(client, two, "finish_gold", version=3, reopen=1)
    assert gold_of(two).status == SetStatus.IN_PROGRESS


def test_without_javascript_actions_redirect_back_to_the_page(client, two):
    client.force_login(two.carol)
    url = reverse("review:take_agreed", args=[two.article.pk])
    response = client.post(url, {"version": 1})
    assert response["Location"] == reverse("review:curate", args=[two.article.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Took 3 agreed items into gold." in page


def test_items_from_elsewhere_do_not_exist(client, two):
    client.force_login(two.carol)
    other_article = ArticleFactory(project=two.project)
    elsewhere = add(services.get_or_create_own_set(article=other_article, user=two.bob), 0, 6, two.person)
    in_progress = add(services.get_or_create_own_set(article=two.article, user=two.manager), 0, 6, two.person)
    gold_span = add(gold_of(two), 0, 6, two.person)
    for pk in (elsewhere.pk, in_progress.pk, gold_span.pk, 999999):
        assert curate(client, two, "take", item="span", id=pk, version=2).status_code == 404
    assert curate(client, two, "take", item="spans", id=two.a_date.pk, version=2).status_code == 404
    assert gold_rows(two.article)[0] == [(0, 6, "PERSON", None)]


@pytest.mark.parametrize("action", ["take", "take_agreed", "finish_gold"])
def test_annotators_cannot_curate(client, two, action):
    client.force_login(two.annotator)
    assert client.get(reverse("review:curate", args=[two.article.pk])).status_code == 403
    assert curate(client, two, action, item="span", id=two.a_date.pk, version=1).status_code == 403
    assert not AnnotationSet.objects.filter(kind=SetKind.GOLD).exists()


def test_the_page_shows_the_sets_side_by_side_in_constant_queries(client, two, django_assert_max_num_queries):
    client.force_login(two.carol)
    url = reverse("review:curate", args=[two.article.pk])
    client.get(url)  # gold made
    with django_assert_max_num_queries(14):
        page = client.get(url).content.decode()
    assert '<th scope="col">alice</th><th scope="col">bob</th>' in page.replace("\n", "").replace("  ", "")
    # One of each in the legend, then two agreed spans and a relation, two disagreed DATEs, the nested ORG.
    assert page.count('class="agreement agreement-agreed"') == 1 + 3
    assert page.count('class="agreement agreement-disagreed"') == 1 + 2
    assert page.count('class="agreement agreement-only-in-one"') == 1 + 1
    assert "→ Sergey Naryshkin (sergey-naryshkin)" in page
    assert "→ NIL" in page
    assert "Take all agreed items (2 entities, 1 relation)" in page
    partial = client.get(url, **HTMX).content.decode()
    assert partial.startswith('\n<section id="curation"') or partial.lstrip().startswith(
        '<section id="curation"'
    )
    assert "<html" not in partial


def test_the_page_costs_the_same_queries_however_many_items(client, two):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(two.carol)
    url = reverse("review:curate", args=[two.article.pk])
    client.get(url)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count()
    for annotation_set in (two.alices, two.bobs):
        services.reopen_set(
            annotation_set=annotation_set,
            by=annotation_set.annotator,
            expected_version=annotation_set.version,
        )
        for start in range(0, 40, 2):
            if not two.article.text[start].isspace():  # a span never starts or ends with white space
                add(annotation_set, start, start + 1, two.org)
        services.submit_set(
            annotation_set=annotation_set,
            by=annotation_set.annotator,
            expected_version=annotation_set.version,
        )
    assert len(compare(two.article, None).spans) == 5 + sum(
        not two.article.text[start].isspace() for start in range(0, 40, 2)
    )
    assert count() == few


def test_hostile_text_on_the_curation_page_is_escaped(client, two):
    hostile = EntityTypeFactory(project=two.project, name="<script>alert('t')</script>")
    evil = UserFactory(username="<b>eve</b>{{x}}")
    MembershipFactory(project=two.project, user=evil, role=Role.ANNOTATOR)
    two.article.title = "<img src=x onerror=alert(1)> 🦊 مرحبا"
    two.article.save()
    eves = services.get_or_create_own_set(article=two.article, user=evil)
    add(eves, 0, 6, hostile)
    services.submit_set(annotation_set=eves, by=evil, expected_version=eves.version)
    client.force_login(two.carol)
    page = client.get(reverse("review:curate", args=[two.article.pk])).content.decode()
    for raw in ("<script>alert", "<b>eve</b>", "<img src=x"):
        assert raw not in page
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;eve&lt;/b&gt;{{x}}" in page
    assert "&lt;img src=x onerror=alert(1)&gt; 🦊 مرحبا" in page


# Promotion to gold


def promote_project(news):
    news.project.annotators_per_article = 1
    news.project.promote_to_gold = True
    news.project.save()


def test_a_submitted_set_becomes_curated_gold_when_the_project_promotes(news):
    promote_project(news)
    person = add(news.annotation_set, 0, 16, news.person, news.naryshkin)
    gpe = add(news.annotation_set, 25, 30, news.gpe, None)
    relate(news.annotation_set, person, gpe, news.visited)
    services.submit_set(
        annotation_set=news.annotation_set, by=news.annotator, expected_version=news.annotation_set.version
    )
    gold = AnnotationSet.objects.get(article=news.article, kind=SetKind.GOLD)
    assert gold.status == SetStatus.CURATED
    assert gold_rows(news.article) == (
        [(0, 16, "PERSON", "sergey-naryshkin"), (25, 30, "GPE", "NIL")],
        [("Sergey Naryshkin", "visited", "Minsk")],
    )
    # Reopened, changed and submitted again: gold follows.
    services.reopen_set(
        annotation_set=news.annotation_set, by=news.annotator, expected_version=news.annotation_set.version
    )
    services.delete_span(span=gpe, by=news.annotator, expected_version=news.annotation_set.version)
    services.submit_set(
        annotation_set=news.annotation_set, by=news.annotator, expected_version=news.annotation_set.version
    )
    assert gold_rows(news.article) == ([(0, 16, "PERSON", "sergey-naryshkin")], [])


def test_promotion_leaves_gold_alone_when_a_curator_is_working_on_it(news):
    promote_project(news)
    gold = services.get_or_create_gold_set(article=news.article)
    add(gold, 34, 42, news.date)
    add(news.annotation_set, 0, 16, news.person)
    services.submit_set(
        annotation_set=news.annotation_set, by=news.annotator, expected_version=news.annotation_set.version
    )
    assert gold_rows(news.article) == ([(34, 42, "DATE", None)], [])
    assert AnnotationSet.objects.get(pk=gold.pk).status == SetStatus.IN_PROGRESS


def test_no_promotion_unless_the_project_asks_for_it(news):
    add(news.annotation_set, 0, 16, news.person)
    services.submit_set(
        annotation_set=news.annotation_set, by=news.annotator, expected_version=news.annotation_set.version
    )
    assert not AnnotationSet.objects.filter(kind=SetKind.GOLD).exists()
    assert not EntityLink.objects.exists()


def test_curators_comment_on_a_compared_span_from_the_curation_page(client, two):
    from annotator.review.models import Comment

    client.force_login(two.carol)
    page = client.get(reverse("review:curate", args=[two.article.pk]))
    offered = [(span.start, span.end, span.entity_type.name) for span in page.context["comment_spans"]]
    assert offered == [(0, 16, "PERSON"), (7, 16, "ORG"), (25, 30, "GPE"), (34, 39, "DATE"), (34, 42, "DATE")]
    response = client.post(
        reverse("review:comment", args=[two.article.pk]),
        {"text": "Which date?", "span": two.b_date.pk},
        **HTMX,
    )
    assert response.status_code == 200
    assert list(Comment.objects.values_list("author__username", "start", "end")) == [("carol", 34, 39)]


def test_imported_sets_are_shown_to_take_from_but_take_no_part_in_agreement(two):
    imported = AnnotationSet.objects.create(article=two.article, kind=SetKind.IMPORTED, name="pre")
    Span.objects.create(annotation_set=imported, start=0, end=6, entity_type=two.person, surface="Sergey")
    comparison = compare(two.article, None)
    assert [s.pk for s in comparison.sets] == [two.alices.pk, two.bobs.pk, imported.pk]
    assert comparison.agreed_counts() == {"spans": 2, "relations": 1}
    only_imported = [item for item in comparison.spans if item.key == (0, 6, two.person.pk)]
    assert [(item.status, item.cells[:2]) for item in only_imported] == [("imported-only", [None, None])]
