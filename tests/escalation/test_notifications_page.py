"""/notifications/: the in-app inbox, its unread count in the header, mark read."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation.engine import sweep_due_deadlines
from escalation.models import Delivery
from tests.conftest import NOW
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def escalate(clock, onduty, n=1):
    incidents = [IncidentFactory(actor=onduty, severity="P0") for _ in range(n)]
    clock.move_to(NOW + timedelta(minutes=5))
    sweep_due_deadlines()
    return incidents


def test_it_lists_my_notices_and_counts_the_unread(client, clock, onduty, lead):
    [incident] = escalate(clock, onduty)
    client.force_login(lead)

    body = client.get("/notifications/").content.decode()

    assert f'href="/incidents/{incident.pk}/">{incident.number}</a>' in body
    assert 'id="unread-notices">1<' in body


def test_it_shows_nothing_of_other_peoples_notices(client, clock, onduty, lead, pay_engineer):
    [incident] = escalate(clock, onduty)
    client.force_login(pay_engineer)

    body = client.get("/notifications/").content.decode()

    assert incident.number not in body
    assert "unread-notices" not in body


def test_it_marks_one_or_all_read(client, clock, onduty, lead):
    escalate(clock, onduty, n=2)
    client.force_login(lead)
    first, second = Delivery.objects.filter(user=lead, channel="inapp").order_by("id")

    assert client.post("/notifications/read/", {"delivery": first.pk}).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None

    client.post("/notifications/read/")
    assert not Delivery.objects.filter(user=lead, channel="inapp", read_at__isnull=True).exists()


def test_it_cannot_mark_someone_elses_notice(client, clock, onduty, lead, engineer):
    escalate(clock, onduty)
    delivery = Delivery.objects.get(user=lead, channel="inapp")
    client.force_login(engineer)

    client.post("/notifications/read/", {"delivery": delivery.pk})

    delivery.refresh_from_db()
    assert delivery.read_at is None


def test_its_query_count_does_not_grow_with_notices(client, clock, onduty, lead):
    escalate(clock, onduty, n=2)
    client.force_login(lead)
    client.get("/notifications/")  # first visit creates the user's profile
    with CaptureQueriesContext(connection) as few:
        client.get("/notifications/")
    clock.move_to(NOW)
    escalate(clock, onduty, n=6)
    with CaptureQueriesContext(connection) as many:
        body = client.get("/notifications/").content.decode()

    assert body.count("list-group-item-warning") == 8
    assert len(many.captured_queries) == len(few.captured_queries)


def test_it_lets_each_user_choose_email_or_in_app(client, clock, onduty, lead):
    lead.email = "lead@example.com"
    lead.save()
    client.force_login(lead)

    response = client.post("/notifications/preferences/", {"inapp_notices": "on"})
    assert response.status_code == 302
    escalate(clock, onduty)

    channels = set(Delivery.objects.filter(user=lead).values_list("channel", flat=True))
    assert channels == {"inapp"}
    assert 'name="inapp_notices" checked' in client.get("/notifications/").content.decode()
