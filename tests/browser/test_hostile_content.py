"""Hostile content (tests/hostile.py) on every page that shows it, in Debian's chromium.

One project is filled with the corpus once for the module: names, descriptions, labels, KB entities,
article text, metadata, guideline Markdown, usernames, failed imports with hostile file names, jobs,
suggesters, tokens. Every page is then opened once, with the Content Security Policy switched off in the
browser, so that what is tested is the escaping alone (the CSP is the second wall, not the first).
Each page must: run nothing (no `window.__pwned`, no dialog, no console error), inject nothing (no
`[data-pwned]` element, no inline event handler, no `javascript:` URL), send nothing to another host,
keep the user logged in, and show each hostile string as text, character for character.

Adding a page to the sweep is one line in PAGES.
"""

import json
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from annotator.accounts.models import Invitation, invitation_digest
from annotator.annotations.services import (
    create_relation,
    create_span,
    get_or_create_gold_set,
    get_or_create_own_set,
    link_span,
    set_span_attribute,
    submit_set,
)
from annotator.api.tokens import create_token
from annotator.articles.models import Article
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import start_import
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.kb.imports import start_kb_import
from annotator.kb.services import EntityRecord, create_knowledge_base, upsert_entity
from annotator.projects.models import EntityType, EntityTypeAttribute, Project, RelationType, Role
from annotator.projects.services import add_member, update_guidelines
from annotator.review.comments import add_comment
from annotator.suggestions.models import SuggesterVersion, Suggestion, SuggestionKind
from tests import hostile as H

PASSWORD = "correct horse battery staple"
INVITATION_SECRET = "hostile-invitation-secret"
SCREENSHOTS = Path(tempfile.gettempdir())  # look at them: hostile-annotate.png, hostile-link-panel.png

# What a page must not contain or do, read in the page after it loaded.
PROBE = """
() => {
  const attributes = [];
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      const value = attribute.value.trim().toLowerCase();
      if (attribute.name.startsWith("on")) attributes.push(`${element.tagName} ${attribute.name}`);
      if (value.startsWith("javascript:")) attributes.push(`${element.tagName} ${attribute.name}=${value}`);
    }
  }
  const fields = Array.from(document.querySelectorAll("input, textarea"), (field) => field.value);
  return {
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    injected: Array.from(document.querySelectorAll("[data-pwned]"), (element) => element.outerHTML),
    attributes,
    text: [document.title, document.body.textContent, ...fields].join("\\n"),
  };
}
"""

# Text after a user's string with an unclosed RIGHT-TO-LEFT OVERRIDE, in the same bidi paragraph, is shown
# reversed ("Import of x\u202egnp.exe · 3 errors" as "srorre 3 · exe.png"): user text must be isolated.
SPILLS = """
(needles) => {
  const isolating = (element) => {
    const style = getComputedStyle(element);
    return !["inline", "contents"].includes(style.display)
      || ["isolate", "isolate-override", "plaintext"].includes(style.unicodeBidi);
  };
  const spills = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    // The article text is the user's own (its overrides apply as written); screen-reader-only text is not drawn.
    if (node.parentElement.closest("#text, .visually-hidden, script, style, noscript, template")) continue;
    for (const needle of needles) {
      const at = node.data.indexOf(needle);
      if (at === -1) continue;
      // Put into a sentence between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE, it reorders nothing.
      if ("\u2068" === node.data[at - 1] && "\u2069" === node.data[at + needle.length]) continue;
      let paragraph = node.parentElement;
      while (!isolating(paragraph)) paragraph = paragraph.parentElement;
      let after = node.data.slice(at + needle.length);
      const rest = document.createTreeWalker(paragraph, NodeFilter.SHOW_TEXT);
      rest.currentNode = node;
      for (let next = rest.nextNode(); next; next = rest.nextNode()) after += next.data;
      // Where line breaks are kept (a textarea, pre), a line break ends the bidi paragraph and its override.
      if (/^(pre|pre-wrap|pre-line|break-spaces)$/.test(getComputedStyle(paragraph).whiteSpace)) {
        after = after.split("\\n")[0];
      }
      if (after.trim()) {
        const where = `<${paragraph.tagName.toLowerCase()} class="${paragraph.className}">`;
        spills.push(`${JSON.stringify(needle)} reverses ${JSON.stringify(after.trim().slice(0, 60))} in ${where}`);
      }
    }
  }
  return spills;
}
"""

# Where the first and the last character of an element's text are drawn: [left, top] of each.
ENDS = """
(element) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node);
  const box = (node, index) => {
    const range = document.createRange();
    range.setStart(node, index);
    range.setEnd(node, index + 1);
    const rect = range.getBoundingClientRect();
    return [rect.left, rect.top];
  };
  const last = nodes[nodes.length - 1];
  return [box(nodes[0], 0), box(last, last.data.length - 1)];
}
"""


@dataclass(frozen=True)
class Page:
    """A page of the sweep: its URL (a format string over the world's ids) and the strings it must show."""

    name: str
    url: str
    shows: tuple[str, ...] = ()
    # An htmx fragment opened on its own has none of its page's styles, so bidi isolation is not checked.
    fragment: bool = False


P = "/projects/{project}"
PAGES = [
    Page("project list", "/projects/", (H.PROJECT_NAME, H.PROJECT_DESCRIPTION, H.MANAGER_NAME)),
    Page("dashboard", f"{P}/", (
        H.PROJECT_NAME, H.ARTICLE_TITLE, H.EXTERNAL_ID, H.SECOND_TITLE, H.PERSON, H.GPE, H.ORG,
        H.TYPE_DESCRIPTION, H.MET, H.NEAR, H.MANAGER_NAME, H.ANNOTATOR_NAME,
    )),
    Page("dashboard search", f"{P}/?q={quote(H.SEARCH_QUERY)}", (H.SEARCH_QUERY,)),
    Page("members", f"{P}/members/", (H.PROJECT_NAME, H.MANAGER_NAME, H.ANNOTATOR_NAME)),
    Page("project settings", f"{P}/settings/", (H.PROJECT_NAME,)),
    Page("curation", "/articles/{article}/curate/", (
        H.ARTICLE_TITLE, H.NARYSHKIN_SURFACE, H.IMG_SURFACE, H.PERSON, H.GPE, H.ANNOTATOR_NAME, H.MANAGER_NAME,
        H.COMMENT,
    )),
    Page("history", "/articles/{article}/history/", (H.ARTICLE_TITLE, H.ANNOTATOR_NAME, H.MANAGER_NAME)),
    # One submitted set is not enough to measure agreement: these pages show the project's name only.
    Page("agreement", f"{P}/agreement/", (H.PROJECT_NAME,)),
    Page("agreement by article", f"{P}/agreement/articles/", (H.PROJECT_NAME,)),
    Page("exports", f"{P}/exports/", (H.PROJECT_NAME,)),
    Page("guidelines", f"{P}/guidelines/", (H.GUIDELINES_LITERAL, H.GUIDELINES_LITERAL_END, H.PROJECT_NAME)),
    Page("article", "/articles/{article}/", (
        H.ARTICLE_TEXT, H.ARTICLE_TITLE, H.EXTERNAL_ID, H.NARYSHKIN_SURFACE, H.IMG_SURFACE, H.PERSON, H.ORG,
        H.NARYSHKIN_NAME, *H.METADATA, *H.METADATA.values(), H.ATTRIBUTE_NAME, H.ATTRIBUTE_VALUE,
    )),
    Page("annotate workspace", "/articles/{article}/annotate/workspace/", (H.ARTICLE_TEXT,), fragment=True),
    Page("annotate blocks", "/articles/{article}/annotate/blocks/?first=0&last=0", (H.PERSON, H.MET), fragment=True),
    Page("knowledge base", f"{P}/kb/", (
        H.KB_DESCRIPTION, H.MINSK_NAME, H.MINSK_ID, H.MINSK_ALIAS, H.NARYSHKIN_NAME,
    )),
    Page("knowledge base search", f"{P}/kb/?q={quote(H.SEARCH_QUERY)}", (H.SEARCH_QUERY, H.KB_NAME)),
    Page("entity", f"{P}/kb/entities/{{minsk}}/", (
        H.MINSK_NAME, H.MINSK_ID, H.MINSK_ALIAS, H.ENTITY_DESCRIPTION, H.KB_NAME,
    )),
    Page("entity with mentions", f"{P}/kb/entities/{{naryshkin}}/", (
        H.NARYSHKIN_NAME, H.NARYSHKIN_SURFACE, H.ARTICLE_TITLE, H.PERSON, H.MANAGER_NAME,
    )),
    Page("entity edit", f"{P}/kb/entities/{{minsk}}/edit/", (H.MINSK_NAME, H.ENTITY_DESCRIPTION)),
    Page("entity merge", f"{P}/kb/entities/{{minsk}}/merge/", (H.MINSK_NAME, H.MINSK_ID)),
    Page("entity picker", f"{P}/kb/entities/pick/?field=target&q=Minsk", (H.MINSK_NAME, H.MINSK_ID), True),
    Page("new entity", f"{P}/kb/entities/new/?name={quote(H.SEARCH_QUERY)}", (H.SEARCH_QUERY,)),
    Page("KB imports", f"{P}/kb/import/", (H.KB_FILE_NAME, H.MANAGER_NAME, H.KB_NAME)),
    Page("KB import job", f"{P}/kb/import/{{kb_job}}/", (H.KB_FILE_NAME, H.KB_NAME)),
    Page("article imports", f"{P}/imports/", (H.IMPORT_FILE_NAME, H.MANAGER_NAME)),
    Page("article import job", f"{P}/imports/{{import_job}}/", (H.IMPORT_FILE_NAME, H.IMPORT_BAD_LABEL)),
    Page("suggesters", f"{P}/suggesters/", (
        H.SUGGESTER_NAME, H.SUGGESTER_VERSION, H.SUGGESTER_DESCRIPTION, H.JOB_MESSAGE, H.JOB_ERROR,
        H.SUGGESTION_SOURCE, H.ANNOTATOR_NAME, H.PERSON, H.GPE,
    )),
    Page("curate gold", f"{P}/gold/curate/", (H.PROJECT_NAME, H.SECOND_TITLE)),
    Page("suggester jobs", f"{P}/suggesters/jobs/", (H.JOB_MESSAGE, H.JOB_ERROR), fragment=True),
    Page("API tokens", "/account/tokens/", (H.TOKEN_NAME, H.PROJECT_NAME)),
    Page("new project", "/projects/new/", (H.PROJECT_NAME,)),
    Page("schema", f"{P}/schema/", (H.PERSON, H.GPE, H.ORG, H.TYPE_DESCRIPTION, H.MET, H.NEAR, H.ATTRIBUTE_NAME)),
    Page("schema: entity type", f"{P}/schema/types/{{person}}/", (H.PERSON, H.ATTRIBUTE_NAME, H.ATTRIBUTE_VALUE)),
    Page("schema: attribute", f"{P}/schema/types/{{person}}/attributes/{{attribute}}/", (H.PERSON, H.ATTRIBUTE_NAME)),
    Page("schema: relation type", f"{P}/schema/relations/{{met}}/", (H.MET, H.PERSON, H.GPE, H.ORG)),
    Page("schema: remove a type", f"{P}/schema/types/{{person}}/remove/", (H.PERSON,)),
    Page("guidelines editor", f"{P}/guidelines/edit/", (H.GUIDELINES_LITERAL, H.PROJECT_NAME)),
    Page("annotate attributes", "/articles/{article}/annotate/attributes/?span={naryshkin_span}", (
        H.PERSON, H.ATTRIBUTE_NAME,
    ), fragment=True),
    Page("articles", f"{P}/articles/", (
        H.PROJECT_NAME, H.ARTICLE_TITLE, H.EXTERNAL_ID, H.SECOND_TITLE, H.MANAGER_NAME, H.ANNOTATOR_NAME,
    )),
    Page("articles search", f"{P}/articles/?q={quote(H.SEARCH_QUERY)}", (H.SEARCH_QUERY,)),
    Page("archive or delete", f"{P}/lifecycle/", (H.PROJECT_NAME,)),
    Page("account", "/account/", (H.PROJECT_NAME, H.MANAGER_NAME)),
    Page("add people", f"{P}/people/", (H.PROJECT_NAME, H.INVITED_NAME, H.INVITED_FULL_NAME)),
    Page("invitation", "/invitations/{invitation}/", (H.PROJECT_NAME, H.MANAGER_NAME, H.INVITED_NAME)),
    Page("site users", "/staff/users/", (H.MANAGER_NAME, H.ANNOTATOR_NAME)),
    Page("admin: projects", "/admin/projects/project/", (H.PROJECT_NAME,)),
    Page("admin: entity types", "/admin/projects/entitytype/", (H.PERSON, H.GPE, H.ORG, H.BAD_COLOUR)),
    Page("admin: articles", "/admin/articles/article/", (H.ARTICLE_TITLE, H.EXTERNAL_ID)),
    Page("admin: spans", "/admin/annotations/span/", (H.NARYSHKIN_SURFACE, H.IMG_SURFACE)),
    Page("admin: KB entities", "/admin/kb/kbentity/", (H.MINSK_NAME, H.NARYSHKIN_NAME)),
    Page("admin: jobs", "/admin/jobs/job/", ()),
    Page("admin: users", "/admin/auth/user/", (H.MANAGER_NAME, H.ANNOTATOR_NAME)),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _live_server_helper(request):
    """pytest-django's helper, without the transactional_db it requests: that would empty the database
    after each test, and this module builds its data once (`world`) and empties the database itself."""
    live_server = request.getfixturevalue("live_server")
    live_server._live_server_modified_settings.enable()
    yield
    live_server._live_server_modified_settings.disable()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        try:
            yield build_world(tmp_path_factory.mktemp("hostile"))
        finally:
            # What transactional_db does after each test: leave an empty database to the next tests.
            call_command("flush", interactive=False, verbosity=0)


def build_world(directory):
    users = get_user_model().objects
    manager = users.create_superuser(H.MANAGER_NAME, password=PASSWORD)  # superuser: the admin pages too
    annotator = users.create_user(H.ANNOTATOR_NAME, password=PASSWORD)
    project = Project.objects.create(name=H.PROJECT_NAME, slug="hostile", description=H.PROJECT_DESCRIPTION)
    add_member(project=project, user=manager, role=Role.MANAGER)
    add_member(project=project, user=annotator, role=Role.ANNOTATOR)
    update_guidelines(project=project, text=H.GUIDELINES, by=manager)

    person = EntityType.objects.create(
        project=project, name=H.PERSON, key="p", colour="#ffd6a5", description=H.TYPE_DESCRIPTION
    )
    gpe = EntityType.objects.create(project=project, name=H.GPE, key="ж", colour="#9bf6ff", position=1)
    org = EntityType.objects.create(project=project, name=H.ORG, key="o", colour=H.BAD_COLOUR, position=2)
    met = RelationType.objects.create(project=project, name=H.MET, description=H.TYPE_DESCRIPTION)
    met.head_types.set([person])
    RelationType.objects.create(project=project, name=H.NEAR, directed=False)

    kb = create_knowledge_base(project=project, name=H.KB_NAME, description=H.KB_DESCRIPTION)
    minsk, _ = upsert_entity(knowledge_base=kb, record=EntityRecord(
        kb_id=H.MINSK_ID, name=H.MINSK_NAME, aliases=(("Minsk", ""), (H.MINSK_ALIAS, "")),
        description=H.ENTITY_DESCRIPTION, type=H.GPE, prior=0.5,
    ))  # fmt: skip
    upsert_entity(
        knowledge_base=kb, record=EntityRecord(kb_id="minsk-region", name="Minsk Region", prior=0.1)
    )
    naryshkin, _ = upsert_entity(knowledge_base=kb, record=EntityRecord(
        kb_id="naryshkin", name=H.NARYSHKIN_NAME, aliases=(("Sergey Naryshkin", ""),), type=H.PERSON, prior=0.9
    ))  # fmt: skip

    article = Article.objects.create(
        project=project, title=H.ARTICLE_TITLE, external_id=H.EXTERNAL_ID, text=H.ARTICLE_TEXT,
        metadata=H.METADATA,
    )  # fmt: skip
    second = Article.objects.create(project=project, title=H.SECOND_TITLE, text=f"{H.SECOND_TITLE}\n")

    own = get_or_create_own_set(article=article, user=manager)
    spans = {}
    for surface, entity_type in [
        (H.ZWJ_FAMILY, person), (H.NARYSHKIN_SURFACE, person), (H.IMG_SURFACE, org), (H.OVERRIDE_SURFACE, gpe),
    ]:  # fmt: skip
        start = H.ARTICLE_TEXT.index(surface)
        spans[surface] = create_span(
            annotation_set=own, start=start, end=start + len(surface), entity_type=entity_type, by=manager,
            expected_version=own.version, surface=surface,
        )  # fmt: skip
        own.refresh_from_db()
    link_span(span=spans[H.NARYSHKIN_SURFACE], kb_entity=naryshkin, by=manager, expected_version=own.version)
    own.refresh_from_db()
    attribute = EntityTypeAttribute.objects.create(
        entity_type=person, name=H.ATTRIBUTE_NAME, kind="choice", choices=[H.ATTRIBUTE_VALUE, "plain"]
    )
    set_span_attribute(
        span=spans[H.NARYSHKIN_SURFACE], attribute=attribute, value=H.ATTRIBUTE_VALUE, by=manager,
        expected_version=own.version,
    )  # fmt: skip
    own.refresh_from_db()
    link_span(span=spans[H.IMG_SURFACE], kb_entity=None, by=manager, expected_version=own.version)
    own.refresh_from_db()
    relation = create_relation(
        annotation_set=own, head=spans[H.NARYSHKIN_SURFACE], tail=spans[H.IMG_SURFACE], relation_type=met,
        by=manager, expected_version=own.version,
    )  # fmt: skip

    # The annotator's submitted set, for the curation page to compare, and a comment on one of its spans.
    theirs = get_or_create_own_set(article=article, user=annotator)
    for surface, entity_type in [(H.NARYSHKIN_SURFACE, person), (H.IMG_SURFACE, gpe)]:
        start = H.ARTICLE_TEXT.index(surface)
        span = create_span(
            annotation_set=theirs, start=start, end=start + len(surface), entity_type=entity_type, by=annotator,
            expected_version=theirs.version,
        )  # fmt: skip
        theirs.refresh_from_db()
    submit_set(annotation_set=theirs, by=annotator, expected_version=theirs.version)
    add_comment(article=article, author=annotator, text=H.COMMENT, span=span)
    get_or_create_gold_set(article=second)  # gold in progress, for the page that curates it in bulk

    suggester = SuggesterVersion.objects.create(
        project=project, name=H.SUGGESTER_NAME, kind="rules", version=H.SUGGESTER_VERSION,
        description=H.SUGGESTER_DESCRIPTION, is_active=True,
    )  # fmt: skip
    minsk_start = H.ARTICLE_TEXT.index(H.MINSK_SURFACE)
    minsk_end = minsk_start + len(H.MINSK_SURFACE)
    suggestions = [
        Suggestion.objects.create(
            article=article, suggester_version=suggester, kind=SuggestionKind.ENTITY, start=minsk_start,
            end=minsk_end, entity_type=gpe, score=0.9, source=H.SUGGESTION_SOURCE,
        ),
        Suggestion.objects.create(
            article=article, suggester_version=suggester, kind=SuggestionKind.LINK, start=minsk_start,
            end=minsk_end, entity_type=gpe, kb_entity=minsk, score=0.8, source=H.SUGGESTION_SOURCE,
        ),
    ]  # fmt: skip
    Job.objects.create(
        project=project, kind=JobKind.PREANNOTATE, status=JobStatus.FAILED, message=H.JOB_MESSAGE,
        errors=[{"message": H.JOB_ERROR}], created_by=annotator,
    )  # fmt: skip

    bad_articles = directory / "articles.jsonl"
    bad_articles.write_text(
        json.dumps({"text": "ab", "entities": [{"start": 0, "end": 1, "label": H.IMPORT_BAD_LABEL}]}) + "\n",
        encoding="utf-8",
    )
    import_job = start_import(
        project=project, path=bad_articles, file_name=H.IMPORT_FILE_NAME, options=ImportOptions(format="jsonl"),
        by=manager, delete_after=False,
    )  # fmt: skip
    bad_kb = directory / "kb.jsonl"
    bad_kb.write_text('{"id": "x", "name": ""}\n', encoding="utf-8")
    kb_job = start_kb_import(knowledge_base=kb, path=bad_kb, file_label=H.KB_FILE_NAME, by=manager)
    create_token(user=manager, name=H.TOKEN_NAME, project=project)
    Invitation.objects.create(
        project=project, role=Role.CURATOR, username=H.INVITED_NAME, full_name=H.INVITED_FULL_NAME,
        digest=invitation_digest(INVITATION_SECRET), created_by=manager,
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip

    for job in (import_job, kb_job):
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED, job.message  # the immediate task backend ran it
    return SimpleNamespace(
        project=project, article=article, second=second, spans=spans, relation=relation,
        suggestions=suggestions, manager=manager, minsk=minsk, naryshkin=naryshkin,
        ids={
            "project": project.pk, "article": article.pk, "minsk": minsk.pk, "naryshkin": naryshkin.pk,
            "import_job": import_job.pk, "kb_job": kb_job.pk, "org": org.pk, "invitation": INVITATION_SECRET,
            "person": person.pk, "attribute": attribute.pk, "met": met.pk,
            "naryshkin_span": spans[H.NARYSHKIN_SURFACE].pk,
        },
    )  # fmt: skip


@pytest.fixture(scope="module")
def signed_in(world, browser, live_server):
    """The manager's session, signed in once through the real form (the hostile username typed in)."""
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(H.MANAGER_NAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects/")
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def hostile_page(watched_page, signed_in, live_server):
    """A signed-in page without the CSP, whose requests to any other host are blocked and recorded."""
    page = watched_page(storage_state=signed_in, bypass_csp=True)
    origin = urlsplit(live_server.url).netloc

    def only_our_host(route):
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            page.problems.append(f"request left the site: {route.request.url}")
            route.abort()

    page.route("**/*", only_our_host)
    return page


def assert_nothing_ran(page, shows=(), *, isolated=True):
    found = page.evaluate(PROBE)
    assert found["pwned"] is None, f"a payload ran: window.__pwned = {found['pwned']}"
    assert found["injected"] == []
    assert found["attributes"] == []
    for text in shows:
        assert text in found["text"], f"not shown literally: {text!r}"
    if isolated:
        assert page.evaluate(SPILLS, H.OVERRIDING) == []


@pytest.mark.parametrize("spec", PAGES, ids=[spec.name for spec in PAGES])
def test_hostile_content_is_shown_as_text_and_runs_nothing(hostile_page, world, spec):
    url = spec.url.format(**world.ids)
    response = hostile_page.goto(url)
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]  # the second wall is up
    hostile_page.wait_for_load_state("networkidle")  # htmx acted on what it found (hx-trigger="load")
    assert urlsplit(hostile_page.url).path == urlsplit(url).path  # still signed in, not sent elsewhere
    assert_nothing_ran(hostile_page, spec.shows, isolated=not spec.fragment)


def choose(page, span):
    """Make the span current from its row in the side list, as a click does."""
    page.locator(f'.row[data-item="s{span.pk}"] .row-main').click()
    expect(page.locator(f'#text mark.current[data-item="s{span.pk}"]').first).to_be_visible()


def test_the_annotate_page_shows_hostile_text_literally_with_exact_offsets(hostile_page, world):
    page = hostile_page
    page.goto(f"/articles/{world.article.pk}/annotate/")
    text = page.locator("#text")
    expect(text).to_have_text(H.ARTICLE_TEXT, use_inner_text=False)
    assert text.text_content() == H.ARTICLE_TEXT
    assert page.get_by_role("heading", level=1).text_content() == H.ARTICLE_TITLE
    # Each highlighted span covers exactly its surface: the code-point offsets survived the emoji.
    for surface, span in world.spans.items():
        pieces = text.locator(f'mark[data-item="s{span.pk}"]').all_text_contents()
        assert "".join(pieces) == surface
    entity_suggestion = world.suggestions[0]
    pieces = text.locator(f'mark[data-item="g{entity_suggestion.pk}"]').all_text_contents()
    assert "".join(pieces) == H.MINSK_SURFACE
    assert (
        text.locator(f'mark[data-item="s{world.spans[H.IMG_SURFACE].pk}"]').first.get_attribute("data-label")
        == H.ORG
    )
    # That span's label is the ORG type's name, with an unclosed override: its text still reads left to right.
    img_mark = text.locator(f'mark[data-item="s{world.spans[H.IMG_SURFACE].pk}"]').first
    (first_left, first_top), (last_left, last_top) = img_mark.evaluate(ENDS)
    assert last_top > first_top + 2 or last_left > first_left, "the span's text is drawn reversed"
    rows = page.locator("#span-list").text_content()
    for expected in (H.PERSON, H.ORG, H.GPE, H.NARYSHKIN_NAME, H.NARYSHKIN_SURFACE, H.IMG_SURFACE):
        assert expected in rows
    relation_row = page.locator(f'.row[data-item="r{world.relation.pk}"]')
    assert H.MET in relation_row.text_content()
    assert H.MINSK_NAME in page.locator("#suggestion-list").text_content()
    page.screenshot(path=SCREENSHOTS / "hostile-annotate.png", full_page=True)

    # The link panel: the KB's hostile names among the candidates for "Minsk".
    naryshkin = world.spans[H.NARYSHKIN_SURFACE]
    choose(page, naryshkin)
    page.keyboard.press("/")
    expect(page.locator("#link-panel")).to_be_visible()
    # Type only once htmx has taken up the panel's search field (it keeps its state on the element): typed
    # into a panel swapped in but not yet processed, on a loaded machine, the input fired no search.
    page.wait_for_function("() => Boolean(document.querySelector('#kb-query')?.['htmx-internal-data'])")
    # Wait for the search itself (typed into a panel htmx has just swapped in), not only for its rows.
    with page.expect_response(lambda response: "candidates" in response.url and "q=Minsk" in response.url):
        page.locator("#kb-query").fill("Minsk")
    expect(page.locator(".candidate", has_text=H.MINSK_ID)).to_be_visible()
    candidates = page.locator("#candidate-results").text_content()
    for expected in (H.MINSK_NAME, H.MINSK_ID, H.GPE):
        assert expected in candidates
    assert H.NARYSHKIN_SURFACE in page.locator("#link-panel h2").text_content()
    page.screenshot(path=SCREENSHOTS / "hostile-link-panel.png")
    page.keyboard.press("Escape")

    # The relation panel: the hostile relation type names the schema allows from this span.
    expect(page.locator("#link-panel")).to_be_hidden()
    choose(page, naryshkin)
    page.keyboard.press(";")
    page.locator(f'.row[data-item="s{world.spans[H.OVERRIDE_SURFACE].pk}"] .row-main').click()
    panel = page.locator("#relation-panel")
    expect(panel.locator("button[data-action=relate]")).to_have_count(2)
    offered = panel.locator("button[data-action=relate]").all_text_contents()
    assert [H.MET in option for option in offered] == [True, False]
    assert [H.NEAR in option for option in offered] == [False, True]
    page.keyboard.press("Escape")

    # An action swaps hostile rows and text back in through htmx: accept the suggestion on "Minsk".
    page.locator(f'.row[data-item="g{entity_suggestion.pk}"] button[data-action=accept]').click()
    expect(page.locator("#version-label")).to_have_text("9")
    accepted = text.locator("mark.span", has_text=H.MINSK_SURFACE).first
    expect(accepted).to_have_attribute("data-label", H.GPE)
    assert accepted.text_content() == H.MINSK_SURFACE
    assert text.text_content() == H.ARTICLE_TEXT
    assert_nothing_ran(page, (H.PROJECT_NAME, H.MANAGER_NAME, H.MINSK_NAME, H.COMMENT))


def test_hostile_search_swapped_in_by_htmx_is_shown_as_text(hostile_page, world):
    hostile_page.goto(f"/projects/{world.project.pk}/kb/")
    hostile_page.wait_for_load_state()  # htmx (a deferred script) listens from here on
    hostile_page.get_by_role("searchbox", name="Search the knowledge base").fill(H.SEARCH_QUERY)
    expect(hostile_page.locator("#entity-list")).to_contain_text("is named like")
    assert hostile_page.url.endswith("/kb/")  # swapped in place, not loaded
    assert_nothing_ran(hostile_page, (H.SEARCH_QUERY, H.KB_NAME))


def test_schema_css_leaves_out_a_colour_that_is_not_one(hostile_page, world):
    response = hostile_page.request.get(f"/projects/{world.project.pk}/schema.css")
    css = response.text()
    assert H.BAD_COLOUR not in css
    assert f".et-{world.ids['org']} " not in css
    assert css.count("--entity-colour") == 2


def test_a_failed_login_shows_a_hostile_username_back_as_typed(watched_page, world):
    page = watched_page(bypass_csp=True)  # signed out
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(H.SEARCH_QUERY)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    assert page.get_by_label("Username").input_value() == H.SEARCH_QUERY
    assert_nothing_ran(page, (H.SEARCH_QUERY,))
