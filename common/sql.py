"""Small statements written out, for the few reads every page makes.

The ORM spends several times a trivial statement's own database time composing
it (about 0.2 ms against 0.03 ms for "which levels keep business hours"); the
dashboard asked six such questions per view. Table and column names come from
the models, values are always parameters.
"""

from django.db import connection


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model, field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def among(values) -> str:
    """Placeholders for `IN (…)` of `values` (at least one)."""
    return ", ".join(["%s"] * len(values))


def moment(value):
    """A datetime as a parameter, the way the ORM passes it (SQLite keeps UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def day(value):
    """A date as a parameter, the way the ORM passes it."""
    return connection.ops.adapt_datefield_value(value)


def rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


# JSON text of a list with one array per row, "[]" for none: the aggregate of
# each database that has one.
_JSON_ROWS = {
    "postgresql": "COALESCE(CAST(json_agg(json_build_array({})) AS TEXT), '[]')",
    "sqlite": "json_group_array(json_array({}))",
}


def json_rows(*columns: str) -> str | None:
    """An aggregate of `columns` as JSON text (`[[a, b], ...]`), for a subquery that
    folds a small list into another query's row; None on a database without it."""
    aggregate = _JSON_ROWS.get(connection.vendor)
    return aggregate.format(", ".join(columns)) if aggregate else None
