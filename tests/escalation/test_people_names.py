"""Rosters, overrides and calendar feeds name people by their names; the
username only stands in for a person whose name is empty."""

from datetime import timedelta

import icalendar
import pytest

from escalation import roster
from tests.conftest import NOW
from tests.factories import make_rotation

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
    roster.override_create(
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
    feed = roster.feed_create(user=lead, team=named)

    cal = icalendar.Calendar.from_ical(client.get(f"/oncall/feeds/{feed.token}.ics").content)
    titles = {str(event["summary"]) for event in cal.walk("VEVENT")}
    descriptions = {str(event.get("description", "")) for event in cal.walk("VEVENT")}

    assert "On call (primary): Platform — Lei Zhao" in titles
    assert "On call (primary): Platform — Fang Wang" in titles
    assert "On call (secondary): Platform — tester" in titles
    assert "Override, covering Lei Zhao." in descriptions
    assert not any("onduty" in title or "engineer" in title for title in titles)
