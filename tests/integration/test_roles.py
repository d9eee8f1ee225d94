"""The role x action matrix: every write action of the app, on its page and through the API, tried by a
manager, a curator and an annotator of the project, with the exact answer each must get.

The expected answers are declared here, from the product's rules (DESIGN.md section 2), not read from
the code under test: annotators annotate their own sets; curators also adjudicate gold; managers also
run the project (schema, imports, KB, suggesters, settings). In a blind project (the default) the sets
an annotator may not read do not exist for them (404). Non-members and tokens are covered by
test_access.py.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.annotations import services
from annotator.annotations.models import AnnotationSet, SetKind, Span
from annotator.projects.models import Role
from annotator.review.models import Comment
from tests.factories import MembershipFactory, SuggesterVersionFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
ROLES = ["manager", "curator", "annotator"]


@pytest.fixture
def world(news, settings, tmp_path):
    """The news project with a curator (carol) and a second annotator (bob) who has a span in his set."""
    settings.DATA_DIR = tmp_path
    news.carol = UserFactory(username="carol")
    MembershipFactory(project=news.project, user=news.carol, role=Role.CURATOR)
    news.bob = UserFactory(username="bob")
    MembershipFactory(project=news.project, user=news.bob, role=Role.ANNOTATOR)
    news.bobs = services.get_or_create_own_set(article=news.article, user=news.bob)
    services.create_span(
        annotation_set=news.bobs, start=25, end=30, entity_type=news.gpe, by=news.bob, expected_version=1
    )
    news.gold = services.get_or_create_gold_set(article=news.article)
    news.users = {"manager": news.manager, "curator": news.carol, "annotator": news.annotator}
    return news


def own_set(world, user):
    return services.get_or_create_own_set(article=world.article, user=user)


def api(client, method, url, data=None, version=None, **extra):
    headers = {"HTTP_IF_MATCH": f'"{version}"'} if version is not None else {}
    return getattr(client, method)(url, data or {}, content_type="application/json", **headers, **extra)


def span_body():
    return {"start": 0, "end": 16, "type": "PERSON", "text": "Sergey Naryshkin"}


def page_span(client, world, **extra):
    url = reverse("review:act", args=[world.article.pk, "create-span"])
    data = {"version": 1, "start": 0, "end": 16, "entity_type": world.person.pk, **extra}
    return client.post(url, data, **HTMX)


def curated_gold(world):
    services.submit_set(annotation_set=world.gold, by=world.manager, expected_version=world.gold.version)
    return world.gold


def jsonl():
    return SimpleUploadedFile("a.jsonl", b'{"external_id": "m1", "text": "Matrix."}\n')


# Each action: (client, world, user) -> response. Declared answers per role: manager, curator, annotator.
ACTIONS = {
    "annotate own set (page)": (lambda c, w, u: page_span(c, w), (200, 200, 200)),
    "annotate own set (API)": (
        lambda c, w, u: api(c, "post", reverse("api:set-spans", args=[own_set(w, u).pk]), span_body(), 1),
        (201, 201, 201),
    ),
    "edit another annotator's set (API)": (
        lambda c, w, u: api(
            c, "post", reverse("api:set-spans", args=[w.bobs.pk]), span_body(), w.bobs.version
        ),
        (403, 403, 404),
    ),
    "edit gold (page)": (lambda c, w, u: page_span(c, w, set="gold"), (200, 200, 403)),
    "edit gold (API)": (
        lambda c, w, u: api(c, "post", reverse("api:set-spans", args=[w.gold.pk]), span_body(), 1),
        (201, 201, 404),
    ),
    "open the curation page": (
        lambda c, w, u: c.get(reverse("review:curate", args=[w.article.pk])),
        (200, 200, 403),
    ),
    "take all agreed items into gold": (
        lambda c, w, u: c.post(reverse("review:take_agreed", args=[w.article.pk]), {"version": 1}, **HTMX),
        (200, 200, 403),
    ),
    "take one item into gold": (
        lambda c, w, u: c.post(
            reverse("review:take", args=[w.article.pk]),
            {"version": 1, "item": "span", "id": Span.objects.get(annotation_set=w.bobs).pk},
            **HTMX,
        ),
        (404, 404, 403),  # bob's set is in progress: not offered for curation yet
    ),
    "mark gold curated (page)": (
        lambda c, w, u: c.post(reverse("review:finish_gold", args=[w.article.pk]), {"version": 1}, **HTMX),
        (200, 200, 403),
    ),
    "mark gold curated (API)": (
        lambda c, w, u: api(c, "post", reverse("api:set-submit", args=[w.gold.pk]), version=1),
        (200, 200, 404),
    ),
    "reopen curated gold (page)": (
        lambda c, w, u: c.post(
            reverse("review:finish_gold", args=[w.article.pk]),
            {"version": curated_gold(w).version, "reopen": "1"},
            **HTMX,
        ),
        (200, 200, 403),
    ),
    "reopen curated gold (API)": (
        lambda c, w, u: api(
            c, "post", reverse("api:set-reopen", args=[w.gold.pk]), version=curated_gold(w).version
        ),
        (200, 200, 404),
    ),
    "submit own set (page)": (
        lambda c, w, u: (
            own_set(w, u) and c.post(reverse("review:submit", args=[w.article.pk]), {"version": 1}, **HTMX)
        ),
        (200, 200, 200),
    ),
    "submit own set (API)": (
        lambda c, w, u: api(c, "post", reverse("api:set-submit", args=[own_set(w, u).pk]), version=1),
        (200, 200, 200),
    ),
    "reopen own set (API)": (
        lambda c, w, u: api(
            c,
            "post",
            reverse("api:set-reopen", args=[own_set(w, u).pk]),
            version=services.submit_set(annotation_set=own_set(w, u), by=u, expected_version=1).version,
        ),
        (200, 200, 200),
    ),
    "reopen another annotator's set (API)": (
        lambda c, w, u: api(
            c,
            "post",
            reverse("api:set-reopen", args=[w.bobs.pk]),
            version=services.submit_set(
                annotation_set=w.bobs, by=w.bob, expected_version=w.bobs.version
            ).version,
        ),
        (403, 403, 404),
    ),
    "import articles (page)": (
        lambda c, w, u: c.post(
            reverse("interchange:imports", args=[w.project.pk]),
            {
                "file": jsonl(),
                "format": "jsonl",
                "set_kind": "imported",
                "set_name": "i",
                "on_duplicate": "skip",
            },
        ),
        (302, 403, 403),
    ),
    "import articles (API)": (
        lambda c, w, u: c.post(
            reverse("api:project-imports", args=[w.project.pk]),
            {"file": jsonl(), "format": "jsonl", "set_name": "i"},
        ),
        (202, 403, 403),
    ),
    "export (page)": (
        lambda c, w, u: c.post(
            reverse("exports:exports", args=[w.project.pk]), {"format": "jsonl", "sets": "gold"}
        ),
        (200, 200, 403),
    ),
    "start an export job (API)": (
        lambda c, w, u: c.post(
            reverse("api:project-exports", args=[w.project.pk]),
            {"format": "spacy"},
            content_type="application/json",
        ),
        (202, 202, 403),
    ),
    "train the suggester (page)": (
        lambda c, w, u: c.post(reverse("suggestions:train", args=[w.project.pk])),
        (302, 403, 403),
    ),
    "train the suggester (API)": (
        lambda c, w, u: c.post(reverse("api:train-suggester", args=[w.project.pk])),
        (202, 403, 403),
    ),
    "activate a suggester (page)": (
        lambda c, w, u: c.post(
            reverse(
                "suggestions:activate", args=[w.project.pk, SuggesterVersionFactory(project=w.project).pk]
            )
        ),
        (302, 403, 403),
    ),
    "activate a suggester (API)": (
        lambda c, w, u: c.post(
            reverse("api:suggester-activate", args=[SuggesterVersionFactory(project=w.project).pk])
        ),
        (200, 403, 403),
    ),
    "edit a KB entity (page)": (
        lambda c, w, u: c.post(
            reverse("kb:entity-edit", args=[w.project.pk, w.minsk.pk]),
            {"name": "Minsk", "description": "capital", "type": "GPE", "prior": "0.5", "aliases": ""},
        ),
        (302, 403, 403),
    ),
    "create a KB entity (page)": (
        lambda c, w, u: c.post(
            reverse("kb:entity-create", args=[w.project.pk]),
            {
                "knowledge_base": w.kb.pk,
                "name": f"New {u.username}",
                "type": "PERSON",
                "prior": "0.5",
            },
        ),
        (302, 302, 302),
    ),
    "create a KB entity (API)": (
        lambda c, w, u: api(
            c, "post", reverse("api:kb-entity-list", args=[w.project.pk]), {"name": f"N {u.username}"}
        ),
        (201, 201, 201),
    ),
    "comment on the article": (
        lambda c, w, u: c.post(reverse("review:comment", args=[w.article.pk]), {"text": "hm"}, **HTMX),
        (200, 200, 200),
    ),
    "change the project settings": (
        lambda c, w, u: c.post(
            reverse("projects:settings", args=[w.project.pk]),
            {"annotators_per_article": 2, "assignment_strategy": "in_order", "abandon_after_minutes": 60},
        ),
        (302, 403, 403),
    ),
    "change the project settings (API)": (
        lambda c, w, u: api(
            c, "patch", reverse("api:project-settings", args=[w.project.pk]), {"blind": False}
        ),
        (200, 403, 403),
    ),
    "take all agreed items into gold (API)": (
        lambda c, w, u: api(c, "post", reverse("api:curation-take-agreed", args=[w.article.pk]), version=1),
        (200, 200, 403),
    ),
    "comment on the article (API)": (
        lambda c, w, u: api(c, "post", reverse("api:article-comments", args=[w.article.pk]), {"text": "hm"}),
        (201, 201, 201),
    ),
    "take the next article from the queue (API)": (
        lambda c, w, u: api(c, "post", reverse("api:next-article", args=[w.project.pk])),
        (204, 204, 200),  # the article's one place is taken; alice gets her own unfinished set back
    ),
    "manage members (page)": (
        lambda c, w, u: c.post(
            reverse("projects:members", args=[w.project.pk]), {"username": "bob", "role": "curator"}
        ),
        (302, 403, 403),
    ),
    "manage members (API)": (
        lambda c, w, u: api(
            c,
            "post",
            reverse("api:project-members", args=[w.project.pk]),
            {"username": "bob", "role": "curator"},
        ),
        (200, 403, 403),
    ),
    "read the article history": (
        lambda c, w, u: c.get(reverse("review:history", args=[w.article.pk])),
        (200, 200, 200),
    ),
    "read the agreement figures": (
        lambda c, w, u: c.get(reverse("agreement:dashboard", args=[w.project.pk])),
        (200, 200, 403),
    ),
    "read the agreement figures (API)": (
        lambda c, w, u: api(c, "get", reverse("api:agreement", args=[w.project.pk])),
        (200, 200, 403),
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_role_action_matrix(client, world, action, role):
    perform, expected = ACTIONS[action]
    user = world.users[role]
    client.force_login(user)
    response = perform(client, world, user)
    assert response.status_code == expected[ROLES.index(role)], (
        f"{role} / {action}: {response.status_code} {response.content[:300]!r}"
    )


def test_refused_actions_write_nothing(client, world):
    """An annotator's refused attempts on gold, curation, settings and imports leave the database as it was."""
    client.force_login(world.annotator)
    for name in ("edit gold (page)", "take all agreed items into gold", "mark gold curated (page)",
                 "change the project settings", "import articles (page)"):  # fmt: skip
        ACTIONS[name][0](client, world, world.annotator)
    world.gold.refresh_from_db()
    world.project.refresh_from_db()
    assert (world.gold.version, world.gold.status) == (1, "in_progress")
    assert not Span.objects.filter(annotation_set__kind=SetKind.GOLD).exists()
    assert world.project.annotators_per_article == 1
    assert not Comment.objects.exists()
    assert AnnotationSet.objects.filter(kind=SetKind.IMPORTED).count() == 0
