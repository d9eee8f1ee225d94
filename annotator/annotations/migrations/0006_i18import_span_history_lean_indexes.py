"""The span history loses its date and author indexes (core/lean_history.py): only the indexes go.

Django would drop and re-add the author's foreign key to change its index (re-checking every history row
against the users, a long lock on a big table), and SQLite would rebuild the table: the state changes as
the models say, the database only drops the two indexes (same names on PostgreSQL and SQLite).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = [
    ("annotations_historicalspan_history_date_9cc96086", "history_date"),
    ("annotations_historicalspan_history_user_id_aa7c1d75", "history_user_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0005_span_attributes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="historicalspan",
                    name="history_date",
                    field=models.DateTimeField(),
                ),
                migrations.AlterField(
                    model_name="historicalspan",
                    name="history_user",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "annotations_historicalspan" ("{column}")',
                )
                for name, column in INDEXES
            ],
        ),
    ]
