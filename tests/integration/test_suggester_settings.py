"""A project's suggester settings (pipeline, label map, learning), its language, and curating gold in bulk:
pages, API, commands and the import of curated gold. No training here (see test_suggester_training.py)."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.annotations.services import curate_gold_sets, get_or_create_gold_set
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import start_import
from annotator.jobs.services import run_job
from annotator.kb.services import EntityRecord, upsert_entity
from annotator.projects.models import Role
from annotator.suggestions import nlp
from annotator.suggestions.configuring import InvalidSettings, SettingsChange, change_suggester_settings
from annotator.suggestions.generate import active_suggester, ensure_active_suggester, suggest_text
from annotator.suggestions.models import SuggesterKind, SuggesterSettings
from tests.factories import ArticleFactory, EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

TEXT = "Zygmunt Quackenbush landed at Vitebsk Airport; Germany and German officials watched."


@pytest.fixture
def pipelines(settings, tmp_path):
    """A pipeline directory in ANNOTATOR_PIPELINES_DIR whose "NER" (an entity ruler) says PER and FAC."""
    import spacy

    settings.ANNOTATOR_PIPELINES_DIR = tmp_path / "pipelines"
    pipeline = spacy.blank("en")
    pipeline.meta["name"] = "tiny"
    pipeline.meta["version"] = "1.0.0"
    pipeline.add_pipe("entity_ruler").add_patterns(
        [{"label": "PER", "pattern": "Zygmunt Quackenbush"}, {"label": "FAC", "pattern": "Vitebsk Airport"}]
    )
    path = settings.ANNOTATOR_PIPELINES_DIR / "tiny"
    settings.ANNOTATOR_PIPELINES_DIR.mkdir()
    pipeline.to_disk(path)
    yield str(path)
    nlp.forget_suggesters()


def entities(project, text=TEXT):
    return [(e.text, e.entity_type, e.source) for e in suggest_text(project=project, text=text)[2].entities]


def test_a_pipeline_directory_chosen_per_project_is_loaded_and_mapped(client, news, pipelines):
    other = ProjectFactory(slug="other")
    EntityTypeFactory(project=other, name="PERSON", key="p")
    client.force_login(news.manager)
    page = client.get(reverse("suggestions:suggesters", args=[news.project.pk])).content.decode()
    assert "en_tiny 1.0.0 (directory, en, 2 labels)" in page  # listed among the pipelines to pick
    response = client.post(
        reverse("suggestions:pipeline", args=[news.project.pk]), {"pipeline": pipelines, "mode": "add"}
    )
    assert response.status_code == 302
    version = active_suggester(news.project.pk)
    assert (version.kind, version.name, version.path, version.config["mode"]) == (
        SuggesterKind.PIPELINE, "en_tiny", pipelines, "add",
    )  # fmt: skip
    # PER becomes PERSON by name; FAC has no type of its name here: dropped until mapped.
    assert entities(news.project) == [
        ("Zygmunt Quackenbush", "PERSON", "pipeline:en_tiny-1.0.0"),
        ("Vitebsk", "GPE", "list:cities"),
        ("Germany", "GPE", "list:countries"),
    ]
    labels = {"FAC": "GPE", "NORP": "-", "PER": "PERSON"}
    form = client.get(reverse("suggestions:suggesters", args=[news.project.pk])).context["label_form"]
    data = {row["field"]: labels.get(row["label"], form[row["field"]].initial) for row in form.rows}
    assert client.post(reverse("suggestions:label_map", args=[news.project.pk]), data).status_code == 302
    # Only what differs from the defaults is kept (NORP is dropped by default here: no NORP or MISC type).
    assert SuggesterSettings.objects.get(project=news.project).label_map == {"FAC": "GPE"}
    # FAC now becomes GPE: the pipeline's longer "Vitebsk Airport" beats the list's "Vitebsk" inside it.
    assert entities(news.project)[1] == ("Vitebsk Airport", "GPE", "pipeline:en_tiny-1.0.0")
    # The other project has no pipeline: the gazetteer and rules of its own.
    assert ensure_active_suggester(project=other).kind == SuggesterKind.RULES
    assert ("Zygmunt Quackenbush", "PERSON", "pipeline:en_tiny-1.0.0") not in entities(other)


def test_a_bad_label_map_or_pipeline_is_refused_with_its_reason(client, news, pipelines):
    with pytest.raises(InvalidSettings) as refused:
        change_suggester_settings(
            project=news.project, change=SettingsChange(label_map={"GPE": "LOC"}), by=None
        )
    assert refused.value.message == (
        "GPE cannot become 'LOC': the project has no such entity type (its types: DATE, GPE, ORG, PERSON; "
        "empty drops the label)."
    )
    with pytest.raises(InvalidSettings) as refused:
        change_suggester_settings(project=news.project, change=SettingsChange(pipeline="/etc"), by=None)
    assert refused.value.message.startswith(
        "'/etc' is not an installed spaCy package or a pipeline directory"
    )
    client.force_login(news.manager)
    response = client.post(reverse("suggestions:learning", args=[news.project.pk]), {
        "learn": "on", "learn_after": 1, "retrain_every": 5, "folds": 11,
    })  # fmt: skip
    assert response.status_code == 400
    errors = response.context["learning_form"].errors
    assert set(errors) == {"learn_after", "folds"}
    assert not SuggesterSettings.objects.filter(project=news.project).exists()  # nothing half-written


def test_managers_change_the_learning_settings_others_get_403(client, news):
    url = reverse("suggestions:learning", args=[news.project.pk])
    client.force_login(news.annotator)
    assert client.post(url, {"learn_after": 3, "retrain_every": 2, "folds": 3}).status_code == 403
    client.force_login(news.manager)
    response = client.post(url, {"learn_after": 3, "retrain_every": 2, "folds": 3})
    assert response.status_code == 302
    chosen = SuggesterSettings.objects.get(project=news.project)
    assert (chosen.learn, chosen.learn_after, chosen.retrain_every, chosen.folds) == (False, 3, 2, 3)
    page = client.get(reverse("suggestions:suggesters", args=[news.project.pk])).content.decode()
    assert "The project's model learns only when a manager trains it." in page
    assert "No version of the project's own model yet" in page


def test_the_settings_api_reads_and_patches(client, news, pipelines, outsider):
    url = f"/api/v1/projects/{news.project.pk}/suggester-settings"
    client.force_login(news.annotator)
    body = client.get(url).json()
    assert body["pipeline"] == "site"
    assert pipelines in [p["ref"] for p in body["available_pipelines"]]
    gpe = next(row for row in body["label_map"] if row["label"] == "GPE")
    assert gpe == {
        "label": "GPE",
        "spoken_by": ["shipped list: countries, cities and regions", "dateline rule", "knowledge base"],
        "becomes": "GPE", "default": "GPE",
    }  # fmt: skip
    assert body["learning"] == {
        "learn": True, "learn_after": 5, "retrain_every": 10, "folds": 5, "annotated_articles": 0,
        "next_training_at": 5, "training_running": False,
    }  # fmt: skip
    assert client.patch(url, {"folds": 3}, content_type="application/json").status_code == 403
    client.force_login(news.manager)
    response = client.patch(
        url, {"pipeline": pipelines, "mode": "replace", "label_map": {"FAC": "GPE"}, "folds": 3},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert (response.json()["pipeline"], response.json()["mode"], response.json()["learning"]["folds"]) == (
        pipelines, "replace", 3,
    )  # fmt: skip
    assert entities(news.project) == [
        ("Zygmunt Quackenbush", "PERSON", "pipeline:en_tiny-1.0.0"),
        ("Vitebsk Airport", "GPE", "pipeline:en_tiny-1.0.0"),
    ]  # replace: the pipeline alone
    bad = client.patch(url, {"label_map": {"FAC": "NOPE"}}, content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {
        "label_map.FAC": ["FAC cannot become 'NOPE': the project has no such entity type (its types: DATE, GPE, "
                          "ORG, PERSON; empty drops the label)."]
    }  # fmt: skip
    assert client.get(f"/api/v1/projects/{news.project.pk}/learning-curve").json() == []
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_a_non_english_project_uses_its_language_and_not_the_english_lists(news):
    news.project.language = "fr"
    news.project.save()
    for kb_id, name, kind in [("naryshkin", "Sergey Naryshkin", "PERSON"), ("minsk", "Minsk", "GPE")]:
        upsert_entity(knowledge_base=news.kb, record=EntityRecord(kb_id=kb_id, name=name, type=kind))
    text = "Le roi reçut Sergey Naryshkin à Minsk, en Allemagne, le 3 mai."
    assert [(e.text, e.entity_type) for e in suggest_text(project=news.project, text=text)[2].entities] == [
        ("Sergey Naryshkin", "PERSON"),
        ("Minsk", "GPE"),  # from the KB; "Allemagne" is in no English list, "3 mai" in no English rule
    ]
    assert ensure_active_suggester(project=news.project).kind == SuggesterKind.RULES


def gold_in_progress(news, count=3):
    articles = [ArticleFactory(project=news.project) for _ in range(count)]
    for article in articles:
        get_or_create_gold_set(article=article)
    return articles


def test_curating_gold_in_bulk_marks_each_set_as_a_versioned_edit(news, django_assert_max_num_queries):
    articles = gold_in_progress(news)
    assert curate_gold_sets(project=news.project, by=news.manager, article_ids=[articles[0].pk]) == 1
    gold = AnnotationSet.objects.filter(kind=SetKind.GOLD).order_by("article_id")
    assert [(s.status, s.version) for s in gold] == [
        (SetStatus.CURATED, 2), (SetStatus.IN_PROGRESS, 1), (SetStatus.IN_PROGRESS, 1),
    ]  # fmt: skip
    assert gold[0].history.latest().history_user == news.manager
    assert curate_gold_sets(project=news.project, by=None) == 2
    assert set(AnnotationSet.objects.filter(kind=SetKind.GOLD).values_list("status", flat=True)) == {
        SetStatus.CURATED
    }
    assert curate_gold_sets(project=news.project, by=None) == 0


def test_curating_gold_in_bulk_from_the_page_the_api_and_the_command(client, news):
    articles = gold_in_progress(news, 4)
    curator = UserFactory(username="cora")
    MembershipFactory(project=news.project, user=curator, role=Role.CURATOR)
    page = reverse("suggestions:curate_gold", args=[news.project.pk])
    client.force_login(news.annotator)
    assert client.get(page).status_code == 403
    assert (
        client.post(
            f"/api/v1/projects/{news.project.pk}/gold/curate", {"all": True}, content_type="application/json"
        ).status_code
        == 403
    )
    client.force_login(curator)
    html = client.get(page).content.decode()
    assert "4 gold sets in progress." in html
    assert f'value="{articles[0].pk}"' in html
    response = client.post(page, {"article": [articles[0].pk, articles[1].pk]}, follow=True)
    assert "2 gold sets marked curated." in response.content.decode()
    api = f"/api/v1/projects/{news.project.pk}/gold/curate"
    foreign = ArticleFactory()  # in a project of its own
    assert (
        client.post(
            api, {"article_ids": [articles[2].pk, foreign.pk]}, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.post(api, {}, content_type="application/json").json()["error"]["fields"] == {
        "non_field_errors": ["Give article_ids, or all: true."]
    }
    assert client.post(api, {"article_ids": [articles[2].pk]}, content_type="application/json").json() == {
        "curated": 1
    }
    out = io.StringIO()
    call_command("curate_gold", "--project", news.project.slug, "--all", stdout=out)
    assert out.getvalue().strip() == "1 gold set of News marked curated."
    with pytest.raises(CommandError, match=f"No article with id {foreign.pk} in News."):
        call_command("curate_gold", "--project", news.project.slug, "--article", str(foreign.pk))


def test_gold_imported_as_curated_is_ready_to_train_on(news, tmp_path):
    path = tmp_path / "gold.jsonl"
    text = "Sergey Naryshkin visited Minsk."
    path.write_text(
        json.dumps({"text": text, "entities": [{"start": 0, "end": 16, "label": "PERSON"}]}) + "\n"
    )
    options = ImportOptions(format="jsonl", set_kind=SetKind.GOLD, curated=True)
    job = run_job(start_import(project=news.project, path=path, file_name="gold.jsonl", options=options, by=None,
                               delete_after=False, queue=False))  # fmt: skip
    assert job.status == "succeeded", job.errors
    gold = AnnotationSet.objects.get(kind=SetKind.GOLD, article__text=text)
    assert (gold.status, gold.submitted_at is not None, gold.spans.count()) == (SetStatus.CURATED, True, 1)
    with pytest.raises(Exception, match="Only gold sets can be imported as curated."):
        ImportOptions(format="jsonl", curated=True)


def test_the_install_command_uses_spacys_download_and_says_clearly_when_offline(monkeypatch):
    monkeypatch.setattr(nlp.installed, "reachable", lambda host, port: "Name or service not known")
    with pytest.raises(CommandError) as offline:
        call_command("install_pipeline", "en_core_web_sm")
    host = nlp.installed.model_server()[0]
    assert str(offline.value).startswith(
        f"spaCy's model server ({host}) cannot be reached from this machine (Name or service not known): it has "
        "no internet. Install the pipeline another way:"
    )
    asked = []
    monkeypatch.setattr(nlp.installed, "reachable", lambda host, port: None)
    monkeypatch.setattr("spacy.cli.download", lambda name: asked.append(name))
    out = io.StringIO()
    call_command("install_pipeline", "en_core_web_md", stdout=out)
    assert asked == ["en_core_web_md"]
    assert out.getvalue().startswith("Installed en_core_web_md;")
    with pytest.raises(CommandError, match="is not a spaCy pipeline package name"):
        call_command("install_pipeline", "../../etc")
