"""The metrics count what is fair: wall time and SLA time side by side, the SLA
time leaving out non-working hours of a business-hours level and paused time."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from common import clock as wall
from escalation.models import BusinessCalendar, SlaPolicy
from incidents import services
from incidents.models import LogEntry
from knowledge import metrics
from tests.factories import IncidentFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(clock, stamp: str) -> None:
    clock.move_to(datetime.fromisoformat(stamp).replace(tzinfo=SHANGHAI))


def work_through(clock, incident, *, lead, owner, acked, restored, pause=None):
    at(clock, acked)
    services.incident_acknowledge(incident=incident, actor=lead)
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    services.incident_log(incident=incident, actor=owner, kind=LogEntry.Kind.ACTION, text="On it")
    if pause:
        at(clock, pause[0])
        services.incident_pause(incident=incident, actor=owner, reason="Vendor", waiting_on="Dell")
        at(clock, pause[1])
        services.incident_resume(incident=incident, actor=owner)
    at(clock, restored)
    services.incident_resolve(incident=incident, actor=owner, fix="Replaced the disk.")
    services.incident_verify(
        incident=incident, actor=lead, functional_ok=True, regression_ok=True, monitoring_ok=True
    )


@pytest.fixture
def story(clock, onduty, lead, owner):
    calendar = BusinessCalendar.objects.get(name="Mainland China working days")
    SlaPolicy.objects.filter(severity="P2").update(calendar=calendar)
    # A: P2 on business hours, filed Friday 17:50, acknowledged Monday 09:05 and
    # restored Monday 11:50. Wall: 3,795 and 3,960 min; SLA: 15 and 180 min.
    at(clock, "2026-11-06 17:50")
    a = IncidentFactory(actor=onduty, severity="P2", title="A")
    work_through(
        clock, a, lead=lead, owner=owner, acked="2026-11-09 09:05", restored="2026-11-09 11:50"
    )
    # B: P1 (24×7), paused 2 h waiting on a vendor. Wall: 5 and 180 min; SLA: 5 and 60.
    at(clock, "2026-11-09 10:00")
    b = IncidentFactory(actor=onduty, severity="P1", title="B")
    work_through(
        clock,
        b,
        lead=lead,
        owner=owner,
        acked="2026-11-09 10:05",
        restored="2026-11-09 13:00",
        pause=("2026-11-09 10:30", "2026-11-09 12:30"),
    )
    at(clock, "2026-11-20 12:00")
    return {"A": a, "B": b}


def test_it_reports_wall_time_and_sla_time_apart(story, clock, manager):
    result = metrics.compute(
        user=manager, start=date(2026, 11, 1), end=date(2026, 11, 30), now=wall.now()
    )
    total = result["total"]
    assert total["count"] == 2
    assert (total["mtta_median_min"], total["mtta_sla_median_min"]) == (1900.0, 10.0)
    assert (total["mttr_median_min"], total["mttr_sla_median_min"]) == (2070.0, 120.0)
    assert (total["mtta_p90_min"], total["mtta_sla_p90_min"]) == (3795.0, 15.0)
    assert (total["mttr_p90_min"], total["mttr_sla_p90_min"]) == (3960.0, 180.0)
    # Against the SLA deadlines both met; in wall time A missed both windows.
    assert (total["respond_compliance_pct"], total["respond_wall_compliance_pct"]) == (100, 50)
    assert (total["resolve_compliance_pct"], total["resolve_wall_compliance_pct"]) == (100, 50)

    levels = {row["severity"]: row for row in result["by_level"]}
    assert (levels["P1"]["mttr_median_min"], levels["P1"]["mttr_sla_median_min"]) == (180, 60)
    assert (levels["P2"]["mtta_median_min"], levels["P2"]["mtta_sla_median_min"]) == (3795, 15)


def test_without_calendars_or_pauses_sla_time_is_wall_time(clock, onduty, lead, owner, manager):
    at(clock, "2026-11-09 10:00")
    incident = IncidentFactory(actor=onduty, severity="P2")
    work_through(
        clock,
        incident,
        lead=lead,
        owner=owner,
        acked="2026-11-09 10:20",
        restored="2026-11-09 12:00",
    )
    incident.refresh_from_db()
    assert incident.respond_sla.total_seconds() == 20 * 60
    assert incident.resolve_sla.total_seconds() == 120 * 60
    total = metrics.compute(
        user=manager, start=date(2026, 11, 1), end=date(2026, 11, 30), now=wall.now()
    )["total"]
    assert total["mtta_median_min"] == total["mtta_sla_median_min"] == 20.0
    assert total["mttr_median_min"] == total["mttr_sla_median_min"] == 120.0


def test_the_page_and_the_export_say_which_time_is_which(story, client, manager):
    client.force_login(manager)
    page = client.get("/metrics/?start=2026-11-01&end=2026-11-30").content.decode()
    section = page.split('id="metrics-sla"')[1].split("</table>")[0]
    assert "SLA time" in section
    assert "Wall time" in section
    assert "2070.0 min" in section
    assert "120.0 min" in section

    csv_text = b"".join(client.get("/archive/export.csv").streaming_content).decode("utf-8-sig")
    header, *rows = [line.split(",") for line in csv_text.strip().splitlines()]
    sla = header.index("Minutes to restore (SLA time)")
    wall = header.index("Minutes to restore (wall time)")
    paused = header.index("Minutes paused")
    by_title = {row[1]: row for row in rows}
    assert (by_title["A"][wall], by_title["A"][sla], by_title["A"][paused]) == (
        "3960.0",
        "180.0",
        "0",
    )
    assert (by_title["B"][wall], by_title["B"][sla], by_title["B"][paused]) == (
        "180.0",
        "60.0",
        "120.0",
    )


def test_incidents_from_before_sla_time_read_their_wall_time(
    clock, onduty, lead, owner, manager, client
):
    """The migration rewrites no incident: an empty respond_sla / resolve_sla /
    resolve_warn_by reads as the wall-time value it would have had."""
    from escalation.deadlines import desired
    from escalation.models import Clock
    from incidents.models import Incident

    at(clock, "2026-11-09 10:00")
    incident = IncidentFactory(actor=onduty, severity="P2", title="old")
    work_through(
        clock,
        incident,
        lead=lead,
        owner=owner,
        acked="2026-11-09 10:20",
        restored="2026-11-09 12:00",
    )
    Incident.objects.filter(pk=incident.pk).update(
        respond_sla=None, resolve_sla=None, resolve_warn_by=None
    )
    total = metrics.compute(
        user=manager, start=date(2026, 11, 1), end=date(2026, 11, 30), now=wall.now()
    )["total"]
    assert (total["mtta_sla_median_min"], total["mttr_sla_median_min"]) == (20.0, 120.0)

    client.force_login(manager)
    csv_text = b"".join(client.get("/archive/export.csv").streaming_content).decode("utf-8-sig")
    header, row = [line.split(",") for line in csv_text.strip().splitlines()][:2]
    assert row[header.index("Minutes to restore (SLA time)")] == "120.0"

    at(clock, "2026-11-10 09:00")
    running = IncidentFactory(actor=onduty, severity="P2", title="running")
    Incident.objects.filter(pk=running.pk).update(resolve_warn_by=None)
    running.refresh_from_db()
    warn_at, _cycle = desired(running)[Clock.WARNING]
    assert warn_at == running.received_at + (running.resolve_by - running.received_at) * 0.8
