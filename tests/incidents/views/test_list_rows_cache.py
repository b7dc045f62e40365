"""The dashboard's rows rendered once (incidents/fragments.py): reused until the
incident, the viewer's rights, the names, the language or a late clock change;
the countdowns always as of now."""

import re
from datetime import timedelta

import pytest
from django.template import loader

from incidents import services
from incidents.models import Incident, Team, UserProfile
from tests.factories import archived_incident, new_incident

pytestmark = pytest.mark.django_db


def row(body: str, incident) -> str:
    found = re.search(rf'<tr id="row-{incident.pk}".*?</tr>', body, flags=re.S)
    assert found, f"no row for {incident.number}"
    return found[0]


def countdown(row_html: str, clock_index: int) -> str:
    return re.findall(r'<span class="countdown">([^<]*)</span>', row_html)[clock_index]


@pytest.fixture
def row_renders(monkeypatch):
    """How many times the row template was rendered."""
    count = {"n": 0}
    template = loader.get_template("incidents/_dashboard_row.html")
    real = type(template).render

    def counting(self, *args, **kwargs):
        if self.template.name == "incidents/_dashboard_row.html":
            count["n"] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(template), "render", counting)
    return count


def test_it_renders_each_row_once_while_nothing_changes(clock, signed_in, lead, row_renders):
    for _ in range(3):
        new_incident(reporter=lead)
    client = signed_in(lead)

    first = client.get("/dashboard/").content.decode()
    again = client.get("/dashboard/").content.decode()

    assert row_renders["n"] == 3
    assert first.count('<tr id="row-') == again.count('<tr id="row-') == 3


def test_it_keeps_a_row_until_its_incident_changes(clock, signed_in, lead):
    incident = new_incident(reporter=lead, title="Disk full on db-1")
    client = signed_in(lead)
    client.get("/dashboard/")
    # A write that bypasses the services (no new version) is not seen: the row is cached.
    Incident.objects.filter(pk=incident.pk).update(title="Changed behind its back")
    assert "Disk full on db-1" in row(client.get("/dashboard/").content.decode(), incident)

    services.incident_acknowledge(incident=incident, actor=lead)  # a real write

    fresh = row(client.get("/dashboard/").content.decode(), incident)
    assert "Changed behind its back" in fresh
    assert f'value="{incident.version}"' not in fresh  # the acknowledge button is gone


def test_it_draws_each_countdown_as_of_now(clock, signed_in, lead):
    incident = new_incident(reporter=lead, severity="P3")  # respond within 2 h
    client = signed_in(lead)
    before = countdown(row(client.get("/dashboard/").content.decode(), incident), 0)

    clock.shift(timedelta(minutes=50))
    after = countdown(row(client.get("/dashboard/").content.decode(), incident), 0)

    assert before == "2\xa0hours"
    assert after == "1\xa0hour, 10\xa0minutes"


def test_it_turns_a_row_red_when_a_clock_passes_its_deadline(clock, signed_in, lead):
    incident = new_incident(reporter=lead, severity="P0")  # respond within 5 min
    client = signed_in(lead)
    assert "table-danger" not in row(client.get("/dashboard/").content.decode(), incident)

    clock.shift(timedelta(minutes=6))

    late = row(client.get("/dashboard/").content.decode(), incident)
    assert 'class="table-danger"' in late
    assert countdown(late, 0) in ("overdue", "已超时")


def test_it_keeps_rows_apart_for_viewers_who_may_do_different_things(
    clock, signed_in, lead, engineer
):
    incident = new_incident(reporter=lead)
    signed_in(lead).get("/dashboard/")

    seen = row(signed_in(engineer).get("/dashboard/").content.decode(), incident)

    assert "acknowledge/" not in seen  # the lead's cached row is not the engineer's
    assert "acknowledge/" in row(signed_in(lead).get("/dashboard/").content.decode(), incident)


def test_it_renders_a_row_again_in_the_other_language(clock, signed_in, lead):
    incident = new_incident(reporter=lead)
    client = signed_in(lead)
    assert "Acknowledge" in row(client.get("/dashboard/").content.decode(), incident)

    chinese = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert "确认" in row(chinese.content.decode(), incident)


def test_it_shows_a_renamed_owner_and_team(clock, signed_in, lead, owner):
    incident = new_incident(reporter=lead)
    services.incident_acknowledge(incident=incident, actor=lead)
    services.incident_assign(incident=Incident.objects.get(pk=incident.pk), actor=lead, owner=owner)
    client = signed_in(lead)
    client.get("/dashboard/")

    owner.first_name, owner.last_name = "Renamed", "Person"
    owner.save()
    Team.objects.filter(pk=incident.team_id).update(name="Core platform")

    fresh = row(client.get("/dashboard/").content.decode(), incident)
    assert "Renamed" in fresh
    assert "Core platform" in fresh


# ---------------------------------------------------------------- the archive's rows


def archive_row(body: str, incident) -> str:
    found = re.search(rf"<tr>\s*<td>(?:(?!</tr>).)*?/{incident.pk}/\".*?</tr>", body, flags=re.S)
    assert found, f"no archive row for {incident.number}"
    return found[0]


def test_it_keeps_an_archive_row_until_its_incident_changes(clock, signed_in, lead, owner):
    incident = archived_incident(lead=lead, owner=owner, title="Disk full on db-1")
    client = signed_in(lead)
    client.get("/archive/")
    Incident.objects.filter(pk=incident.pk).update(title="Changed behind its back")
    assert "Disk full on db-1" in archive_row(client.get("/archive/").content.decode(), incident)

    services.incident_record_feedback(incident=incident, actor=lead, text="Works again")

    fresh = archive_row(client.get("/archive/").content.decode(), incident)
    assert "Changed behind its back" in fresh


def test_it_shows_archive_rows_in_the_viewers_time_zone(clock, signed_in, lead, owner):
    incident = archived_incident(lead=lead, owner=owner)
    client = signed_in(lead)
    shanghai = archive_row(client.get("/archive/").content.decode(), incident)
    UserProfile.objects.update_or_create(user=lead, defaults={"time_zone": "Europe/London"})

    london = archive_row(client.get("/archive/").content.decode(), incident)

    assert shanghai != london  # the received and resolved times moved by 8 hours


def test_it_pages_the_archive_by_ids_in_order(clock, signed_in, lead, owner):
    made = [archived_incident(lead=lead, owner=owner) for _ in range(3)]
    for n, incident in enumerate(made):
        Incident.objects.filter(pk=incident.pk).update(
            received_at=incident.received_at - timedelta(hours=n)
        )

    body = signed_in(lead).get("/archive/").content.decode()

    found = re.findall(r'class="fw-semibold">(INC-\d{8}-\d{4})<', body)
    assert found == [i.number for i in made]  # newest received first
