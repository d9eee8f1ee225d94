"""The demo loader and the management commands a newcomer and an admin use."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from annotator.articles.models import Article, content_hash
from annotator.kb.models import Alias, KBEntity
from annotator.projects.demo import load_demo
from annotator.projects.models import EntityType, GuidelineVersion, Membership, Project, RelationType
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

SEEDS = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "articles"


def demo_rows():
    """Every row the demo loader writes, with the values that matter."""
    return {
        "projects": list(Project.objects.values_list("slug", "name")),
        "entity_types": list(EntityType.objects.values_list("name", "key", "colour")),
        "relation_types": sorted(
            (
                r.name,
                r.directed,
                tuple(t.name for t in r.head_types.all()),
                tuple(t.name for t in r.tail_types.all()),
            )
            for r in RelationType.objects.prefetch_related("head_types", "tail_types")
        ),
        "guidelines": list(GuidelineVersion.objects.values_list("number", "text")),
        "kb": list(KBEntity.objects.values_list("kb_id", "name", "type", "prior", "updated_at")),
        "aliases": sorted(Alias.objects.values_list("entity__kb_id", "text", "normalized")),
        "articles": list(Article.objects.values_list("external_id", "title", "text", "updated_at")),
    }


def test_demo_articles_are_the_seed_files_byte_for_byte(db):
    load_demo()
    articles = Article.objects.order_by("external_id")
    assert [a.external_id for a in articles] == ["000_125af6e3d0378b0b", "003_766ee5fd7c71a526"]
    for article in articles:
        seed = (SEEDS / f"{article.external_id}.txt").read_bytes()
        assert article.text.encode("utf-8") == seed
        assert article.content_hash == content_hash(article.text)
    pdf_text = articles[1].text
    assert pdf_text.startswith(
        " Russia, Belarus Spy Agencies Join\nForces"
    )  # leading space and hard breaks kept


def test_demo_schema_and_kb(db):
    report = load_demo()
    assert report.created == {
        "project": 1,
        "entity type": 7,
        "relation type": 8,
        "guideline version": 1,
        "knowledge base": 1,
        "KB entity": 26,
        "article": 2,
    }
    assert [t.name for t in EntityType.objects.all()] == [
        "PERSON",
        "ORG",
        "GPE",
        "LOC",
        "DATE",
        "EVENT",
        "NORP",
    ]
    head_of = RelationType.objects.get(name="head_of")
    assert sorted(t.name for t in head_of.head_types.all()) == ["PERSON"]
    assert sorted(t.name for t in head_of.tail_types.all()) == ["GPE", "ORG"]
    assert not RelationType.objects.get(name="met_with").directed
    naryshkin = KBEntity.objects.get(kb_id="sergey-naryshkin")
    assert sorted(naryshkin.aliases.values_list("text", flat=True)) == [
        "Naryshkin",
        "Sergei Naryshkin",
        "Sergey Naryshkin",
        "Sergey Yevgenyevich Naryshkin",
    ]
    # Names used in the articles resolve through the alias keys.
    for mention in ["Naryshkin", "Lukashenko", "SVR", "Belarus", "MINSK", "Tertel", "Vitebsk"]:
        assert Alias.objects.filter(normalized=mention.casefold()).exists(), mention


def test_loading_the_demo_twice_changes_nothing(db):
    load_demo()
    before = demo_rows()
    report = load_demo()
    assert report.created == {}
    assert report.updated == {}
    assert demo_rows() == before


def test_the_demo_loader_keeps_an_annotated_articles_text(db, tmp_path):
    import shutil

    from annotator.annotations.services import get_or_create_own_set
    from tests.factories import UserFactory

    load_demo()
    fixtures = tmp_path / "demo"
    shutil.copytree(SEEDS.parent, fixtures)
    article = Article.objects.get(external_id="000_125af6e3d0378b0b")
    get_or_create_own_set(article=article, user=UserFactory())
    (fixtures / "articles" / "000_125af6e3d0378b0b.txt").write_text("Edited text.", encoding="utf-8")
    report = load_demo(fixtures)
    assert report.warnings == [
        "000_125af6e3d0378b0b: the fixture's text changed, but the article is annotated, so its text was kept "
        "(annotated texts are immutable)."
    ]
    article.refresh_from_db()
    assert article.text.encode() == (SEEDS / "000_125af6e3d0378b0b.txt").read_bytes()


def test_add_member_creates_the_user_once_and_prints_the_password_once(db):
    project = ProjectFactory(slug="news")
    out = StringIO()
    call_command("add_member", "bob", "--project", "news", "--role", "annotator", stdout=out)
    password = re.search(r"Created user bob with password: (\S+)", out.getvalue()).group(1)
    user = get_user_model().objects.get(username="bob")
    assert user.check_password(password)
    assert Membership.objects.get(user=user, project=project).role == "annotator"
    again = StringIO()
    call_command("add_member", "bob", "--project", str(project.pk), "--role", "curator", stdout=again)
    assert "password" not in again.getvalue()
    assert Membership.objects.get(user=user).role == "curator"
    with pytest.raises(CommandError, match="No project has the slug or id 'nope'."):
        call_command("add_member", "bob", "--project", "nope", "--role", "annotator")


def test_quickstart_prints_the_demo_password_once_and_reuses_everything(db, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    out = StringIO()
    call_command("quickstart", stdout=out)
    password = re.search(r"Password: (\S+)", out.getvalue()).group(1)
    # The login is the last thing printed, framed, so that setup output never buries it.
    last_lines = out.getvalue().strip().splitlines()[-6:]
    assert last_lines[0].startswith("+====")
    assert last_lines[-1] == last_lines[0]
    assert f"|  Password: {password}" in "\n".join(last_lines)
    demo = get_user_model().objects.get(username="demo")
    assert demo.check_password(password)
    assert demo.is_staff
    assert Membership.objects.get(user=demo).role == "manager"
    assert (settings.STATIC_ROOT / "vendor" / "pico" / "pico.min.css").exists()
    second = StringIO()
    call_command("quickstart", stdout=second)
    assert password not in second.getvalue()
    assert "its password was printed when it was created" in second.getvalue()
    assert get_user_model().objects.count() == 1
    assert Project.objects.count() == 1


def test_quickstart_says_where_serve_will_listen(db, settings, tmp_path, monkeypatch):
    settings.STATIC_ROOT = tmp_path / "static"
    monkeypatch.setenv("ANNOTATOR_BIND", "0.0.0.0:9000")
    out = StringIO()
    call_command("quickstart", stdout=out)
    assert "|  Log in at http://127.0.0.1:9000/" in out.getvalue()
