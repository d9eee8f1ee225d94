"""The annotate page from its skeleton (`review.annotate_page`) is the page the template writes, byte for
byte, in every state that shapes it, and every change to what shapes it shows on the next open."""

import re

import pytest
from django.urls import reverse

from annotator.annotations import services
from annotator.projects.models import Role
from annotator.projects.services import update_guidelines
from annotator.review import annotate_page, views
from annotator.review.comments import add_comment
from tests import hostile
from tests.factories import (
    ArticleFactory,
    EntityTypeFactory,
    MembershipFactory,
    ProjectFactory,
    SuggestionFactory,
)
from tests.integration.test_annotate_page_render import rich  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(client, monkeypatch):
    """`pages(url)`: the page through its skeleton and through the template, CSRF tokens blanked (each
    response masks the token anew); asserts that the first came from a skeleton."""
    made = []

    def spied(request, context):
        page = annotate_page.from_skeleton(request, context)
        made.append(page is not None)
        return page

    monkeypatch.setattr(views, "from_skeleton", spied)

    def both(url):
        from_skeleton = client.get(url)
        assert made.pop() is True
        monkeypatch.setattr(views, "from_skeleton", lambda request, context: None)
        try:
            from_template = client.get(url)
        finally:
            monkeypatch.setattr(views, "from_skeleton", spied)
        assert from_skeleton.status_code == from_template.status_code == 200
        assert from_skeleton["Content-Type"] == from_template["Content-Type"]
        return _blank_tokens(from_skeleton.content.decode()), _blank_tokens(from_template.content.decode())

    both.made = made
    return both


def _blank_tokens(html):
    html = re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]+"', r'\1"', html)
    return re.sub(r'("X-CSRFToken": ")[^"]+"', r'\1"', html)


def _page(article, gold=False):
    url = reverse("review:annotate", args=[article.pk])
    return f"{url}?set=gold" if gold else url


def _version(annotation_set):
    annotation_set.refresh_from_db()
    return annotation_set.version


def test_a_rich_hostile_page_is_the_template_s(client, rich, pages):  # noqa: F811 - the fixture
    client.force_login(rich.annotator)
    from_skeleton, from_template = pages(_page(rich.article))
    assert from_skeleton == from_template
    assert "\x00" not in from_skeleton
    assert from_skeleton.count('class="row span"') == 8
    assert '<option value="">The whole article</option>' in from_skeleton  # spans to comment on


def test_a_hostile_project_untitled_article_and_types_without_keys_are_the_template_s(client, news, pages):
    project = ProjectFactory(name=hostile.PROJECT_NAME, slug="hostile")
    MembershipFactory(project=project, user=news.annotator, role=Role.ANNOTATOR)
    EntityTypeFactory(project=project, name=hostile.PERSON, key="")
    EntityTypeFactory(project=project, name=hostile.ORG, key="o")
    article = ArticleFactory(
        project=project, text=f"{hostile.SCRIPT} {hostile.ARABIC}", title="", external_id=hostile.CLOSERS
    )
    SuggestionFactory(article=article, start=0, end=8, entity_type=project.entity_types.first(),
                      source=hostile.SVG)  # fmt: skip
    client.force_login(news.annotator)
    from_skeleton, from_template = pages(_page(article))
    assert from_skeleton == from_template
    assert "<h1>(untitled)</h1>" in from_skeleton
    assert (
        "<title>Annotate · &lt;/textarea&gt;&lt;/title&gt;&lt;/style&gt; · Annotator</title>" in from_skeleton
    )
    assert "<script>" not in from_skeleton.split("</head>")[1]
    assert 'id="comment-about"' not in from_skeleton  # no span to comment on


def test_a_project_without_types_is_the_template_s(client, news, pages):
    project = ProjectFactory(name="Bare", slug="bare")
    MembershipFactory(project=project, user=news.annotator, role=Role.ANNOTATOR)
    article = ArticleFactory(project=project, text="Nothing to mark yet.")
    client.force_login(news.annotator)
    client.get(_page(article))  # the first open makes her set
    from_skeleton, from_template = pages(_page(article))
    assert from_skeleton == from_template


def test_submitted_gold_newer_guidelines_and_staff_pages_are_the_template_s(client, news, pages):
    update_guidelines(project=news.project, text="Mark **people**.", by=news.manager)
    annotation_set = services.get_or_create_own_set(article=news.article, user=news.manager)
    update_guidelines(project=news.project, text=f"v2: {hostile.SCRIPT} *people*.", by=news.manager)
    services.create_span(annotation_set=annotation_set, start=0, end=16, entity_type=news.person,
                         by=news.manager, expected_version=1)  # fmt: skip
    client.force_login(news.manager)
    from_skeleton, from_template = pages(_page(news.article))
    assert from_skeleton == from_template
    assert 'Guidelines v2 <small class="muted">(you started under v1)</small>' in from_skeleton
    assert "Curate</a>" in from_skeleton

    services.submit_set(
        annotation_set=annotation_set, by=news.manager, expected_version=_version(annotation_set)
    )
    from_skeleton, from_template = pages(_page(news.article))
    assert from_skeleton == from_template
    assert 'id="reopen-form"' in from_skeleton

    news.manager.is_staff = True
    news.manager.save(update_fields=["is_staff"])
    from_skeleton, from_template = pages(_page(news.article, gold=True))
    assert from_skeleton == from_template
    assert "Gold of <bdi>" in from_skeleton
    assert ">Sign-ins</a>" in from_skeleton


def test_every_change_to_what_shapes_the_page_shows_on_the_next_open(client, news, pages):
    """The skeleton is kept by shape: each of these changes makes another shape, and the page the skeleton
    gives is still the template's."""
    client.force_login(news.annotator)
    url = _page(news.article)
    seen = [pages(url)[0]]

    def changed():
        from_skeleton, from_template = pages(url)
        assert from_skeleton == from_template
        assert from_skeleton != seen[-1]
        seen.append(from_skeleton)
        return from_skeleton

    news.person.name = "HUMAN"
    news.person.save(update_fields=["name"])
    assert ">HUMAN<" in changed()
    news.person.key = "h"
    news.person.save(update_fields=["key"])
    assert "<kbd>h</kbd>" in changed()
    EntityTypeFactory(project=news.project, name="EVENT", key="e")
    assert ">EVENT<" in changed()
    news.project.name = "Renamed news"
    news.project.save(update_fields=["name"])
    assert ">Renamed news</a>" in changed()
    update_guidelines(project=news.project, text="Mark people.", by=news.manager)
    assert "Guidelines v1" in changed()
    SuggestionFactory(article=news.article, start=0, end=6, entity_type=news.person, source="tagger")
    assert "<option>tagger</option>" in changed()
    services.create_span(annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person,
                         by=news.annotator, expected_version=_version(news.annotation_set))  # fmt: skip
    assert 'id="comment-about"' in changed()
    news.article.title = "Another title"
    news.article.save(update_fields=["title"])
    assert "<h1>Another title</h1>" in changed()
    news.project.memberships.filter(user=news.annotator).update(role=Role.CURATOR)
    assert "Curate</a>" in changed()
    services.submit_set(annotation_set=news.annotation_set, by=news.annotator,
                        expected_version=_version(news.annotation_set))  # fmt: skip
    assert "Reopen to edit" in changed()
    news.annotator.is_staff = True
    news.annotator.save(update_fields=["is_staff"])
    assert ">Users</a>" in changed()


def test_articles_of_a_project_share_a_skeleton(client, news):
    other = ArticleFactory(project=news.project, text="Ivan Tertel visited Minsk.", title="Tertel")
    client.force_login(news.annotator)
    client.get(_page(other))  # makes her set
    client.get(_page(news.article))
    response = client.get(_page(other))
    assert response.templates == []  # no template ran
    html = response.content.decode()
    assert "<h1>Tertel</h1>" in html
    assert f'action="/articles/{other.pk}/annotate/submit/"' in html


def test_pages_with_comments_or_messages_come_from_the_template(client, news, pages):
    client.force_login(news.annotator)
    add_comment(article=news.article, author=news.annotator, text=f"About {hostile.IMG}")
    response = client.get(_page(news.article))
    assert [template.name for template in response.templates][:1] == ["review/annotate.html"]
    assert "About &lt;img data-pwned" in response.content.decode()

    other = ArticleFactory(project=news.project, text="Ivan Tertel visited Minsk.", title="Tertel")
    submitted = client.post(reverse("review:submit", args=[other.pk]), {"version": 1}, follow=False)
    assert submitted.status_code == 302
    response = client.get(_page(other))  # the redirect's page: "Submitted ..." shown once
    html = response.content.decode()
    assert '<p class="message message-success">Submitted' in html
    assert "message-success" not in client.get(_page(other)).content.decode()
