"""A curator goes from the project page to agreement, down to the article behind a figure, and on to it."""

import pytest
from playwright.sync_api import expect

from annotator.projects.models import EntityType, Role
from tests.agreement_data import make_team
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def team(transactional_db, news):
    team = make_team(news)
    EntityType.objects.filter(pk=team.date.pk).update(name="<script>alert(1)</script> תאריך 📅")
    team.bob.username = "bob<img src=x onerror=alert(2)>"
    team.bob.save()
    MembershipFactory(project=team.project, user=UserFactory(username="cora"), role=Role.CURATOR)
    return team


def test_a_curator_drills_down_from_a_figure_to_the_article(page, log_in, team):
    log_in("cora")
    page.get_by_role("link", name="News").click()
    page.get_by_role("link", name="Agreement").click()
    expect(page.get_by_role("heading", name="Agreement", level=1)).to_be_visible()
    pairs = page.locator("#agreement-pairs tbody tr")
    expect(pairs).to_have_count(1)
    expect(pairs.first.locator("th")).to_have_text("alice · bob<img src=x onerror=alert(2)>")
    date_row = page.locator("#agreement-labels tbody tr").first
    expect(date_row.locator("th")).to_have_text("<script>alert(1)</script> תאריך 📅")
    expect(date_row.locator("td").nth(1)).to_have_text("0.000")

    date_row.locator("td").nth(1).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Entity type <script>alert(1)</script> תאריך 📅"
    )
    row = page.locator("#agreement-articles tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("0.000")

    row.get_by_role("link", name="Naryshkin in Minsk").click()
    page.wait_for_url(f"**/articles/{team.article.pk}/annotate/")

    page.go_back()
    page.get_by_role("link", name="Agreement").click()
    page.get_by_label("Include in-progress sets").check()
    page.get_by_role("button", name="Update").click()
    expect(page.locator("#agreement-pairs tbody tr")).to_have_count(3)
