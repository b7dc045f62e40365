"""IncidentSearchRow: the narrow copy of the incidents the archive counts a text
search in. On PostgreSQL a trigger keeps it equal to the incidents whatever
writes them; SQLite has no trigger and never reads it."""

import pytest
from django.db import connection
from django.db.models.functions import Upper

from incidents import services
from incidents.models import Incident, IncidentSearchRow, Severity, State
from incidents.workflow import Action
from tests.factories import (
    acknowledged_incident,
    archived_incident,
    perform,
    resolved_incident,
)

pytestmark = pytest.mark.django_db

COLUMNS = ("id", "team_id", "state", "severity", "category", "received_at", "number")


def expected() -> set[tuple]:
    """What the rows must hold: each incident's columns and its title upper-case
    (UPPER() as the database spells it, not Python's str.upper)."""
    return set(Incident.objects.annotate(t=Upper("title")).values_list(*COLUMNS, "t"))


def kept() -> set[tuple]:
    return set(IncidentSearchRow.objects.values_list(*COLUMNS, "title_upper"))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_trigger_keeps_a_row_per_incident_whatever_writes_it(
    clock, lead, owner, onduty, payments
):
    filed = acknowledged_incident(lead=lead, reporter=onduty, title="Disk full on db-2")
    closed = resolved_incident(lead=lead, owner=owner, title="数据库连接池耗尽")
    assert len(kept()) == 2
    assert kept() == expected()

    # Services: a new level, a new state, new details.
    perform(Action.GRADE, incident=filed, actor=lead, severity=Severity.P1)
    services.incident_update(
        incident=Incident.objects.get(pk=filed.pk), actor=lead, title="Disk full on db-3"
    )
    archived_incident(lead=lead, owner=owner, title="straße ß")
    assert kept() == expected()

    # Past the services: a bulk UPDATE and a save of every column.
    Incident.objects.filter(pk=closed.pk).update(title="Pool drained", team=payments)
    copy = Incident.objects.get(pk=closed.pk)
    copy.state = State.ARCHIVED
    copy.save()
    assert kept() == expected()

    # A new row and its delete (an incident with nothing attached to it yet).
    copy.pk, copy.number = None, "INC-COPY-1"
    copy.save()
    assert copy.pk in {row[0] for row in kept()}
    Incident.objects.filter(pk=copy.pk).delete()
    assert kept() == expected()
    assert len(kept()) == 3


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite's side")
def test_sqlite_has_no_trigger_and_leaves_it_empty(clock, lead, owner):
    resolved_incident(lead=lead, owner=owner, title="Disk full")
    assert IncidentSearchRow.objects.count() == 0
