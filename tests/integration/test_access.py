"""Membership scoping: for someone outside a project, its pages and API objects do not exist (404).

The routes are read from the URL conf, so every view that takes an id is tried, including views added
later: a route with an id parameter this file does not know fails the test until it is mapped here.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotator.jobs.models import Job, JobKind
from annotator.projects.models import EntityTypeAttribute, Role
from tests.factories import MembershipFactory, SuggesterVersionFactory

pytestmark = pytest.mark.django_db

SKIPPED_NAMESPACES = {"admin"}  # the Django admin is for staff, scoped by is_staff, not membership
# Routes a member reaches only with the manager role: other members get 403 (they know the project).
MANAGER_ONLY = {
    "api:job-cancel",  # or whoever started the job
    "exports:cancel",  # or whoever started the export
    "kb:job_cancel",  # or whoever started the import
    "api:preannotate",
    "api:train-suggester",
    "api:suggester-activate",
    "suggestions:train",
    "suggestions:preannotate",
    "suggestions:cancel_job",
    "suggestions:activate",
    "suggestions:pipeline",
    "suggestions:label_map",
    "suggestions:learning",
    "projects:members",
    "api:project-members",
    "api:project-member",
    "projects:schema",
    "projects:guidelines_edit",
    "api:entity-type-merge",
    "api:relation-type-merge",
    "projects:entity_type_new",
    "projects:entity_type",
    "projects:entity_type_remove",
    "projects:attribute_new",
    "projects:attribute",
    "projects:attribute_remove",
    "projects:relation_type_new",
    "projects:relation_type",
    "projects:relation_type_remove",
    "accounts:people",
    "accounts:revoke",
    "api:project-accounts",
    "api:project-invitations",
    "api:project-invitation",
    "browse:delete",
    "browse:requeue",
    "lifecycle:page",
    "api:project-archive",
    "api:project-delete",
    "lifecycle:backup",
    "api:project-backup",
}
# Site pages about users that take an id: staff only, so members and non-members alike get 403.
STAFF_ONLY = {"accounts:user-active", "api:user-detail"}
# Routes with a parameter that is a secret, not an object of a project: open to anyone who has the link.
PUBLIC_WITH_SECRET = {"accounts:accept", "password_reset_confirm"}
# Routes a member reaches only as a curator or manager: annotators get 403.
CURATOR_ONLY = {
    "api:project-export",
    "api:project-exports",
    "api:export-file",
    "exports:exports",
    "exports:detail",
    "exports:download",
    "review:curate",
    "review:take",
    "review:take_agreed",
    "review:finish_gold",
    "api:curation",
    "api:curation-take",
    "api:curation-take-agreed",
    "agreement:dashboard",
    "agreement:articles",
    "api:agreement",
    "api:agreement-articles",
    "suggestions:curate_gold",
    "api:curate-gold",
}


def routes(patterns=None, namespace="", converters=frozenset()):
    """(url name, names of its parameters) for every route of the URL conf."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        params = converters | set(pattern.pattern.converters) | set(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            if pattern.namespace in SKIPPED_NAMESPACES:
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern.url_patterns, inner, frozenset(params))
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", frozenset(params)


def member_objects(news):
    """A span pair, a relation and a decision in the member's set, made once per test."""
    from annotator.annotations.models import Relation, Span
    from annotator.annotations.services import create_relation, create_span
    from annotator.suggestions.models import Decision
    from annotator.suggestions.services import reject_suggestion
    from tests.factories import SuggestionFactory

    def span_at(start, end, entity_type):
        found = Span.objects.filter(annotation_set=news.annotation_set, start=start, end=end).first()
        return found or create_span(
            annotation_set=news.annotation_set,
            start=start,
            end=end,
            entity_type=entity_type,
            by=news.annotator,
            expected_version=news.annotation_set.version,
        )

    head, tail = span_at(0, 16, news.person), span_at(25, 30, news.gpe)
    relation = Relation.objects.filter(annotation_set=news.annotation_set).first() or create_relation(
        annotation_set=news.annotation_set,
        head=head,
        tail=tail,
        relation_type=news.visited,
        by=news.annotator,
        expected_version=news.annotation_set.version,
    )
    decision = Decision.objects.filter(annotation_set=news.annotation_set).first() or reject_suggestion(
        suggestion=SuggestionFactory(article=news.article, start=34, end=42, entity_type=news.date),
        annotation_set=news.annotation_set,
        by=news.annotator,
        expected_version=news.annotation_set.version,
    )
    return head, tail, relation, decision


# Which object a route's `pk` means, by the route's name.
PK_OF = {
    "api:project-detail": lambda news, objects: news.project.pk,
    "api:article-detail": lambda news, objects: news.article.pk,
    "api:article-sets": lambda news, objects: news.article.pk,
    "api:set-detail": lambda news, objects: news.annotation_set.pk,
    "api:set-submit": lambda news, objects: news.annotation_set.pk,
    "api:set-reopen": lambda news, objects: news.annotation_set.pk,
    "api:set-spans": lambda news, objects: news.annotation_set.pk,
    "api:set-relations": lambda news, objects: news.annotation_set.pk,
    "api:set-decisions": lambda news, objects: news.annotation_set.pk,
    "api:span-detail": lambda news, objects: objects[0].pk,
    "api:span-link": lambda news, objects: objects[0].pk,
    "api:relation-detail": lambda news, objects: objects[2].pk,
    "api:decision-detail": lambda news, objects: objects[3].pk,
    "api:token-detail": lambda news, objects: member_token(news).pk,
}


def member_token(news):
    """An API token of the member: tokens belong to a user, and are just as invisible to anyone else."""
    from annotator.api.models import ApiToken
    from annotator.api.tokens import create_token

    return (
        ApiToken.objects.filter(user=news.annotator).first()
        or create_token(user=news.annotator, name="ci")[0]
    )


def object_ids(news, name, params):
    """The kwargs that point a route at the news project's objects."""
    ids = {
        "project_id": news.project.pk,
        "article_id": news.article.pk,
        "job_id": import_job(news).pk,
        "entity_id": news.naryshkin.pk,
        "kb_job_id": kb_import_job(news).pk,
        "export_job_id": export_job(news).pk,
        "suggester_job_id": preannotation_job(news).pk,
        "user_id": news.annotator.pk,
        "invitation_id": invitation(news)[0].pk,
        "secret": invitation(news)[1],
        "uidb64": "MQ",
        "token": "set-password",
    }
    if "pk" in params and name in PK_OF:
        ids["pk"] = PK_OF[name](news, member_objects(news))
    if name == "review:act":
        ids["action"] = "accept"
    if "token_id" in params:
        ids["token_id"] = member_token(news).pk
    if "suggester_id" in params:
        ids["suggester_id"] = SuggesterVersionFactory(project=news.project).pk
    if "type_id" in params:  # the schema editor's: a relation type's routes name "relation"
        ids["type_id"] = schema_type_id(news, name)
    if "attribute_id" in params:
        ids["attribute_id"] = schema_attribute_id(news)
    unknown = params - ids.keys()
    assert not unknown, f"Map the id parameter(s) {sorted(unknown)} of {name} in object_ids()."
    return {param: ids[param] for param in params}


def schema_type_id(news, name):
    """The type a schema route edits: one the member's spans and relation use, so that the API's DELETE
    (and the pages' empty POSTs) answer "in use" rather than delete it from under the later routes."""
    member_objects(news)
    return news.visited.pk if "relation" in name else news.person.pk


def schema_attribute_id(news):
    """An attribute of PERSON with a value on the member's span: in use, like the types above."""
    from annotator.annotations.models import SpanAttribute

    head = member_objects(news)[0]
    attribute = EntityTypeAttribute.objects.get_or_create(
        entity_type=news.person, name="negated", defaults={"kind": "boolean"}
    )[0]
    SpanAttribute.objects.get_or_create(span=head, attribute=attribute, defaults={"value": True})
    return attribute.pk


def invitation(news):
    """A pending invitation to the news project and its link's secret (one per test)."""
    from annotator.accounts.services import invite

    if not hasattr(news, "invitation"):
        news.invitation = invite(
            project=news.project, username="invited", role=Role.ANNOTATOR, by=news.manager
        )
    return news.invitation


def import_job(news):
    """An import job of the news project (the import pages and the job API take its id)."""
    job, _ = Job.objects.get_or_create(
        project=news.project, kind=JobKind.IMPORT_ARTICLES, defaults={"params": {"format": "jsonl"}}
    )
    return job


def preannotation_job(news):
    """A pre-annotation job of the news project, queued (the suggesters page's cancel button takes it)."""
    jobs = Job.objects.filter(project=news.project, kind=JobKind.PREANNOTATE).order_by("pk")
    return jobs.first() or Job.objects.create(project=news.project, kind=JobKind.PREANNOTATE, params={})


def export_job(news):
    """A finished export job of the news project (the export pages and the file API take its id)."""
    job, _ = Job.objects.get_or_create(
        project=news.project, kind=JobKind.EXPORT, status="succeeded",
        defaults={"params": {"format": "jsonl"}, "result": {"file_name": "news.jsonl"}},
    )  # fmt: skip
    return job


def query_for(news, name):
    """Query parameters some GET views need to point at an object of the member's annotation set."""
    if name == "review:suggesting":  # the job that opening the article's page started
        params = {"article_ids": [news.article.pk], "opened": news.article.pk}
        return f"?job={Job.objects.get_or_create(project=news.project, kind=JobKind.PREANNOTATE, params=params)[0].pk}"
    if name not in ("review:candidates", "review:relation_types", "review:attributes"):
        return ""
    head, tail, _, _ = member_objects(news)
    return f"?head={head.pk}&tail={tail.pk}" if name == "review:relation_types" else f"?span={head.pk}"


def kb_import_job(news):
    from annotator.jobs.models import Job, JobKind

    return Job.objects.get_or_create(
        project=news.project,
        kind=JobKind.IMPORT_KB,
        params={"file_label": "kb.jsonl", "knowledge_base_id": news.kb.pk},
    )[0]


def scoped_routes(news):
    return [
        (name, object_ids(news, name, params), query_for(news, name))
        for name, params in routes()
        if params and name not in PUBLIC_WITH_SECRET
    ]


def fetch(client, url):
    """The route's answer to the first method it takes. Writes carry no If-Match or data, so none succeed."""
    for method in ("get", "post", "patch", "put", "delete"):
        response = getattr(client, method)(url, {}) if method == "post" else getattr(client, method)(url)
        if response.status_code != 405:
            return response
    return response


def test_there_are_scoped_routes_to_check(news):
    names = {name for name, _, _ in scoped_routes(news)}
    assert {"projects:detail", "projects:guidelines", "projects:schema_css", "articles:detail"} <= names
    assert "api:project-detail" in names


def test_members_reach_every_scoped_route(client, news):
    client.force_login(news.annotator)
    for name, kwargs, query in scoped_routes(news):
        status = fetch(client, reverse(name, kwargs=kwargs) + query).status_code
        if name in MANAGER_ONLY | CURATOR_ONLY | STAFF_ONLY:
            assert status == 403, f"{name} answered {status} to an annotator"
            continue
        # An empty POST may be refused as invalid (400) or answered with a redirect; never hidden from a member.
        assert status not in (403, 404), f"{name} answered {status} to a member"
        assert status < 500, f"{name} answered {status} to a member"


def test_non_members_get_404_from_every_scoped_route(client, news, outsider):
    client.force_login(outsider)
    for name, kwargs, query in scoped_routes(news):
        response = fetch(client, reverse(name, kwargs=kwargs) + query)
        if name in STAFF_ONLY:
            assert response.status_code == 403, f"{name} answered {response.status_code} to a non-staff"
            continue
        assert response.status_code == 404, f"{name} answered {response.status_code} to a non-member"
        assert news.project.name.encode() not in response.content


def test_a_superuser_without_membership_is_a_non_member_in_the_app(client, news, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="x")
    client.force_login(admin)
    assert client.get(reverse("projects:detail", args=[news.project.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in_for_every_page(client, news):
    for name, kwargs, query in scoped_routes(news):
        url = reverse(name, kwargs=kwargs) + query
        response = fetch(client, url)
        if name.startswith("api:"):
            assert response.status_code in (401, 403), name
        else:
            assert response.status_code == 302, name
            assert response["Location"].startswith(reverse("login")), name
    assert client.get(reverse("projects:list")).status_code == 302


def test_project_list_shows_only_my_projects_with_my_role(client, news, outsider):
    MembershipFactory(user=news.annotator, role=Role.CURATOR, project__name="Second project")
    client.force_login(news.annotator)
    response = client.get(reverse("projects:list"))
    projects = [(p.name, p.my_role) for p in response.context["projects"]]
    assert projects == [("News", "annotator"), ("Second project", "curator")]
    outsider_project = outsider.memberships.get().project
    assert outsider_project.name.encode() not in response.content


def test_api_lists_only_my_projects(client, news, outsider):
    client.force_login(news.annotator)
    body = client.get(reverse("api:project-list")).json()
    assert [(p["name"], p["role"]) for p in body["results"]] == [("News", "annotator")]
