"""django-simple-history for the tables that grow by the half million: no index on the date or author.

simple-history indexes every history table's `history_date` and `history_user` columns. The span
history is read by span and by set only (review/history.py, review/article_actions.py: both have their
own index), never by date or author alone, and each index costs every imported span one more B-tree
insertion and WAL record: the two are a fifth of what PostgreSQL spends writing a span's history row
(bench/import.py). What they would serve, deleting a user (whose history rows Django sets to NULL, then
PostgreSQL's foreign key check looks for any left), scans the history table instead: rare, and an admin
action.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from simple_history.models import HistoricalRecords


class LeanHistoricalRecords(HistoricalRecords):
    """HistoricalRecords whose `history_date` and `history_user` columns carry no index."""

    def get_extra_fields(self, model: type[models.Model], fields: dict[str, Any]) -> dict[str, Any]:
        extra = super().get_extra_fields(model, fields)
        extra["history_date"] = models.DateTimeField(db_index=False)
        author = extra.get("history_user")
        if isinstance(author, models.ForeignKey):  # not yet on a model: its options may still change
            author.db_index = False  # type: ignore[attr-defined]  # set by Field.__init__, not in the stubs
        return extra
