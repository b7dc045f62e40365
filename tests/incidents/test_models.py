import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from incidents.models import Incident, State, TimelineEvent
from tests.factories import IncidentFactory


def test_it_has_exactly_the_eight_states_of_the_design():
    assert State.values == [
        "new",
        "acknowledged",
        "assigned",
        "in_progress",
        "verifying",
        "resolved",
        "archived",
        "cancelled",
    ]
    assert Incident._meta.get_field("state").choices == State.choices


@pytest.mark.django_db
def test_it_refuses_raw_sql_edits_of_the_audit_trail_on_postgresql(clock, onduty):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    incident = IncidentFactory(actor=onduty)
    event = TimelineEvent.objects.get(incident=incident)
    table = TimelineEvent._meta.db_table
    for sql in (
        f"UPDATE {table} SET message = 'x' WHERE id = %s",
        f"DELETE FROM {table} WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert TimelineEvent.objects.get(pk=event.pk).message == event.message


@pytest.mark.django_db
def test_the_team_lists_index_exists_on_every_database_with_the_level_last():
    """The archive's team/state/received index carries the level as a key column:
    an INCLUDE would leave SQLite without the index altogether."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Incident._meta.db_table)

    assert found["incident_team_state_recv_sev"]["columns"] == [
        "team_id",
        "state",
        "received_at",
        "severity",
    ]
