"""A notice swept within a minute of its deadline says so, not "overdue by 0 min"."""

from datetime import timedelta

import pytest

from escalation.engine import sweep_due_deadlines
from escalation.messages import render
from escalation.models import Notice
from tests.conftest import NOW
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def test_it_says_under_a_minute_for_a_notice_sent_right_at_its_deadline(clock, onduty, lead):
    IncidentFactory(actor=onduty, severity="P0")  # respond within 5 min
    clock.move_to(NOW + timedelta(minutes=5, seconds=20))
    sweep_due_deadlines()

    _subject, body = render(Notice.objects.get(clock="respond"), language="en")

    assert "overdue by under a minute." in body
    assert "0 min" not in body
