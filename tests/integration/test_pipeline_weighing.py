"""A project's pretrained pipeline in add mode, weighed on its curated gold: stored per type and relation,
then the merge keeps the pipeline's entities only where they were measured to gain."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotator.annotations.models import Span
from annotator.annotations.services import curate_gold_sets, get_or_create_gold_set
from annotator.suggestions import nlp
from annotator.suggestions.generate import suggest_text
from annotator.suggestions.layering import weigh_pipeline
from annotator.suggestions.models import SuggesterSettings
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db

TEXT = "Vitebsk Airport closed on Monday. Zygmunt Quackenbush left."


@pytest.fixture
def pipeline(settings, tmp_path):
    """A pipeline directory whose "NER" (an entity ruler) says FAC for the airport and PER for the man."""
    import spacy

    settings.ANNOTATOR_PIPELINES_DIR = tmp_path / "pipelines"
    settings.ANNOTATOR_PIPELINES_DIR.mkdir()
    made = spacy.blank("en")
    made.meta["name"], made.meta["version"] = "tiny", "1.0.0"
    made.add_pipe("entity_ruler").add_patterns(
        [{"label": "PER", "pattern": "Zygmunt Quackenbush"}, {"label": "FAC", "pattern": "Vitebsk Airport"}]
    )
    path = settings.ANNOTATOR_PIPELINES_DIR / "tiny"
    made.to_disk(path)
    yield str(path)
    nlp.forget_suggesters()


def entities(project, text=TEXT):
    return [(e.text, e.entity_type, e.source) for e in suggest_text(project=project, text=text)[2].entities]


def gold_articles(news, count, first=0):
    """`count` articles whose gold (in progress) says the city is GPE (not the airport) and the man a
    PERSON."""
    for number in range(first, first + count):
        article = ArticleFactory(project=news.project, text=TEXT, external_id=f"gold-{number}")
        gold = get_or_create_gold_set(article=article)
        Span.objects.create(annotation_set=gold, start=0, end=7, entity_type=news.gpe)
        Span.objects.create(annotation_set=gold, start=34, end=53, entity_type=news.person)


def curated_articles(news, count):
    """`count` such articles, their gold curated."""
    gold_articles(news, count)
    curate_gold_sets(project=news.project, by=news.manager)


def test_the_pipeline_weighed_on_gold_loses_the_span_it_gets_wrong_and_keeps_the_one_it_gets_right(
    client, news, pipeline
):
    SuggesterSettings.objects.create(
        project=news.project, use_site_pipeline=False, pipeline=pipeline, pipeline_mode="add",
        label_map={"FAC": "GPE"},
    )  # fmt: skip
    # Unmeasured: the pipeline's longer "Vitebsk Airport" beats the list's "Vitebsk" inside it.
    assert entities(news.project) == [
        ("Vitebsk Airport", "GPE", "pipeline:en_tiny-1.0.0"),
        ("Monday", "DATE", "rule:date"),
        ("Zygmunt Quackenbush", "PERSON", "pipeline:en_tiny-1.0.0"),
    ]
    assert weigh_pipeline(project=news.project) is None  # no curated gold yet
    curated_articles(news, 12)
    weighed = weigh_pipeline(project=news.project)
    assert weighed is not None
    assert (weighed.source, weighed.articles) == ("pipeline:en_tiny-1.0.0", 12)
    stored = SuggesterSettings.objects.get(project=news.project).measured["layered"][weighed.source]
    # Every article: the pipeline's GPE is wider than the city its gold names (wrong, 12 times; the city
    # right 12 times); its PERSON agrees with the name rules' guess (the same span: not counted).
    assert stored["evidence"] == {"pipeline:en_tiny-1.0.0|GPE|wider": [0, 12, 12, 12]}
    assert stored["articles"] == 12
    # Measured: the city stays the list's; the person is still suggested (agreed by both).
    assert entities(news.project) == [
        ("Vitebsk", "GPE", "list:cities"),
        ("Monday", "DATE", "rule:date"),
        ("Zygmunt Quackenbush", "PERSON", "pipeline:en_tiny-1.0.0"),
    ]
    # The Suggesters page shows what was measured.
    client.force_login(news.manager)
    page = client.get(reverse("suggestions:suggesters", args=[news.project.pk])).content.decode()
    assert "<code>pipeline:en_tiny-1.0.0</code> weighed on 12 curated gold articles" in page
    assert (
        '<tr><th scope="row"><bdi>GPE</bdi></th><td>wider, covering what is there</td><td class="num">0</td>'
        '<td class="num">12</td><td class="num">0.000</td><td class="num">12</td><td class="num">12</td></tr>'
    ) in page


def test_the_command_weighs_or_says_why_not(news, pipeline):
    with pytest.raises(CommandError, match="no pretrained pipeline in add mode"):
        call_command("weigh_pipeline", project="news")
    SuggesterSettings.objects.create(
        project=news.project, use_site_pipeline=False, pipeline=pipeline, pipeline_mode="add"
    )
    curated_articles(news, 2)
    out = io.StringIO()
    call_command("weigh_pipeline", project="news", stdout=out)
    assert out.getvalue().startswith("pipeline:en_tiny-1.0.0 weighed on 2 curated gold articles")


def test_the_training_job_weighs_the_projects_pipeline_first(news, pipeline, settings, tmp_path):
    from annotator.jobs.models import JobStatus
    from annotator.jobs.services import run_job
    from annotator.suggestions.learning import start_training
    from tests.integration.test_suggester_training import learning, synthetic_gold

    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_TRAIN_MAX_EPOCHS = 2
    learning(news, learn=False, folds=2, use_site_pipeline=False, pipeline=pipeline, pipeline_mode="add")
    synthetic_gold(news, articles=6)
    job = run_job(start_training(project_id=news.project.pk, by=None, queue=False))
    assert (job.status, job.result["pipeline_weighed_on"]) == (JobStatus.SUCCEEDED, 6)
    stored = SuggesterSettings.objects.get(project=news.project).measured
    assert stored["layered"]["pipeline:en_tiny-1.0.0"]["articles"] == 6
    assert "sources" in stored  # what the training measured next to it, kept side by side


def curate_and_commit(news, django_capture_on_commit_callbacks):
    """Curate every gold set in progress in bulk and run what its commit runs (the jobs it queues stay
    queued: their own commit hooks, which would send them to a worker, never run in a test)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        marked = curate_gold_sets(project=news.project, by=news.manager)
    for callback in callbacks:
        callback()
    return marked


def test_a_bulk_curation_queues_a_weighing_of_the_pipeline_and_the_job_weighs_it(
    client, news, pipeline, django_capture_on_commit_callbacks
):
    from annotator.jobs.models import Job, JobKind, JobStatus
    from annotator.jobs.services import run_job

    SuggesterSettings.objects.create(
        project=news.project, use_site_pipeline=False, pipeline=pipeline, pipeline_mode="add",
        label_map={"FAC": "GPE"}, learn=False,
    )  # fmt: skip
    gold_articles(news, 3)
    assert curate_and_commit(news, django_capture_on_commit_callbacks) == 3
    job = Job.objects.get(kind=JobKind.WEIGH_PIPELINE)
    assert (job.status, job.params, job.project, job.created_by) == (
        JobStatus.QUEUED, {"pipeline": pipeline}, news.project, None,
    )  # fmt: skip
    # Two more curated while it waits: no second job (the queued one weighs on all five).
    gold_articles(news, 2, first=3)
    assert curate_and_commit(news, django_capture_on_commit_callbacks) == 2
    assert Job.objects.filter(kind=JobKind.WEIGH_PIPELINE).count() == 1
    assert "layered" not in SuggesterSettings.objects.get(project=news.project).measured

    job = run_job(job)
    # Each article: the list's city and the rules' guess of the man right, the date wrong (3 found, 2
    # right, 2 in gold): F1 0.8; the pipeline's GPE wider than the city, wrong each time.
    assert (job.status, job.result) == (
        JobStatus.SUCCEEDED,
        {"pipeline_weighed_on": 5, "source": "pipeline:en_tiny-1.0.0", "others_f1": 0.8, "keep": 0.4},
    )
    assert job.message == (
        "pipeline:en_tiny-1.0.0 weighed on 5 curated gold articles: the gazetteer and rules alone F1 0.800 "
        "there; the merge now lays the pipeline over them by what it measured."
    )
    stored = SuggesterSettings.objects.get(project=news.project).measured["layered"]["pipeline:en_tiny-1.0.0"]
    assert (stored["articles"], stored["evidence"]) == (5, {"pipeline:en_tiny-1.0.0|GPE|wider": [0, 5, 5, 5]})
    # The Suggesters page lists it with the other jobs.
    client.force_login(news.manager)
    page = client.get(reverse("suggestions:suggesters", args=[news.project.pk])).content.decode()
    assert f'<td>Weigh the pretrained pipeline <small class="muted">#{job.pk}</small></td>' in page
    # Once it ran, the next bulk curation queues a new one.
    gold_articles(news, 1, first=5)
    assert curate_and_commit(news, django_capture_on_commit_callbacks) == 1
    assert list(Job.objects.filter(kind=JobKind.WEIGH_PIPELINE).values_list("status", flat=True)) == [
        JobStatus.QUEUED, JobStatus.SUCCEEDED,
    ]  # fmt: skip


def test_a_bulk_curation_that_starts_a_training_or_finds_no_pipeline_in_add_mode_queues_no_weighing(
    news, pipeline, django_capture_on_commit_callbacks
):
    from annotator.jobs.models import Job, JobKind, JobStatus
    from annotator.jobs.services import run_job

    chosen = SuggesterSettings.objects.create(
        project=news.project, use_site_pipeline=False, pipeline=pipeline, pipeline_mode="replace",
        learn=False,
    )  # fmt: skip
    gold_articles(news, 2)
    assert curate_and_commit(news, django_capture_on_commit_callbacks) == 2
    assert not Job.objects.filter(project=news.project).exists()  # replace mode: nothing to weigh
    # Add mode, and the project learns by itself from 3 articles: the training (which weighs the
    # pipeline first) is queued, not a weighing of its own.
    chosen.pipeline_mode, chosen.learn, chosen.learn_after = "add", True, 3
    chosen.save()
    gold_articles(news, 1, first=2)
    assert curate_and_commit(news, django_capture_on_commit_callbacks) == 1
    assert list(Job.objects.filter(project=news.project).values_list("kind", "status")) == [
        (JobKind.TRAIN_SUGGESTER, JobStatus.QUEUED)
    ]
    # A weighing job whose project left add mode meanwhile succeeds with nothing to weigh.
    chosen.pipeline_mode = "replace"
    chosen.save()
    job = run_job(Job.objects.create(kind=JobKind.WEIGH_PIPELINE, project=news.project, params={}))
    assert (job.status, job.result, job.message) == (
        JobStatus.SUCCEEDED,
        {"pipeline_weighed_on": 0},
        "Nothing to weigh: the project has no pretrained pipeline in add mode, or no curated gold.",
    )
