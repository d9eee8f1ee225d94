"""Model in the loop: a suggester trained in the test on synthetic gold made by the test."""

import json
import random
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotator.annotations.editing import edit_set
from annotator.annotations.services import get_or_create_gold_set, submit_set
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.kb.services import EntityRecord, upsert_entity
from annotator.suggestions import nlp
from annotator.suggestions.generate import ensure_active_suggester, suggest_text
from annotator.suggestions.jobs import start_training
from annotator.suggestions.models import SuggesterKind, SuggesterVersion
from annotator.suggestions.training import TrainingRefused, holdout_split, train_suggester
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db

FIRST = ["Anna", "Boris", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Irina", "Jonas", "Katya", "Lars",
         "Mila", "Nikolai", "Olga", "Pavel", "Rosa", "Stefan", "Tamara", "Viktor"]  # fmt: skip
LAST = ["Kowalski", "Petrov", "Jansen", "Moreau", "Haddad", "Lindqvist", "Novak", "Sokolov", "Berg", "Romero",
        "Tanaka", "Keller", "Dubois", "Horvat", "Almeida"]  # fmt: skip
ORGS = [
    "State Bank",
    "Ministry of Energy",
    "National Guard",
    "Central Council",
    "Port Authority",
    "Grain Board",
]
PLACES = ["Lisbon", "Vienna", "Warsaw", "Riga", "Tbilisi", "Baku"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
TEMPLATES = [
    "{p} met {q} in {g} on {d}.",
    "Director {p} of the {o} visited {g}.",
    "According to {p}, the {o} will open an office in {g}.",
    "{p} said on {d} that the {o} was ready.",
    "The {o} chief {p} traveled to {g}.",
]
UNSEEN = "According to Quentin Zabriskie, the State Bank will open an office in Vienna."


def synthetic_gold(news, articles=30, seed=7):
    """Curated gold articles of template sentences, each person named once in the whole corpus."""
    rng = random.Random(seed)
    people = iter(rng.sample([f"{f} {last}" for f in FIRST for last in LAST], len(FIRST) * len(LAST)))
    types = {"p": news.person, "q": news.person, "o": news.org, "g": news.gpe, "d": news.date}
    for n in range(articles):
        text, spans, relations = "", [], []
        for template in rng.sample(TEMPLATES, 4) + rng.sample(TEMPLATES, 1):
            values = {
                "p": next(people),
                "q": next(people),
                "o": rng.choice(ORGS),
                "g": rng.choice(PLACES),
                "d": rng.choice(DAYS),
            }
            sentence = template.format(**values)
            placed = {}
            for key in ("p", "q", "o", "g", "d"):
                if "{" + key + "}" in template:
                    start = len(text) + sentence.index(values[key])
                    placed[key] = len(spans)
                    spans.append((start, start + len(values[key]), types[key]))
            if "met" in template:
                relations.append((placed["p"], placed["q"], news.met_with))
            if "visited" in template or "traveled" in template:
                relations.append((placed["p"], placed["g"], news.visited))
            text += sentence + " "
        article = ArticleFactory(project=news.project, text=text.strip(), external_id=f"synthetic-{n}")
        gold = get_or_create_gold_set(article=article)
        with edit_set(gold, expected_version=1, by=None) as editor:
            made = [editor.add_span(start=s, end=e, entity_type=t) for s, e, t in spans]
            for head, tail, relation_type in relations:
                editor.add_relation(head=made[head], tail=made[tail], relation_type=relation_type)
        submit_set(annotation_set=gold, by=None, expected_version=gold.version)


@pytest.fixture
def training_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_TRAIN_MIN_ARTICLES = 10
    settings.ANNOTATOR_TRAIN_MAX_EPOCHS = 10
    settings.ANNOTATOR_RELATION_CLASSIFIER_MIN = 10
    yield settings
    nlp.forget_suggesters()


def test_a_trained_model_finds_a_person_no_pattern_names_and_replaces_the_rules_when_better(
    news, training_settings, django_capture_on_commit_callbacks
):
    synthetic_gold(news)
    rules = ensure_active_suggester(project=news.project)
    before = suggest_text(project=news.project, text=UNSEEN)[2]
    assert "Quentin Zabriskie" not in [e.text for e in before.entities]  # in no pattern: KB, gold or lists

    with django_capture_on_commit_callbacks(execute=True):
        job = start_training(project=news.project, by=news.manager)
    job.refresh_from_db()
    assert (job.kind, job.status, job.progress_done, job.progress_total) == (
        JobKind.TRAIN_SUGGESTER,
        JobStatus.SUCCEEDED,
        11,
        11,
    )
    version = SuggesterVersion.objects.get(kind=SuggesterKind.TRAINED)
    assert job.result == {
        "suggester_version": version.pk,
        "name": "ner 1",
        "activated": True,
        "f1": version.metrics["entities"]["ALL"]["f1"],
        "baseline": "rules 1",
        "baseline_f1": version.metrics["baseline"]["entities"]["ALL"]["f1"],
    }
    assert job.result["f1"] > job.result["baseline_f1"]
    assert (version.name, version.version, version.is_active, version.created_by) == (
        "ner",
        "1",
        True,
        news.manager,
    )
    rules.refresh_from_db()
    assert rules.is_active is False

    assert version.trained_on["articles"] == 24
    assert version.trained_on["heldout_articles"] == len(version.trained_on["heldout_ids"]) == 6
    assert sorted(version.trained_on["labels"]) == ["DATE", "GPE", "ORG", "PERSON"]
    assert set(version.metrics["entities"]) == {"ALL", "DATE", "GPE", "ORG", "PERSON"}
    person = version.metrics["entities"]["PERSON"]
    assert person["recall"] > version.metrics["baseline"]["entities"]["PERSON"]["recall"]
    assert set(person) == {"tp", "fp", "fn", "precision", "recall", "f1"}
    path = Path(version.path)
    assert path == training_settings.DATA_DIR / "suggesters" / f"project-{news.project.pk}" / "ner-1"
    assert (path / "meta.json").exists()

    # The relation classifier was trained too (30 x ~2 gold relations), and is measured.
    weights = json.loads((path / "relations.json").read_text())
    assert "NONE" in weights["classes"]
    assert version.metrics["relations_by"] == "rules and classifier"
    assert "met_with" in version.metrics["relations"]

    _spec, version_id, suggested = suggest_text(project=news.project, text=UNSEEN)
    assert version_id == version.pk
    found = {(e.text, e.entity_type, e.source) for e in suggested.entities}
    assert ("Quentin Zabriskie", "PERSON", "trained:ner-1") in found
    start = UNSEEN.index("Quentin")
    assert [(e.start, e.end) for e in suggested.entities if e.text == "Quentin Zabriskie"] == [
        (start, start + 17)
    ]
    assert ("State Bank", "ORG", "gold-ruler") in found  # the gazetteer still ranks first


def test_a_new_version_that_does_not_measure_better_stays_inactive(news, training_settings):
    synthetic_gold(news, articles=12)
    # A KB that names every person of the gold: the rules alone are perfect on PERSON.
    for item in ArticleFactory._meta.model.objects.filter(project=news.project):
        for span in item.annotation_sets.get().spans.filter(entity_type=news.person):
            upsert_entity(
                knowledge_base=news.kb,
                record=EntityRecord(
                    kb_id=span.surface.lower().replace(" ", "-"), name=span.surface, type="PERSON"
                ),
            )
    rules = ensure_active_suggester(project=news.project)
    report = train_suggester(project=news.project, by=None)
    assert report.activated is False
    assert report.f1 <= report.baseline_f1
    assert report.baseline == "rules 1"
    assert SuggesterVersion.objects.get(is_active=True) == rules
    assert report.version.metrics["relations_by"] == "rules and classifier"


def test_training_refuses_without_enough_curated_gold(news, training_settings):
    synthetic_gold(news, articles=3)
    with pytest.raises(TrainingRefused) as refusal:
        train_suggester(project=news.project, by=None)
    assert refusal.value.message == (
        "Training needs at least 10 curated gold articles; this project has 3. Curate more gold first."
    )
    with pytest.raises(CommandError) as failed:
        call_command("train_suggester", "--project", news.project.slug)
    job = Job.objects.get()
    assert str(failed.value) == f"Job {job.pk} failed: {refusal.value.message}"
    assert (job.status, job.errors) == (JobStatus.FAILED, [{"message": refusal.value.message}])


def test_the_held_out_split_is_stable_and_never_empty():
    train, held = holdout_split(1, list(range(1, 11)), 0.2)
    assert (len(train), len(held)) == (8, 2)
    assert holdout_split(1, list(range(1, 11)), 0.2) == (train, held)
    assert sorted(train + held) == list(range(1, 11))
    assert len(holdout_split(1, [1, 2], 0.01)[1]) == 1
