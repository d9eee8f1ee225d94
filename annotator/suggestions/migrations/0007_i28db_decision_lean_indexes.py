"""Decisions lose the indexes nothing reads (suggestions/models.py, Decision): the decision's own index on
its suggestion (one_decision_per_set starts with that column) and seven of its history's (by date, author,
suggestion, span, relation, link and decider; core/lean_history.py). Only the indexes go.

Django would drop and re-add the foreign keys to change their index (re-checking every row, a long lock on
a big table), and SQLite would rebuild the tables: the state changes as the models say, the database only
drops the indexes (same names on PostgreSQL and SQLite).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = [
    ("suggestions_decision", "suggestions_decision_suggestion_id_1a24edc2", "suggestion_id"),
    (
        "suggestions_historicaldecision",
        "suggestions_historicaldecision_decided_by_id_02e760c0",
        "decided_by_id",
    ),
    (
        "suggestions_historicaldecision",
        "suggestions_historicaldecision_history_date_abaeaaac",
        "history_date",
    ),
    (
        "suggestions_historicaldecision",
        "suggestions_historicaldecision_history_user_id_cc50c19d",
        "history_user_id",
    ),
    ("suggestions_historicaldecision", "suggestions_historicaldecision_link_id_6ac16118", "link_id"),
    ("suggestions_historicaldecision", "suggestions_historicaldecision_relation_id_f7a40889", "relation_id"),
    ("suggestions_historicaldecision", "suggestions_historicaldecision_span_id_0962db46", "span_id"),
    (
        "suggestions_historicaldecision",
        "suggestions_historicaldecision_suggestion_id_076957b6",
        "suggestion_id",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0006_i18import_span_history_lean_indexes"),
        ("suggestions", "0006_i18workers_set_based_references"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="decision",
                    name="suggestion",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="decisions",
                        to="suggestions.suggestion",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicaldecision",
                    name="decided_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicaldecision",
                    name="history_date",
                    field=models.DateTimeField(),
                ),
                migrations.AlterField(
                    model_name="historicaldecision",
                    name="history_user",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicaldecision",
                    name="link",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="annotations.entitylink",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicaldecision",
                    name="relation",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="annotations.relation",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicaldecision",
                    name="span",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="annotations.span",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicaldecision",
                    name="suggestion",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="suggestions.suggestion",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for table, name, column in INDEXES
            ],
        ),
    ]
