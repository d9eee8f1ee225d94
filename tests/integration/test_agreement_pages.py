"""The agreement dashboard, its drill-down and the API: figures shown, roles, hostile names."""

import pytest
from django.urls import reverse

from annotator.agreement.services import forget_agreements
from annotator.projects.models import Role
from tests.agreement_data import annotate, make_team
from tests.factories import ArticleFactory, EntityTypeFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_remembered_agreement():
    forget_agreements()
    yield
    forget_agreements()


@pytest.fixture
def team(news):
    return make_team(news)


@pytest.fixture
def curator(team):
    user = UserFactory(username="cora")
    MembershipFactory(project=team.project, user=user, role=Role.CURATOR)
    return user


def cells(html, table_id):
    """The text of each row of a table (tags dropped, whitespace squeezed), to assert what a row shows."""
    import re

    table = html.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def test_curators_see_the_figures_per_label_and_pair(client, team, curator, django_assert_max_num_queries):
    client.force_login(curator)
    url = reverse("agreement:dashboard", args=[team.project.pk])
    # Session, user, project, fingerprint, then sets, symmetric types, the chunk's 3, and the 3 names.
    with django_assert_max_num_queries(13):
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert cells(html, "agreement-labels") == [
        "DATE 1 0.000 1.000 0.615 n/a (0)",
        "GPE 1 1.000 1.000 1.000 0.000 (1)",
        "PERSON 1 1.000 1.000 1.000 1.000 (1)",
    ]
    assert cells(html, "agreement-pairs") == ["alice · bob 1 0.667 1.000 0.822 1.000 0.500 (2)"]
    assert cells(html, "agreement-relations") == ["visited 1 1.000 1 / 1"]
    label_link = reverse("agreement:articles", args=[team.project.pk]) + f"?label={team.date.pk}"
    assert label_link in html
    assert f"?pair={team.annotator.pk}-{team.bob.pk}" in html


def test_the_dashboard_counts_in_progress_sets_when_asked(client, team, curator):
    client.force_login(curator)
    html = client.get(reverse("agreement:dashboard", args=[team.project.pk]), {"in_progress": "1"}).content
    rows = cells(html.decode(), "agreement-pairs")
    assert [row.split(" 1 ")[0] for row in rows] == ["alice · bob", "alice · carol", "bob · carol"]
    assert 'name="in_progress" value="1" checked' in html.decode()


def test_an_empty_project_shows_n_a_not_a_crash(client, news):
    client.force_login(news.manager)
    response = client.get(reverse("agreement:dashboard", args=[news.project.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "0 articles with two annotators or more" in html
    assert html.count(">n/a</span>") == 5
    assert "No article has two submitted annotator sets yet." in html


def test_the_drill_down_lists_the_articles_behind_a_figure(client, team, curator):
    client.force_login(curator)
    url = reverse("agreement:articles", args=[team.project.pk])
    response = client.get(url, {"label": team.date.pk})
    html = response.content.decode()
    assert response.context["title"] == "Entity type DATE"
    assert cells(html, "agreement-articles") == [
        "Naryshkin in Minsk 0.000 2 1 / 1 0.831 1.000 0.500 curate · read"
    ]
    assert reverse("review:annotate", args=[team.article.pk]) in html
    assert f'<a href="{reverse("review:curate", args=[team.article.pk])}">curate</a>' in html
    pair = client.get(url, {"pair": f"{team.bob.pk}-{team.annotator.pk}"})
    assert pair.context["title"] == "alice and bob"
    assert [row.share.f1 for row in pair.context["rows"]] == [pytest.approx(2 / 3)]
    relation = client.get(url, {"relation_type": team.visited.pk})
    assert [row.share.matched for row in relation.context["rows"]] == [1]
    nobody = client.get(url, {"label": team.org.pk})
    assert "No article behind this figure." in nobody.content.decode()
    assert client.get(url, {"pair": "bob-alice"}).status_code == 404


def test_the_drill_down_refuses_other_projects_ids(client, team, curator, outsider):
    client.force_login(curator)
    url = reverse("agreement:articles", args=[team.project.pk])
    elsewhere = outsider.memberships.get().project
    foreign_type = EntityTypeFactory(project=elsewhere, name="PERSON")
    assert client.get(url, {"label": foreign_type.pk}).status_code == 404
    assert client.get(url, {"relation_type": 10**9}).status_code == 404
    assert client.get(url, {"pair": f"{team.annotator.pk}-{outsider.pk}"}).status_code == 404
    assert client.get(url, {"label": team.person.pk}).status_code == 200


def test_annotators_get_403_and_do_not_see_the_link(client, team, curator):
    client.force_login(team.annotator)
    for name in ("agreement:dashboard", "agreement:articles"):
        assert client.get(reverse(name, args=[team.project.pk])).status_code == 403
    assert client.get(reverse("api:agreement", args=[team.project.pk])).status_code == 403
    dashboard_url = reverse("agreement:dashboard", args=[team.project.pk])
    assert (
        dashboard_url not in client.get(reverse("projects:detail", args=[team.project.pk])).content.decode()
    )
    client.force_login(curator)
    assert dashboard_url in client.get(reverse("projects:detail", args=[team.project.pk])).content.decode()


def test_hostile_names_are_escaped_on_the_dashboard_and_drill_down(client, team, curator):
    from annotator.projects.models import EntityType

    EntityType.objects.filter(pk=team.date.pk).update(name="<script>alert(1)</script>{{ x }}")
    team.bob.username = "בוב‮🙂<b>x</b>"
    team.bob.save()
    team.article.title = "<img src=x onerror=alert(2)> مينسك"
    team.article.save()
    client.force_login(curator)
    html = client.get(reverse("agreement:dashboard", args=[team.project.pk])).content.decode()
    assert "<script>alert(1)" not in html
    assert "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ x }}" in html
    assert "<bdi>בוב‮🙂&lt;b&gt;x&lt;/b&gt;</bdi>" in html
    drill = client.get(reverse("agreement:articles", args=[team.project.pk]), {"label": team.date.pk})
    drill_html = drill.content.decode()
    assert "<img src=x" not in drill_html
    assert "&lt;img src=x onerror=alert(2)&gt; مينسك" in drill_html
    assert "Entity type &lt;script&gt;alert(1)&lt;/script&gt;{{ x }}" in drill_html
    pair = client.get(
        reverse("agreement:articles", args=[team.project.pk]), {"pair": f"{team.annotator.pk}-{team.bob.pk}"}
    )
    assert "alice and בוב‮🙂&lt;b&gt;x&lt;/b&gt;" in pair.content.decode()


def test_the_api_returns_the_figures_to_curators(client, team, curator):
    client.force_login(curator)
    url = reverse("api:agreement", args=[team.project.pk])
    body = client.get(url).json()
    assert body["include_in_progress"] is False
    assert body["articles"] == 1
    assert body["entities"] == {"matched": 2, "left": 3, "right": 3, "f1": pytest.approx(2 / 3)}
    assert body["links"] == {"agreed": 1, "compared": 2, "one_sided": 0, "agreement": 0.5}
    assert body["alpha"] == pytest.approx(1 - 30 / 178)
    assert [(row["entity_type"]["name"], row["entities"]["f1"], row["alpha"]) for row in body["labels"]] == [
        ("DATE", 0.0, pytest.approx(1 - 30 / 78)),
        ("GPE", 1.0, 1.0),
        ("PERSON", 1.0, 1.0),
    ]
    (pair,) = body["pairs"]
    assert [user["name"] for user in pair["annotators"]] == ["alice", "bob"]
    assert pair["kappa"] == pytest.approx(37 / 45)
    assert pair["relations"] == {"matched": 1, "left": 1, "right": 1, "f1": 1.0}
    assert body["relation_types"] == [
        {
            "relation_type": {"id": team.visited.pk, "name": "visited"},
            "articles": 1,
            "relations": {"matched": 1, "left": 1, "right": 1, "f1": 1.0},
        }
    ]
    with_carol = client.get(url, {"include_in_progress": "true"}).json()
    assert with_carol["include_in_progress"] is True
    assert len(with_carol["pairs"]) == 3


def test_the_api_says_n_a_as_null(client, news):
    EntityTypeFactory(project=news.project, name="EMPTY")
    client.force_login(news.manager)
    body = client.get(reverse("api:agreement", args=[news.project.pk])).json()
    assert body["entities"] == {"matched": 0, "left": 0, "right": 0, "f1": None}
    assert body["alpha"] is None
    assert body["labels"] == body["pairs"] == []


def test_the_api_lists_the_articles_behind_a_figure(client, team, curator, outsider):
    second = ArticleFactory(project=team.project, text="Minsk and Moscow.", title="Second")
    annotate(team, team.annotator, [((0, 5), team.gpe)], article=second)
    annotate(team, team.bob, [((0, 5), team.gpe)], article=second)
    client.force_login(curator)
    url = reverse("api:agreement-articles", args=[team.project.pk])
    body = client.get(url).json()
    assert body["count"] == 2
    assert [(row["title"], row["share"]["f1"], row["disagreements"]) for row in body["results"]] == [
        ("Naryshkin in Minsk", pytest.approx(2 / 3), 2),
        ("Second", 1.0, 0),
    ]
    first = body["results"][0]
    assert first["article"] == team.article.pk
    assert first["alpha"] == pytest.approx(1 - 30 / 178)
    assert first["links"] == {"agreed": 1, "compared": 2, "one_sided": 0, "agreement": 0.5}
    paged = client.get(url, {"limit": 1, "offset": 1}).json()
    assert [row["title"] for row in paged["results"]] == ["Second"]
    assert paged["previous"] is not None
    gpe = client.get(url, {"label": team.gpe.pk}).json()
    assert [(row["title"], row["share"]) for row in gpe["results"]] == [
        ("Naryshkin in Minsk", {"matched": 1, "left": 1, "right": 1, "f1": 1.0}),
        ("Second", {"matched": 1, "left": 1, "right": 1, "f1": 1.0}),
    ]
    bad = client.get(url, {"pair": "alice-bob"})
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"pair": ["Give a type id, or two annotators' user ids as 3-7."]}
    assert client.get(url, {"pair": f"{team.annotator.pk}-{outsider.pk}"}).status_code == 404
    client.force_login(team.annotator)
    assert client.get(url).status_code == 403
