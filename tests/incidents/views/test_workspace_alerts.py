"""The workspace's alerts table and recurrence links."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Alert, Incident
from tests.factories import new_incident
from tests.incidents.alert_helpers import am, close, firing, integration, receive

pytestmark = pytest.mark.django_db


def page(client, incident) -> str:
    response = client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_alerts_in_a_collapsible_table_with_a_flapping_badge(
    clock, signed_in, engineer, platform
):
    source = integration(platform)
    receive(source, am("Db", firing("a", "b")))
    incident = Incident.objects.get()
    Alert.objects.filter(fingerprint="a").update(flapping=True)

    html = page(signed_in(engineer), incident)

    assert '<details class="mt-2" id="alerts">' in html
    assert "2 monitoring alerts" in html
    assert "instance=a" in html
    assert html.count("badge bg-warning text-dark") == 1
    assert 'id="alerts-more"' not in html


def test_it_caps_the_rows_and_links_to_the_api(clock, signed_in, engineer, platform):
    source = integration(platform, storm_thresholds=[])
    receive(source, am("Db", firing(*(f"n{i:03d}" for i in range(130)))))
    incident = Incident.objects.get()

    html = page(signed_in(engineer), incident)

    assert html.count("<code>instance=") == 100
    assert "30 more alerts" in html
    assert f"/api/v1/incidents/{incident.pk}/alerts/" in html


def test_it_shows_no_table_without_alerts(clock, signed_in, engineer):
    incident = new_incident(reporter=engineer)

    assert 'id="alerts"' not in page(signed_in(engineer), incident)


def test_it_links_a_recurrence_and_lists_the_recurrences(
    clock, signed_in, engineer, platform, lead, owner, tester
):
    source = integration(platform)
    receive(source, am("Db", firing("a")))
    first = close(Incident.objects.get(), lead=lead, owner=owner, tester=tester)
    receive(source, am("Db", firing("a")))
    again = Incident.objects.exclude(pk=first.pk).get()
    client = signed_in(engineer)

    assert f'Recurrence of <a href="/incidents/{first.pk}/">{first.number}</a>' in page(
        client, again
    )
    assert f'<a href="/incidents/{again.pk}/">{again.number}</a>' in page(client, first)


def test_its_query_count_does_not_grow_with_the_alerts(clock, signed_in, engineer, platform):
    source = integration(platform, storm_thresholds=[])
    receive(source, am("Db", firing(*(f"n{i:03d}" for i in range(5)))))
    incident = Incident.objects.get()
    client = signed_in(engineer)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            page(client, incident)
        return len(queries)

    count()
    five = count()
    receive(source, am("Db", firing(*(f"n{i:03d}" for i in range(5, 150)))))
    # The new log, audit and notice rows are read in full once to render them (a
    # query for each kind, one more for the notices' deliveries: views._rows_html),
    # then come from the cache.
    assert count() <= five + 4
    assert count() == five
