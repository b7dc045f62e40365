"""Each request's user in one query, with what every page reads about them.

Django's ModelBackend, whose get_user (called by AuthenticationMiddleware, once
per request, lazily) loads in the same query as the user:

- the profile (language, time zone: incidents.middleware),
- the unread notice counter (the header's number: escalation.selectors.unread_count),
- the roles, teams and cross-team work (incidents.rules.context, kept on the user).

So a signed-in page pays two queries for its basics: the session and this. The
session stays in the database, read on every request: a sign-out or a password
change (which rotates the session hash Django checks after get_user) takes effect
in every worker at once.

Here, in the wiring, because it joins the models of several apps.
"""

import functools
import json

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.expressions import RawSQL

from incidents import rules

MEMBERSHIPS = "responder_memberships"


class RequestUserBackend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            user_id = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        if connection.vendor == "postgresql":
            user, rows = _prepared_user(user_id)
        else:
            user, rows = _orm_user(user_id)
        if user is None or not self.user_can_authenticate(user):
            return None
        if rows is not None:
            rules.remember(user, json.loads(rows))
        return user


def _orm_user(user_id):
    """(the user with profile and counter, their memberships' JSON text or None)."""
    model = get_user_model()
    users = model._default_manager.select_related("profile", "unread_counter")
    memberships = rules.memberships_subquery(user_id)
    if memberships is not None:
        # rules' own SQL (table names from the models), the user's id a parameter
        users = users.annotate(**{MEMBERSHIPS: RawSQL(*memberships)})  # nosec B611
    try:
        user = users.get(pk=user_id)
    except model.DoesNotExist:
        return None, None
    return user, user.__dict__.pop(MEMBERSHIPS, None)


# On PostgreSQL the same query, written out and prepared once per database
# connection: on every signed-in request the ORM spent about 1 ms composing it and
# building the three objects, and the database 0.7 ms planning it (its memberships
# are seven joined lists), of a page's 6 ms floor (bench/pages.py, in-process).
# Prepared statements outlive a rolled-back transaction; a new connection (Django's
# CONN_MAX_AGE, a health check's reconnect) prepares it again.
PREPARED = "responder_request_user"


class _UserQuery:
    """The user, profile and unread counter columns and the memberships, by id."""

    def __init__(self):
        model = get_user_model()
        self.models = (
            model,
            model._meta.get_field("profile").related_model,
            model._meta.get_field("unread_counter").related_model,
        )
        self.fields = [list(m._meta.concrete_fields) for m in self.models]
        # Per model: its columns' attribute names and where its primary key is.
        self.names = [[f.attname for f in fields] for fields in self.fields]
        self.pk_at = [
            fields.index(m._meta.pk) for m, fields in zip(self.models, self.fields, strict=True)
        ]
        # Django's converters of each column, where it has any (none today).
        self.converters = [
            [(i, convert) for i, f in enumerate(fields) if (convert := _converters(f))]
            for fields in self.fields
        ]
        quote = connection.ops.quote_name
        tables = [quote(m._meta.db_table) for m in self.models]
        columns = ", ".join(
            f"{alias}.{quote(f.column)}"
            for alias, fields in zip(("u", "p", "c"), self.fields, strict=True)
            for f in fields
        )
        memberships, params = rules.memberships_subquery(0)
        pk = quote(model._meta.pk.column)
        profile_user, counter_user = (
            quote(m._meta.get_field("user").column) for m in self.models[1:]
        )
        sql = (
            f"SELECT {columns}, ({memberships}) FROM {tables[0]} u "  # nosec B608: from the models
            f"LEFT JOIN {tables[1]} p ON p.{profile_user} = u.{pk} "
            f"LEFT JOIN {tables[2]} c ON c.{counter_user} = u.{pk} "
            f"WHERE u.{pk} = %s"
        )
        assert sql.count("%s") == len(params) + 1  # nosec B101: every parameter is the id
        self.prepare = (
            f"PREPARE {PREPARED} ({model._meta.pk.db_type(connection)}) AS "
            + sql.replace("%s", "$1")
        )

    def build(self, row):
        """(user, memberships' JSON text) from the row; the profile or counter None
        when the user has none (reading it raises DoesNotExist, as Django's would)."""
        objects, start = [], 0
        parts = zip(self.models, self.fields, self.names, self.pk_at, self.converters, strict=True)
        for model, fields, names, pk_at, converters in parts:
            values = list(row[start : start + len(fields)])
            start += len(fields)
            if values[pk_at] is None:
                objects.append(None)
                continue
            for i, convert in converters:
                for converter in convert:
                    values[i] = converter(values[i], fields[i].cached_col, connection)
            objects.append(model.from_db(connection.alias, names, values))
        user, profile, counter = objects
        for name, related in (("profile", profile), ("unread_counter", counter)):
            user._meta.get_field(name).set_cached_value(user, related)
            if related is not None:
                related._meta.get_field("user").set_cached_value(related, user)
        return user, row[start]


def _converters(field) -> list:
    return field.get_db_converters(connection) + connection.ops.get_db_converters(field.cached_col)


@functools.cache
def _user_query() -> _UserQuery:
    return _UserQuery()


def _prepared_user(user_id):
    query = _user_query()
    with connection.cursor() as cursor:
        raw = connection.connection
        if getattr(connection, "_responder_prepared", None) is not raw:
            # The connection's set-up, not one of the request's queries: on a cursor
            # of its own, so query counts stay what the page itself asks.
            with raw.cursor() as setup:
                setup.execute(query.prepare)
            connection._responder_prepared = raw
        cursor.execute(f"EXECUTE {PREPARED} (%s)", [user_id])
        row = cursor.fetchone()
    if row is None:
        return None, None
    return query.build(row)
