"""escalation.sla: the one place that turns a level into due times."""

from datetime import UTC, datetime, timedelta

import pytest

from escalation.models import SlaPolicy
from escalation.sla import (
    DEFAULT_MINUTES,
    Deadlines,
    Windows,
    all_windows,
    compute_deadlines,
    windows_for,
)
from tests.factories import IncidentFactory, SlaPolicyFactory

pytestmark = pytest.mark.django_db

RECEIVED = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
SEEDED = {
    "P0": (5, 120, 30),
    "P1": (15, 240, 30),
    "P2": (30, 480, 60),
    "P3": (120, 1440, 60),
}


def minutes(respond, resolve, update):
    return Windows(
        respond=timedelta(minutes=respond),
        resolve=timedelta(minutes=resolve),
        update=timedelta(minutes=update),
    )


@pytest.mark.parametrize("severity", list(SEEDED))
def test_it_reads_the_seeded_windows(severity):
    assert windows_for(severity) == minutes(*SEEDED[severity])


def test_it_falls_back_to_the_default_table_with_the_same_numbers():
    assert DEFAULT_MINUTES == SEEDED


@pytest.mark.parametrize("severity", list(SEEDED))
def test_it_computes_deadlines_from_received_at(severity):
    respond, resolve, update = SEEDED[severity]
    update_from = RECEIVED + timedelta(minutes=7)

    deadlines = compute_deadlines(
        severity=severity, received_at=RECEIVED, update_clock_from=update_from
    )

    assert deadlines == Deadlines(
        respond_by=RECEIVED + timedelta(minutes=respond),
        resolve_by=RECEIVED + timedelta(minutes=resolve),
        next_update_by=update_from + timedelta(minutes=update),
        resolve_warn_by=RECEIVED + timedelta(minutes=resolve) * 0.8,
    )


def test_it_leaves_the_update_deadline_empty_without_a_clock_start():
    deadlines = compute_deadlines(severity="P1", received_at=RECEIVED, update_clock_from=None)

    assert deadlines.next_update_by is None
    assert deadlines.respond_by == RECEIVED + timedelta(minutes=15)


def test_it_keeps_deadlines_timezone_aware():
    deadlines = compute_deadlines(severity="P0", received_at=RECEIVED, update_clock_from=RECEIVED)

    assert all(
        d.tzinfo is not None
        for d in (deadlines.respond_by, deadlines.resolve_by, deadlines.next_update_by)
    )


def test_it_reads_an_edited_policy():
    SlaPolicyFactory(severity="P2")
    SlaPolicy.objects.filter(severity="P2").update(
        respond_minutes=10, resolve_minutes=90, update_minutes=15
    )

    assert windows_for("P2") == minutes(10, 90, 15)
    deadlines = compute_deadlines(severity="P2", received_at=RECEIVED, update_clock_from=RECEIVED)
    assert deadlines.resolve_by == RECEIVED + timedelta(minutes=90)
    assert deadlines.next_update_by == RECEIVED + timedelta(minutes=15)
    # The other levels are untouched.
    assert windows_for("P3") == minutes(*SEEDED["P3"])


@pytest.mark.parametrize("severity", list(SEEDED))
def test_it_falls_back_to_the_defaults_when_a_policy_was_deleted(severity):
    # Edit every level first so a fallback cannot be mistaken for a stored row.
    SlaPolicy.objects.update(respond_minutes=1, resolve_minutes=2, update_minutes=3)
    SlaPolicy.objects.filter(severity=severity).delete()

    assert windows_for(severity) == minutes(*SEEDED[severity])
    deadlines = compute_deadlines(severity=severity, received_at=RECEIVED, update_clock_from=None)
    assert deadlines.resolve_by == RECEIVED + timedelta(minutes=SEEDED[severity][1])
    others = [s for s in SEEDED if s != severity]
    assert all(windows_for(s) == minutes(1, 2, 3) for s in others)


def test_it_files_an_incident_on_the_defaults_when_its_policy_was_deleted(clock, onduty):
    SlaPolicy.objects.filter(severity="P0").delete()

    incident = IncidentFactory(actor=onduty, severity="P0")

    assert incident.respond_by == RECEIVED + timedelta(minutes=5)
    assert incident.resolve_by == RECEIVED + timedelta(minutes=120)


def test_all_windows_reads_every_level_in_one_query(django_assert_num_queries):
    SlaPolicy.objects.filter(severity="P3").delete()  # falls back to PROCESS.md's table
    with django_assert_num_queries(1):
        found = all_windows()
    assert found == {s: windows_for(s) for s in ("P0", "P1", "P2", "P3")}
    assert found["P3"].resolve == timedelta(minutes=1440)
