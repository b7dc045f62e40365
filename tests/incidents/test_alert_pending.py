"""Open after N: a group files an incident only at its Nth firing within W minutes."""

from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from incidents.alerts import selectors as alert_selectors
from incidents.models import Alert, Incident
from tests.factories import TeamFactory, UserFactory
from tests.incidents.alert_helpers import am, firing, integration, receive, resolved

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(platform):
    return integration(platform, open_after=3, open_after_minutes=10)


def test_it_waits_for_the_nth_firing_then_attaches_every_pending_alert(clock, source):
    assert receive(source, am("Db", firing("a"))) == []
    clock.shift(timedelta(minutes=4))
    assert receive(source, am("Db", firing("b"))) == []
    assert Incident.objects.count() == 0
    assert set(
        Alert.objects.filter(pending=True, incident=None).values_list("fingerprint", flat=True)
    ) == {"a", "b"}

    clock.shift(timedelta(minutes=4))
    [result] = receive(source, am("Db", firing("c")))

    assert result.created
    assert result.alerts == 3
    incident = Incident.objects.get()
    assert set(incident.alerts.values_list("fingerprint", flat=True)) == {"a", "b", "c"}
    assert not Alert.objects.filter(pending=True).exists()
    assert (incident.alert_count, incident.event_count) == (3, 3)


def test_it_does_not_count_firings_older_than_the_window(clock, source):
    receive(source, am("Db", firing("a")))
    clock.shift(timedelta(minutes=8))
    receive(source, am("Db", firing("b")))
    clock.shift(timedelta(minutes=3))  # a fired 11 minutes ago

    assert receive(source, am("Db", firing("c"))) == []
    assert Incident.objects.count() == 0

    clock.shift(timedelta(minutes=1))
    [result] = receive(source, am("Db", firing("d")))

    # b, c, d fired within 10 minutes; a, still pending, joins too.
    assert result.created
    assert result.alerts == 4


def test_it_does_not_count_a_repeated_pending_firing_twice(clock, source):
    receive(source, am("Db", firing("a", "b")))
    receive(source, am("Db", firing("a", "b")))

    assert Incident.objects.count() == 0
    assert set(Alert.objects.values_list("events", flat=True)) == {1}


def test_a_resolution_updates_a_pending_alert_which_then_does_not_count(clock, source):
    receive(source, am("Db", firing("a", "b")))
    receive(source, am("Db", resolved("a")))

    assert receive(source, am("Db", firing("c"))) == []
    assert Alert.objects.get(fingerprint="a").status == "resolved"


def test_it_opens_at_once_in_one_delivery_of_n_alerts(clock, source):
    [result] = receive(source, am("Db", firing("a", "b", "c")))

    assert result.created
    assert result.alerts == 3
    assert not Alert.objects.filter(pending=True).exists()


def test_its_api_lists_the_pending_alerts_of_teams_the_user_sees(clock, source, engineer):
    receive(source, am("Db", firing("a", "b")))
    other = integration(TeamFactory(slug="other"), name="other", open_after=5)
    receive(other, am("Db", firing("z")))
    api = APIClient()
    api.force_authenticate(engineer)

    answer = api.get("/api/v1/alerts/pending/")

    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 2
    assert {r["fingerprint"] for r in body["results"]} == {"a", "b"}
    row = body["results"][0]
    assert row["integration"] == "prometheus"
    assert row["team"] == "platform"
    assert row["group_key"] == '{}:{alertname="Db"}'
    assert set(row) >= {"status", "labels", "events", "first_seen", "last_seen"}


def test_its_api_refuses_anonymous_users(clock):
    assert APIClient().get("/api/v1/alerts/pending/").status_code in (401, 403)


def test_its_page_lists_them_and_the_dashboard_links_to_it(clock, source, engineer, client):
    client.force_login(engineer)
    dashboard = client.get(reverse("dashboard"))
    assert reverse("alerts-pending-page") not in dashboard.content.decode()

    receive(source, am("Db", firing("a")))

    page = client.get(reverse("alerts-pending-page"))
    assert page.status_code == 200
    assert "prometheus" in page.content.decode()
    assert ">a<" in page.content.decode()
    assert reverse("alerts-pending-page") in client.get(reverse("dashboard")).content.decode()


def test_its_page_hides_other_teams_alerts(clock, client):
    stranger = UserFactory()
    source = integration(TeamFactory(slug="other"), name="other", open_after=5)
    receive(source, am("Db", firing("secret-fp")))
    client.force_login(stranger)

    page = client.get(reverse("alerts-pending-page"))

    assert page.status_code == 200
    assert "secret-fp" not in page.content.decode()


def test_the_dashboard_says_alerts_are_waiting_to_the_teams_that_see_them(
    client, source, lead, manager, pay_lead
):
    link = 'id="pending-alerts-link"'
    client.force_login(lead)
    assert link not in client.get("/dashboard/").content.decode()

    receive(source, am("Db", firing("a")))  # Platform's integration: 1 of 3 firings

    for user, sees in ((lead, True), (manager, True), (pay_lead, False)):
        client.force_login(user)
        assert (link in client.get("/dashboard/").content.decode()) is sees, user
        assert alert_selectors.any_pending_alerts(user=user) is sees
        assert alert_selectors.pending_alerts(user=user).exists() is sees
