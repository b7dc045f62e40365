"""Django's database sessions, read by a written-out statement.

Every signed-in request reads its session first; the ORM spent about as long
composing that one-row read as the database took to answer it (common/sql.py).
Writing, expiry and clean-up stay Django's. SESSION_ENGINE names this module.
"""

from django.contrib.sessions.backends import db
from django.utils import timezone

from common import sql


class SessionStore(db.SessionStore):
    def load(self):
        model = self.model
        found = sql.rows(
            f"SELECT {sql.column(model, 'session_data')} FROM {sql.table(model)} "  # nosec B608: names from the model
            f"WHERE {sql.column(model, 'session_key')} = %s "
            f"AND {sql.column(model, 'expire_date')} > %s",
            [self.session_key, sql.moment(timezone.now())],
        )
        if not found:
            self._session_key = None  # as Django's: a new session if one is saved
            return {}
        return self.decode(found[0][0])
