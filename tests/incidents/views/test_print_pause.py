"""The print form and the workspace say when a clock is paused and when a level
counts business hours."""

from datetime import timedelta

import pytest

from escalation.models import BusinessCalendar, SlaPolicy
from incidents import services
from tests.factories import in_progress_incident

pytestmark = pytest.mark.django_db


def test_it_prints_the_pause_and_the_business_hours(clock, signed_in, lead, owner):
    SlaPolicy.objects.filter(severity="P2").update(
        calendar=BusinessCalendar.objects.get(name="Mainland China working days")
    )
    incident = in_progress_incident(lead=lead, owner=owner, severity="P2")
    services.incident_pause(incident=incident, actor=owner, reason="Disk", waiting_on="Dell")
    client = signed_in(lead)

    printed = client.get(f"/incidents/{incident.pk}/print/").content.decode()
    deadlines = printed.split("Deadlines")[1].split("</tr>")[0]
    assert "(business hours)" in deadlines
    assert "paused since" in deadlines
    assert "(waiting on Dell)" in deadlines

    workspace = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="business-hours"' in workspace
    assert 'id="paused"' in workspace

    clock.shift(timedelta(hours=3))
    services.incident_resume(incident=incident, actor=owner)
    printed = client.get(f"/incidents/{incident.pk}/print/").content.decode()
    deadlines = printed.split("Deadlines")[1].split("</tr>")[0]
    assert "paused since" not in deadlines
    assert "paused 3 h in all" in deadlines


def test_a_24x7_level_says_nothing_of_business_hours(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity="P1")
    client = signed_in(lead)
    assert "business hours" not in client.get(f"/incidents/{incident.pk}/print/").content.decode()
    assert 'id="business-hours"' not in client.get(f"/incidents/{incident.pk}/").content.decode()
