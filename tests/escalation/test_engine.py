"""The sweep turns due deadlines into notices: once, at the right level, to the right people."""

from datetime import timedelta

import pytest
from django.core import mail

from escalation.engine import sweep_due_deadlines
from escalation.models import Deadline, Delivery, Notice
from escalation.tasks import deliver
from incidents import services
from tests.conftest import NOW
from tests.factories import IncidentFactory, incident_in_state

MIN = timedelta(minutes=1)
pytestmark = pytest.mark.django_db


def sweep_at(clock, at):
    clock.move_to(at)
    return sweep_due_deadlines()


def notices(incident, clock_name=None):
    qs = Notice.objects.filter(incident=incident).order_by("created_at", "id")
    if clock_name:
        qs = qs.filter(clock=clock_name)
    return [(n.clock, n.level, sorted(n.recipients), n.late) for n in qs]


def test_it_escalates_an_unanswered_p0_to_the_leads_then_the_manager(clock, onduty, lead, manager):
    # No roster: level 1 (the on-call primary) falls back to the tech leads.
    incident = IncidentFactory(actor=onduty, severity="P0")

    sweep_at(clock, NOW + 4 * MIN)
    assert notices(incident) == []
    sweep_at(clock, NOW + 5 * MIN)
    assert notices(incident) == [("respond", 1, ["lead"], False)]
    sweep_at(clock, NOW + 6 * MIN)  # nothing new until level 2 is due
    assert len(notices(incident)) == 1
    sweep_at(clock, NOW + 10 * MIN)  # 5 min deadline + 5 min: the tech leads
    assert notices(incident)[-1] == ("respond", 2, ["lead"], False)
    sweep_at(clock, NOW + 20 * MIN)  # 5 min deadline + 15 min
    assert notices(incident)[-1] == ("respond", 3, ["manager"], False)


def test_it_stops_the_respond_clock_on_acknowledge(clock, onduty, lead):
    incident = IncidentFactory(actor=onduty, severity="P0")
    clock.move_to(NOW + 3 * MIN)
    services.incident_acknowledge(incident=incident, actor=lead)

    sweep_at(clock, NOW + 30 * MIN)

    assert notices(incident, "respond") == []


@pytest.mark.parametrize(("severity", "respond"), [("P0", 5), ("P1", 15), ("P2", 30), ("P3", 120)])
def test_it_fires_the_respond_clock_of_each_level_on_time(clock, onduty, lead, severity, respond):
    incident = IncidentFactory(actor=onduty, severity=severity)

    sweep_at(clock, NOW + (respond - 1) * MIN)
    assert notices(incident) == []
    sweep_at(clock, NOW + respond * MIN)
    assert notices(incident) == [("respond", 1, ["lead"], False)]


def test_it_restarts_the_update_clock_on_a_progress_entry(clock, onduty, lead, owner):
    incident = IncidentFactory(actor=onduty, severity="P2")
    services.incident_acknowledge(incident=incident, actor=lead)
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    clock.move_to(NOW + 50 * MIN)
    services.incident_log(incident=incident, actor=owner, kind="progress", text="half way")

    sweep_at(clock, NOW + 61 * MIN)
    assert notices(incident, "update") == []
    sweep_at(clock, NOW + 110 * MIN)
    assert notices(incident, "update") == [("update", 1, ["owner"], False)]


def test_it_moves_pending_deadlines_on_regrade(clock, onduty, lead):
    incident = IncidentFactory(actor=onduty, severity="P3")  # resolve within 24 h
    clock.move_to(NOW + MIN)
    # Grading a new incident also acknowledges it: the respond clock stops there.
    services.incident_grade(incident=incident, actor=lead, severity="P0", diagnosis="worse")

    sweep_at(clock, NOW + 120 * MIN)  # P0: resolve within 2 h

    assert notices(incident, "respond") == []
    assert notices(incident, "resolve") == [("resolve", 1, ["lead"], False)]


@pytest.mark.parametrize("state", ["cancelled", "resolved", "archived"])
def test_it_never_escalates_a_closed_incident(clock, lead, owner, tester, state):
    incident = incident_in_state(state, lead=lead, owner=owner, tester=tester, severity="P0")

    sweep_at(clock, NOW + 30 * 24 * 60 * MIN)

    # The post-mortem's improvement actions are followed up after archiving; the
    # incident's own clocks are not.
    assert [n for n in notices(incident) if n[0] != "action"] == []
    assert not Deadline.objects.filter(incident=incident, next_at__isnull=False).exists()


def test_it_catches_up_after_an_outage_with_one_late_notice_per_clock(clock, onduty, lead, owner):
    incident = IncidentFactory(actor=onduty, severity="P1")  # respond 15 min, resolve 4 h

    result = sweep_at(clock, NOW + 3 * 60 * MIN)  # no sweep for three hours

    rows = Notice.objects.filter(incident=incident)
    assert [(n.clock, n.level, n.late) for n in rows] == [("respond", 3, True)]
    # Late since the first level it jumped over (L1, at the deadline) fell due.
    assert rows.get().late_seconds == (3 * 60 - 15) * 60
    assert len(result.notices) == 1
    sweep_at(clock, NOW + 3 * 60 * MIN + MIN)
    assert Notice.objects.filter(incident=incident).count() == 1


def test_it_pages_the_leads_at_once_for_an_urgent_p0(clock, onduty, lead):
    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")

    sweep_due_deadlines()

    assert notices(incident) == [("page", 1, ["lead"], False)]


def test_it_writes_each_notice_once_however_often_it_sweeps(clock, onduty, lead):
    incident = IncidentFactory(actor=onduty, severity="P0")
    for _ in range(3):
        sweep_at(clock, NOW + 5 * MIN)

    assert Notice.objects.filter(incident=incident).count() == 1


def test_it_delivers_in_app_at_once_and_email_through_the_worker(clock, onduty, lead):
    lead.email = "lead@example.com"
    lead.save()
    IncidentFactory(actor=onduty, severity="P0")
    result = sweep_at(clock, NOW + 5 * MIN)

    inapp = Delivery.objects.get(channel="inapp")
    email = Delivery.objects.get(channel="email")
    assert inapp.status == "sent"
    assert inapp.user == lead
    assert email.status == "pending"
    assert result.deliveries == [email.pk]

    deliver(email.pk)
    deliver(email.pk)  # twice: still one email

    email.refresh_from_db()
    assert email.status == "sent"
    assert email.attempts == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["lead@example.com"]
    assert "INC-" in mail.outbox[0].subject


def test_it_records_a_failing_delivery_and_gives_up_after_the_last_attempt(clock, onduty, lead):
    lead.email = "lead@example.com"
    lead.save()
    IncidentFactory(actor=onduty, severity="P0")
    sweep_at(clock, NOW + 5 * MIN)
    email = Delivery.objects.get(channel="email")
    email.channel = "pigeon"  # a channel nobody can send through
    email.save()

    for _ in range(10):
        deliver(email.pk)

    email.refresh_from_db()
    assert email.status == "failed"
    assert email.attempts == 6
    assert "pigeon" in email.last_error


def test_it_lists_notices_in_the_api(clock, onduty, lead, token_client):
    incident = IncidentFactory(actor=onduty, severity="P0")
    sweep_at(clock, NOW + 5 * MIN)

    body = token_client(lead).get(f"/api/v1/incidents/{incident.pk}/notices/").json()

    assert [(n["clock"], n["level"], n["recipients"], n["late"]) for n in body] == [
        ("respond", 1, ["lead"], False)
    ]
    assert {d["channel"] for d in body[0]["deliveries"]} >= {"inapp"}


def test_it_hands_a_lost_delivery_to_the_worker_again(clock, onduty, lead):
    lead.email = "lead@example.com"
    lead.save()
    IncidentFactory(actor=onduty, severity="P0")
    sweep_at(clock, NOW + 5 * MIN)  # the deliver task is "lost": nobody runs it
    email = Delivery.objects.get(channel="email")

    assert sweep_at(clock, NOW + 5 * MIN + 30 * timedelta(seconds=1)).requeued == []
    assert sweep_at(clock, NOW + 7 * MIN).requeued == [email.pk]


def test_it_does_not_page_once_the_incident_is_acknowledged(clock, onduty, lead):
    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")
    services.incident_acknowledge(incident=incident, actor=lead)

    sweep_due_deadlines()

    assert notices(incident, "page") == []


def test_it_alerts_the_leads_at_once_for_each_blocker(clock, lead, owner):
    incident = incident_in_state("in_progress", lead=lead, owner=owner)
    entry = services.incident_log(
        incident=incident, actor=owner, kind="blocker", text="No permission on the DB host."
    )

    sweep_due_deadlines()
    clock.shift(MIN)
    second = services.incident_log(
        incident=incident, actor=owner, kind="blocker", text="Vendor API silent."
    )
    sweep_due_deadlines()
    sweep_due_deadlines()

    blockers = Notice.objects.filter(incident=incident, clock="blocker").order_by("id")
    assert [(n.cycle, n.level, n.recipients) for n in blockers] == [
        (entry.pk, 1, ["lead"]),
        (second.pk, 1, ["lead"]),
    ]
    assert [n.late for n in blockers] == [False, False]


def test_it_names_the_blocker_in_the_message(clock, lead, owner):
    from escalation.messages import render

    incident = incident_in_state("in_progress", lead=lead, owner=owner)
    services.incident_log(
        incident=incident, actor=owner, kind="blocker", text="No permission on the DB host."
    )
    sweep_due_deadlines()

    subject, body = render(Notice.objects.get(incident=incident, clock="blocker"))
    assert "blocker reported" in subject
    assert "No permission on the DB host." in body


def test_it_does_not_alert_for_an_ordinary_log_entry(clock, lead, owner):
    incident = incident_in_state("in_progress", lead=lead, owner=owner)
    services.incident_log(incident=incident, actor=owner, kind="action", text="Restarted.")
    sweep_due_deadlines()
    assert notices(incident, "blocker") == []
