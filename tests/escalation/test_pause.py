"""SLA pause and resume: the resolve and update clocks are held while the incident
waits on someone outside the team; the respond clock never is."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings

from common.errors import TransitionNotAllowed
from escalation.engine import sweep_due_deadlines
from escalation.models import Notice
from incidents import services
from incidents.models import Pause, TimelineEvent
from tests.conftest import NOW
from tests.factories import (
    IncidentFactory,
    in_progress_incident,
    resolved_incident,
)

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
pytestmark = pytest.mark.django_db


def sweep_at(clock, at):
    clock.move_to(at)
    return sweep_due_deadlines()


def sent(incident, *clocks):
    qs = Notice.objects.filter(incident=incident).order_by("created_at", "id")
    if clocks:
        qs = qs.filter(clock__in=clocks)
    return [(n.clock, n.level) for n in qs]


def pause(incident, actor, reason="Waiting for the vendor's disk", waiting_on="Dell support"):
    return services.incident_pause(
        incident=incident, actor=actor, reason=reason, waiting_on=waiting_on
    )


def test_it_sends_no_resolve_or_update_notice_while_paused(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity="P1")  # 4 h / 30 min
    clock.move_to(NOW + 10 * MIN)
    pause(incident, owner)

    sweep_at(clock, NOW + 5 * HOUR)  # past both deadlines, still paused

    assert sent(incident, "resolve", "update", "warning") == []
    incident.refresh_from_db()
    assert incident.overdue_clocks(NOW + 5 * HOUR) == []


def test_it_moves_the_resolve_deadline_by_the_time_paused(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity="P1")
    before = incident.resolve_by
    clock.move_to(NOW + 1 * HOUR)
    pause(incident, owner)
    clock.move_to(NOW + 3 * HOUR)

    services.incident_resume(incident=incident, actor=owner)

    incident.refresh_from_db()
    assert incident.resolve_by == before + 2 * HOUR
    assert incident.next_update_by == NOW + 3 * HOUR + 30 * MIN  # one cadence after resume
    assert incident.paused_for == 2 * HOUR
    assert incident.paused_at is None


def test_it_notifies_once_after_resume_if_still_overdue(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity="P1")
    deadline = incident.resolve_by  # received + 4 h
    clock.move_to(NOW + 3 * HOUR)
    pause(incident, owner)
    sweep_at(clock, NOW + 5 * HOUR)  # the old deadline passed while paused
    assert sent(incident, "resolve") == []
    services.incident_resume(incident=incident, actor=owner)  # paused 2 h → due at +6 h

    sweep_at(clock, deadline + 2 * HOUR - MIN)
    assert sent(incident, "resolve") == []
    sweep_at(clock, deadline + 2 * HOUR)
    sweep_at(clock, deadline + 2 * HOUR + MIN)
    assert sent(incident, "resolve") == [("resolve", 1)]


def test_a_pause_after_the_breach_holds_the_next_levels(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity="P1")
    sweep_at(clock, incident.resolve_by)
    assert sent(incident, "resolve") == [("resolve", 1)]
    pause(incident, lead)

    sweep_at(clock, incident.resolve_by + 10 * HOUR)

    assert sent(incident, "resolve") == [("resolve", 1)]


def test_the_respond_clock_runs_on_and_new_incidents_cannot_be_paused(clock, onduty, lead):
    incident = IncidentFactory(actor=onduty, severity="P0")
    with pytest.raises(TransitionNotAllowed):
        pause(incident, lead)
    sweep_at(clock, NOW + 5 * MIN)
    assert sent(incident, "respond") == [("respond", 1)]


def test_a_regrade_while_paused_recomputes_from_received_and_keeps_the_pause(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity="P1")
    clock.move_to(NOW + 1 * HOUR)
    pause(incident, owner)
    clock.move_to(NOW + 2 * HOUR)
    services.incident_grade(incident=incident, actor=lead, severity="P2", diagnosis="Smaller.")
    incident.refresh_from_db()
    assert incident.paused_at == NOW + 1 * HOUR
    assert incident.resolve_by == NOW + 8 * HOUR  # P2: 8 h, nothing paused yet is counted

    sweep_at(clock, NOW + 9 * HOUR)
    assert sent(incident, "resolve", "update") == []
    services.incident_resume(incident=incident, actor=owner)  # paused 8 h in all
    incident.refresh_from_db()
    assert incident.resolve_by == NOW + 16 * HOUR
    assert incident.next_update_by == NOW + 9 * HOUR + 60 * MIN  # P2 cadence


def test_two_pauses_add_up(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity="P1")
    first = incident.resolve_by
    for start in (1, 3):
        clock.move_to(NOW + start * HOUR)
        pause(incident, owner)
        clock.move_to(NOW + start * HOUR + 30 * MIN)
        services.incident_resume(incident=incident, actor=owner)
    incident.refresh_from_db()
    assert incident.resolve_by == first + HOUR
    assert list(Pause.objects.filter(incident=incident).values_list("ended_at", flat=True)) == [
        NOW + 90 * MIN,
        NOW + 210 * MIN,
    ]


def test_every_pause_and_resume_is_on_the_timeline_with_who_and_why(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    pause(incident, owner, reason="Customer must reboot the edge box", waiting_on="ACME IT")
    clock.move_to(NOW + 45 * MIN)
    services.incident_resume(incident=incident, actor=lead)

    events = TimelineEvent.objects.filter(incident=incident, kind__in=["paused", "resumed"])
    rows = [(e.kind, e.actor.username, e.message) for e in events.order_by("id")]
    assert rows[0] == ("paused", "owner", "Customer must reboot the edge box (waiting on ACME IT)")
    assert rows[1][:2] == ("resumed", "lead")
    assert "45" in rows[1][2]


def test_it_refuses_a_missing_reason_a_second_pause_and_a_resume_of_nothing(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    with pytest.raises(TransitionNotAllowed):
        services.incident_resume(incident=incident, actor=owner)
    with pytest.raises(ValidationError) as missing:
        pause(incident, owner, reason="  ")
    assert "reason" in missing.value.message_dict
    pause(incident, owner)
    with pytest.raises(TransitionNotAllowed):
        pause(incident, owner)
    assert Pause.objects.filter(incident=incident).count() == 1


def test_it_refuses_pausing_a_resolved_incident(clock, lead, owner, tester):
    incident = resolved_incident(lead=lead, owner=owner, tester=tester)
    with pytest.raises(TransitionNotAllowed):
        pause(incident, lead)


def test_only_the_owner_or_a_tech_lead_may_pause(clock, lead, owner, engineer, tester):
    incident = in_progress_incident(lead=lead, owner=owner, helpers=[engineer])
    for outsider in (engineer, tester):
        with pytest.raises(PermissionDenied):
            pause(incident, outsider)
    assert not Pause.objects.exists()


@override_settings(SLA_PAUSE_LIMIT_HOURS=72)
def test_a_long_pause_tells_the_tech_leads_once(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    pause(incident, owner)

    sweep_at(clock, NOW + 72 * HOUR - MIN)
    assert sent(incident, "pause") == []
    sweep_at(clock, NOW + 72 * HOUR)
    sweep_at(clock, NOW + 100 * HOUR)
    assert sent(incident, "pause") == [("pause", 1)]
    notice = Notice.objects.get(incident=incident, clock="pause")
    assert notice.recipients == ["lead"]


def test_a_new_pause_gets_its_own_long_pause_notice(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    pause(incident, owner)
    sweep_at(clock, NOW + 73 * HOUR)
    services.incident_resume(incident=incident, actor=owner)
    clock.move_to(NOW + 74 * HOUR)
    pause(incident, owner)
    sweep_at(clock, NOW + 74 * HOUR + 71 * HOUR)
    assert sent(incident, "pause") == [("pause", 1)]
    sweep_at(clock, NOW + 74 * HOUR + 72 * HOUR)
    assert sent(incident, "pause") == [("pause", 1), ("pause", 1)]


def test_resuming_before_the_limit_sends_no_long_pause_notice(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    pause(incident, owner)
    clock.move_to(NOW + 10 * HOUR)
    services.incident_resume(incident=incident, actor=owner)
    sweep_at(clock, NOW + 80 * HOUR)
    assert sent(incident, "pause") == []


def test_cancelling_a_paused_incident_ends_its_pause(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    pause(incident, owner)
    clock.move_to(NOW + HOUR)
    services.incident_cancel(incident=incident, actor=lead, reason="Duplicate of INC-1.")
    incident.refresh_from_db()
    assert incident.paused_at is None
    assert Pause.objects.get(incident=incident).ended_at == NOW + HOUR
    sweep_at(clock, NOW + 80 * HOUR)
    assert sent(incident) == []


def test_the_long_pause_notice_says_since_when_and_on_whom(clock, lead, owner):
    from escalation import messages

    incident = in_progress_incident(lead=lead, owner=owner)
    pause(incident, owner, reason="Replacement disk", waiting_on="Dell support")
    sweep_at(clock, NOW + 72 * HOUR)
    notice = Notice.objects.get(incident=incident, clock="pause")
    assert notice.late is False

    subject, body = messages.render(notice, language="en", zone="Asia/Shanghai")

    assert "SLA paused for a long time" in subject
    assert "Paused since 2026-11-26 10:00 CST, waiting on Dell support: Replacement disk" in body
    zh_subject, _body = messages.render(notice, language="zh-hans", zone="Asia/Shanghai")
    assert "SLA 暂停过久" in zh_subject
