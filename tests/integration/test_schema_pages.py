"""The schema editor pages: managers only, hostile names escaped, conflicts shown before anything goes."""

import re

import pytest
from django.urls import reverse

from annotator.annotations.models import Relation, Span
from annotator.annotations.services import create_relation, create_span
from annotator.projects.models import EntityType, EntityTypeAttribute, RelationType, Role
from tests import hostile
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def annotate_visit(news):
    aset = news.annotation_set
    v = aset.version
    head = create_span(
        annotation_set=aset,
        start=NARYSHKIN[0],
        end=NARYSHKIN[1],
        entity_type=news.person,
        by=None,
        expected_version=v,
    )
    tail = create_span(
        annotation_set=aset,
        start=MINSK[0],
        end=MINSK[1],
        entity_type=news.gpe,
        by=None,
        expected_version=v + 1,
    )
    create_relation(
        annotation_set=aset, head=head, tail=tail, relation_type=news.visited, by=None, expected_version=v + 2
    )


def test_managers_add_and_edit_types_with_hostile_names(client, news):
    client.force_login(news.manager)
    new = reverse("projects:entity_type_new", args=[news.project.pk])
    response = client.post(
        new,
        {
            "name": hostile.PERSON,
            "key": "x",
            "colour": "#ffd6a5",
            "description": hostile.TYPE_DESCRIPTION,
            "position": 9,
        },
    )
    assert response.status_code == 302
    made = EntityType.objects.get(name=hostile.PERSON)
    page = client.get(reverse("projects:schema", args=[news.project.pk])).content.decode()
    assert not re.search(r"<\w+ data-pwned", page)
    assert "&lt;b data-pwned&gt;PER&lt;/b&gt;" in page
    assert "Hard to read (chip 13.86:1, underline 1.36:1); try <code>#dd7800</code>" in page
    edit = reverse("projects:entity_type", args=[news.project.pk, made.pk])
    shown = client.get(edit).content.decode()
    assert 'name="use_colour" value="#dd7800"' in shown
    # "Use the proposed colour" keeps the other fields.
    client.post(
        edit,
        {
            "name": "PERSON2",
            "key": "x",
            "colour": "#ffd6a5",
            "description": "",
            "position": 9,
            "use_colour": "#dd7800",
        },
    )
    made.refresh_from_db()
    assert (made.name, made.colour) == ("PERSON2", "#dd7800")
    clash = client.post(edit, {"name": "PERSON2", "key": "P", "colour": "#dd7800", "position": 9})
    assert clash.status_code == 400
    assert "Another entity type of the project has the key &#x27;P&#x27;." in clash.content.decode()


def test_attributes_are_added_on_the_type_page(client, news):
    client.force_login(news.manager)
    url = reverse("projects:attribute_new", args=[news.project.pk, news.person.pk])
    response = client.post(
        url,
        {"name": hostile.ORG, "kind": "choice", "choices": f"sure\n{hostile.SCRIPT}\n", "position": 0},
    )
    assert response.status_code == 302
    attribute = EntityTypeAttribute.objects.get()
    assert (attribute.name, attribute.choices) == (hostile.ORG, ["sure", hostile.SCRIPT])
    page = client.get(
        reverse("projects:entity_type", args=[news.project.pk, news.person.pk])
    ).content.decode()
    assert "&lt;script&gt;window.__pwned" in page
    bad = client.post(url, {"name": "x", "kind": "choice", "choices": "", "position": 0})
    assert "A one-of-a-list attribute needs at least one value." in bad.content.decode()


def test_narrowing_a_relation_type_shows_the_count_and_asks(client, news):
    annotate_visit(news)
    client.force_login(news.manager)
    url = reverse("projects:relation_type", args=[news.project.pk, news.visited.pk])
    data = {
        "name": "visited",
        "directed": "on",
        "head_types": [news.org.pk],
        "tail_types": [news.gpe.pk],
        "position": 0,
    }
    refused = client.post(url, data)
    assert refused.status_code == 400
    assert "1 relations of this type would no longer fit its head and tail types" in refused.content.decode()
    assert Relation.objects.count() == 1
    assert client.post(url, {**data, "remove_unfitting": "on"}).status_code == 302
    assert Relation.objects.count() == 0
    assert list(RelationType.objects.get(pk=news.visited.pk).head_types.values_list("name", flat=True)) == [
        "ORG"
    ]


def test_removing_a_type_shows_counts_then_merges(client, news):
    annotate_visit(news)
    client.force_login(news.manager)
    url = reverse("projects:entity_type_remove", args=[news.project.pk, news.gpe.pk])
    page = client.get(url).content.decode()
    assert '<tr><th scope="row">Spans</th><td class="num">1</td></tr>' in page
    assert '<tr><th scope="row">Relations</th><td class="num">1</td></tr>' in page
    assert client.post(url, {"action": "merge"}).status_code == 400
    response = client.post(url, {"action": "merge", "into": news.org.pk}, follow=True)
    assert (
        "Merged GPE into ORG: 1 spans moved, 0 duplicates folded into ORG&#x27;s spans."
        in response.content.decode()
    )
    assert sorted(Span.objects.values_list("entity_type__name", flat=True)) == ["ORG", "PERSON"]


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CURATOR])
def test_other_members_cannot_change_the_schema(client, news, role, outsider):
    user = UserFactory(username="someone")
    MembershipFactory(project=news.project, user=user, role=role)
    client.force_login(user)
    assert client.get(reverse("projects:schema", args=[news.project.pk])).status_code == 403
    assert (
        client.post(
            reverse("projects:entity_type_remove", args=[news.project.pk, news.gpe.pk]), {"action": "delete"}
        ).status_code
        == 403
    )
    client.force_login(outsider)
    assert client.get(reverse("projects:schema", args=[news.project.pk])).status_code == 404
    assert EntityType.objects.filter(pk=news.gpe.pk).exists()


def test_deleting_an_attribute_needs_the_confirmation(client, news):
    attribute = EntityTypeAttribute.objects.create(entity_type=news.person, name="negated", kind="boolean")
    client.force_login(news.manager)
    url = reverse("projects:attribute_remove", args=[news.project.pk, news.person.pk, attribute.pk])
    assert 'name="confirm" value="delete"' in client.get(url).content.decode()
    assert client.post(url).status_code == 400
    assert client.post(url, {"confirm": "delete"}).status_code == 302
    assert not EntityTypeAttribute.objects.exists()
