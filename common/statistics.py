"""The planner's statistics, refreshed after a bulk load.

Autovacuum analyzes a table only after enough of it changed and only when it
gets to it; until then PostgreSQL plans with the empty tables' statistics (the
archive took 860 ms instead of 22 ms after loading 100k incidents). Commands that
load many rows at once call `analyze()` when they are done.
"""

from django.db import connection


def analyze() -> None:
    """ANALYZE every table of the database (PostgreSQL and SQLite both have it).

    Runs outside any transaction block on PostgreSQL when called outside one;
    inside one it still works (ANALYZE may run in a transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
