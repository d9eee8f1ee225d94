"""The curation page in Debian's chromium: a curator resolves two annotators' conflicting sets into gold."""

import json

import pytest
from playwright.sync_api import expect

from annotator.annotations import services
from annotator.annotations.models import AnnotationSet, Relation, SetKind, SetStatus, Span
from annotator.articles.models import Article
from annotator.kb.models import KBEntity, KnowledgeBase
from annotator.projects.models import EntityType, Project, RelationType, Role
from annotator.projects.services import add_member
from annotator.review.models import Comment

TEXT = "Sergey Naryshkin visited Minsk on April 15."
PASSWORD = "correct horse battery staple"


@pytest.fixture
def world(transactional_db, django_user_model):
    """alice and bob submitted conflicting sets of one article; carol curates.

    alice: PERSON [0,16) -> naryshkin, GPE [25,30), DATE [34,42), visited(PERSON, GPE)
    bob:   PERSON [0,16) -> NIL,       GPE [25,30), DATE [34,39), visited(PERSON, GPE)
    """
    project = Project.objects.create(name="News", slug="news", annotators_per_article=2)
    types = {
        name: EntityType.objects.create(project=project, name=name, key=name[0].lower(), position=n)
        for n, name in enumerate(["PERSON", "GPE", "DATE"])
    }
    visited = RelationType.objects.create(project=project, name="visited")
    kb = KnowledgeBase.objects.create(project=project, name="KB")
    naryshkin = KBEntity.objects.create(knowledge_base=kb, kb_id="naryshkin", name="Sergey Naryshkin")
    article = Article.objects.create(project=project, title="Naryshkin in Minsk", text=TEXT, external_id="n1")
    users = {}
    for name, role in [("alice", Role.ANNOTATOR), ("bob", Role.ANNOTATOR), ("carol", Role.CURATOR)]:
        users[name] = django_user_model.objects.create_user(name, password=PASSWORD)
        add_member(project=project, user=users[name], role=role)

    def annotate(user, date_end, link):
        own = services.get_or_create_own_set(article=article, user=user)

        def span(start, end, kind):
            return services.create_span(
                annotation_set=own, start=start, end=end, entity_type=types[kind], by=user,
                expected_version=own.version,
            )  # fmt: skip

        person, gpe = span(0, 16, "PERSON"), span(25, 30, "GPE")
        span(34, date_end, "DATE")
        services.link_span(span=person, kb_entity=link, by=user, expected_version=own.version)
        services.create_relation(
            annotation_set=own,
            head=person,
            tail=gpe,
            relation_type=visited,
            by=user,
            expected_version=own.version,
        )
        services.submit_set(annotation_set=own, by=user, expected_version=own.version)

    annotate(users["alice"], 42, naryshkin)
    annotate(users["bob"], 39, None)
    return {"article": article, "types": types, **users}


def gold_rows(article):
    gold = AnnotationSet.objects.get(article=article, kind=SetKind.GOLD)
    spans = sorted(
        (
            span.start,
            span.end,
            span.entity_type.name,
            getattr(getattr(span, "link", None), "kb_entity_id", "none"),
        )
        for span in Span.objects.filter(annotation_set=gold).select_related("entity_type")
    )
    relations = [
        (r.head.surface, r.relation_type.name, r.tail.surface)
        for r in Relation.objects.filter(annotation_set=gold)
    ]
    return gold, spans, relations


def test_a_curator_takes_one_side_then_all_agreed_items_and_marks_gold_curated(page, log_in, world):
    article, date = world["article"], world["types"]["DATE"]
    log_in("carol")
    page.goto(f"/articles/{article.pk}/curate/")
    expect(page.get_by_role("heading", name="Naryshkin in Minsk")).to_be_visible()
    table = page.locator("#span-items")
    expect(table.locator("thead th")).to_have_text(
        ["Text", "Type", "Where", "Status", "alice", "bob", "Gold"]
    )
    alices_date = table.locator(f'tr[data-key="34-42-{date.pk}"]')
    expect(alices_date.locator(".agreement")).to_have_text("disagreed")
    expect(table.locator(f'tr[data-key="0-16-{world["types"]["PERSON"].pk}"]')).to_contain_text(
        "link disagreed"
    )

    # One side of the disagreement on the date: alice's.
    alices_date.get_by_role("button", name="Take").click()
    expect(page.locator("#curation [role=status]")).to_have_text("Took DATE “April 15” into gold.")
    expect(alices_date.locator("td").last).to_contain_text("✓")
    expect(page.locator("#gold-version")).to_have_text("2")

    # Everything both agree on, at once: PERSON (its link disputed, so without it), GPE, the relation.
    page.get_by_role("button", name="Take all agreed items (2 entities, 1 relation)").click()
    expect(page.locator("#curation [role=status]")).to_have_text("Took 3 agreed items into gold.")
    expect(page.locator("#gold-version")).to_have_text("3")
    gold, spans, relations = gold_rows(article)
    assert spans == [(0, 16, "PERSON", "none"), (25, 30, "GPE", "none"), (34, 42, "DATE", "none")]
    assert relations == [("Sergey Naryshkin", "visited", "Minsk")]

    page.get_by_label("Add a comment").fill("Date: alice's reading, per the source. <b>ok</b>")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("#comments .comment-text")).to_have_text(
        "Date: alice's reading, per the source. <b>ok</b>"
    )
    assert Comment.objects.get().author.username == "carol"
    # The span picker survives the swap: a second comment, about the date.
    page.get_by_label("About").select_option(label="DATE “April 15” [34, 42)")
    page.get_by_label("Add a comment").fill("Which end is right?")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("#comments .comment-text")).to_have_count(2)
    expect(page.locator("#comments .quote")).to_have_text("April 15")
    about = Comment.objects.exclude(span=None).get()
    assert (about.text, about.start, about.end) == ("Which end is right?", 34, 42)

    page.get_by_role("button", name="Mark gold curated").click()
    expect(page.locator("#gold-status")).to_have_text("Curated")
    expect(page.get_by_role("button", name="Reopen gold")).to_be_visible()
    gold, spans_after, relations_after = gold_rows(article)
    assert gold.status == SetStatus.CURATED
    assert (spans_after, relations_after) == (spans, relations)  # exactly the curated items, nothing more

    # The export of curated gold holds exactly those items.
    project = article.project
    response = page.request.get(f"/api/v1/projects/{project.pk}/export?format=jsonl&set_status=curated")
    assert response.status == 200
    (document,) = [json.loads(line) for line in response.body().splitlines()]
    entities = {entity["id"]: entity for entity in document["entities"]}
    assert sorted((e["start"], e["end"], e["label"]) for e in entities.values()) == [
        (start, end, label) for start, end, label, _ in spans
    ]
    assert [
        (entities[r["head"]]["text"], r["label"], entities[r["tail"]]["text"]) for r in document["relations"]
    ] == relations


def test_a_stale_take_shows_the_conflict_and_the_current_gold(page, log_in, world):
    article = world["article"]
    log_in("carol")
    page.goto(f"/articles/{article.pk}/curate/")
    expect(page.locator("#gold-version")).to_have_text("1")
    assert not AnnotationSet.objects.filter(
        article=article, kind=SetKind.GOLD
    ).exists()  # a GET writes nothing
    gold = services.get_or_create_gold_set(article=article)
    services.create_span(  # another curator, in another tab
        annotation_set=gold, start=25, end=30, entity_type=world["types"]["GPE"], by=world["carol"],
        expected_version=1,
    )  # fmt: skip
    page.problems.expect("409")
    page.get_by_role("button", name="Take all agreed items (2 entities, 1 relation)").click()
    expect(page.get_by_role("alert")).to_contain_text("Gold changed since you loaded it")
    expect(page.locator("#gold-version")).to_have_text("2")
    assert gold_rows(article)[1] == [(25, 30, "GPE", "none")]
    page.get_by_role("button", name="Take all agreed items (2 entities, 1 relation)").click()
    expect(page.locator("#curation [role=status]")).to_have_text("Took 2 agreed items into gold.")
