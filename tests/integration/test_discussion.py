"""Comments on articles and spans (who sees them, escaped text), and the article history page."""

import pytest
from django.urls import reverse

from annotator.annotations import services
from annotator.projects.models import Role
from annotator.review.models import Comment
from tests.factories import ArticleFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE = "<script>alert('c')</script> {{ x }} 🦊 שלום"
HOSTILE_ESCAPED = "&lt;script&gt;alert(&#x27;c&#x27;)&lt;/script&gt; {{ x }} 🦊 שלום"


def member(project, name, role):
    user = UserFactory(username=name)
    MembershipFactory(project=project, user=user, role=role)
    return user


def span(annotation_set, start, end, entity_type, by):
    return services.create_span(
        annotation_set=annotation_set, start=start, end=end, entity_type=entity_type, by=by,
        expected_version=annotation_set.version,
    )  # fmt: skip


def post_comment(client, article, **data):
    return client.post(reverse("review:comment", args=[article.pk]), data, **HTMX)


def test_comments_on_the_article_and_on_a_span_keep_where_the_span_was(client, news):
    client.force_login(news.annotator)
    naryshkin = span(news.annotation_set, 0, 16, news.person, news.annotator)
    response = post_comment(client, news.article, text="Is this the SVR director?", span=naryshkin.pk)
    assert response.status_code == 200
    post_comment(client, news.article, text="The date is ambiguous.")
    rows = list(
        Comment.objects.order_by("pk").values_list("author__username", "text", "span", "start", "end")
    )
    assert rows == [
        ("alice", "Is this the SVR director?", naryshkin.pk, 0, 16),
        ("alice", "The date is ambiguous.", None, None, None),
    ]
    services.delete_span(span=naryshkin, by=news.annotator, expected_version=news.annotation_set.version)
    comment = Comment.objects.get(text__startswith="Is this")
    assert (comment.span, comment.quote) == (None, "Sergey Naryshkin")  # still says what it was about
    page = client.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert 'on “<span class="quote">Sergey Naryshkin</span>” <small>[0, 16)</small>' in page


def test_comments_are_seen_by_curators_and_their_authors_only(client, news):
    bob = member(news.project, "bob", Role.ANNOTATOR)
    carol = member(news.project, "carol", Role.CURATOR)
    client.force_login(news.annotator)
    post_comment(client, news.article, text="alice's note")
    client.force_login(bob)
    answer = post_comment(client, news.article, text="bob's note").content.decode()
    assert "bob&#x27;s note" in answer
    assert "alice&#x27;s note" not in answer
    page = client.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert "alice&#x27;s note" not in page
    client.force_login(carol)
    comments = client.get(reverse("review:annotate", args=[news.article.pk])).context["comments"]
    assert [c.text for c in comments] == ["alice's note", "bob's note"]


def test_a_comment_cannot_name_a_span_the_author_may_not_read(client, news):
    bob = member(news.project, "bob", Role.ANNOTATOR)
    bobs = services.get_or_create_own_set(article=news.article, user=bob)
    bobs_span = span(bobs, 25, 30, news.gpe, bob)
    elsewhere = ArticleFactory(project=news.project)
    elsewhere_span = span(
        services.get_or_create_own_set(article=elsewhere, user=news.annotator),
        0,
        6,
        news.person,
        news.annotator,
    )
    client.force_login(news.annotator)
    assert post_comment(client, news.article, text="x", span=bobs_span.pk).status_code == 404  # blind project
    assert post_comment(client, news.article, text="x", span=elsewhere_span.pk).status_code == 404
    assert not Comment.objects.exists()
    news.project.blind = False
    news.project.save()
    assert post_comment(client, news.article, text="x", span=bobs_span.pk).status_code == 200


def test_an_empty_comment_is_refused_and_nothing_is_written(client, news):
    client.force_login(news.annotator)
    response = post_comment(client, news.article, text="   ")
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Comment.objects.exists()
    plain = client.post(
        reverse("review:comment", args=[news.article.pk]), {"text": "", "next": "https://evil.example/"}
    )
    assert plain["Location"] == news.article.get_absolute_url()  # never an outside address


def test_without_javascript_a_comment_redirects_back(client, news):
    client.force_login(news.annotator)
    back = reverse("review:annotate", args=[news.article.pk])
    response = client.post(reverse("review:comment", args=[news.article.pk]), {"text": "ok", "next": back})
    assert response["Location"] == back


def test_comment_text_is_escaped_on_the_annotate_and_curation_pages(client, news):
    carol = member(news.project, "carol", Role.CURATOR)
    client.force_login(carol)
    post_comment(client, news.article, text=HOSTILE)
    for url in (
        reverse("review:annotate", args=[news.article.pk]),
        reverse("review:curate", args=[news.article.pk]),
    ):
        page = client.get(url).content.decode()
        assert "<script>alert('c')" not in page
        assert HOSTILE_ESCAPED in page


# History


def test_history_lists_who_changed_what_newest_first(client, news):
    naryshkin = span(news.annotation_set, 0, 16, news.person, news.annotator)
    minsk = span(news.annotation_set, 25, 30, news.gpe, news.annotator)
    services.link_span(
        span=naryshkin,
        kb_entity=news.naryshkin,
        by=news.annotator,
        expected_version=news.annotation_set.version,
    )
    services.create_relation(
        annotation_set=news.annotation_set, head=naryshkin, tail=minsk, relation_type=news.visited,
        by=news.annotator, expected_version=news.annotation_set.version,
    )  # fmt: skip
    services.delete_span(span=minsk, by=news.annotator, expected_version=news.annotation_set.version)
    client.force_login(news.annotator)
    entries = client.get(reverse("review:history", args=[news.article.pk])).context["entries"]
    described = [(e.who, e.set_label, e.kind, e.action, e.what) for e in entries]
    assert described[:3] == [
        ("alice", "alice's set", "span", "deleted", "GPE “Minsk” [25, 30)"),
        (
            "alice",
            "alice's set",
            "relation",
            "deleted",
            "“Sergey Naryshkin” visited “Minsk”",
        ),  # with its span
        ("alice", "alice's set", "relation", "added", "“Sergey Naryshkin” visited “Minsk”"),
    ]
    assert (
        "alice",
        "alice's set",
        "link",
        "added",
        "link of “Sergey Naryshkin” to Sergey Naryshkin (sergey-naryshkin)",
    ) in described
    assert ("alice", "alice's set", "span", "added", "PERSON “Sergey Naryshkin” [0, 16)") in described
    assert described[-1] == ("(system)", "alice's set", "set", "added", "status in progress, version 1")


def test_history_pages_and_hides_other_annotators_sets_in_blind_projects(
    client, news, django_assert_max_num_queries
):
    bob = member(news.project, "bob", Role.ANNOTATOR)
    bobs = services.get_or_create_own_set(article=news.article, user=bob)
    span(bobs, 25, 30, news.gpe, bob)
    # 60 one-character spans: every character that is not white space (spans cannot start or end on it) as
    # PERSON, then again as ORG until there are 60.
    characters = [i for i, c in enumerate(news.article.text) if not c.isspace()]
    for n in range(60):
        start = characters[n % len(characters)]
        entity_type = news.person if n < len(characters) else news.org
        span(news.annotation_set, start, start + 1, entity_type, news.annotator)
    url = reverse("review:history", args=[news.article.pk])
    client.force_login(news.annotator)
    with django_assert_max_num_queries(14):
        first = client.get(url)
    assert len(first.context["entries"]) == 50
    assert first.context["page"].paginator.count == 61  # 60 spans and the set: none of bob's
    last = client.get(url + "?page=2").context["entries"]
    assert len(last) == 11
    assert [e.what for e in last[-2:]] == ["PERSON “S” [0, 1)", "status in progress, version 1"]
    assert "bob" not in client.get(url + "?page=2").content.decode()
    client.force_login(member(news.project, "carol", Role.CURATOR))
    assert client.get(url).context["page"].paginator.count == 63  # bob's set and span too


def test_history_escapes_hostile_text(client, news):
    from tests.factories import EntityTypeFactory

    evil = UserFactory(username="<i>eve</i>")
    MembershipFactory(project=news.project, user=evil, role=Role.CURATOR)
    hostile_type = EntityTypeFactory(project=news.project, name=HOSTILE)
    news.article.title = HOSTILE
    news.article.save()
    gold = services.get_or_create_gold_set(article=news.article)
    span(gold, 0, 16, hostile_type, evil)
    client.force_login(evil)
    page = client.get(reverse("review:history", args=[news.article.pk])).content.decode()
    assert "<script>alert('c')" not in page
    assert "<i>eve</i>" not in page
    # The type name has right-to-left letters: isolated (FSI ... PDI) so that it cannot reorder the line.
    assert f"\u2068{HOSTILE_ESCAPED}\u2069 “Sergey Naryshkin” [0, 16)" in page
    assert "&lt;i&gt;eve&lt;/i&gt;" in page
