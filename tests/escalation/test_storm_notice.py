"""An alert storm tells the team's tech leads once per threshold (the seam
escalation.deadlines.storm), and the notice says how many alerts it counts."""

import pytest
from django.core import mail

from escalation import deadlines
from escalation.messages import render
from escalation.models import Delivery, Notice
from tests.conftest import NOW
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def test_it_tells_the_tech_leads_once_per_threshold(
    clock, platform, lead, onduty, django_capture_on_commit_callbacks
):
    lead.email = "lead@example.com"
    lead.save()
    incident = IncidentFactory(actor=onduty, team=platform)

    with django_capture_on_commit_callbacks(execute=True):
        deadlines.storm(incident, level=1, threshold=10, alerts=12, now=NOW)
        deadlines.storm(incident, level=1, threshold=10, alerts=37, now=NOW)  # same threshold
        deadlines.storm(incident, level=2, threshold=100, alerts=100, now=NOW)

    notices = list(Notice.objects.filter(incident=incident, clock="storm").order_by("level"))
    assert [(n.level, n.details["alerts"]) for n in notices] == [(1, 12), (2, 100)]
    assert all(n.recipients == ["lead"] for n in notices)
    assert Delivery.objects.filter(notice__in=notices, channel="email").count() == 2
    assert len(mail.outbox) == 2
    subject, body = render(notices[0])
    assert "alert storm" in subject
    assert "12 alerts in this incident (threshold 10)" in body


def test_it_sends_nothing_when_the_team_has_no_tech_lead(clock, payments, pay_engineer):
    incident = IncidentFactory(actor=pay_engineer, team=payments)

    deadlines.storm(incident, level=1, threshold=10, alerts=10, now=NOW)

    assert not Notice.objects.filter(incident=incident).exists()
