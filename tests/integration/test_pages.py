"""Pages: what they show, that user text is shown literally, and that their query counts stay flat."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations import services
from annotator.annotations.models import SetStatus
from annotator.projects.models import EntityType, Role
from annotator.projects.services import update_guidelines
from tests.factories import ArticleFactory, EntityTypeFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

# Markup, event handlers, a javascript: URL, template syntax, an RTL override, emoji and a ZWJ sequence.
HOSTILE = (
    '<script>alert("x")</script><img src=x onerror=alert(1)> {{ 7|add:1 }} {% now "Y" %} '
    "\u202egnp.exe \U0001f469\u200d\U0001f469\u200d\U0001f467 javascript:alert(1) &amp; </textarea>"
)


def assert_shown_literally(response, text=HOSTILE):
    html = response.content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "{{ 7|add:1 }}" in html  # template syntax in data is data, not rendered
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "\u202egnp.exe" in html
    assert "\U0001f469\u200d\U0001f469\u200d\U0001f467" in html


@pytest.fixture
def hostile(news):
    news.project.name = f"Project {HOSTILE}"
    news.project.description = HOSTILE
    news.project.save()
    news.article.title = HOSTILE
    news.article.metadata = {"source": HOSTILE}
    news.article.save()
    EntityType.objects.filter(pk=news.person.pk).update(name=HOSTILE[:64], description=HOSTILE)
    span = services.create_span(
        annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person, by=news.annotator,
        expected_version=1,
    )  # fmt: skip
    return news, span


def test_project_list_and_dashboard_show_hostile_names_literally(client, hostile):
    news, _ = hostile
    client.force_login(news.annotator)
    assert_shown_literally(client.get(reverse("projects:list")), HOSTILE)
    assert_shown_literally(client.get(reverse("projects:detail", args=[news.project.pk])))


def test_article_page_shows_hostile_text_literally(client, hostile):
    news, _ = hostile
    text = f"Line one {HOSTILE}\nLine two"
    article = ArticleFactory(project=news.project, text=text, title=HOSTILE)
    client.force_login(news.annotator)
    response = client.get(reverse("articles:detail", args=[article.pk]))
    assert_shown_literally(response)
    assert "Line one" in response.content.decode()


def test_article_page_lists_my_spans_and_links(client, hostile):
    news, span = hostile
    services.link_span(span=span, kb_entity=news.naryshkin, by=news.annotator, expected_version=2)
    client.force_login(news.annotator)
    html = client.get(reverse("articles:detail", args=[news.article.pk])).content.decode()
    assert "Sergey Naryshkin" in html
    assert "[0, 16)" in html
    assert "<code>sergey-naryshkin</code>" in html


def test_guidelines_render_markdown_but_no_script_or_javascript_links(client, news):
    update_guidelines(
        project=news.project,
        text=(
            "# Rules\n\nMark **names**.\n\n<script>alert(1)</script>\n\n"
            "[click](javascript:alert(1)) [docs](https://example.org) <img src=x onerror=alert(1)>\n\n{{ 7|add:1 }}"
        ),
        by=news.manager,
    )
    client.force_login(news.annotator)
    html = client.get(reverse("projects:guidelines", args=[news.project.pk])).content.decode()
    assert "<h1>Rules</h1>" in html
    assert "<strong>names</strong>" in html
    assert "<script>alert(1)" not in html
    assert "javascript:" not in html
    assert "onerror" not in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">docs</a>' in html
    assert "{{ 7|add:1 }}" in html


def test_guidelines_keep_every_version(client, news):
    update_guidelines(project=news.project, text="First rules.", by=news.manager)
    update_guidelines(project=news.project, text="Second rules.", by=news.manager)
    client.force_login(news.annotator)
    url = reverse("projects:guidelines", args=[news.project.pk])
    assert "Second rules." in client.get(url).content.decode()
    old = client.get(url, {"version": 1}).content.decode()
    assert "First rules." in old
    assert "Guidelines, version 1" in old


def test_dashboard_counts_articles_by_status(client, news):
    news.project.annotators_per_article = 1
    news.project.save()
    submitted = ArticleFactory(project=news.project)
    curated = ArticleFactory(project=news.project)
    ArticleFactory(project=news.project)  # new
    own = services.get_or_create_own_set(article=submitted, user=news.annotator)
    services.submit_set(annotation_set=own, by=news.annotator, expected_version=1)
    gold = services.get_or_create_gold_set(article=curated)
    services.submit_set(annotation_set=gold, by=news.manager, expected_version=1)
    assert gold.status == SetStatus.CURATED
    client.force_login(news.annotator)
    response = client.get(reverse("projects:detail", args=[news.project.pk]))
    counts = {status.value: count for status, count in response.context["status_counts"]}
    # news.article has an empty set in progress (the fixture made it).
    assert counts == {"new": 1, "in_progress": 1, "annotated": 1, "curated": 1}
    only_curated = client.get(reverse("projects:detail", args=[news.project.pk]), {"status": "curated"})
    assert [a.pk for a in only_curated.context["page"].object_list] == [curated.pk]


def test_dashboard_search_by_title_or_external_id(client, news):
    ArticleFactory(project=news.project, title="Lukashenko speaks", external_id="bt-7")
    client.force_login(news.annotator)
    url = reverse("projects:detail", args=[news.project.pk])
    assert [a.title for a in client.get(url, {"q": "lukashenko"}).context["page"].object_list] == [
        "Lukashenko speaks"
    ]
    assert [a.title for a in client.get(url, {"q": "BT-7"}).context["page"].object_list] == [
        "Lukashenko speaks"
    ]


def test_dashboard_queries_do_not_grow_with_articles_or_members(client, news):
    client.force_login(news.manager)
    url = reverse("projects:detail", args=[news.project.pk])

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count_queries()
    for _ in range(30):
        article = ArticleFactory(project=news.project)
        services.get_or_create_own_set(article=article, user=news.annotator)
        MembershipFactory(project=news.project, user=UserFactory(), role=Role.ANNOTATOR)
    EntityTypeFactory(project=news.project, name="EVENT")
    assert count_queries() == few


def test_article_page_queries_do_not_grow_with_spans(client, news):
    client.force_login(news.annotator)
    url = reverse("articles:detail", args=[news.article.pk])

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count_queries()
    for start in [at for at in range(0, 40, 2) if not news.article.text[at].isspace()]:  # no blank span
        span = services.create_span(
            annotation_set=news.annotation_set, start=start, end=start + 1, entity_type=news.person,
            by=news.annotator, expected_version=news.annotation_set.version,
        )  # fmt: skip
        services.link_span(
            span=span, kb_entity=news.minsk, by=news.annotator, expected_version=news.annotation_set.version
        )
    assert count_queries() == few


def test_schema_css_gives_each_type_its_colour_and_a_readable_text_colour(client, news):
    EntityType.objects.filter(pk=news.org.pk).update(colour="#1d3557")
    EntityType.objects.filter(pk=news.gpe.pk).update(colour="red;}*{")  # bypassing validation, 7 characters
    client.force_login(news.annotator)
    response = client.get(reverse("projects:schema_css", args=[news.project.pk]))
    assert response["Content-Type"] == "text/css; charset=utf-8"
    css = response.content.decode()
    org = f".et-{news.org.pk} {{ --entity-colour: #1d3557; --entity-text: #ffffff; --entity-edge: #1d3557; }}"
    assert org in css
    person = f".et-{news.person.pk} {{ --entity-colour: #ffd6a5; --entity-text: #111111; --entity-edge: #ab8f6f; }}"
    assert person in css  # a pale colour's edge is darkened to 3:1 against the page
    assert "}*{" not in css
    assert f".et-{news.gpe.pk}" not in css


def test_every_page_carries_a_strict_content_security_policy(client, news):
    client.force_login(news.annotator)
    for url in [
        reverse("projects:list"),
        reverse("projects:detail", args=[news.project.pk]),
        reverse("login"),
    ]:
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy


def test_login_with_the_right_password_and_not_the_wrong_one(client, news):
    url = reverse("login")
    wrong = client.post(url, {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200
    assert "Your username and password did not match." in wrong.content.decode()
    right = client.post(url, {"username": "alice", "password": "correct horse battery staple"})
    assert right.status_code == 302
    assert right["Location"] == reverse("projects:list")
    assert client.get(reverse("projects:list")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("projects:list")).status_code == 302


def test_there_is_no_sign_up(client):
    assert client.get("/accounts/signup/").status_code in (302, 404)
    assert client.get("/accounts/register/").status_code in (302, 404)


def test_health_check_answers_without_login(client, db):
    response = client.get(reverse("healthz"))
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "up"})


def test_api_errors_have_one_json_shape(client, news, outsider):
    anonymous = client.get(reverse("api:project-list"))
    assert anonymous.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "fields": {},
        }
    }
    client.force_login(outsider)
    missing = client.get(reverse("api:project-detail", args=[news.project.pk]))
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_the_openapi_schema_is_valid_and_public(client, db):
    from drf_spectacular.validation import validate_schema

    response = client.get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert "/api/v1/projects/{id}/" in schema["paths"]


def test_the_favicon_is_served_to_anyone(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
