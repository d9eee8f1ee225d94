"""Attributes on the annotate page: the panel, one set-attributes action (one version), undo, the rows."""

import pytest
from django.urls import reverse

from annotator.annotations.models import SpanAttribute
from annotator.projects.models import EntityTypeAttribute
from tests import hostile
from tests.integration.test_annotate import HTMX, act, span

pytestmark = pytest.mark.django_db


@pytest.fixture
def attributes(news):
    negated = EntityTypeAttribute.objects.create(
        entity_type=news.person, name="negated", kind="boolean", position=0
    )
    certainty = EntityTypeAttribute.objects.create(
        entity_type=news.person, name="certainty", kind="choice", choices=["low", hostile.SCRIPT], position=1
    )
    role = EntityTypeAttribute.objects.create(
        entity_type=news.person, name=hostile.ORG, kind="text", position=2
    )
    return negated, certainty, role


def values(the_span):
    return {
        row.attribute.name: row.value
        for row in SpanAttribute.objects.filter(span=the_span).select_related("attribute")
    }


def test_the_panel_shows_the_types_attributes_with_the_spans_values(client, news, attributes):
    negated, _, role = attributes
    person = span(news)
    client.force_login(news.annotator)
    url = reverse("review:attributes", args=[news.article.pk])
    page = client.get(url, {"span": person.pk}).content.decode()
    assert f'<select id="attribute-{negated.pk}" name="attribute-{negated.pk}">' in page
    assert '<option value="&lt;script&gt;window.__pwned=&quot;script&quot;;alert(1)&lt;/script&gt;">' in page
    assert f'<input type="text" id="attribute-{role.pk}" name="attribute-{role.pk}" value=""' in page
    assert "<script>" not in page
    gpe = span(news, (25, 30), news.gpe)
    assert "has no attributes" in client.get(url, {"span": gpe.pk}).content.decode()
    client.force_login(news.manager)  # someone else's set is not theirs to open here
    assert client.get(url, {"span": person.pk}).status_code == 404


def test_setting_and_clearing_in_one_action_and_one_undo(client, news, attributes):
    negated, certainty, role = attributes
    person = span(news)
    client.force_login(news.annotator)
    before = news.annotation_set.version
    response = act(
        client, news, "set-attributes", span=person.pk,
        **{f"attribute-{negated.pk}": "true", f"attribute-{certainty.pk}": hostile.SCRIPT, f"attribute-{role.pk}": ""},
    )  # fmt: skip
    assert response.status_code == 200
    assert news.annotation_set.version == before + 1
    assert values(person) == {"negated": True, "certainty": hostile.SCRIPT}
    body = response.content.decode()
    assert "negated: yes &#183; certainty: &lt;script&gt;" in body
    assert 'data-action="attributes"' in body
    act(
        client,
        news,
        "set-attributes",
        span=person.pk,
        **{f"attribute-{negated.pk}": "false", f"attribute-{certainty.pk}": ""},
    )
    assert values(person) == {"negated": False}
    client.post(
        reverse("review:undo", args=[news.article.pk]), {"version": news.annotation_set.version}, **HTMX
    )
    assert values(person) == {"negated": True, "certainty": hostile.SCRIPT}


def test_undoing_a_type_change_or_a_delete_brings_the_attribute_values_back(client, news, attributes):
    negated, certainty, role = attributes
    person = span(news)
    client.force_login(news.annotator)
    act(
        client, news, "set-attributes", span=person.pk,
        **{f"attribute-{negated.pk}": "true", f"attribute-{certainty.pk}": "low", f"attribute-{role.pk}": "host"},
    )  # fmt: skip
    kept = {"negated": True, "certainty": "low", hostile.ORG: "host"}
    assert values(person) == kept
    changed = act(client, news, "change-span", span=person.pk, entity_type=news.org.pk)
    assert changed.status_code == 200
    person.refresh_from_db()
    assert (person.entity_type, values(person)) == (news.org, {})  # ORG has none of PERSON's attributes
    before = news.annotation_set.version
    undone = client.post(
        reverse("review:undo", args=[news.article.pk]), {"version": news.annotation_set.version}, **HTMX
    )
    assert undone.status_code == 200
    news.annotation_set.refresh_from_db()
    assert news.annotation_set.version == before + 1  # the type and the values: one version
    person.refresh_from_db()
    assert (person.entity_type, values(person)) == (news.person, kept)

    act(client, news, "delete-span", span=person.pk)
    client.post(
        reverse("review:undo", args=[news.article.pk]), {"version": news.annotation_set.version}, **HTMX
    )
    (restored,) = news.annotation_set.spans.all()
    assert ((restored.start, restored.end), values(restored)) == ((person.start, person.end), kept)


def test_bad_and_unchanged_values_are_refused_and_stale_versions_conflict(client, news, attributes):
    negated, certainty, _ = attributes
    person = span(news)
    client.force_login(news.annotator)
    bad = act(client, news, "set-attributes", span=person.pk, **{f"attribute-{certainty.pk}": "high"})
    assert "certainty is one of" in bad.content.decode()
    nothing = act(client, news, "set-attributes", span=person.pk, **{f"attribute-{negated.pk}": ""})
    assert "The attributes are as they were: nothing to save." in nothing.content.decode()
    stale = act(
        client, news, "set-attributes", span=person.pk, version=0, **{f"attribute-{negated.pk}": "true"}
    )
    assert stale.status_code == 409
    assert values(person) == {}


def test_the_read_page_shows_the_values(client, news, attributes):
    negated = attributes[0]
    person = span(news)
    SpanAttribute.objects.create(span=person, attribute=negated, value=True)
    client.force_login(news.annotator)
    page = client.get(news.article.get_absolute_url()).content.decode()
    assert '<small class="attribute-values"><bdi>negated</bdi>: <bdi>yes</bdi></small>' in page
