"""Calendar feeds: the .ics parsed back by the icalendar library equals the
schedule; private, revocable, and gone when its owner may no longer see it."""

import hashlib
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from django.core.exceptions import PermissionDenied

from escalation.models import CalendarFeed
from escalation.roster import arithmetic, ical
from escalation.roster import selectors as roster_selectors
from escalation.roster import services as roster_services
from incidents.models import UserProfile
from tests.conftest import NOW
from tests.factories import make_rotation

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


def parsed(response):
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal = icalendar.Calendar.from_ical(response.content)
    return cal, [
        (
            str(event["summary"]),
            event.decoded("dtstart").astimezone(UTC),
            event.decoded("dtend").astimezone(UTC),
        )
        for event in cal.walk("VEVENT")
    ]


@pytest.fixture
def schedule(clock, platform, lead, engineer, onduty, tester):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty])
    make_rotation(actor=lead, team=platform, people=[tester], layer="secondary", shift_days=1)
    roster_services.override_create(
        actor=lead, team=platform, layer="primary", user=onduty, start=NOW + H, end=NOW + 5 * H
    )
    return platform


def test_the_team_feed_parsed_back_equals_the_schedule(client, schedule, lead):
    feed = roster_services.feed_create(user=lead, team=schedule)

    cal, events = parsed(client.get(f"/oncall/feeds/{feed.token}.ics"))

    # One event per shift (or per piece of one an override cuts), listed whole: the
    # shift running 30 days back is not cut at the feed's first day.
    since = NOW - ical.BACK - arithmetic.REACH
    shifts = roster_selectors.roster_for(schedule, since=since).shifts(
        since, NOW + ical.AHEAD, merge=False
    )
    expected = sorted(
        (f"On call ({layer}): Platform — {s.user.get_full_name()}", s.start, s.end)
        for layer, items in shifts.items()
        for s in items
        if s.end > NOW - ical.BACK
    )
    assert sorted(events) == expected
    first_day = datetime(2026, 11, 23, 1, tzinfo=UTC)
    assert ("On call (secondary): Platform — Tester", first_day, first_day + 24 * H) in events
    assert str(cal["x-wr-calname"]) == "On call: Platform"
    overridden = [e for e in cal.walk("VEVENT") if "Override" in str(e.get("description", ""))]
    assert [(e.decoded("dtstart"), e.decoded("dtend")) for e in overridden] == [
        (NOW + H, NOW + 5 * H)
    ]
    assert len({str(e["uid"]) for e in cal.walk("VEVENT")}) == len(events)  # unique


def uids(client, feed):
    cal, _events = parsed(client.get(f"/oncall/feeds/{feed.token}.ics"))
    return {
        str(e["uid"]): (e.decoded("dtstart").astimezone(UTC), e.decoded("dtend").astimezone(UTC))
        for e in cal.walk("VEVENT")
    }


def test_a_shift_keeps_its_uid_on_every_fetch(client, clock, schedule, lead):
    feed = roster_services.feed_create(user=lead, team=schedule)
    clock.move_to(NOW + 40 * 24 * H)  # the first week now starts before the feed's window
    first = uids(client, feed)

    clock.move_to(NOW + 41 * 24 * H + 7 * H)
    second = uids(client, feed)

    horizon = NOW + 40 * 24 * H + ical.AHEAD  # the first fetch cut its last events here
    shared = {uid for uid in set(first) & set(second) if first[uid][1] < horizon}
    assert len(shared) > 100
    # The same shift has the same UID and the same times, whenever it is fetched.
    assert [uid for uid in shared if first[uid] != second[uid]] == []
    # The feed's first event is the whole shift running at its first day, not a
    # piece cut at that instant (whose UID would change with every fetch).
    week_start = datetime(2026, 12, 28, 1, tzinfo=UTC)  # Monday 09:00, 30 days before
    assert (week_start, week_start + 7 * 24 * H) in second.values()
    assert all("-shift-" in uid or "-override-" in uid for uid in second)


def test_a_users_feed_holds_only_their_shifts(client, schedule, onduty):
    feed = roster_services.feed_create(user=onduty)

    _cal, events = parsed(client.get(f"/oncall/feeds/{feed.token}.ics"))

    assert events
    assert all(summary.endswith("— Onduty") for summary, _s, _e in events)  # the name
    assert ("On call (primary): Platform — Onduty", NOW + H, NOW + 5 * H) in events
    # onduty's first week: from Monday 30 November 09:00 Shanghai.
    week = datetime(2026, 11, 30, 1, tzinfo=UTC)
    assert ("On call (primary): Platform — Onduty", week, week + 7 * 24 * H) in events


def test_the_feed_speaks_its_owners_language(client, schedule, onduty):
    UserProfile.objects.update_or_create(user=onduty, defaults={"language": "zh-hans"})
    feed = roster_services.feed_create(user=onduty)

    cal, events = parsed(client.get(f"/oncall/feeds/{feed.token}.ics"))

    assert str(cal["x-wr-calname"]) == "我的值班"
    assert events[0][0].startswith("值班（主值班）")


def test_a_revoked_feed_answers_404(client, schedule, lead):
    feed = roster_services.feed_create(user=lead, team=schedule)
    url = f"/oncall/feeds/{feed.token}.ics"
    assert client.get(url).status_code == 200

    roster_services.feed_revoke(user=lead, feed=feed)

    assert client.get(url).status_code == 404
    assert client.get("/oncall/feeds/no-such-token.ics").status_code == 404


def test_a_new_address_replaces_the_old_one(client, schedule, lead):
    old = roster_services.feed_create(user=lead)
    new = roster_services.feed_create(user=lead)

    assert client.get(f"/oncall/feeds/{old.token}.ics").status_code == 404
    assert client.get(f"/oncall/feeds/{new.token}.ics").status_code == 200
    assert new.token != old.token
    assert len(new.token) >= 40


def test_a_team_feed_stops_when_its_owner_leaves_the_team(client, schedule, engineer):
    feed = roster_services.feed_create(user=engineer, team=schedule)
    schedule.members.remove(engineer)

    assert client.get(f"/oncall/feeds/{feed.token}.ics").status_code == 404


def test_nobody_makes_a_feed_of_a_team_they_do_not_see(schedule, pay_engineer):
    with pytest.raises(PermissionDenied):
        roster_services.feed_create(user=pay_engineer, team=schedule)
    assert not CalendarFeed.objects.exists()


def test_only_its_owner_revokes_a_feed(client, schedule, lead, engineer):
    feed = roster_services.feed_create(user=lead, team=schedule)
    client.force_login(engineer)

    response = client.post(f"/oncall/feeds/{feed.pk}/revoke/")

    assert response.status_code == 404
    feed.refresh_from_db()
    assert feed.revoked_at is None
    client.force_login(lead)
    assert client.post(f"/oncall/feeds/{feed.pk}/revoke/").status_code == 302
    feed.refresh_from_db()
    assert feed.revoked_at is not None


def test_the_roster_page_makes_and_shows_the_address(client, schedule, engineer):
    client.force_login(engineer)

    response = client.post("/oncall/feeds/", {"team": "platform"})

    assert response.status_code == 302
    feed = CalendarFeed.objects.get(user=engineer, team=schedule)
    page = client.get("/oncall/platform/").content.decode()
    assert f"/oncall/feeds/{feed.token}.ics" in page


def test_the_database_keeps_no_feed_address(client, schedule, lead):
    feed = roster_services.feed_create(user=lead, team=schedule)
    token = feed.token

    row = CalendarFeed.objects.filter(pk=feed.pk).values().get()

    # Nothing stored is the secret, or contains it; its hash finds the feed.
    assert token
    assert all(token not in str(value) for value in row.values())
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert client.get(f"/oncall/feeds/{token}.ics").status_code == 200
    assert client.get(f"/oncall/feeds/{row['token_hash']}.ics").status_code == 404


def test_an_address_made_before_hashing_keeps_working(client, schedule, lead):
    # What migration 0015 leaves of an address stored in plain text before.
    old = CalendarFeed.objects.create(
        user=lead,
        team=schedule,
        token_hash=hashlib.sha256(b"the-old-address").hexdigest(),
        created_at=NOW,
    )

    assert client.get("/oncall/feeds/the-old-address.ics").status_code == 200
    client.force_login(lead)
    page = client.get("/oncall/platform/").content.decode()
    assert "can no longer be shown" in page
    # The API makes a showable address beside it; the old one still works.
    new = roster_services.feed_for(user=lead, team=schedule)
    assert new.pk != old.pk
    assert new.token
    assert client.get("/oncall/feeds/the-old-address.ics").status_code == 200
    assert roster_services.feed_for(user=lead, team=schedule).pk == new.pk
