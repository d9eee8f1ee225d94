"""A suggestion's references hold without foreign key constraints (migration suggestions 0006): triggers
check each statement's rows at once, and deleting what suggestions refer to deletes them, whatever SQL
does it. Every write here is plain ORM or SQL, as a bug elsewhere would write it."""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from annotator.articles.models import Article
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, RelationType
from annotator.suggestions.models import SuggesterVersion, Suggestion, SuggestionKind
from annotator.suggestions.storing import _insert
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import SuggesterVersionFactory

pytestmark = pytest.mark.django_db

MISSING = 987_654_321  # no row of any table has this id
REFERENCES = {
    "article_id": "articles_article",
    "suggester_version_id": "suggestions_suggesterversion",
    "entity_type_id": "projects_entitytype",
    "tail_entity_type_id": "projects_entitytype",
    "relation_type_id": "projects_relationtype",
    "kb_entity_id": "kb_kbentity",
}


@pytest.fixture
def version(news):
    return SuggesterVersionFactory(project=news.project)


def entity(news, version, **values):
    return {
        "article_id": news.article.pk,
        "suggester_version_id": version.pk,
        "kind": SuggestionKind.ENTITY,
        "start": NARYSHKIN[0],
        "end": NARYSHKIN[1],
        "entity_type_id": news.person.pk,
        "score": 0.5,
        "source": "test",
        **values,
    }


def relation(news, version, **values):
    shape = {
        "kind": SuggestionKind.RELATION,
        "tail_start": MINSK[0],
        "tail_end": MINSK[1],
        "tail_entity_type_id": news.gpe.pk,
        "relation_type_id": news.visited.pk,
    }
    return entity(news, version, **{**shape, **values})


def link(news, version, **values):
    return entity(news, version, **{"kind": SuggestionKind.LINK, "kb_entity_id": news.naryshkin.pk, **values})


# Which kind of suggestion uses each reference.
MAKERS = {
    "article_id": entity,
    "suggester_version_id": entity,
    "entity_type_id": entity,
    "tail_entity_type_id": relation,
    "relation_type_id": relation,
    "kb_entity_id": link,
}


def one_of_each(news, version):
    """An entity, a relation and a link suggestion: between them, every reference is used."""
    return [
        Suggestion.objects.create(**values)
        for values in (make(news, version) for make in (entity, relation, link))
    ]


def refusal(write):
    """Run the write in a savepoint; the database's refusal message (None if it wrote)."""
    try:
        with transaction.atomic():
            write()
    except IntegrityError as error:
        return str(error)
    return None


def test_every_reference_trigger_is_installed():
    """SQLite drops a table's triggers when a migration rebuilds the table: this names the missing one."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgrelid::regclass::text || ' ' || tgname FROM pg_trigger "
                "WHERE tgname LIKE 'suggestions_suggestion_%%'"
            )
        else:
            cursor.execute(
                "SELECT tbl_name || ' ' || name FROM sqlite_master "
                "WHERE type = 'trigger' AND name LIKE 'suggestions_suggestion_%'"
            )
        installed = {row[0] for row in cursor.fetchall()}
    parents = sorted(set(REFERENCES.values()))
    if connection.vendor == "postgresql":
        expected = {
            f"suggestions_suggestion suggestions_suggestion_references_{e}" for e in ("insert", "update")
        }
        expected |= {
            f"{parent} suggestions_suggestion_{name}"
            for parent in parents
            for name in ("cascade_delete", "cascade_truncate", "refuse_id_change")
        }
    else:
        expected = {
            f"suggestions_suggestion suggestions_suggestion_references_{e}" for e in ("insert", "update")
        }
        expected |= {
            f"{parent} suggestions_suggestion_{name}_{parent}"
            for parent in parents
            for name in ("cascade_delete", "refuse_id_change")
        }
    assert installed == expected


@pytest.mark.parametrize("column", list(REFERENCES))
def test_a_suggestion_referring_to_a_missing_row_is_refused_naming_the_column(news, version, column):
    make = MAKERS[column]
    message = refusal(lambda: Suggestion.objects.create(**make(news, version, **{column: MISSING})))
    assert message is not None
    assert column in message
    assert REFERENCES[column] in message
    if connection.vendor == "postgresql":
        assert f"Key ({column})=({MISSING}) is not present" in message
    assert Suggestion.objects.count() == 0
    # The same suggestion with the row that exists is stored.
    Suggestion.objects.create(**make(news, version))
    assert Suggestion.objects.count() == 1


def test_an_update_to_a_missing_row_is_refused(news, version):
    stored = Suggestion.objects.create(**entity(news, version))
    message = refusal(lambda: Suggestion.objects.filter(pk=stored.pk).update(entity_type_id=MISSING))
    assert message is not None
    assert "entity_type_id" in message
    assert Suggestion.objects.get(pk=stored.pk).entity_type_id == news.person.pk


def test_one_bad_row_in_a_bulk_write_refuses_all_of_it(news, version):
    """The pre-annotation write path (COPY on PostgreSQL): thousands of good rows, one bad one, none stored."""
    good = [
        (
            news.article.pk,
            "entity",
            start,
            start + 3,
            news.person.pk,
            None,
            None,
            None,
            None,
            None,
            0,
            0.5,
            "r",
        )
        for start in range(3000)
    ]
    bad = (news.article.pk, "link", 0, 3, news.person.pk, None, None, None, None, MISSING, 0, 0.5, "r")
    message = refusal(lambda: _insert(version, [*good[:1500], bad, *good[1500:]]))
    assert message is not None
    assert "kb_entity_id" in message
    assert Suggestion.objects.count() == 0
    _insert(version, good)
    assert Suggestion.objects.count() == 3000


def test_a_row_written_before_what_it_refers_to_is_refused_at_once(news, version):
    """Checked in the statement, not at COMMIT: a suggestion comes after its article, even in one transaction."""
    next_id = Article.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    def write_then_create_article():
        Suggestion.objects.create(**entity(news, version, article_id=next_id))
        Article.objects.create(pk=next_id, project=news.project, external_id="late", text="Late text.")

    assert refusal(write_then_create_article) is not None
    assert not Article.objects.filter(pk=next_id).exists()


def delete_in_plain_sql(row):
    """DELETE the row itself, as SQL that goes around Django would; what refers to it with a real foreign
    key (other tables than suggestions) is deleted first, through the ORM."""
    for relation in type(row)._meta.related_objects:
        if relation.related_model is Suggestion:
            continue
        if relation.many_to_many:
            through = relation.field.remote_field.through
            through.objects.filter(**{f"{relation.field.m2m_reverse_field_name()}": row.pk}).delete()
        else:
            relation.related_model._base_manager.filter(**{relation.field.name: row}).delete()
    for field in row._meta.many_to_many:
        getattr(row, field.name).clear()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {row._meta.db_table} WHERE id = %s", [row.pk])  # noqa: S608 - a model's table
        assert cursor.rowcount == 1


@pytest.mark.parametrize(
    ("referenced", "gone"),
    [
        ("article", {"entity", "relation", "link"}),
        ("version", {"entity", "relation", "link"}),
        ("person", {"entity", "relation", "link"}),  # the type of all three
        ("gpe", {"relation"}),  # the relation's tail
        ("visited", {"relation"}),
        ("naryshkin", {"link"}),
    ],
)
def test_deleting_a_referenced_row_in_plain_sql_deletes_its_suggestions(news, version, referenced, gone):
    """The models say CASCADE; the database now does it too, for SQL that goes around Django."""
    one_of_each(news, version)
    other_article = Article.objects.create(project=news.project, external_id="other", text=news.article.text)
    elsewhere = Suggestion.objects.create(
        **entity(news, version, article_id=other_article.pk, entity_type_id=news.org.pk)
    )
    delete_in_plain_sql(version if referenced == "version" else getattr(news, referenced))
    left = set(Suggestion.objects.filter(article=news.article).values_list("kind", flat=True))
    assert left == {"entity", "relation", "link"} - gone
    assert Suggestion.objects.filter(pk=elsewhere.pk).exists() == (referenced != "version")


@pytest.mark.parametrize("model", [Article, SuggesterVersion, EntityType, RelationType, KBEntity])
def test_changing_the_id_of_a_referenced_row_is_refused(news, version, model):
    one_of_each(news, version)
    row = {
        Article: news.article,
        SuggesterVersion: version,
        EntityType: news.person,
        RelationType: news.visited,
        KBEntity: news.naryshkin,
    }[model]
    message = refusal(lambda: model.objects.filter(pk=row.pk).update(id=MISSING))
    assert message is not None
    assert model.objects.filter(pk=row.pk).exists()
    assert Suggestion.objects.count() == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: TRUNCATE ... CASCADE")
@pytest.mark.django_db(transaction=True)  # TRUNCATE waits for no other statement's checks
def test_truncating_the_kb_deletes_the_link_suggestions_only(news, version):
    one_of_each(news, version)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE kb_kbentity CASCADE")
    assert sorted(Suggestion.objects.values_list("kind", flat=True)) == ["entity", "relation"]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: two writers at once (SQLite has one)"
)
@pytest.mark.django_db(transaction=True)
def test_an_article_being_suggested_on_cannot_be_deleted_until_the_writer_commits(news, version):
    """As a foreign key does: the writer's statement locks the rows it refers to (FOR KEY SHARE), so a
    concurrent DELETE waits for the writer, then takes the writer's suggestions with it: never an orphan."""
    news.article.annotation_sets.all().delete()
    deleted = threading.Event()
    outcome: dict[str, object] = {}

    def delete_article():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("DELETE FROM articles_article WHERE id = %s", [news.article.pk])
                outcome["rows"] = cursor.rowcount
        except Exception as error:  # the assertion below names it
            outcome["error"] = error
        finally:
            other.close()
            deleted.set()

    with transaction.atomic():
        one_of_each(news, version)
        deleter = threading.Thread(target=delete_article)
        deleter.start()
        # The DELETE waits for this transaction's lock on the article.
        assert not deleted.wait(1.5)
    deleter.join(30)
    assert outcome == {"rows": 1}
    assert not Article.objects.filter(pk=news.article.pk).exists()
    assert Suggestion.objects.count() == 0


@pytest.mark.django_db(transaction=True)  # batches commit for real, from the writer thread
@pytest.mark.usefixtures("named_news_kb")
def test_a_batch_that_crashes_after_its_copy_leaves_none_of_its_rows_and_a_rerun_completes(news, monkeypatch):
    from annotator.suggestions import generate
    from annotator.suggestions.models import SuggestionRun

    for n in range(4):
        Article.objects.create(
            project=news.project, external_id=f"day-{n}", text=f"Sergey Naryshkin visited Minsk, day {n}."
        )
    ids = sorted(Article.objects.filter(project=news.project).values_list("pk", flat=True))
    bulk_create = SuggestionRun.objects.bulk_create
    calls = []

    def crash_on_second_batch(*args, **kwargs):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:  # the batch's suggestions are copied already: the runs are its last write
            raise RuntimeError("worker killed")
        return bulk_create(*args, **kwargs)

    monkeypatch.setattr(SuggestionRun.objects, "bulk_create", crash_on_second_batch)
    with pytest.raises(RuntimeError, match="worker killed"):
        generate.preannotate_articles(project=news.project, batch_size=2)
    assert len(calls) == 2  # the writer thread on PostgreSQL, this thread on SQLite
    # The first batch (2 articles) whole, nothing of the second, the third never started.
    assert sorted(SuggestionRun.objects.values_list("article_id", flat=True)) == ids[:2]
    assert set(Suggestion.objects.values_list("article_id", flat=True)) == set(ids[:2])
    for run in SuggestionRun.objects.all():
        stored = Suggestion.objects.filter(article_id=run.article_id)
        assert {kind: stored.filter(kind=kind).count() for kind in run.counts if run.counts[kind]} == {
            kind: count for kind, count in run.counts.items() if count
        }

    monkeypatch.setattr(SuggestionRun.objects, "bulk_create", bulk_create)
    again = generate.preannotate_articles(project=news.project, batch_size=2)
    assert (again.articles, again.kept) == (5, Suggestion.objects.filter(article_id__in=ids[:2]).count())
    assert sorted(SuggestionRun.objects.values_list("article_id", flat=True)) == ids
