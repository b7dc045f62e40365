"""escalation.backup: deadlines, notices and deliveries in the incident dump."""

import json

import pytest
from django.core.management.base import CommandError

from escalation import backup
from escalation.models import Deadline
from incidents.backup import registry
from tests.dumps import export, import_text
from tests.factories import new_incident

pytestmark = pytest.mark.django_db


def test_it_registers_its_rows_after_the_post_mortem():
    assert backup.INCIDENT_ROWS in registry.nested()
    assert registry.nested_keys().index("deadlines") > registry.nested_keys().index("postmortem")
    assert {p.model.__name__ for p in backup.INCIDENT_ROWS.parts} == {
        "Deadline",
        "Notice",
        "Delivery",
    }


def test_it_writes_the_running_deadlines_of_each_incident(clock, lead):
    incident = new_incident(reporter=lead, severity="P1")

    [written] = json.loads(export())["incidents"]

    clocks = sorted(d["clock"] for d in written["deadlines"])
    assert clocks == sorted(
        Deadline.objects.filter(incident=incident).values_list("clock", flat=True)
    )
    assert all(d["cycle_ref"] is None for d in written["deadlines"])
    assert written["notices"] == []


@pytest.mark.parametrize(
    "cycle_ref", [{"log_entry": 5}, {"action_item": 0}, {"page": 0}, {"log_entry": "0"}, [0]]
)
def test_it_refuses_a_cycle_that_points_at_no_row(clock, lead, tmp_path, cycle_ref):
    new_incident(reporter=lead, severity="P1")
    dump = json.loads(export())
    dump["incidents"][0]["number"] = "INC-20000101-0001"  # a new incident, so it is read
    dump["incidents"][0]["deadlines"][0].update(cycle=None, cycle_ref=cycle_ref)

    with pytest.raises(CommandError, match="bad cycle_ref"):
        import_text(json.dumps(dump), tmp_path)
