"""The override form takes local times in the hour a DST change repeats or skips, and
says what it made of them."""

from datetime import UTC, datetime

import pytest

from escalation.models import Override

pytestmark = pytest.mark.django_db


@pytest.fixture
def chicago(platform, lead, engineer, onduty):
    platform.time_zone = "America/Chicago"
    platform.save()
    return platform


def add(client, start, end):
    return client.post(
        "/oncall/platform/overrides/",
        {"layer": "primary", "user": "onduty", "start": start, "end": end, "note": ""},
        follow=True,
    )


def test_a_skipped_time_is_taken_as_the_first_instant_after_the_gap(client, clock, chicago, lead):
    client.force_login(lead)

    # 14 March 2027: Chicago's clocks jump from 02:00 CST to 03:00 CDT.
    response = add(client, "2027-03-14T02:30", "2027-03-14T06:00")

    assert response.status_code == 200
    override = Override.objects.get()
    assert override.start == datetime(2027, 3, 14, 8, 0, tzinfo=UTC)  # 03:00 CDT
    assert override.end == datetime(2027, 3, 14, 11, 0, tzinfo=UTC)
    text = response.content.decode()
    assert "does not exist (the clocks skip that hour)" in text
    assert "2027-03-14 03:00 CDT" in text


def test_a_repeated_time_is_taken_as_its_first_occurrence(client, clock, chicago, lead):
    client.force_login(lead)

    # 7 November 2027: 01:00-02:00 happens twice (CDT, then CST).
    response = add(client, "2027-11-07T01:30", "2027-11-07T05:00")

    override = Override.objects.get()
    assert override.start == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)  # 01:30 CDT
    text = response.content.decode()
    assert "falls in the hour the clocks repeat" in text
    assert "2027-11-07 01:30 CDT" in text


def test_an_ordinary_time_gets_no_remark(client, clock, chicago, lead):
    client.force_login(lead)

    response = add(client, "2027-01-05T09:00", "2027-01-05T17:00")

    assert Override.objects.get().start == datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
    text = response.content.decode()
    assert "clocks repeat" not in text
    assert "clocks skip" not in text
