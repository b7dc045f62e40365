"""The metrics' figures of finished incidents (incidents.figures) stay what a
rebuild from the incidents would write, through every service that moves them."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from escalation.engine import sweep_due_deadlines
from incidents import figures, services
from incidents.models import IncidentFigures, LogEntry, State
from tests.factories import incident_in_state

pytestmark = pytest.mark.django_db

FIELDS = ("respond_window", "resolve_window", *figures.ROW_FIELDS)


def kept() -> dict:
    """Every non-empty row: key → its windows, counts and histograms."""
    rows = {}
    for row in IncidentFigures.objects.all():
        values = tuple(getattr(row, f) for f in FIELDS)
        if any(getattr(row, f) for f in figures.ROW_FIELDS):
            rows[(row.span, row.start, row.team_id, row.severity)] = values
    return rows


def rebuilt() -> dict:
    figures.rebuild()
    return kept()


def test_it_follows_every_service_like_a_rebuild(clock, lead, owner, tester, pay_lead):
    for state in State.values:
        incident_in_state(state, lead=lead, owner=owner, tester=tester)
    reopened = incident_in_state(State.ARCHIVED, lead=lead, owner=owner, tester=tester)
    services.incident_reopen(incident=reopened, actor=lead, reason="Back again.")
    services.incident_resolve(incident=reopened, actor=owner, fix="Again.")
    services.incident_verify(
        incident=reopened,
        actor=tester,
        functional_ok=False,
        regression_ok=True,
        monitoring_ok=True,
    )
    services.incident_resolve(incident=reopened, actor=owner, fix="Third time.")
    services.incident_verify(
        incident=reopened,
        actor=tester,
        functional_ok=True,
        regression_ok=True,
        monitoring_ok=True,
    )
    late = incident_in_state(State.IN_PROGRESS, lead=lead, owner=owner, tester=tester)
    clock.shift(timedelta(hours=2))
    sweep_due_deadlines()  # its progress update is overdue: an update notice
    services.incident_resolve(incident=late, actor=owner, fix="Done.")
    services.incident_verify(
        incident=late, actor=tester, functional_ok=True, regression_ok=True, monitoring_ok=True
    )
    edited = incident_in_state(State.RESOLVED, lead=lead, owner=owner, tester=tester)
    services.incident_update(
        incident=edited,
        actor=lead,
        received_at=edited.received_at - timedelta(days=40),
    )
    incident_in_state(State.CANCELLED, lead=pay_lead, owner=pay_lead, tester=pay_lead)

    now = kept()
    assert sum(v[FIELDS.index("count")] for k, v in now.items() if k[0] == "day") == 5
    assert now == rebuilt()


def test_it_is_untouched_by_changes_of_open_incidents(clock, lead, owner, tester):
    incident = incident_in_state(State.ACKNOWLEDGED, lead=lead, owner=owner, tester=tester)
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    services.incident_log(
        incident=incident, actor=owner, kind=LogEntry.Kind.PROGRESS, text="Halfway."
    )
    assert not IncidentFigures.objects.exists()


def test_it_takes_a_reopened_incident_out(clock, lead, owner, tester):
    incident = incident_in_state(State.RESOLVED, lead=lead, owner=owner, tester=tester)
    assert sum(IncidentFigures.objects.values_list("count", flat=True)) == 2  # day and month

    services.incident_reopen(incident=incident, actor=lead, reason="Back again.")

    assert kept() == {}


def test_it_rebuilds_from_the_incidents(clock, lead, owner, tester):
    incident_in_state(State.ARCHIVED, lead=lead, owner=owner, tester=tester)
    before = kept()
    IncidentFigures.objects.update(count=99, mtta=[5])

    out = StringIO()
    call_command("rebuild_metrics", stdout=out)

    assert kept() == before
    assert out.getvalue() == "Rebuilt 2 figure rows.\n"


@pytest.mark.parametrize("minutes", [0.0, 0.2, 1, 1.99, 2, 7.5, 19.9, 20, 21.7, 59, 240, 3795, 5e5])
def test_it_reads_a_duration_back_within_its_precision(minutes):
    read = figures.value_of(figures.bucket(minutes))
    assert abs(read - minutes) <= max(1.0, 0.05 * minutes)


def test_its_precision_holds_across_every_bucket():
    for i in range(1, len(figures.BOUNDS)):
        low, high = figures.BOUNDS[i - 1], figures.BOUNDS[i]
        for minutes in (low, (low + high) / 2, high - 1e-9):
            read = figures.value_of(figures.bucket(minutes))
            assert abs(read - minutes) <= max(1.0, 0.05 * minutes) + 1e-9, (i, minutes)


def test_it_reads_the_median_and_p90_like_the_exact_ones():
    kept_ = figures.Figures()
    for minutes in (4, 6, 10, 20, 45):
        kept_.add_value("mtta", minutes)
    assert kept_.median("mtta") == figures.value_of(figures.bucket(10))
    assert kept_.p90("mtta") == figures.value_of(figures.bucket(45))  # ⌈4.5⌉ = 5th
    kept_.add_value("mtta", 5)  # even: the mean of the 3rd and 4th
    assert (
        kept_.median("mtta")
        == (figures.value_of(figures.bucket(6)) + figures.value_of(figures.bucket(10))) / 2
    )
    assert figures.Figures().median("mtta") is None
