"""Article texts compressed with LZ4 instead of PostgreSQL's default pglz (PostgreSQL 14+ built with LZ4).

A news article (2-3 KB) is over the 2 KB at which PostgreSQL compresses a value, and pglz was a third of
the server's CPU in an import of plain articles (perf on bench/import.py); LZ4 compresses several times
faster and reads back faster, at a similar size for prose. Only values written from now on use it: the
ones already stored stay pglz and read as before. A no-op on SQLite, and on a server without LZ4.
"""

from django.db import migrations

LZ4_AVAILABLE = "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"


def compression(method: str):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(LZ4_AVAILABLE)
            if cursor.fetchone() is None:
                return
        schema_editor.execute(f'ALTER TABLE "articles_article" ALTER COLUMN "text" SET COMPRESSION {method}')

    return apply


class Migration(migrations.Migration):
    dependencies = [("articles", "0006_i18bulk_search_backlog")]

    operations = [migrations.RunPython(compression("lz4"), compression("pglz"))]
