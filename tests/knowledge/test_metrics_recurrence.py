"""The metrics' "recurred within 7 days": incidents repeating one resolved at most 7 days
before they were received."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from knowledge import metrics
from tests.incidents.alert_helpers import am, close, firing, integration, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def recurrences(clock, platform, lead, owner, tester):
    """Three recurrences: 2 days, 7 days and 8 days after the incident they repeat."""
    source = integration(platform)
    for days, name in ((2, "A"), (7, "B"), (8, "C")):
        receive(source, am(name, firing("x")))
        first = close(
            Incident.objects.get(title__startswith=name), lead=lead, owner=owner, tester=tester
        )
        [again] = receive(source, am(name, firing("x")))
        assert again.incident.recurrence_of_id == first.pk
        Incident.objects.filter(pk=again.incident.pk).update(
            received_at=first.resolved_at + timedelta(days=days)
        )


def test_it_counts_the_incidents_that_recurred_within_7_days(recurrences, manager):
    today = timezone.localdate()
    result = metrics.compute(
        user=manager,
        start=today - timedelta(days=30),
        end=today + timedelta(days=30),
        now=timezone.now(),
    )

    assert result["recurred_within_7_days"] == 2


def test_its_api_and_page_show_it(recurrences, manager, client):
    today = timezone.localdate()
    query = f"start={today - timedelta(days=30)}&end={today + timedelta(days=30)}"
    client.force_login(manager)

    api = client.get(f"/api/v1/metrics/?{query}")
    html = client.get(f"/metrics/?{query}").content.decode()

    assert api.status_code == 200
    assert api.json()["recurred_within_7_days"] == 2
    assert "2 incidents recurred within 7 days of being resolved." in html
