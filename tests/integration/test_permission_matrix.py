"""The permission matrix: every page and API operation, tried as every kind of caller.

Routes come from the URL conf, API operations from the OpenAPI schema (generated in-process), so a view
added later is tried too. What each caller may do is declared below in ACCESS, from the product's rules
(DESIGN.md section 2 and 8), not read from the code under test: a route missing from ACCESS fails the
matrix with the line to add. Object ids come from the same maps as test_access.py.

Callers: anonymous, a non-member, an annotator, a curator and a manager (sessions), and API tokens of the
manager: read-only, expired, revoked, and one limited to another project.
"""

import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import resolve, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from annotator.api.models import ApiToken, Scope
from annotator.api.tokens import create_token, revoke_token
from annotator.projects.models import Role
from tests.factories import (
    ArticleFactory,
    KBEntityFactory,
    KnowledgeBaseFactory,
    MembershipFactory,
    SuggesterVersionFactory,
    UserFactory,
)
from tests.integration.test_access import object_ids, query_for, routes

pytestmark = pytest.mark.django_db

# Who may use a route (or one method of it). Members of other projects never see it (404), except the
# unscoped ones. Tokens only authenticate API calls; a page ignores them (the caller is anonymous there).
PUBLIC = "public"  # anyone, logged in or not
LOGIN = "login"  # any logged-in user; not tied to a project
MEMBER = "member"  # any member of the project
OWNER = "owner"  # members read it; only the annotator whose set it is may change it (curators: 403)
SELF = "self"  # the user the object belongs to (an API token); for anyone else it does not exist
CURATOR = "curator"  # curators and managers; annotators get 403
MANAGER = "manager"  # managers; annotators and curators get 403
STAFF = "staff"  # site staff only (none of the callers is): every logged-in caller gets 403
OFF = "off"  # a feature the test settings leave off (single sign-on): 404 for everyone

ACCESS = {
    "home": LOGIN,
    "healthz": PUBLIC,
    "login": PUBLIC,
    "logout": LOGIN,
    "projects:list": LOGIN,
    "projects:create": STAFF,
    ("api:project-list", "POST"): STAFF,
    "projects:detail": MEMBER,
    "projects:guidelines": MEMBER,
    "projects:guidelines_edit": MANAGER,
    "api:guidelines": MEMBER,
    ("api:guidelines", "PUT"): MANAGER,
    "projects:schema_css": MEMBER,
    # The schema editor: managers only (members read the schema on the dashboard and through the API).
    "projects:schema": MANAGER,
    "projects:entity_type_new": MANAGER,
    "projects:entity_type": MANAGER,
    "projects:entity_type_remove": MANAGER,
    "projects:attribute_new": MANAGER,
    "projects:attribute": MANAGER,
    "projects:attribute_remove": MANAGER,
    "projects:relation_type_new": MANAGER,
    "projects:relation_type": MANAGER,
    "projects:relation_type_remove": MANAGER,
    "interchange:imports": MEMBER,
    ("interchange:imports", "POST"): MANAGER,
    "interchange:detail": MEMBER,  # members follow imports; starting one is the manager's
    "suggestions:suggesters": MEMBER,
    "suggestions:jobs": MEMBER,
    "suggestions:train": MANAGER,
    "suggestions:preannotate": MANAGER,
    "suggestions:cancel_job": MANAGER,
    "suggestions:activate": MANAGER,
    "suggestions:pipeline": MANAGER,
    "suggestions:label_map": MANAGER,
    "suggestions:learning": MANAGER,
    "suggestions:curate_gold": CURATOR,
    "articles:detail": MEMBER,
    "review:annotate": MEMBER,
    "review:workspace": MEMBER,
    "review:blocks": MEMBER,
    "review:filtered_blocks": MEMBER,
    "review:suggesting": MEMBER,
    "review:act": MEMBER,
    "review:undo": MEMBER,
    "review:submit": MEMBER,
    "review:reopen": MEMBER,  # the caller's own set: redirects with a message when it is not submitted
    "review:candidates": SELF,  # about a span of the caller's own set
    "review:relation_types": SELF,
    "review:attributes": SELF,
    "review:new_kb_entity": MEMBER,
    "review:next": MEMBER,
    "kb:list": MEMBER,
    "kb:entity-create": MEMBER,  # annotators add a missing entity while linking
    "kb:entity-picker": MEMBER,
    "kb:entity": MEMBER,
    # Members see the knowledge base's management pages read-only; only managers change it.
    "kb:entity-edit": MEMBER,
    ("kb:entity-edit", "POST"): MANAGER,
    "kb:entity-merge": MEMBER,
    ("kb:entity-merge", "POST"): MANAGER,
    "kb:import": MEMBER,
    ("kb:import", "POST"): MANAGER,
    "kb:job": MEMBER,
    "tokens:list": LOGIN,
    "tokens:revoke": SELF,
    "api:schema": PUBLIC,
    "api:docs": PUBLIC,
    "api:token-list": LOGIN,
    "api:token-detail": SELF,
    "api:project-list": LOGIN,
    "api:entity-type-list": MEMBER,
    ("api:entity-type-list", "POST"): MANAGER,
    "api:entity-type-detail": MEMBER,
    ("api:entity-type-detail", "PATCH"): MANAGER,
    ("api:entity-type-detail", "DELETE"): MANAGER,
    "api:entity-type-merge": MANAGER,
    "api:attribute-list": MEMBER,
    ("api:attribute-list", "POST"): MANAGER,
    "api:attribute-detail": MEMBER,
    ("api:attribute-detail", "PATCH"): MANAGER,
    ("api:attribute-detail", "DELETE"): MANAGER,
    "api:relation-type-list": MEMBER,
    ("api:relation-type-list", "POST"): MANAGER,
    "api:relation-type-detail": MEMBER,
    ("api:relation-type-detail", "PATCH"): MANAGER,
    ("api:relation-type-detail", "DELETE"): MANAGER,
    "api:relation-type-merge": MANAGER,
    "api:project-detail": MEMBER,
    "api:article-list": MEMBER,
    "api:article-detail": MEMBER,
    "api:article-sets": MEMBER,
    "api:set-detail": MEMBER,
    "api:set-submit": OWNER,
    "api:set-reopen": OWNER,
    "api:set-spans": OWNER,
    "api:set-relations": OWNER,
    "api:set-decisions": OWNER,
    "api:span-detail": OWNER,
    "api:span-link": OWNER,
    "api:relation-detail": OWNER,
    "api:decision-detail": OWNER,
    "api:project-imports": MEMBER,
    ("api:project-imports", "POST"): MANAGER,
    "api:job-detail": MEMBER,
    "api:job-cancel": MANAGER,  # or whoever started the job (test_chunked_jobs.py)
    "exports:cancel": MANAGER,  # or whoever started the export (test_chunked_jobs.py)
    "kb:job_cancel": MANAGER,  # or whoever started the import (test_chunked_jobs.py)
    "api:kb-candidates": MEMBER,
    "api:kb-entity-list": MEMBER,
    ("api:kb-entity-list", "POST"): MEMBER,  # as on the pages: annotators add entities while linking
    "api:kb-entity-detail": MEMBER,
    "api:kb-import-list": MEMBER,
    ("api:kb-import-list", "POST"): MANAGER,
    "api:article-suggestions": MEMBER,
    "api:suggest": LOGIN,
    "api:preannotate": MANAGER,
    "api:train-suggester": MANAGER,
    "api:suggester-list": MEMBER,
    "api:suggester-activate": MANAGER,
    "api:suggestion-quality": MEMBER,
    "api:suggester-settings": MEMBER,
    ("api:suggester-settings", "PATCH"): MANAGER,
    "api:learning-curve": MEMBER,
    "api:curate-gold": CURATOR,
    # Teams: members, settings, assignment, comments, history, curation.
    "projects:members": MANAGER,
    "projects:settings": MEMBER,
    ("projects:settings", "POST"): MANAGER,
    "api:project-members": MANAGER,
    "api:project-member": MANAGER,
    "api:project-settings": MEMBER,
    ("api:project-settings", "PATCH"): MANAGER,
    "api:next-article": MEMBER,
    "api:article-comments": MEMBER,
    "api:article-history": MEMBER,
    "review:comment": MEMBER,
    "review:history": MEMBER,
    "review:curate": CURATOR,
    "review:take": CURATOR,
    "review:take_agreed": CURATOR,
    "review:finish_gold": CURATOR,
    "api:curation": CURATOR,
    "api:curation-take": CURATOR,
    "api:curation-take-agreed": CURATOR,
    # Export and agreement: gold and comparisons are the curators' business.
    "exports:exports": CURATOR,
    "exports:detail": CURATOR,
    "exports:download": CURATOR,
    "api:project-export": CURATOR,
    "api:project-exports": CURATOR,
    "api:export-file": CURATOR,
    "agreement:dashboard": CURATOR,
    "agreement:articles": CURATOR,
    "api:agreement": CURATOR,
    "api:agreement-articles": CURATOR,
    # People: my account, managers add people to their project, staff manage the site's users.
    "accounts:account": LOGIN,
    "accounts:accept": PUBLIC,  # the invitation link is the key; an empty POST makes nothing
    "accounts:people": MANAGER,
    "accounts:revoke": MANAGER,
    "accounts:users": STAFF,
    "accounts:user-active": STAFF,
    "password_reset": PUBLIC,
    "password_reset_done": PUBLIC,
    "password_reset_confirm": PUBLIC,
    "password_reset_complete": PUBLIC,
    "api:account": LOGIN,
    "api:project-accounts": MANAGER,
    "api:project-invitations": MANAGER,
    "api:project-invitation": MANAGER,
    "api:user-list": STAFF,
    "api:user-detail": STAFF,
    # The article browser: members search; managers delete and re-queue.
    "browse:articles": MEMBER,
    "browse:delete": MANAGER,
    "browse:requeue": MANAGER,
    # A project's life: archive, unarchive, delete are the managers'.
    "lifecycle:page": MANAGER,
    "api:project-archive": MANAGER,
    "api:project-delete": MANAGER,
    "lifecycle:backup": MANAGER,
    "api:project-backup": MANAGER,
    "lifecycle:restore": STAFF,
    "api:project-restore": STAFF,
    # Sign-ins: lock-outs and the record of sign-ins.
    "signins:mine": LOGIN,
    "signins:staff": STAFF,
    "signins:unlock": STAFF,
    "signins:oidc-start": OFF,
    "signins:oidc-callback": OFF,
}
# Writes that a read-only token may make because they change nothing (starting an export job reads).
READING_WRITES = {("api:project-exports", "POST")}
# Page actions that find their object in the body: the matrix's empty body names nothing, so a caller
# allowed in gets 404 ("no such item") from them; callers not allowed in still get 403/404 first.
BODY_NAMES_THE_OBJECT = {"review:take"}
ACCESS_KINDS = (PUBLIC, LOGIN, MEMBER, OWNER, SELF, CURATOR, MANAGER, STAFF, OFF)
# API routes that are not operations of the API itself, so the schema does not describe them.
NOT_IN_SCHEMA = {"api:schema", "api:docs"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
FOREIGN = "Foreign-marker-7731"  # in every name of the other project: no answer may ever contain it


def access_of(name, method):
    """The declared access of a route's method; AssertionError saying what to declare when there is none."""
    declared = ACCESS.get((name, method), ACCESS.get(name))
    assert declared in ACCESS_KINDS, (
        f"{name} {method} has no declared access. Add `{name!r}: <kind>` (or `({name!r}, {method!r}): <kind>` "
        f"for one method) to ACCESS in tests/integration/test_permission_matrix.py, the kind one of "
        f"{', '.join(ACCESS_KINDS)}; and map its id parameters in tests/integration/test_access.py."
    )
    return declared


@dataclass(frozen=True)
class Caller:
    name: str
    role: str | None = None  # role in the news project, for session callers
    user: object = None
    token: str | None = None  # the Authorization header's token, for token callers
    token_error: str | None = None  # the 401 message a broken token gets


REACHED = "reached"  # the view did its work: neither hidden nor refused (a 400 for the empty body is fine)


def expected(caller, access, method, is_api, name=""):
    """What a caller gets: REACHED, or one exact status (302 means: sent to the login page)."""
    if caller.token is not None and not is_api:
        caller = Caller("anonymous")  # pages authenticate by session only
    if caller.token_error:
        return 401
    if access == OFF:
        return 404
    if caller.name == "anonymous":
        return REACHED if access == PUBLIC else (401 if is_api else 302)
    if access == STAFF:
        return 403
    if access in (PUBLIC, LOGIN):
        if caller.name == "read-only token" and method not in SAFE_METHODS and access == LOGIN:
            return 403
        return REACHED
    if caller.name in ("non-member", "token of another project"):
        return 404
    if (
        caller.name == "read-only token"
        and method not in SAFE_METHODS
        and (name, method) not in READING_WRITES
    ):
        return 403
    role = caller.role
    if access == SELF:
        return REACHED if caller.name == "annotator" else 404
    if access == OWNER:
        return REACHED if method in SAFE_METHODS or role == Role.ANNOTATOR else 403
    if access == CURATOR:
        return REACHED if role in (Role.CURATOR, Role.MANAGER) else 403
    if access == MANAGER:
        return REACHED if role == Role.MANAGER else 403
    return REACHED


@pytest.fixture
def world(news, outsider):
    """The news project with a curator, and the outsider's project full of objects named FOREIGN."""
    curator = UserFactory(username="carol")
    MembershipFactory(project=news.project, user=curator, role=Role.CURATOR)
    foreign = outsider.memberships.get().project
    foreign.name = f"{FOREIGN} project"
    foreign.save()
    foreign_article = ArticleFactory(project=foreign, title=f"{FOREIGN} article", text=f"{FOREIGN} text.")
    KBEntityFactory(
        knowledge_base=KnowledgeBaseFactory(project=foreign, name=f"{FOREIGN} KB"), name=f"{FOREIGN} entity"
    )
    SuggesterVersionFactory(project=foreign, name=f"{FOREIGN}-suggester")
    create_token(user=outsider, name=f"{FOREIGN} token")
    # A second project of the manager: a token limited to it must not reach the news project.
    elsewhere = MembershipFactory(user=news.manager, role=Role.MANAGER, project__name="Maria's other").project
    callers = [
        Caller("anonymous"),
        Caller("non-member", user=outsider),
        Caller("annotator", Role.ANNOTATOR, news.annotator),
        Caller("curator", Role.CURATOR, curator),
        Caller("manager", Role.MANAGER, news.manager),
        Caller("read-only token", Role.MANAGER, token=create_token(user=news.manager, name="ro")[1]),
        Caller("expired token", token=expired_token(news.manager), token_error="This token has expired."),
        Caller("revoked token", token=revoked_token(news.manager), token_error="This token was revoked."),
        Caller(
            "token of another project",
            token=create_token(user=news.manager, name="other", scope=Scope.WRITE, project=elsewhere)[1],
        ),
    ]
    return news, foreign_article, callers


def expired_token(user):
    token, secret = create_token(user=user, name="expired", scope=Scope.WRITE)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    return secret


def revoked_token(user):
    token, secret = create_token(user=user, name="revoked", scope=Scope.WRITE)
    revoke_token(token)
    return secret


def schema_operations():
    """(url name, HTTP method) of every operation the OpenAPI schema documents."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = set()
    for path, item in schema["paths"].items():
        name = resolve(re.sub(r"\{[^}]+\}", "1", path)).view_name
        operations |= {(name, method.upper()) for method in item if method != "parameters"}
    return operations


def send(client, caller, method, url):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {caller.token}"} if caller.token else {}
    if method == "GET":
        return client.get(url, **headers)
    return client.generic(method, url, "{}", content_type="application/json", **headers)


class CallerClients:
    """One test client per caller, its session made once: signing in and out around each of ~2,000
    requests (two session rows written, one deleted, the user's last login saved) took two fifths of the
    matrix's time. A request that ends or replaces a caller's session (a POST to log out, a sign-in)
    changes its cookie: that caller signs in again before its next request. Callers without a session
    (anonymous, tokens) start each request with no cookie at all, as after a logout."""

    def __init__(self, callers):
        from django.conf import settings
        from django.test import Client

        self.cookie = settings.SESSION_COOKIE_NAME
        self.clients = {caller.name: Client() for caller in callers}
        self.keys: dict[str, str] = {}

    def of(self, caller):
        from http.cookies import SimpleCookie

        client = self.clients[caller.name]
        if caller.user is None:
            client.cookies = SimpleCookie()
            return client
        current = client.cookies.get(self.cookie)
        if current is None or current.value != self.keys.get(caller.name):
            client.cookies = SimpleCookie()
            client.force_login(caller.user)
            self.keys[caller.name] = client.cookies[self.cookie].value
        return client


def check(client, caller, name, method, url, is_api):
    """What is wrong with this caller's answer from this route: nothing when it is as declared."""
    response = send(client, caller, method, url)
    # An export download streams: read it, it is what a caller would see.
    content = b"".join(response.streaming_content) if response.streaming else response.content
    status = response.status_code
    try:
        want = expected(caller, access_of(name, method), method, is_api, name)
    except AssertionError as missing:
        return [str(missing)]
    where = f"{method} {url} ({name}) as {caller.name} answered {status}"
    hidden = (401, 403, 405) if name in BODY_NAMES_THE_OBJECT else (401, 403, 404, 405)
    if status >= 500 or (want == REACHED and status in hidden) or want not in (REACHED, status):
        return [f"{where}; expected {want}"]
    problems = []
    if FOREIGN.encode() in content and caller.name != "non-member":  # the outsider's own project
        problems.append(f"{where} and showed another project's object")
    if want == 302 and not response["Location"].startswith(reverse("login")):
        problems.append(f"{where} to {response['Location']}, not to the login page")
    if (
        want == 401
        and caller.token_error
        and name not in NOT_IN_SCHEMA
        and caller.token_error not in error_message(response)
    ):
        problems.append(f"{where} saying {error_message(response)!r}")
    read_only = want == 403 and is_api and caller.name == "read-only token" and method not in SAFE_METHODS
    if read_only and "This token is read-only." not in error_message(response):
        problems.append(f"{where} saying {error_message(response)!r}")
    return problems


def error_message(response):
    """The message of an API error: JSON from the API, YAML or HTML from the schema and docs views."""
    if response.streaming:
        return ""
    if response["Content-Type"].startswith("application/json"):
        return json.loads(response.content)["error"]["message"]
    return response.content.decode()


def urls_of(news):
    """Every route of the URL conf with its reversed URL, and the methods to try on it."""
    api = schema_operations()
    documented = {name for name, _ in api}
    found = []
    # The pages first, then the API (the order of the URL conf before the API's routes were moved first):
    # an API call may revoke or consume what a page's row still needs (an invitation, a token).
    for name, params in sorted(routes(), key=lambda route: route[0].startswith("api:")):
        url = reverse(name, kwargs=object_ids(news, name, params) if params else None) + query_for(news, name)
        if name.startswith("api:") and name not in NOT_IN_SCHEMA:
            assert name in documented, f"{name} is routed but missing from the OpenAPI schema"
            found.append((name, url, True, sorted(m for n, m in api if n == name)))
        else:
            found.append((name, url, name.startswith("api:"), ["GET", "POST"]))
    assert documented <= {name for name, *_ in found}, "the schema documents an operation with no route"
    return found


@pytest.fixture
def exported(news):
    """The file of test_access's finished export job, so that its download routes have one to serve."""
    from annotator.interchange.exports import export_path
    from tests.integration.test_access import export_job

    path = export_path(export_job(news))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"text": "exported"}\n')
    yield path
    path.unlink(missing_ok=True)


def keep_members(news, callers):
    from annotator.projects.models import Membership

    members = [caller for caller in callers if caller.role is not None and caller.user is not None]
    # One read when nothing changed (most requests): three update_or_create after each of ~2,000 requests
    # were a fifth of this test's CPU.
    found = Membership.objects.filter(project=news.project, user__in=[caller.user for caller in members])
    if dict(found.values_list("user_id", "role")) == {caller.user.pk: caller.role for caller in members}:
        return
    for caller in members:
        Membership.objects.update_or_create(
            project=news.project, user=caller.user, defaults={"role": caller.role}
        )


def test_every_route_and_operation_as_every_caller(world, exported):
    news, _, callers = world
    clients = CallerClients(callers)
    tried, problems = 0, []
    manager = next(caller for caller in callers if caller.name == "manager")
    for name, url, is_api, methods in urls_of(news):
        for method in methods:
            if (not is_api or name in NOT_IN_SCHEMA) and send(
                clients.of(manager), manager, method, url
            ).status_code == 405:
                continue  # the page does not take this method
            for caller in callers:
                problems += check(clients.of(caller), caller, name, method, url, is_api)
                if method not in SAFE_METHODS:
                    keep_members(news, callers)  # a manager's DELETE of a member must not change later rows
                tried += 1
    if problems:
        pytest.fail("\n".join(sorted(set(problems))), pytrace=False)
    assert tried > 700  # every caller really went through every route


def test_an_unmapped_route_fails_with_what_to_add():
    with pytest.raises(AssertionError, match=r"Add `'review:new-page': <kind>`"):
        access_of("review:new-page", "GET")


# Cross-project ids inside request bodies: an id of another project's object is a 404, like in a URL.


@pytest.fixture
def foreign_objects(news, outsider):
    """One of everything in the outsider's project, for the news members to name in their requests."""
    from annotator.annotations.services import create_span, get_or_create_own_set
    from tests.factories import EntityTypeFactory, SuggestionFactory

    project = outsider.memberships.get().project
    article = ArticleFactory(project=project, text=news.article.text)
    person = EntityTypeFactory(project=project, name="PERSON")
    own_set = get_or_create_own_set(article=article, user=outsider)
    span = create_span(
        annotation_set=own_set,
        start=0,
        end=16,
        entity_type=person,
        by=outsider,
        expected_version=own_set.version,
    )
    kb = KnowledgeBaseFactory(project=project)
    return {
        "project": project.pk,
        "article": article.pk,
        "span": span.pk,
        "suggestion": SuggestionFactory(article=article, entity_type=person).pk,
        "kb": kb.pk,
        "entity": KBEntityFactory(knowledge_base=kb).pk,
        "suggester": SuggesterVersionFactory(project=project).pk,
    }


def set_version(client, news):
    return client.get(reverse("api:set-detail", args=[news.annotation_set.pk]))["ETag"]


def own_span(news):
    from annotator.annotations.services import create_span

    return create_span(
        annotation_set=news.annotation_set, start=25, end=30, entity_type=news.gpe, by=news.annotator,
        expected_version=news.annotation_set.version,
    )  # fmt: skip


BODY_CASES = {
    # name: (who sends it, url name, what the url points at, the body naming foreign objects)
    "relation head": (
        "annotator", "api:set-relations", "set", lambda f, s: {"head": f["span"], "tail": s, "type": "visited"}
    ),
    "relation tail": (
        "annotator", "api:set-relations", "set", lambda f, s: {"head": s, "tail": f["span"], "type": "visited"}
    ),
    "decision suggestion": (
        "annotator", "api:set-decisions", "set", lambda f, s: {"suggestion": f["suggestion"], "verdict": "accepted"}
    ),
    "link entity": ("annotator", "api:span-link", "span", lambda f, s: {"kb_entity": f["entity"]}),
    "kb entity's kb": (
        "manager", "api:kb-entity-list", "project",
        lambda f, s: {"knowledge_base": f["kb"], "kb_id": "Q1", "name": "X", "type": "PERSON"},
    ),
    "preannotate articles": ("manager", "api:preannotate", "project", lambda f, s: {"article_ids": [f["article"]]}),
    "preannotate suggester": (
        "manager", "api:preannotate", "project", lambda f, s: {"suggester_version": f["suggester"]}
    ),
    "suggest project": ("annotator", "api:suggest", None, lambda f, s: {"project": f["project"], "text": "Minsk"}),
    "token project": ("annotator", "api:token-list", None, lambda f, s: {"name": "x", "project": f["project"]}),
}  # fmt: skip


@pytest.mark.parametrize("case", BODY_CASES)
def test_another_projects_id_in_a_body_is_not_found(client, news, foreign_objects, case):
    who, name, target, body = BODY_CASES[case]
    span = own_span(news)
    client.force_login(news.annotator if who == "annotator" else news.manager)
    kwargs = {
        "set": {"pk": news.annotation_set.pk},
        "span": {"pk": span.pk},
        "project": {"project_id": news.project.pk},
    }
    url = reverse(name, kwargs=kwargs.get(target))
    method = "put" if name == "api:span-link" else "post"
    headers = {"HTTP_IF_MATCH": set_version(client, news)} if target in ("set", "span") else {}
    response = getattr(client, method)(
        url, body(foreign_objects, span.pk), content_type="application/json", **headers
    )
    assert response.status_code == 404, (case, response.status_code, response.content[:300])
    assert response.json()["error"]["code"] == "not_found"
    # The same answer as for an id that exists nowhere: the answer does not tell the two apart.
    missing = dict.fromkeys(foreign_objects, 10**6)
    again = getattr(client, method)(url, body(missing, span.pk), content_type="application/json", **headers)
    assert again.status_code == 404
    assert re.sub(r"\d+", "N", again.content.decode()) == re.sub(r"\d+", "N", response.content.decode())


PAGE_BODY_CASES = {
    "accept": lambda f, s: {"suggestion": f["suggestion"]},
    "link-span": lambda f, s: {"span": s, "kb_entity": f["entity"]},
    "delete-span": lambda f, s: {"span": f["span"]},
    "create-relation": lambda f, s: {"head": s, "tail": f["span"], "relation_type": 1},
}


@pytest.mark.parametrize("action", PAGE_BODY_CASES)
def test_another_projects_id_in_an_annotate_page_form_is_not_found(client, news, foreign_objects, action):
    span = own_span(news)
    client.force_login(news.annotator)
    data = {**PAGE_BODY_CASES[action](foreign_objects, span.pk), "version": news.annotation_set.version + 1}
    response = client.post(
        reverse("review:act", args=[news.article.pk, action]), data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404
    news.annotation_set.refresh_from_db()
    assert news.annotation_set.version == 2  # only the span made above
