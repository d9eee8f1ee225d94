"""Django's database sessions, read through a query compiled once per process.

Every signed-in page reads its session first; Django builds and compiles that query on each request,
which costs more CPU than the database's answer. The row is read by its key alone and its expiry checked
here, so the query has no changing timestamp in it: the same rows count as live as with Django's own
`expire_date > now()` filter.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.utils import timezone

from annotator.core.compiled import CompiledQuery


@CompiledQuery
def _session(session_key: str) -> QuerySet[Session]:
    return Session.objects.filter(session_key=session_key)


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Session | None:
        found = _session(session_key=self.session_key) if self.session_key else []
        if found and found[0].expire_date > timezone.now():
            return found[0]
        self._session_key = None
        return None
