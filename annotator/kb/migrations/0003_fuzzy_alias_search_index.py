"""Fuzzy alias search: pg_trgm's GIN index on PostgreSQL, an FTS5 trigram table on SQLite.

Neither is part of the model state (they are vendor-specific), so they are created here by hand; see
annotator/kb/search_index.py.
"""

from django.db import migrations

from annotator.kb.search_index import install_search_index, uninstall_search_index


def install(apps, schema_editor):
    install_search_index(schema_editor)


def uninstall(apps, schema_editor):
    uninstall_search_index(schema_editor)


class Migration(migrations.Migration):
    # CREATE INDEX on a large table should not hold a long transaction open with other DDL.
    atomic = False

    dependencies = [
        ("kb", "0002_alias_manual_and_browse_index"),
    ]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
