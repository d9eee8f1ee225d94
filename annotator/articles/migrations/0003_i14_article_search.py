"""Full-text search of articles: a GIN index on PostgreSQL, an FTS5 table kept in step by triggers on SQLite.

Nothing here changes the models, so each database gets only what it can run (see articles/search.py).
"""

from django.db import migrations

# The names and the document as they were then (0006_i18bulk_search_backlog moved the documents to a
# table of their own): a migration keeps its own copy, so later changes to articles/search.py leave it be.
SEARCHED_CHARS = 300_000
DOCUMENT = (
    "to_tsvector('simple'::regconfig, left(coalesce(title, '') || ' ' || coalesce(metadata::text, '') || ' ' "
    f"|| text, {SEARCHED_CHARS}))"
)
COLUMN = "search_document"
INDEX_NAME = "article_search_idx"
FTS_TABLE = "articles_article_fts"

SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "title, metadata, text, content='articles_article', content_rowid='id')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON articles_article BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, title, metadata, text) VALUES (new.id, new.title, new.metadata, new.text); "
    "END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_delete AFTER DELETE ON articles_article BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, metadata, text) "
    "VALUES ('delete', old.id, old.title, old.metadata, old.text); "
    "END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_update AFTER UPDATE OF title, metadata, text ON articles_article "
    "BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, metadata, text) "
    "VALUES ('delete', old.id, old.title, old.metadata, old.text); "
    f"INSERT INTO {FTS_TABLE}(rowid, title, metadata, text) VALUES (new.id, new.title, new.metadata, new.text); "
    "END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_delete",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
POSTGRES_CREATE = [
    f'ALTER TABLE "articles_article" ADD COLUMN IF NOT EXISTS {COLUMN} tsvector '
    f"GENERATED ALWAYS AS ({DOCUMENT}) STORED",
    f'CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON "articles_article" USING gin ({COLUMN})',
]
POSTGRES_DROP = [f"DROP INDEX IF EXISTS {INDEX_NAME}", f'ALTER TABLE "articles_article" DROP COLUMN IF EXISTS {COLUMN}']


def run(statements_by_vendor):
    def apply(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("articles", "0002_article_revisions")]

    operations = [
        migrations.RunPython(
            run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}),
            run({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        )
    ]
