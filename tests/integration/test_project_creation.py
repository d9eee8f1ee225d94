"""Creating projects: the page, the API and the command, from presets, schema files and copies."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotator.kb.models import Alias, KBEntity, KnowledgeBase
from annotator.projects.creation import create_project, schema_of
from annotator.projects.models import EntityTypeAttribute, GuidelineVersion, Membership, Project, Role
from annotator.projects.presets import preset_schema
from annotator.projects.schema_spec import SchemaError, load_schema_text, parse_schema
from annotator.projects.services import update_guidelines
from tests import hostile
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SCHEMA_YAML = """
entity_types:
  - name: DRUG
    key: d
    colour: "#1F9BD1"
    attributes:
      - {name: negated, kind: boolean}
      - {name: certainty, kind: choice, choices: [low, high]}
  - {name: DOSE, description: An amount}
relation_types:
  - {name: has_dose, head: [DRUG], tail: [DOSE]}
guidelines: "# Drugs\\nMark every drug."
settings: {annotators_per_article: 2, blind: false}
"""


def schema_names(project):
    return (
        list(project.entity_types.values_list("name", "key", "colour")),
        [
            (
                r.name,
                r.directed,
                sorted(t.name for t in r.head_types.all()),
                sorted(t.name for t in r.tail_types.all()),
            )
            for r in project.relation_types.all()
        ],
    )


def test_a_yaml_schema_makes_the_types_attributes_relations_guidelines_and_settings():
    user = UserFactory(username="rita")
    project = create_project(
        name="Drugs", by=user, language="de", schema=load_schema_text(SCHEMA_YAML, filename="s.yaml")
    )
    assert (project.slug, project.language, project.annotators_per_article, project.blind) == (
        "drugs",
        "de",
        2,
        False,
    )
    assert schema_names(project) == (
        [("DRUG", "d", "#1f9bd1"), ("DOSE", "", "#e0712b")],  # a missing colour comes from the palette
        [("has_dose", True, ["DRUG"], ["DOSE"])],
    )
    assert list(
        EntityTypeAttribute.objects.filter(entity_type__project=project).values_list(
            "name", "kind", "choices"
        )
    ) == [
        ("negated", "boolean", []),
        ("certainty", "choice", ["low", "high"]),
    ]
    assert GuidelineVersion.objects.get(project=project).text == "# Drugs\nMark every drug."
    assert list(Membership.objects.filter(project=project).values_list("user__username", "role")) == [
        ("rita", "manager")
    ]
    # The same name again gets a slug of its own.
    assert create_project(name="Drugs", by=user).slug == "drugs-2"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"entity_type": []},
            "the schema: unknown key 'entity_type'; the keys are entity_types, relation_types, guidelines, settings.",
        ),
        (
            {"entity_types": [{"name": "A", "colour": "red"}]},
            "entity_types[0].colour: Give the colour as #rrggbb.",
        ),
        (
            {"entity_types": [{"name": "A", "key": "pp"}]},
            "entity_types[0].key: A type's key is a single letter or digit.",
        ),
        (
            {"entity_types": [{"name": "A"}, {"name": "A"}]},
            "entity_types: two have the name 'A'; each name may appear once.",
        ),
        (
            {"entity_types": [{"name": "A", "key": "a"}, {"name": "B", "key": "a"}]},
            "entity_types: two have the key 'a'; each key may appear once.",
        ),
        ({"entity_types": [{"key": "a"}]}, "entity_types[0].name: required."),
        (
            {"relation_types": [{"name": "r", "head": ["X"]}]},
            "relation_types[0].head: 'X' is not one of the entity_types.",
        ),
        (
            {"entity_types": [{"name": "A", "attributes": [{"name": "c", "kind": "choice"}]}]},
            "entity_types[0].attributes[0].choices: A one-of-a-list attribute needs at least one value.",
        ),
        (
            {"entity_types": [{"name": "A", "attributes": [{"name": "c", "kind": "number"}]}]},
            "entity_types[0].attributes[0].kind: one of boolean, choice, text, not 'number'.",
        ),
        (
            {"settings": {"annotators_per_article": True}},
            "settings.annotators_per_article: expected int, not True.",
        ),
        (
            {"settings": {"colour": 1}},
            "settings: unknown key 'colour'; the keys are annotators_per_article, allow_overlapping_spans, "
            "assignment_strategy, blind, abandon_after_minutes, promote_to_gold.",
        ),
    ],
)
def test_schema_errors_name_the_key(document, message):
    with pytest.raises(SchemaError) as caught:
        parse_schema(document)
    assert str(caught.value) == message


def test_the_presets():
    conll = preset_schema("conll")
    assert [(t.name, t.key) for t in conll.entity_types] == [
        ("PER", "p"),
        ("ORG", "o"),
        ("LOC", "l"),
        ("MISC", "m"),
    ]
    news = preset_schema("news")
    assert [t.name for t in news.entity_types] == ["PERSON", "ORG", "GPE", "LOC", "DATE", "EVENT", "NORP"]
    assert len(news.relation_types) == 8
    assert preset_schema("empty").entity_types == ()
    with pytest.raises(KeyError, match="No preset 'x'"):
        preset_schema("x")


def test_a_copy_takes_schema_settings_guidelines_and_kbs(news):
    EntityTypeAttribute.objects.create(entity_type=news.person, name="role", kind="text")
    update_guidelines(project=news.project, text="Be careful.", by=None)
    Alias.objects.create(entity=news.naryshkin, text="Naryshkin")
    copy = create_project(name="Copy", by=news.manager, copy_from=news.project)
    assert schema_names(copy) == schema_names(news.project)
    assert schema_of(copy).as_document() == schema_of(news.project).as_document()
    kb = KnowledgeBase.objects.get(project=copy)
    assert sorted(KBEntity.objects.filter(knowledge_base=kb).values_list("kb_id", "type")) == [
        ("minsk", "GPE"),
        ("sergey-naryshkin", "PERSON"),
    ]
    assert list(Alias.objects.filter(knowledge_base=kb).values_list("text", "entity__kb_id")) == [
        ("Naryshkin", "sergey-naryshkin")
    ]
    assert copy.articles.count() == 0


def test_the_page_creates_from_a_preset_and_only_staff_may_by_default(client, settings):
    user = UserFactory(username="nina")
    client.force_login(user)
    url = reverse("projects:create")
    assert client.get(url).status_code == 403
    assert "New project" not in client.get(reverse("projects:list")).content.decode()
    settings.ANNOTATOR_PROJECT_CREATORS = "everyone"
    assert 'href="/projects/new/"' in client.get(reverse("projects:list")).content.decode()
    response = client.post(url, {"name": hostile.PROJECT_NAME[:200], "language": "en", "start": "conll"})
    project = Project.objects.get()
    assert response.status_code == 302
    assert response["Location"] == project.get_absolute_url()
    assert [t.name for t in project.entity_types.all()] == ["PER", "ORG", "LOC", "MISC"]
    assert Membership.objects.get(project=project).role == Role.MANAGER


def test_the_page_reads_a_schema_file_and_shows_its_error(client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.ANNOTATOR_PROJECT_CREATORS = "everyone"
    client.force_login(UserFactory(username="nina"))
    bad = SimpleUploadedFile(
        "s.json", json.dumps({"entity_types": [{"name": hostile.PERSON, "colour": "x"}]}).encode()
    )
    response = client.post(
        reverse("projects:create"), {"name": "P", "language": "en", "start": "file", "schema_file": bad}
    )
    assert response.status_code == 400
    assert "entity_types[0].colour: Give the colour as #rrggbb." in response.content.decode()
    good = SimpleUploadedFile("s.yaml", SCHEMA_YAML.encode())
    client.post(
        reverse("projects:create"), {"name": "P", "language": "en", "start": "file", "schema_file": good}
    )
    assert [t.name for t in Project.objects.get().entity_types.all()] == ["DRUG", "DOSE"]


def test_copying_needs_a_project_you_manage(client, news, settings):
    settings.ANNOTATOR_PROJECT_CREATORS = "everyone"
    client.force_login(news.annotator)
    response = client.post(
        reverse("projects:create"),
        {"name": "C", "language": "en", "start": "copy", "copy_from": news.project.pk},
    )
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()


def test_the_api_creates_from_a_preset_a_schema_or_a_copy(client, news, outsider, settings):
    url = reverse("api:project-list")
    client.force_login(news.manager)
    assert (
        client.post(url, {"name": "X", "preset": "conll"}, content_type="application/json").status_code == 403
    )
    settings.ANNOTATOR_PROJECT_CREATORS = "everyone"
    made = client.post(
        url, {"name": "X", "preset": "conll", "language": "fr"}, content_type="application/json"
    )
    assert made.status_code == 201
    body = made.json()
    assert (body["role"], body["language"], [t["name"] for t in body["entity_types"]]) == (
        "manager",
        "fr",
        ["PER", "ORG", "LOC", "MISC"],
    )
    bad = client.post(
        url,
        {"name": "Y", "schema": {"entity_types": [{"name": "A", "key": "!"}]}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"]["schema"] == [
        "entity_types[0].key: A type's key is a single letter or digit."
    ]
    both = client.post(
        url, {"name": "Y", "preset": "conll", "copy_from": news.project.pk}, content_type="application/json"
    )
    assert both.json()["error"]["fields"]["copy_from"] == [
        "Give one of preset, schema and copy_from, not preset and copy_from."
    ]
    copy = client.post(url, {"name": "Y", "copy_from": news.project.pk}, content_type="application/json")
    assert [t["name"] for t in copy.json()["entity_types"]] == [
        "DATE",
        "GPE",
        "ORG",
        "PERSON",
    ]  # the order of the original
    client.force_login(outsider)  # another project's id in the body does not exist for them
    assert (
        client.post(
            url, {"name": "Z", "copy_from": news.project.pk}, content_type="application/json"
        ).status_code
        == 404
    )
    client.force_login(news.annotator)
    assert (
        client.post(
            url, {"name": "Z", "copy_from": news.project.pk}, content_type="application/json"
        ).status_code
        == 403
    )


def test_the_command_reads_a_file_and_names_the_bad_key(tmp_path, capsys):
    UserFactory(username="rita")
    path = tmp_path / "schema.yaml"
    path.write_text(SCHEMA_YAML, encoding="utf-8")
    call_command("create_project", "Drugs", "--manager", "rita", "--schema", str(path), "--language", "nl")
    assert "Created project Drugs (id" in capsys.readouterr().out
    assert Project.objects.get().language == "nl"
    path.write_text('{"entity_types": [{"name": "A", "colour": "#12"}]}', encoding="utf-8")
    with pytest.raises(
        CommandError, match=r"schema.yaml: entity_types\[0\].colour: Give the colour as #rrggbb."
    ):
        call_command("create_project", "Other", "--manager", "rita", "--schema", str(path))
    with pytest.raises(CommandError, match="There is no active user named 'nobody'."):
        call_command("create_project", "Other", "--manager", "nobody", "--preset", "conll")
    call_command("create_project", "Copy", "--manager", "rita", "--copy-from", "drugs")
    assert schema_names(Project.objects.get(slug="copy")) == schema_names(Project.objects.get(slug="drugs"))
