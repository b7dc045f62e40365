"""Rosters, overrides and calendar feeds name people by their names; the
username only stands in for a person whose name is empty."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation import messages
from escalation.engine import sweep_due_deadlines
from escalation.models import Notice
from escalation.roster import services as roster_services
from escalation.roster import sweep as roster_sweep
from incidents import services
from tests.conftest import NOW
from tests.factories import IncidentFactory, make_rotation, verifying_incident

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def named(clock, platform, lead, engineer, onduty, tester):
    engineer.first_name, engineer.last_name = "Fang", "Wang"
    onduty.first_name, onduty.last_name = "Lei", "Zhao"
    tester.first_name = tester.last_name = ""  # no name: the username stands in
    for user in (engineer, onduty, tester):
        user.save()
    make_rotation(actor=lead, team=platform, people=[onduty, engineer], name="Weekly primary")
    make_rotation(actor=lead, team=platform, people=[tester], layer="secondary", shift_days=1)
    roster_services.override_create(
        actor=lead, team=platform, layer="primary", user=engineer, start=NOW + H, end=NOW + 5 * H
    )
    return platform


def test_it_names_rotation_members_and_overrides(client, named, lead):
    client.force_login(lead)

    body = client.get("/oncall/platform/").content.decode()

    assert "1. Lei Zhao → 2. Fang Wang" in body  # the rotation's members, in order
    assert "<strong>Fang Wang</strong>" in body  # the override's list
    assert "for Lei Zhao" in body  # the grid: whom the override covers
    assert "for onduty" not in body
    assert "1. tester" in body  # no name


def test_it_names_people_in_calendar_event_titles(client, named, lead):
    feed = roster_services.feed_create(user=lead, team=named)

    cal = icalendar.Calendar.from_ical(client.get(f"/oncall/feeds/{feed.token}.ics").content)
    titles = {str(event["summary"]) for event in cal.walk("VEVENT")}
    descriptions = {str(event.get("description", "")) for event in cal.walk("VEVENT")}

    assert "On call (primary): Platform — Lei Zhao" in titles
    assert "On call (primary): Platform — Fang Wang" in titles
    assert "On call (secondary): Platform — tester" in titles
    assert "Override, covering Lei Zhao." in descriptions
    assert not any("onduty" in title or "engineer" in title for title in titles)


# ---------------------------------------------------------------- notices


@pytest.fixture
def paged(clock, platform, lead, engineer, onduty, tester):
    """An urgent P0 filed by onduty (Lei Zhao) while engineer (Fang Wang) is the
    primary and tester (no name) the secondary."""
    engineer.first_name, engineer.last_name = "Fang", "Wang"
    onduty.first_name, onduty.last_name = "Lei", "Zhao"
    tester.first_name = tester.last_name = ""
    for user in (engineer, onduty, tester):
        user.save()
    make_rotation(actor=lead, team=platform, people=[engineer])
    make_rotation(actor=lead, team=platform, people=[tester], layer="secondary")
    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")
    sweep_due_deadlines()
    return incident


def test_it_names_people_in_notices_in_the_inbox_the_workspace_and_the_email(client, paged, lead):
    notice = Notice.objects.get(incident=paged, clock="page")
    assert notice.details["filed_by"] == "onduty"  # the facts keep the usernames
    client.force_login(lead)

    for url in ("/notifications/", f"/incidents/{paged.pk}/"):
        page = client.get(url).content.decode()
        assert "On call (primary): Fang Wang." in page, url
        assert "Filed by Lei Zhao, who is not paged about it." in page, url
        assert "engineer." not in page, url
        assert "Filed by onduty" not in page, url
    _subject, body = messages.render(notice, language="en")
    assert "On call (primary): Fang Wang." in body
    assert "Filed by Lei Zhao, who is not paged about it." in body


def test_it_names_the_verifier_of_a_failed_verification(client, clock, lead, owner, tester):
    tester.first_name, tester.last_name = "Min", "Chen"
    tester.save()
    incident = verifying_incident(lead=lead, owner=owner)
    services.incident_verify(
        incident=incident,
        actor=tester,
        functional_ok=False,
        regression_ok=True,
        monitoring_ok=True,
        notes="Still 502.",
    )
    notice = Notice.objects.get(incident=incident, clock="verify")
    client.force_login(owner)

    page = client.get("/notifications/").content.decode()

    assert "Min Chen verified the fix and it does not hold yet" in page
    assert "Min Chen verified the fix" in messages.render(notice, language="en")[1]


def test_a_notice_of_a_deleted_user_keeps_their_username(clock, paged, engineer):
    notice = Notice.objects.get(incident=paged, clock="page")
    engineer.delete()

    _subject, body = messages.render(notice, language="en")

    assert "On call (primary): engineer." in body


def test_it_names_the_author_of_a_handover_note(clock, platform, lead, engineer, onduty):
    engineer.first_name, engineer.last_name = "Fang", "Wang"
    engineer.save()
    make_rotation(actor=lead, team=platform, people=[engineer, onduty])
    roster_services.handover_note_add(actor=engineer, team=platform, layer="primary", text="db-3")
    clock.move_to(datetime(2026, 11, 30, 1, 1, tzinfo=UTC))  # Monday's handoff
    roster_sweep.sweep_rosters()

    notice = Notice.objects.get(clock="handover")

    assert "Handover note from Fang Wang:" in messages.render(notice, language="en")[1]


def test_the_inbox_looks_names_up_once_for_all_its_notices(client, paged, clock, onduty, lead):
    client.force_login(lead)
    client.get("/notifications/")  # first visit creates the user's profile
    with CaptureQueriesContext(connection) as one:
        client.get("/notifications/")
    for _ in range(4):
        IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")
    sweep_due_deadlines()
    with CaptureQueriesContext(connection) as five:
        body = client.get("/notifications/").content.decode()

    assert body.count("Filed by Lei Zhao") == 5
    assert len(five.captured_queries) == len(one.captured_queries), "\n".join(
        q["sql"] for q in five.captured_queries
    )


# ---------------------------------------------------------------- roster warnings, log


def test_the_double_duty_warning_names_the_person(client, clock, platform, lead, onduty):
    onduty.first_name, onduty.last_name = "Lei", "Zhao"
    onduty.save()
    make_rotation(actor=lead, team=platform, people=[onduty])
    make_rotation(actor=lead, team=platform, people=[onduty], layer="secondary")
    client.force_login(lead)

    for url in ("/oncall/", "/oncall/platform/"):
        body = client.get(url).content.decode()
        assert "Lei Zhao is primary and secondary at once from" in body, url
        assert "onduty is primary" not in body, url


def test_the_roster_log_names_people(client, named, lead):
    client.force_login(lead)

    body = client.get("/oncall/platform/").content.decode()
    zh = client.get("/oncall/platform/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "Fang Wang covers Lei Zhao (primary)" in body
    assert "Weekly primary (primary): Lei Zhao → Fang Wang;" in body
    assert "(secondary): tester;" in body  # no name
    assert "engineer covers" not in body
    assert "onduty → engineer" not in body
    assert "Fang Wang 替 Lei Zhao 值班" in zh


def test_the_roster_log_keeps_the_username_of_a_deleted_user(client, named, lead, engineer):
    engineer.delete()
    client.force_login(lead)

    body = client.get("/oncall/platform/").content.decode()

    assert "engineer covers Lei Zhao (primary)" in body


def test_the_roster_log_looks_names_up_once(client, named, lead, engineer, onduty):
    client.force_login(lead)
    client.get("/oncall/platform/")
    with CaptureQueriesContext(connection) as few:
        client.get("/oncall/platform/")
    for i in range(5):
        roster_services.override_create(
            actor=lead,
            team=named,
            layer="primary",
            user=onduty if i % 2 else engineer,
            start=NOW + (10 + i) * H,
            end=NOW + (11 + i) * H,
        )
    with CaptureQueriesContext(connection) as many:
        body = client.get("/oncall/platform/").content.decode()

    assert body.count(" covers ") >= 6
    assert len(many.captured_queries) == len(few.captured_queries), "\n".join(
        q["sql"] for q in many.captured_queries
    )
