"""The hot request path: what the annotate page, a span write and token authentication cost in queries."""

import re

import pytest
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations.models import Span
from annotator.api.models import ApiToken
from annotator.api.tokens import create_token, revoke_token
from annotator.kb.services import create_entity
from annotator.suggestions.models import Suggestion, SuggestionKind, SuggestionRun

pytestmark = pytest.mark.django_db


def tables(queries):
    """The table each query reads or writes (outside its subqueries), in order, the members of a
    UNION as "a UNION b"; BEGIN, COMMIT and SAVEPOINT left out."""
    found = []
    for query in queries:
        names = []
        for sql in _members(query["sql"]):
            while re.search(r"\([^()]*\)", sql):
                sql = re.sub(r"\([^()]*\)", "", sql)
            match = re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', sql)
            if match:
                names.append(match.group(1))
        if names:
            found.append(" UNION ".join(names))
    return found


def _members(sql):
    """The SELECTs of a compound statement (PostgreSQL writes each in parentheses), or the statement."""
    members, depth, begun = [], 0, 0
    for at, char in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and sql.startswith(" UNION ALL ", at):
            members.append(sql[begun:at])
            begun = at + len(" UNION ALL ")
    members.append(sql[begun:])
    if len(members) == 1:
        return members
    return [member[1 : _closing(member)] if member.startswith("(") else member for member in members]


def _closing(sql):
    depth = 0
    for at, char in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return at
    raise AssertionError(f"unbalanced: {sql}")


@pytest.fixture
def alice(client, news):
    client.force_login(news.annotator)
    return client


@pytest.fixture
def suggesting(settings):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    settings.ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS = 600  # a slow machine stays inside one window


def page(news):
    return reverse("review:annotate", args=[news.article.pk])


def test_a_page_whose_suggestions_are_current_reads_a_fixed_handful_and_suggests_nothing(
    alice, news, suggesting
):
    alice.get(page(news))  # the first open computes the suggestions
    alice.get(page(news))  # the next reads the KB's and gold's state, once per freshness window
    run = SuggestionRun.objects.get(article=news.article)
    with CaptureQueriesContext(connection) as queries:
        assert alice.get(page(news)).status_code == 200
    assert tables(queries) == [
        "django_session",
        "auth_user",
        # the set with its article, project, guidelines, the user's role, whether there are comments,
        # the freshness check's active suggester and its run on the article, the project's types and
        # the set's counts of spans and relations
        "annotations_annotationset",
        "annotations_span UNION suggestions_suggestion",  # the spans, then the pending suggestions
    ]
    assert SuggestionRun.objects.get(article=news.article).updated_at == run.updated_at  # not run again


def test_relations_comments_and_newer_guidelines_each_cost_one_query_more_and_show(alice, news, suggesting):
    from annotator.annotations.services import create_relation, create_span
    from annotator.projects.services import update_guidelines
    from annotator.review.comments import add_comment

    update_guidelines(project=news.project, text="Mark people.", by=news.manager)
    annotation_set = news.annotation_set  # made before these guidelines: it stays under none
    text = news.article.text
    head = create_span(annotation_set=annotation_set, start=0, end=16, entity_type=news.person,
                       by=news.annotator, expected_version=1)  # fmt: skip
    minsk = text.index("Minsk")
    tail = create_span(annotation_set=annotation_set, start=minsk, end=minsk + 5, entity_type=news.gpe,
                       by=news.annotator, expected_version=2)  # fmt: skip
    relation = create_relation(annotation_set=annotation_set, head=head, tail=tail,
                               relation_type=news.visited, by=news.annotator, expected_version=3)  # fmt: skip
    add_comment(article=news.article, author=news.annotator, text="Is this the SVR director?")
    add_comment(article=news.article, author=news.manager, text="Managers only see this with theirs.")
    alice.get(page(news))
    alice.get(page(news))
    with CaptureQueriesContext(connection) as queries:
        html = alice.get(page(news)).content.decode()
    read = tables(queries)
    assert len(read) == 7
    assert [read.count(table) for table in ("annotations_relation", "projects_guidelineversion")] == [1, 1]
    assert read.count("review_comment") == 1  # hers only: she is an annotator
    assert "Is this the SVR director?" in html
    assert "Managers only see this" not in html
    assert "Guidelines v1" in html
    assert f'data-item="r{relation.pk}" data-head="s{head.pk}" data-tail="s{tail.pk}"' in html


def _count(html, name):
    return int(re.search(rf'<span class="count" id="count-{name}">(\d+)</span>', html).group(1))


def test_the_counts_come_with_the_set_and_count_what_the_set_still_has_to_decide(alice, news):
    from annotator.annotations.services import create_relation, create_span
    from annotator.suggestions.services import reject_suggestion
    from tests.factories import SuggestionFactory

    annotation_set = news.annotation_set
    head = create_span(annotation_set=annotation_set, start=0, end=16, entity_type=news.person,
                       by=news.annotator, expected_version=1)  # fmt: skip
    tail = create_span(annotation_set=annotation_set, start=25, end=30, entity_type=news.gpe,
                       by=news.annotator, expected_version=2)  # fmt: skip
    create_relation(annotation_set=annotation_set, head=head, tail=tail, relation_type=news.visited,
                    by=news.annotator, expected_version=3)  # fmt: skip
    date = SuggestionFactory(article=news.article, start=34, end=42, entity_type=news.date)
    SuggestionFactory(article=news.article, start=7, end=16, entity_type=news.person)  # inside her span
    SuggestionFactory(article=news.article, start=25, end=30, entity_type=news.org)  # another type
    rejected = SuggestionFactory(article=news.article, start=0, end=6, entity_type=news.org)
    reject_suggestion(suggestion=rejected, annotation_set=annotation_set, by=news.annotator,
                      expected_version=4)  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        html = alice.get(page(news)).content.decode()
    assert [_count(html, name) for name in ("suggestions", "spans", "relations")] == [2, 2, 1]
    assert "annotations_annotationset" not in tables(queries)[3:]  # no query of its own for the counts
    assert f'data-item="g{date.pk}"' in html
    picker = html[html.index('id="type-picker"') :]
    assert [news.date.pk, news.gpe.pk, news.org.pk, news.person.pk] == [  # by position, then name
        int(pk) for pk in re.findall(r'data-action="type" data-type="(\d+)"', picker)
    ]


def test_a_project_without_types_still_counts_its_set(client, news):
    from tests.factories import ArticleFactory, MembershipFactory, ProjectFactory

    bare = ProjectFactory(name="Bare", slug="bare")
    MembershipFactory(project=bare, user=news.annotator, role="annotator")
    article = ArticleFactory(project=bare, text="Nothing to mark yet.")
    client.force_login(news.annotator)
    url = reverse("review:annotate", args=[article.pk])
    client.get(url)  # the first open makes her set
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert [_count(html, name) for name in ("suggestions", "spans", "relations")] == [0, 0, 0]
    # The set's row carries the counts (and no type): no query of their own.
    assert tables(queries)[2:] == [
        "annotations_annotationset",
        "annotations_span UNION suggestions_suggestion",
    ]


def test_a_kb_edit_reaches_the_suggestions_of_pages_opened_after_the_freshness_window(
    alice, news, suggesting, settings
):
    from annotator.suggestions.freshness import forget

    news.article.text = "Sergey Naryshkin visited Minsk and met Ivan Tertel."
    news.article.save()
    alice.get(page(news))
    alice.get(page(news))  # this process now knows the KB's state
    tertel = news.article.text.index("Ivan Tertel")
    # The rules may find the person by themselves; what only the KB gives is the link to its entity.
    linked = Suggestion.objects.filter(
        article=news.article, kind=SuggestionKind.LINK, start=tertel, kb_entity__kb_id="ivan-tertel"
    )
    create_entity(
        knowledge_base=news.kb, name="Ivan Tertel", kb_id="ivan-tertel", type="PERSON", by=news.manager
    )
    alice.get(page(news))
    assert not linked.exists()  # this process read the KB's state less than a window ago
    forget()  # as when ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS have passed
    html = alice.get(page(news)).content.decode()
    found = linked.get()
    assert found.end == tertel + 11
    assert f'data-item="g{found.pk}"' in html


def test_opening_with_suggestions_off_reads_no_suggester_state(alice, news):
    with CaptureQueriesContext(connection) as queries:
        assert alice.get(page(news)).status_code == 200
    assert "suggestions_suggesterversion" not in tables(queries)
    assert not SuggestionRun.objects.exists()


# Tokens


@pytest.fixture
def bearer(client, news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600  # a slow machine stays inside the token's lifetime
    token, secret = create_token(user=news.annotator, name="script", scope="write")

    def get(url):
        return client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}")

    get.token = token
    return get


def test_a_token_costs_one_indexed_query_then_none_while_it_is_young(bearer, news):
    url = reverse("api:set-detail", args=[news.annotation_set.pk])
    with CaptureQueriesContext(connection) as first:
        assert bearer(url).status_code == 200
    token_reads = [q["sql"] for q in first if 'FROM "api_apitoken"' in q["sql"]]
    assert len(token_reads) == 1
    assert '"api_apitoken"."digest" = ' in token_reads[0]  # the unique index
    assert tables(first).count("api_apitoken") == 2  # the read, and last_used_at written once a minute
    with CaptureQueriesContext(connection) as again:
        assert bearer(url).status_code == 200
    assert "api_apitoken" not in tables(again)
    assert "auth_user" not in tables(again)
    assert len(again) == len(first) - 2


def test_a_revoked_token_is_refused_at_once_by_the_process_that_revoked_it(bearer, news):
    url = reverse("api:set-detail", args=[news.annotation_set.pk])
    assert bearer(url).status_code == 200  # now remembered
    revoke_token(ApiToken.objects.get(pk=bearer.token.pk))
    refused = bearer(url)
    assert (refused.status_code, refused.json()["error"]["message"]) == (401, "This token was revoked.")


def test_other_processes_notice_a_revoked_or_deactivated_token_within_the_cache_lifetime(
    bearer, news, settings
):
    url = reverse("api:set-detail", args=[news.annotation_set.pk])
    assert bearer(url).status_code == 200
    # Another process revokes it: this one still trusts what it read, for the cache's lifetime.
    ApiToken.objects.filter(pk=bearer.token.pk).update(revoked_at="2026-01-01T00:00:00Z")
    assert bearer(url).status_code == 200
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 0  # the lifetime is over for anything read from now on
    from annotator.api.tokens import forget_tokens

    forget_tokens()
    assert bearer(url).json()["error"]["message"] == "This token was revoked."


def test_a_request_cannot_change_the_remembered_token_or_user_of_another(bearer, news):
    from annotator.api.tokens import check_token

    secret_token = create_token(user=news.annotator, name="second")[1]
    first = check_token(secret_token)
    first.user.first_name = "changed by one request"
    first.scope = "write"
    again = check_token(secret_token)
    assert (again.user.first_name, again.scope) == ("", "read")
    assert again is not first
    assert again.user is not first.user


def test_creating_a_span_through_the_api_costs_a_fixed_number_of_queries(client, news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600  # a slow machine stays inside the token's lifetime
    secret = create_token(user=news.annotator, name="script", scope="write")[1]
    url = reverse("api:set-spans", args=[news.annotation_set.pk])

    def post(start, end, version):
        return client.post(
            url,
            {"start": start, "end": end, "type": "PERSON"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
            HTTP_IF_MATCH=f'"{version}"',
        )

    assert post(0, 6, 1).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert post(7, 16, 2).status_code == 201
    # No token query (the client's token is remembered), no article query (the set's query reads what the
    # offsets check needs), no duplicate check (the INSERT refuses a duplicate), the history with the span.
    if connection.vendor == "postgresql":
        # One statement, autocommit (api/set_writes_at_once.py): the set with the caller's right to edit it,
        # its article, the span rules and the type the body names; the claim, the span and its history.
        assert tables(queries) == ["new_span"]  # WITH target AS (...), ... SELECT ... FROM new_span
        assert len(queries) == 1
    else:
        assert tables(queries) == [
            "annotations_annotationset",
            "annotations_annotationset",  # the version claim
            "annotations_span",
            "annotations_historicalspan",
        ]
        assert len(queries) == 6  # with BEGIN and COMMIT
    spans = Span.objects.filter(annotation_set=news.annotation_set).order_by("start")
    assert [(s.start, s.end, s.surface, s.history.get().history_type) for s in spans] == [
        (0, 6, "Sergey", "+"),
        (7, 16, "Naryshkin", "+"),
    ]


def test_templates_are_compiled_once_per_process():
    loaders = engines["django"].engine.template_loaders
    chain = []
    while loaders:
        loader = loaders[0]
        chain.append(type(loader).__module__ + "." + type(loader).__name__)
        loaders = getattr(loader, "loaders", None)
    assert "django.template.loaders.cached.Loader" in chain


def test_a_connection_lost_before_the_view_runs_is_a_503_not_a_500(news, monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import OperationalError
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(news.annotator)

    def lost(self):
        raise OperationalError("server closed the connection unexpectedly")

    # The session is read by a middleware (the login check), before any view: no connection test on
    # checkout means this is where a dead pooled connection shows.
    monkeypatch.setattr(SessionStore, "load", lost)
    page = client.get(reverse("review:annotate", args=[news.article.pk]))
    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert page.content.decode().startswith("The database is not reachable right now; nothing was saved.")
    api = client.get(reverse("api:project-list"))
    assert (api.status_code, api.json()["error"]["code"]) == (503, "database_unavailable")


def test_an_action_reads_relations_only_when_the_set_has_some_and_then_shows_them(alice, news):
    from annotator.annotations.services import create_relation, create_span

    annotation_set = news.annotation_set
    text = news.article.text
    minsk = text.index("Minsk")

    def create(start, end, entity_type):
        url = reverse("review:act", args=[news.article.pk, "create-span"])
        data = {"start": start, "end": end, "entity_type": entity_type.pk, "version": annotation_set.version}
        with CaptureQueriesContext(connection) as queries:
            response = alice.post(url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        annotation_set.refresh_from_db()
        return tables(queries), response.content.decode()

    read, _ = create(0, 16, news.person)
    assert "annotations_relation" not in read
    head = Span.objects.get(annotation_set=annotation_set, start=0)
    tail = create_span(annotation_set=annotation_set, start=minsk, end=minsk + 5, entity_type=news.gpe,
                       by=news.annotator, expected_version=annotation_set.version)  # fmt: skip
    relation = create_relation(annotation_set=annotation_set, head=head, tail=tail, relation_type=news.visited,
                               by=news.annotator, expected_version=annotation_set.version)  # fmt: skip
    annotation_set.refresh_from_db()
    read, html = create(7, 16, news.org)  # "Naryshkin", in the block the relation starts in
    assert read.count("annotations_relation") == 1
    assert f'data-item="r{relation.pk}" data-head="s{head.pk}" data-tail="s{tail.pk}"' in html


# The article list over REST


def _serialized(articles):
    """What the ModelSerializer itself makes of these articles, through the API's JSON renderer."""
    import json

    from rest_framework.renderers import JSONRenderer

    from annotator.api.annotation_serializers import ArticleSerializer

    return json.loads(JSONRenderer().render(ArticleSerializer(articles, many=True).data))


@pytest.fixture
def odd_articles(news):
    from tests.factories import ArticleFactory
    from tests.hostile import CLOSERS, RLO, SCRIPT

    made = [
        ArticleFactory(project=news.project, title=f"{SCRIPT}{CLOSERS}{RLO}", external_id=None,
                       metadata={"source": "tass", "authors": ["Ан", None], "n": 1.5, "nested": {"ok": True}}),
        ArticleFactory(project=news.project, title="", external_id="x-\u202e2", metadata={}),
    ]  # fmt: skip
    return [news.article, *made]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu"])
def test_the_article_list_is_the_serializer_s_json_read_from_plain_rows(
    bearer, news, odd_articles, settings, zone
):
    settings.TIME_ZONE = zone
    url = reverse("api:article-list", args=[news.project.pk])
    from annotator.articles.models import Article

    listed = bearer(url).json()
    assert listed["results"] == _serialized(Article.objects.filter(project=news.project).order_by("id"))
    assert [article["id"] for article in listed["results"]] == [article.pk for article in odd_articles]
    assert listed["results"][0]["created_at"].endswith("Z" if zone == "UTC" else "+05:45")


def test_the_article_list_pages_by_cursor_through_every_article_once(bearer, news, odd_articles):
    url = reverse("api:article-list", args=[news.project.pk]) + "?page_size=2"
    seen = []
    while url:
        page = bearer(url).json()
        seen += [article["id"] for article in page["results"]]
        url = page["next"]
    assert seen == [article.pk for article in odd_articles]


def test_the_article_list_costs_two_queries_with_a_remembered_token(bearer, news, odd_articles):
    url = reverse("api:article-list", args=[news.project.pk])
    assert bearer(url).status_code == 200  # the token is read, then remembered
    with CaptureQueriesContext(connection) as queries:
        assert len(bearer(url).json()["results"]) == 3
    # The project if hers, with its count of articles search cannot see yet (X-Articles-Unindexed); its page:
    # in one statement on PostgreSQL (api/article_first_page.py), in two elsewhere.
    if connection.vendor == "postgresql":
        assert len(queries) == 1
        sql = queries[0]["sql"]
        for table in (
            "projects_project",
            "projects_membership",
            "articles_searchbacklog",
            "articles_article",
        ):
            assert f'"{table}"' in sql
    else:
        assert tables(queries) == ["projects_project", "articles_article"]
        assert "articles_searchbacklog" in queries[0]["sql"]
    assert '"articles_article"."text"' not in queries[-1]["sql"]  # the list never reads the texts


# Sessions


def test_a_session_is_read_by_its_key_through_the_compiled_query_and_honoured_until_it_expires(alice, news):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    with CaptureQueriesContext(connection) as queries:
        assert alice.get(page(news)).status_code == 200
    assert tables(queries)[0] == "django_session"
    assert '"django_session"."session_key" = ' in queries[0]["sql"]
    assert "expire_date" not in queries[0]["sql"].split("WHERE")[1]  # checked on the row it read
    key = alice.cookies["sessionid"].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    expired = alice.get(page(news))
    assert (expired.status_code, expired["Location"].split("?")[0]) == (302, "/accounts/login/")
    alice.cookies["sessionid"] = "x" * 32  # a key no session has
    assert alice.get(page(news)).status_code == 302
