"""The schema over the API: members read, managers change; conflicts answer 409 with the counts."""

import pytest
from django.urls import reverse

from annotator.annotations.models import Relation, Span
from annotator.annotations.services import create_relation, create_span
from annotator.projects.models import EntityType, EntityTypeAttribute, RelationType, Role
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import EntityTypeFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
JSON = "application/json"


def visit(news):
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


def test_managers_build_a_schema_through_the_api(client, news):
    client.force_login(news.manager)
    types = reverse("api:entity-type-list", args=[news.project.pk])
    made = client.post(types, {"name": "DRUG", "key": "x", "colour": "#ffd6a5"}, content_type=JSON)
    assert made.status_code == 201
    body = made.json()
    assert body["legibility"] == {
        "colour": "#ffd6a5",
        "chip_text": 13.86,
        "underline": 1.36,
        "proposed": "#dd7800",
        "legible": False,
    }
    assert body["position"] == 4
    clash = client.post(types, {"name": "DRUG2", "key": "X"}, content_type=JSON)
    assert clash.json()["error"]["fields"] == {"key": ["Another entity type of the project has the key 'X'."]}
    drug = body["id"]
    attributes = reverse("api:attribute-list", args=[news.project.pk, drug])
    attribute = client.post(attributes, {"name": "negated", "kind": "boolean"}, content_type=JSON)
    assert attribute.status_code == 201
    bad = client.post(attributes, {"name": "certainty", "kind": "choice", "choices": []}, content_type=JSON)
    assert bad.json()["error"]["fields"] == {
        "choices": ["A one-of-a-list attribute needs at least one value."]
    }
    renamed = client.patch(
        reverse("api:entity-type-detail", args=[news.project.pk, drug]),
        {"name": "MEDICINE"},
        content_type=JSON,
    )
    assert (renamed.json()["name"], renamed.json()["attributes"][0]["name"]) == ("MEDICINE", "negated")
    relations = reverse("api:relation-type-list", args=[news.project.pk])
    relation = client.post(
        relations, {"name": "takes", "head_types": ["PERSON"], "tail_types": ["MEDICINE"]}, content_type=JSON
    )
    assert relation.status_code == 201
    assert (relation.json()["head_types"], relation.json()["tail_types"], relation.json()["directed"]) == (
        ["PERSON"],
        ["MEDICINE"],
        True,
    )
    unknown = client.post(relations, {"name": "x", "head_types": ["NOPE"]}, content_type=JSON)
    assert unknown.json()["error"]["fields"] == {"head_types": ["Object with name=NOPE does not exist."]}


def test_used_types_need_a_choice_and_narrowing_needs_consent(client, news):
    visit(news)
    client.force_login(news.manager)
    detail = reverse("api:entity-type-detail", args=[news.project.pk, news.gpe.pk])
    refused = client.delete(detail)
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        "GPE is used by 1 spans (0 in gold), 1 relations and 0 suggestions: merge it into another type, "
        "or delete with ?annotations=delete."
    )
    visited = reverse("api:relation-type-detail", args=[news.project.pk, news.visited.pk])
    narrowed = client.patch(visited, {"tail_types": ["ORG"]}, content_type=JSON)
    assert narrowed.status_code == 409
    assert "1 relations of this type would no longer fit" in narrowed.json()["error"]["message"]
    merged = client.post(
        reverse("api:entity-type-merge", args=[news.project.pk, news.gpe.pk]),
        {"into": news.org.pk},
        content_type=JSON,
    )
    assert merged.json() == {
        "spans_moved": 1,
        "duplicates_removed": 0,
        "suggestions_moved": 0,
        "attributes_moved": 0,
    }
    assert sorted(Span.objects.values_list("entity_type__name", flat=True)) == ["ORG", "PERSON"]
    assert Relation.objects.count() == 1
    gone = client.delete(
        reverse("api:relation-type-detail", args=[news.project.pk, news.visited.pk]) + "?annotations=delete"
    )
    assert gone.json() == {"relations": 1, "sets": 1, "suggestions": 0}
    assert not RelationType.objects.filter(name="visited").exists()
    deleted = client.delete(
        reverse("api:entity-type-detail", args=[news.project.pk, news.org.pk]) + "?annotations=delete"
    )
    assert deleted.json()["spans"] == 1
    assert list(Span.objects.values_list("entity_type__name", flat=True)) == ["PERSON"]


def test_a_merge_into_another_projects_type_does_not_exist(client, news, outsider):
    foreign = EntityTypeFactory(project=outsider.memberships.get().project, name="FOREIGN")
    client.force_login(news.manager)
    url = reverse("api:entity-type-merge", args=[news.project.pk, news.gpe.pk])
    assert client.post(url, {"into": foreign.pk}, content_type=JSON).status_code == 404
    assert EntityType.objects.filter(pk=news.gpe.pk).exists()


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CURATOR])
def test_annotators_and_curators_read_but_cannot_change_the_schema(client, news, role, outsider):
    user = UserFactory(username="someone")
    MembershipFactory(project=news.project, user=user, role=role)
    client.force_login(user)
    types = reverse("api:entity-type-list", args=[news.project.pk])
    assert [t["name"] for t in client.get(types).json()] == ["DATE", "GPE", "ORG", "PERSON"]
    assert client.post(types, {"name": "X"}, content_type=JSON).status_code == 403
    assert (
        client.delete(reverse("api:entity-type-detail", args=[news.project.pk, news.date.pk])).status_code
        == 403
    )
    assert (
        client.patch(
            reverse("api:relation-type-detail", args=[news.project.pk, news.visited.pk]),
            {"name": "y"},
            content_type=JSON,
        ).status_code
        == 403
    )
    client.force_login(outsider)
    assert client.get(types).status_code == 404
    assert EntityType.objects.filter(project=news.project).count() == 4
    assert not EntityTypeAttribute.objects.exists()


def test_deleting_an_attribute_with_values_needs_the_choice(client, news):
    from annotator.annotations.models import SpanAttribute

    visit(news)
    attribute = EntityTypeAttribute.objects.create(entity_type=news.person, name="negated", kind="boolean")
    SpanAttribute.objects.create(
        span=Span.objects.get(entity_type=news.person), attribute=attribute, value=True
    )
    client.force_login(news.manager)
    url = reverse("api:attribute-detail", args=[news.project.pk, news.person.pk, attribute.pk])
    refused = client.delete(url)
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        "1 spans have a value of negated: delete with ?annotations=delete to remove them too."
    )
    assert client.delete(url + "?annotations=delete").status_code == 204
    assert not SpanAttribute.objects.exists()
