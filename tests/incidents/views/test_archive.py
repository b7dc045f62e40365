"""/archive/: resolved and archived incidents for managers and tech leads."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import views
from tests.factories import (
    IncidentFactory,
    archived_incident,
    in_progress_incident,
    resolved_incident,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("manager", 200),
        ("lead", 200),
        ("admin", 200),
        ("pay_lead", 200),
        ("engineer", 403),
        ("tester", 403),
        ("onduty", 403),
    ],
)
def test_it_opens_only_to_managers_and_leads(request, signed_in, role, status):
    response = signed_in(request.getfixturevalue(role)).get("/archive/")
    assert response.status_code == status


def test_it_hides_the_archive_link_from_those_who_cannot_open_it(signed_in, engineer, lead):
    assert 'href="/archive/"' not in signed_in(engineer).get("/my/").content.decode()
    assert 'href="/archive/"' in signed_in(lead).get("/dashboard/").content.decode()


def test_it_lists_resolved_and_archived_only(clock, signed_in, lead, owner, manager):
    resolved = resolved_incident(lead=lead, owner=owner)
    archived = archived_incident(lead=lead, owner=owner)
    working = in_progress_incident(lead=lead, owner=owner)

    body = signed_in(manager).get("/archive/").content.decode()

    assert resolved.number in body
    assert archived.number in body
    assert working.number not in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("severity=P1", {"p1"}),
        ("category=infrastructure", {"infra"}),
        ("date_from=2026-11-27", {"late"}),
        ("date_to=2026-11-26", {"p1", "infra"}),
        ("team=platform", {"p1", "infra", "late"}),
        ("state=archived", {"late"}),
        ("q=Disk", {"infra"}),
    ],
)
def test_it_filters(clock, signed_in, lead, owner, manager, query, expected):
    made = {
        "p1": resolved_incident(lead=lead, owner=owner, severity="P1"),
        "infra": resolved_incident(
            lead=lead, owner=owner, category="infrastructure", title="Disk full on db-2"
        ),
    }
    clock.shift(timedelta(days=1))
    made["late"] = archived_incident(lead=lead, owner=owner)

    body = signed_in(manager).get(f"/archive/?{query}").content.decode()

    for key, incident in made.items():
        assert (incident.number in body) is (key in expected), key


def test_it_rejects_a_reversed_date_range(signed_in, manager):
    response = signed_in(manager).get("/archive/?date_from=2026-11-27&date_to=2026-11-01")
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()


def test_it_hides_other_teams_from_a_lead(signed_in, lead, pay_lead, owner):
    theirs = resolved_incident(lead=lead, owner=owner)
    assert theirs.number not in signed_in(pay_lead).get("/archive/").content.decode()


def test_its_query_count_does_not_grow_with_incidents(signed_in, lead, owner, manager):
    client = signed_in(manager)
    for _ in range(5):
        resolved_incident(lead=lead, owner=owner)
    with CaptureQueriesContext(connection) as five:
        assert client.get("/archive/").status_code == 200
    for _ in range(45):
        resolved_incident(lead=lead, owner=owner)
    IncidentFactory(actor=lead)  # open: not in the archive
    with CaptureQueriesContext(connection) as fifty:
        body = client.get("/archive/").content.decode()
    assert "50 incidents" in body
    assert len(fifty.captured_queries) == len(five.captured_queries), "\n".join(
        q["sql"] for q in fifty.captured_queries
    )


def test_its_filters_are_drawn_once_per_query_and_never_stale(signed_in, manager, payments):
    client = signed_in(manager)
    body = client.get("/archive/?q=Disk&team=platform").content.decode()
    assert 'name="q" value="Disk"' in body
    assert '<option value="platform" selected>' in body
    with mock.patch.object(views, "render_to_string", wraps=views.render_to_string) as drawn:
        body = client.get("/archive/?q=Disk&team=platform").content.decode()
        assert drawn.call_count == 0  # kept drawn
        assert 'name="q" value="Disk"' in body

        body = client.get("/archive/?q=Pool").content.decode()
        assert drawn.call_count == 1
    assert 'name="q" value="Pool"' in body
    assert 'value="Disk"' not in body
    assert '<option value="platform" selected>' not in body

    # A renamed team and another language are drawn anew.
    payments.name = "Payments and billing"
    payments.save()
    assert "Payments and billing" in client.get("/archive/?q=Pool").content.decode()
    chinese = client.get("/archive/?q=Pool", headers={"accept-language": "zh-hans"})
    assert "全部团队" in chinese.content.decode()

    # Refused filters are drawn with their message, each time.
    for _ in range(2):
        refused = client.get("/archive/?date_from=2026-11-27&date_to=2026-11-01")
        assert "The end date is before the start date." in refused.content.decode()
