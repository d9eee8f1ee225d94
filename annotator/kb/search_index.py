"""The trigram indexes behind fuzzy alias search, one per database vendor, installed by migrations.

PostgreSQL: `pg_trgm` with a GIN index on `kb_alias.normalized` (the `%` similarity operator), plus a
`varchar_pattern_ops` index so that prefix search (`LIKE 'abc%'`) is indexed under any collation.

SQLite: an FTS5 table with the trigram tokenizer over the same column (external content, kept in step
by triggers), and its vocabulary table, which gives each trigram's document frequency.

On SQLite, a migration that alters `kb_alias` rebuilds the table, which drops its triggers: such a
migration must call `install_search_index` again (a test checks that the triggers are there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor

FTS_TABLE = "kb_alias_trigram"
FTS_VOCAB_TABLE = "kb_alias_trigram_vocab"
SQLITE_TRIGGERS = ("kb_alias_trigram_insert", "kb_alias_trigram_delete", "kb_alias_trigram_update")

POSTGRESQL_INSTALL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS alias_trigram_idx ON kb_alias USING gin (normalized gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS alias_prefix_idx ON kb_alias (knowledge_base_id, normalized varchar_pattern_ops)",
]
POSTGRESQL_UNINSTALL = ["DROP INDEX IF EXISTS alias_trigram_idx", "DROP INDEX IF EXISTS alias_prefix_idx"]

SQLITE_INSTALL = [
    # detail='none': only which rows hold a trigram, not where; the smallest index that answers that.
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_alias_trigram USING fts5("
    "normalized, content='kb_alias', content_rowid='id', tokenize='trigram', detail='none')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_alias_trigram_vocab USING fts5vocab('kb_alias_trigram', 'row')",
    """CREATE TRIGGER IF NOT EXISTS kb_alias_trigram_insert AFTER INSERT ON kb_alias BEGIN
        INSERT INTO kb_alias_trigram(rowid, normalized) VALUES (new.id, new.normalized);
    END""",
    """CREATE TRIGGER IF NOT EXISTS kb_alias_trigram_delete AFTER DELETE ON kb_alias BEGIN
        INSERT INTO kb_alias_trigram(kb_alias_trigram, rowid, normalized) VALUES ('delete', old.id, old.normalized);
    END""",
    """CREATE TRIGGER IF NOT EXISTS kb_alias_trigram_update AFTER UPDATE OF normalized ON kb_alias BEGIN
        INSERT INTO kb_alias_trigram(kb_alias_trigram, rowid, normalized) VALUES ('delete', old.id, old.normalized);
        INSERT INTO kb_alias_trigram(rowid, normalized) VALUES (new.id, new.normalized);
    END""",
    "INSERT INTO kb_alias_trigram(kb_alias_trigram) VALUES ('rebuild')",
]
SQLITE_UNINSTALL = [
    *(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS),
    f"DROP TABLE IF EXISTS {FTS_VOCAB_TABLE}",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]


def _run(schema_editor: BaseDatabaseSchemaEditor, statements: dict[str, list[str]]) -> None:
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


def install_search_index(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Create (or re-create, idempotently) the fuzzy-search index of this database's vendor."""
    _run(schema_editor, {"postgresql": POSTGRESQL_INSTALL, "sqlite": SQLITE_INSTALL})


def uninstall_search_index(schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, {"postgresql": POSTGRESQL_UNINSTALL, "sqlite": SQLITE_UNINSTALL})
