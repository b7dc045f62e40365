"""After a bulk load the planner knows the tables' real sizes (common.statistics)."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from incidents.models import Incident
from tests.dumps import export, import_text
from tests.incidents.test_backup import wipe

pytestmark = pytest.mark.django_db


def planner_rows(table: str) -> float | None:
    """The row count the planner's statistics hold for `table` (None: never analyzed)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
            (rows,) = cursor.fetchone()
            return None if rows < 0 else rows
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return None
        cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [table])
        found = cursor.fetchone()
        return None if found is None else float(found[0].split()[0])


def test_it_analyzes_the_tables_after_seed_bench():
    table = Incident._meta.db_table
    assert not planner_rows(table)

    call_command(
        "seed_bench", "--incidents", 120, "--open", 20, "--batch", 60, stdout=io.StringIO()
    )

    assert planner_rows(table) == pytest.approx(Incident.objects.count())


def test_it_analyzes_the_tables_after_import_incidents(tmp_path):
    call_command("seed_bench", "--incidents", 40, "--open", 5, "--batch", 40, stdout=io.StringIO())
    dump = export()
    wipe()
    with connection.cursor() as cursor:  # the statistics of the emptied tables
        cursor.execute("ANALYZE")
    assert not planner_rows(Incident._meta.db_table)

    import_text(dump, tmp_path)

    assert Incident.objects.count() >= 40
    assert planner_rows(Incident._meta.db_table) == pytest.approx(Incident.objects.count())
