"""Every clock × level × severity fires exactly at its time, to its people (frozen clock)."""

from datetime import timedelta

import pytest

from escalation.engine import sweep_due_deadlines
from escalation.models import Notice
from incidents import services
from tests.conftest import NOW
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db
SECOND = timedelta(seconds=1)

# severity: respond, resolve, update (minutes) — PROCESS.md's table
SLA = {"P0": (5, 120, 30), "P1": (15, 240, 30), "P2": (30, 480, 60), "P3": (120, 1440, 60)}
# clock, level: minutes after the deadline, recipients (seeded ladder). The team
# keeps no roster here, so the on-call primary of respond level 1 falls back to
# the tech leads (tests/escalation/roster/test_roster.py routes it to a rotation).
LADDER = {
    ("respond", 1): (0, ["lead"]),
    ("respond", 2): (5, ["lead"]),
    ("respond", 3): (15, ["manager"]),
    ("resolve", 1): (0, ["lead", "owner"]),
    ("resolve", 2): (60, ["manager"]),
    ("update", 1): (0, ["owner"]),
    ("update", 2): (30, ["lead"]),
    ("warning", 1): (0, ["owner"]),
}


def deadline_of(clock_name: str, severity: str) -> timedelta:
    respond, resolve, update = SLA[severity]
    return {
        "respond": timedelta(minutes=respond),
        "resolve": timedelta(minutes=resolve),
        "update": timedelta(minutes=update),  # from acknowledge, which happens at NOW
        "warning": timedelta(minutes=resolve) * 0.8,
    }[clock_name]


def level_notices(incident, clock_name):
    return sorted(
        (n.level, sorted(n.recipients))
        for n in Notice.objects.filter(incident=incident, clock=clock_name)
    )


@pytest.mark.parametrize("severity", ["P0", "P1", "P2", "P3"])
@pytest.mark.parametrize(("clock_name", "level"), sorted(LADDER))
def test_it_fires_each_level_at_its_time(
    clock, onduty, lead, owner, manager, severity, clock_name, level
):
    incident = IncidentFactory(actor=onduty, severity=severity)
    if clock_name != "respond":
        # The other clocks run with an owner at work; acknowledge at NOW keeps
        # the update clock's start at NOW too.
        services.incident_acknowledge(incident=incident, actor=lead)
        services.incident_assign(incident=incident, actor=lead, owner=owner)
    after, recipients = LADDER[(clock_name, level)]
    fires_at = NOW + deadline_of(clock_name, severity) + timedelta(minutes=after)
    earlier = [(lv, sorted(LADDER[(clock_name, lv)][1])) for lv in range(1, level)]

    # Sweeps up to the level before: those levels only, on time.
    for lv in range(1, level):
        clock.move_to(
            NOW + deadline_of(clock_name, severity) + timedelta(minutes=LADDER[(clock_name, lv)][0])
        )
        sweep_due_deadlines()
    clock.move_to(fires_at - SECOND)
    sweep_due_deadlines()
    assert level_notices(incident, clock_name) == earlier

    clock.move_to(fires_at)
    sweep_due_deadlines()
    assert level_notices(incident, clock_name) == [*earlier, (level, sorted(recipients))]
    latest = Notice.objects.get(incident=incident, clock=clock_name, level=level)
    assert latest.late is False
