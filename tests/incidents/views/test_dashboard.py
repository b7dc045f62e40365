"""/dashboard/: open incidents by the most urgent deadline, filters, quick actions."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import State
from tests.factories import (
    IncidentFactory,
    acknowledged_incident,
    archived_incident,
    assigned_incident,
    new_incident,
)

pytestmark = pytest.mark.django_db


def rows(body: str) -> list[str]:
    """Incident numbers in the order the dashboard lists them."""
    return re.findall(r'id="row-\d+"[^>]*>.*?>(INC-\d{8}-\d{4})<', body, flags=re.S)


def test_it_lists_open_incidents_most_urgent_deadline_first(clock, signed_in, lead, owner):
    p3 = new_incident(reporter=lead, severity="P3")  # respond by +2 h
    p0 = new_incident(reporter=lead, severity="P0")  # respond by +5 min
    clock.shift(timedelta(minutes=1))
    p1 = acknowledged_incident(lead=lead, severity="P1")  # update by +30 min, resolve +4 h
    archived_incident(lead=lead, owner=owner)

    body = signed_in(lead).get("/dashboard/").content.decode()

    assert rows(body) == [p0.number, p1.number, p3.number]


def test_it_marks_overdue_deadlines_and_ticks_client_side(clock, signed_in, lead):
    late = new_incident(reporter=lead, severity="P0")
    clock.shift(timedelta(minutes=12))

    body = signed_in(lead).get("/dashboard/").content.decode()

    assert f'id="row-{late.pk}" class="table-danger"' in body
    assert 'data-deadline="2026-11-26T02:05:00+00:00" class="overdue"' in body
    assert "/static/js/responder.js" in body
    assert 'hx-trigger="every 30s"' in body


def test_it_serves_only_the_rows_to_htmx(signed_in, lead):
    new_incident(reporter=lead)
    response = signed_in(lead).get("/dashboard/?severity=P2&fragment=rows", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="dashboard-rows"')
    assert "<nav" not in body
    assert "severity=P2&amp;fragment=rows" in body  # the refresh keeps the filters


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("severity=P1", {"p1"}),
        ("state=assigned", {"acked"}),
        ("team=platform", {"p1", "p2", "acked"}),
        ("owner=owner", {"acked"}),
        ("overdue=on", {"p1"}),
        ("", {"p1", "p2", "acked"}),
    ],
)
def test_it_filters_by_the_url(clock, signed_in, lead, owner, query, expected):
    made = {
        "p1": new_incident(reporter=lead, severity="P1"),
        "p2": new_incident(reporter=lead, severity="P2"),
    }
    made["acked"] = assigned_incident(lead=lead, owner=owner, severity="P3")
    clock.shift(timedelta(minutes=20))  # P1 respond (15 min) passed, P2 (30 min) not

    body = signed_in(lead).get(f"/dashboard/?{query}").content.decode()

    assert set(rows(body)) == {made[k].number for k in expected}


def test_it_counts_by_level_and_state(signed_in, lead):
    new_incident(reporter=lead, severity="P0")
    new_incident(reporter=lead, severity="P0")
    acknowledged_incident(lead=lead, severity="P2")
    body = signed_in(lead).get("/dashboard/").content.decode()
    assert "P0 · 2" in body
    assert "P2 · 1" in body
    assert "New · 2" in body
    assert "Acknowledged · 1" in body


def test_it_counts_the_work_on_other_teams_incidents_too(signed_in, lead, owner, pay_engineer):
    # The counts come from the tallies of the viewer's teams plus their cross-team work.
    IncidentFactory(actor=pay_engineer, severity="P1")
    assigned_incident(lead=lead, owner=owner, helpers=[pay_engineer], severity="P0")
    new_incident(reporter=lead, severity="P0")  # Platform's, not theirs to see
    client = signed_in(pay_engineer)

    body = client.get("/dashboard/").content.decode()
    assert len(rows(body)) == 2
    assert "P0 · 1" in body
    assert "P1 · 1" in body
    assert "Assigned · 1" in body
    assert "open · 2" in body

    only_payments = client.get("/dashboard/?team=payments").content.decode()
    assert "P0 · 0" in only_payments
    assert "open · 1" in only_payments


def test_it_offers_quick_actions_only_to_tech_leads(signed_in, lead, engineer, owner):
    new = new_incident(reporter=lead)
    acked = acknowledged_incident(lead=lead)

    lead_client = signed_in(lead)
    lead_body = lead_client.get("/dashboard/").content.decode()
    assert f'formaction="/incidents/{new.pk}/acknowledge/"' in lead_body
    assert f'<tr id="row-{new.pk}"' in lead_body
    row_of_new = lead_body.split(f'<tr id="row-{new.pk}"')[1].split("</tr>")[0]
    row_of_acked = lead_body.split(f'<tr id="row-{acked.pk}"')[1].split("</tr>")[0]
    assert 'data-quick="grade"' in row_of_new
    assert 'data-quick="assign"' not in row_of_new  # a new incident is acknowledged first
    assert 'data-quick="assign"' in row_of_acked
    assert "/acknowledge/" not in row_of_acked  # not in this state
    # The one form every Acknowledge button submits carries the CSRF token and the way back.
    assert '<form method="post" id="quick-acknowledge"' in lead_body

    # The forms themselves load when opened.
    grade = lead_client.get(f"/incidents/{new.pk}/quick/grade/?next=/dashboard/")
    assert grade.status_code == 200
    assert f'action="/incidents/{new.pk}/grade/"' in grade.content.decode()
    assign = lead_client.get(f"/incidents/{acked.pk}/quick/assign/?next=/dashboard/")
    assert f'action="/incidents/{acked.pk}/assign/"' in assign.content.decode()
    assert "(owner)</option>" in assign.content.decode()  # the team's people to choose from

    engineer_client = signed_in(engineer)
    engineer_body = engineer_client.get("/dashboard/").content.decode()
    assert new.number in engineer_body
    assert "/acknowledge/" not in engineer_body
    assert "data-quick" not in engineer_body
    assert engineer_client.get(f"/incidents/{new.pk}/quick/grade/").status_code == 403


def test_its_quick_form_refuses_an_action_the_state_forbids(signed_in, lead):
    new = new_incident(reporter=lead)
    response = signed_in(lead).get(f"/incidents/{new.pk}/quick/assign/")
    assert response.status_code == 409
    assert "Cannot assign" in response.content.decode()


def test_its_quick_form_sends_back_only_to_this_site(signed_in, lead):
    new = new_incident(reporter=lead)
    client = signed_in(lead)
    body = client.get(f"/incidents/{new.pk}/quick/grade/?next=https://evil.example/").content
    assert b'name="next" value="/dashboard/"' in body
    body = client.get(
        f"/incidents/{new.pk}/quick/grade/?next=/dashboard/%3Fteam%3Dplatform"
    ).content
    assert b'name="next" value="/dashboard/?team=platform"' in body


def test_it_acknowledges_grades_and_assigns_from_the_dashboard(signed_in, lead, owner):
    incident = new_incident(reporter=lead)
    client = signed_in(lead)
    back = "/dashboard/?team=platform"

    client.post(f"/incidents/{incident.pk}/acknowledge/", {"version": 1, "next": back})
    incident.refresh_from_db()
    r = client.post(
        f"/incidents/{incident.pk}/grade/",
        {
            "version": incident.version,
            "severity": "P1",
            "diagnosis": "Pool exhausted",
            "next": back,
        },
    )
    assert r["Location"] == f"{back}#row-{incident.pk}"  # back to the row acted on
    incident.refresh_from_db()
    r = client.post(
        f"/incidents/{incident.pk}/assign/",
        {"version": incident.version, "owner": owner.pk, "next": back},
    )
    assert r["Location"] == f"{back}#row-{incident.pk}"
    incident.refresh_from_db()
    assert (incident.state, incident.severity, incident.owner) == (State.ASSIGNED, "P1", owner)


def test_it_hides_other_teams_incidents(signed_in, pay_engineer, lead):
    mine = IncidentFactory(actor=pay_engineer)
    theirs = new_incident(reporter=lead)
    body = signed_in(pay_engineer).get("/dashboard/").content.decode()
    assert mine.number in body
    assert theirs.number not in body
    assert "Platform" not in body  # not even as a filter choice


@pytest.mark.parametrize("viewer", ["lead", "manager", "engineer"])
def test_its_query_count_does_not_grow_with_incidents(request, signed_in, lead, owner, viewer):
    client = signed_in(request.getfixturevalue(viewer))

    def make(n):
        for i in range(n):
            if i % 2:
                new_incident(reporter=lead, severity="P1")
            else:
                assigned_incident(lead=lead, owner=owner, severity="P2")

    make(5)
    # The on-call line, the rows and the filters worked out afresh each time (all kept).
    cache.clear()
    caches["fragments"].clear()
    with CaptureQueriesContext(connection) as five:
        assert client.get("/dashboard/").status_code == 200
    make(45)
    cache.clear()
    caches["fragments"].clear()
    with CaptureQueriesContext(connection) as fifty:
        body = client.get("/dashboard/").content.decode()
    assert len(rows(body)) == 50
    assert len(fifty.captured_queries) == len(five.captured_queries), "\n".join(
        q["sql"] for q in fifty.captured_queries
    )


def test_it_shows_the_manager_every_team(signed_in, manager, lead, pay_engineer):
    platform_one = new_incident(reporter=lead)
    payments_one = IncidentFactory(actor=pay_engineer)
    body = signed_in(manager).get("/dashboard/").content.decode()
    assert platform_one.number in body
    assert payments_one.number in body


# ---------------------------------------------------------------- the 30-second refresh

FRAGMENT = "/dashboard/?fragment=rows"


def _refresh(client, tag=None):
    headers = {"HTTP_HX_REQUEST": "true"}
    if tag:
        headers["HTTP_IF_NONE_MATCH"] = tag
    return client.get(FRAGMENT, **headers)


def test_its_refresh_answers_304_while_nothing_on_it_changed(clock, signed_in, lead, onduty):
    incident = new_incident(reporter=onduty, severity="P2")
    client = signed_in(lead)
    first = _refresh(client)
    assert first.status_code == 200
    assert first["Cache-Control"] == "private, no-cache"
    tag = first["ETag"]
    assert f'id="row-{incident.pk}"' in first.content.decode()

    again = _refresh(client, tag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == tag

    # A write to an incident on it: new rows, a new validator.
    from incidents import services

    services.incident_acknowledge(incident=incident, actor=lead)
    changed = _refresh(client, tag)
    assert changed.status_code == 200
    assert changed["ETag"] != tag
    assert "Acknowledged" in changed.content.decode()


def test_its_refresh_changes_when_a_deadline_passes_with_no_write(clock, signed_in, lead, onduty):
    # P2: respond within 30 min. Nothing is written, but the row turns red.
    incident = new_incident(reporter=onduty, severity="P2")
    client = signed_in(lead)
    tag = _refresh(client)["ETag"]
    clock.shift(timedelta(minutes=10))
    assert _refresh(client, tag).status_code == 304  # still in time: the same rows
    clock.shift(timedelta(minutes=21))
    late = _refresh(client, tag)
    assert late.status_code == 200
    assert f'<tr id="row-{incident.pk}" class="table-danger">' in late.content.decode()


def test_its_refresh_validator_is_the_users_own(clock, signed_in, lead, manager, onduty):
    new_incident(reporter=onduty)
    tag = _refresh(signed_in(lead))["ETag"]
    # The manager sees the same incident but without quick actions: other rows.
    assert _refresh(signed_in(manager), tag).status_code == 200


def test_it_is_sent_compressed_to_a_browser_that_offers_gzip(signed_in, lead, onduty):
    import gzip

    for _ in range(5):
        new_incident(reporter=onduty)
    client = signed_in(lead)
    plain = client.get("/dashboard/")
    packed = client.get("/dashboard/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    assert len(packed.content) < len(plain.content) / 3
    assert b"</html>" in gzip.decompress(packed.content)


def test_its_refresh_asks_for_the_same_url_every_time(clock, signed_in, lead, onduty):
    # A refresh URL that grew with each refresh would never be revalidated (and never
    # get its 304), and an acknowledgement from the rows would come back to the fragment.
    import re

    new_incident(reporter=onduty)
    client = signed_in(lead)
    page = client.get("/dashboard/?severity=P2").content.decode()
    first = re.search(r'<div id="dashboard-rows"\s+hx-get="([^"]+)"', page).group(1)
    assert first == "/dashboard/?severity=P2&amp;fragment=rows"
    fragment = client.get(first.replace("&amp;", "&"), HTTP_HX_REQUEST="true").content.decode()
    again = re.search(r'<div id="dashboard-rows"\s+hx-get="([^"]+)"', fragment).group(1)
    assert again == first
    assert 'name="next" value="/dashboard/?severity=P2"' in fragment


def _row(body: str, incident) -> str:
    return body.split(f'id="row-{incident.pk}"')[1].split("</tr>")[0]


def test_it_shows_a_paused_incident_as_paused_instead_of_a_countdown(clock, signed_in, lead, owner):
    from incidents import services
    from tests.factories import in_progress_incident

    incident = in_progress_incident(lead=lead, owner=owner, severity="P1")
    services.incident_pause(
        incident=incident, actor=owner, reason="Replacement disk", waiting_on="Dell support"
    )
    clock.shift(timedelta(hours=5))  # past the resolve deadline it would have had

    row = _row(signed_in(lead).get("/dashboard/").content.decode(), incident)

    assert "paused since" in row
    assert "waiting on Dell support" in row
    assert row.count("data-deadline") == 0  # respond stopped, resolve and update held
    assert "overdue" not in row


def test_it_says_which_levels_count_business_hours(clock, signed_in, lead):
    from escalation.models import BusinessCalendar, SlaPolicy

    SlaPolicy.objects.filter(severity="P3").update(
        calendar=BusinessCalendar.objects.get(name="Mainland China working days")
    )
    p3 = new_incident(reporter=lead, severity="P3")
    p1 = new_incident(reporter=lead, severity="P1")

    body = signed_in(lead).get("/dashboard/").content.decode()

    assert "business hours" in _row(body, p3)
    assert "business hours" not in _row(body, p1)


def test_it_lists_overdue_incidents_by_level_first_then_by_how_far_over(clock, signed_in, lead):
    p3 = acknowledged_incident(lead=lead, severity="P3")  # update due at 1:00
    clock.shift(timedelta(hours=3, minutes=45))
    p0_long = new_incident(reporter=lead, severity="P0")  # respond by 3:50
    clock.shift(timedelta(minutes=7))
    p0_short = new_incident(reporter=lead, severity="P0")  # respond by 3:57
    clock.shift(timedelta(minutes=3))
    p1 = new_incident(reporter=lead, severity="P1")  # respond by 4:10
    p2 = new_incident(reporter=lead, severity="P2")  # respond by 4:25
    p3_fresh = new_incident(reporter=lead, severity="P3")  # respond by 5:55
    clock.shift(timedelta(minutes=20))  # 4:20: p3's update is 3 h 20 min overdue

    body = signed_in(lead).get("/dashboard/").content.decode()

    # Overdue by level (P0s longest over first), then the rest by nearest deadline.
    assert rows(body) == [
        p0_long.number,
        p0_short.number,
        p1.number,
        p3.number,
        p2.number,
        p3_fresh.number,
    ]


def test_it_says_why_a_clock_is_not_running(clock, signed_in, lead):
    fresh = new_incident(reporter=lead, severity="P2")
    on_time = acknowledged_incident(lead=lead, severity="P2")
    late = new_incident(reporter=lead, severity="P0")
    clock.shift(timedelta(minutes=20))
    from incidents import services

    services.incident_acknowledge(incident=late, actor=lead)

    body = signed_in(lead).get("/dashboard/").content.decode()

    cells = lambda incident: re.findall(r"<td>(.*?)</td>", _row(body, incident), flags=re.S)  # noqa: E731
    assert ">stopped<" not in body
    assert "not started yet" in cells(fresh)[5]  # the update clock starts at acknowledge
    assert "met" in cells(on_time)[3]
    assert "late" not in cells(on_time)[3]
    assert "met late" in cells(late)[3]


def test_it_does_not_count_a_paused_clock_as_overdue_when_ordering(clock, signed_in, lead, owner):
    from tests.factories import in_progress_incident, paused

    held = paused(in_progress_incident(lead=lead, owner=owner, severity="P0"), by=owner)
    clock.shift(timedelta(minutes=90))
    late = acknowledged_incident(lead=lead, severity="P3")  # update due at 2:30
    clock.shift(timedelta(minutes=90))  # 3:00: the P0's update and resolve had passed, held

    body = signed_in(lead).get("/dashboard/").content.decode()

    assert rows(body) == [late.number, held.number]
