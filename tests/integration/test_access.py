"""Membership scoping: for someone outside a project, its pages and API objects do not exist (404).

The routes are read from the URL conf, so every view that takes an id is tried, including views added
later: a route with an id parameter this file does not know fails the test until it is mapped here.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotator.jobs.models import Job, JobKind
from annotator.projects.models import Role
from tests.factories import MembershipFactory, SuggesterVersionFactory

pytestmark = pytest.mark.django_db

SKIPPED_NAMESPACES = {"admin"}  # the Django admin is for staff, scoped by is_staff, not membership
# Routes a member reaches only with the manager role: other members get 403 (they know the project).
MANAGER_ONLY = {
    "api:preannotate",
    "api:train-suggester",
    "api:suggester-activate",
    "suggestions:train",
    "suggestions:preannotate",
    "suggestions:activate",
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


def object_ids(news, name, params):
    """The kwargs that point a route at the news project's objects."""
    ids = {"project_id": news.project.pk, "article_id": news.article.pk}
    if name in ("api:project-detail",):
        ids["pk"] = news.project.pk
    if "job_id" in params:
        ids["job_id"] = Job.objects.create(project=news.project, kind=JobKind.PREANNOTATE).pk
    if "suggester_id" in params:
        ids["suggester_id"] = SuggesterVersionFactory(project=news.project).pk
    unknown = params - ids.keys()
    assert not unknown, f"Map the id parameter(s) {sorted(unknown)} of {name} in object_ids()."
    return {param: ids[param] for param in params}


def scoped_routes(news):
    return [(name, object_ids(news, name, params)) for name, params in routes() if params]


def fetch(client, url):
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    return response


def test_there_are_scoped_routes_to_check(news):
    names = {name for name, _ in scoped_routes(news)}
    assert {"projects:detail", "projects:guidelines", "projects:schema_css", "articles:detail"} <= names
    assert "api:project-detail" in names


def test_members_reach_every_scoped_route(client, news):
    client.force_login(news.annotator)
    for name, kwargs in scoped_routes(news):
        expected = 403 if name in MANAGER_ONLY else 200
        assert fetch(client, reverse(name, kwargs=kwargs)).status_code == expected, name


def test_non_members_get_404_from_every_scoped_route(client, news, outsider):
    client.force_login(outsider)
    for name, kwargs in scoped_routes(news):
        response = fetch(client, reverse(name, kwargs=kwargs))
        assert response.status_code == 404, f"{name} answered {response.status_code} to a non-member"
        assert news.project.name.encode() not in response.content


def test_a_superuser_without_membership_is_a_non_member_in_the_app(client, news, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="x")
    client.force_login(admin)
    assert client.get(reverse("projects:detail", args=[news.project.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in_for_every_page(client, news):
    for name, kwargs in scoped_routes(news):
        url = reverse(name, kwargs=kwargs)
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
