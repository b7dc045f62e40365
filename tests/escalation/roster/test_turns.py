"""What a rotation's turns mean: a rotation covers stretches (hand-off to hand-off, or
the day's window), each belonging to the weekday it starts on; a shift that covers
no time takes no turn; an edit or a team change never changes who is on call at
that moment; DST-skipped and repeated hand-offs; a window that ends when it starts."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from math import gcd

import pytest

from escalation.models import RosterEvent
from escalation.roster import selectors as roster_selectors
from escalation.roster import services as roster_services
from escalation.roster import sweep as roster_sweep
from incidents.rules import Role
from tests.factories import make_rotation, make_user

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
D = timedelta(days=1)
MONDAY = date(2026, 11, 23)  # the Monday before NOW (Thursday 26 November, 10:00 Shanghai)


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A wall time in Shanghai (UTC+8, no DST) as a UTC instant."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - 8 * H


def people(team, n):
    return [make_user(Role.ENGINEER, team, username=f"p{i}") for i in range(n)]


def primary(team, start, end):
    items = roster_selectors.roster_for(team, since=start).shifts(start, end)["primary"]
    return [(s.user.username, s.start, s.end) for s in items]


def turns(team, start, end):
    """(username, shift index) of each shift that took a turn in [start, end)."""
    items = roster_selectors.roster_for(team, since=start).shifts(start, end, merge=False)[
        "primary"
    ]
    seen = {}
    for s in items:
        seen.setdefault(s.index, s.user.username)
    return [seen[k] for k in sorted(seen)]


# ---------------------------------------------------------------- stretches and turns


def test_seven_people_daily_on_weekdays_each_get_their_turn(clock, platform, lead):
    crew = people(platform, 7)
    make_rotation(actor=lead, team=platform, people=crew, shift_days=1, weekdays="01234")

    # Seven weeks: 35 weekday shifts, five each, in order, week after week.
    got = turns(platform, local(23, 9), local(23, 9) + 49 * D)

    assert got == [f"p{i % 7}" for i in range(35)]
    assert Counter(got) == {f"p{i}": 5 for i in range(7)}
    # Friday's stretch runs from its hand-off to Saturday's; Monday's p5 is next.
    assert primary(platform, local(27, 0), local(30, 23)) == [
        ("p3", local(27, 0), local(27, 9)),  # Thursday's stretch, until Friday 09:00
        ("p4", local(27, 9), local(28, 9)),
        ("p5", local(30, 9), local(30, 23)),
    ]


def test_a_19h_handoff_with_a_weekday_day_window_goes_friday_a_monday_b(clock, platform, lead):
    a, b, c = people(platform, 3)
    make_rotation(
        actor=lead,
        team=platform,
        people=[a, b, c],
        shift_days=1,
        handoff_time=time(19, 0),
        weekdays="01234",
        day_start=time(9, 0),
        day_end=time(19, 0),
    )

    got = primary(platform, local(23, 0), local(1, 23, month=12))

    # Shift 0 runs Monday 19:00 to Tuesday 19:00 and covers Tuesday 09-19. The
    # weekend's shifts cover nothing and take no turn, so Friday's p0 is followed on
    # Monday by p1 (it was p0 again before).
    assert got == [
        ("p0", local(24, 9), local(24, 19)),
        ("p1", local(25, 9), local(25, 19)),
        ("p2", local(26, 9), local(26, 19)),
        ("p0", local(27, 9), local(27, 19)),  # Friday
        ("p1", local(30, 9), local(30, 19)),  # Monday
        ("p2", local(1, 9, month=12), local(1, 19, month=12)),
    ]


def test_mon_wed_fri_daily_alternates_between_two_people(clock, platform, lead):
    a, b = people(platform, 2)
    make_rotation(actor=lead, team=platform, people=[a, b], shift_days=1, weekdays="024")

    got = primary(platform, local(23, 0), local(5, 0, month=12))

    assert got == [
        ("p0", local(23, 9), local(24, 9)),  # Monday 09:00 until Tuesday 09:00
        ("p1", local(25, 9), local(26, 9)),
        ("p0", local(27, 9), local(28, 9)),
        ("p1", local(30, 9), local(1, 9, month=12)),
        ("p0", local(2, 9, month=12), local(3, 9, month=12)),
        ("p1", local(4, 9, month=12), local(5, 0, month=12)),
    ]


def test_a_weekly_weekday_rotation_runs_from_monday_to_saturday_handoff(clock, platform, lead):
    a, b = people(platform, 2)
    make_rotation(actor=lead, team=platform, people=[a, b], weekdays="01234")

    got = primary(platform, local(23, 0), local(7, 0, month=12))

    assert got == [
        ("p0", local(23, 9), local(28, 9)),
        ("p1", local(30, 9), local(5, 9, month=12)),
    ]


@pytest.mark.parametrize(
    ("n", "shift_days", "weekdays", "window", "handoff"),
    [
        (7, 1, "01234", None, time(9, 0)),
        (3, 1, "01234", (time(9, 0), time(19, 0)), time(19, 0)),
        (2, 1, "024", None, time(9, 0)),
        (4, 2, "0123456", (time(18, 0), time(9, 0)), time(9, 0)),
        (5, 3, "56", None, time(8, 0)),
        (3, 1, "5", (time(10, 0), time(10, 0)), time(10, 0)),
        (6, 7, "01234", (time(9, 0), time(18, 0)), time(9, 0)),
    ],
)
def test_over_whole_cycles_everyone_gets_the_same_number_of_shifts(
    clock, platform, lead, n, shift_days, weekdays, window, handoff
):
    crew = people(platform, n)
    day_start, day_end = window or (None, None)
    rotation = make_rotation(
        actor=lead,
        team=platform,
        people=crew,
        shift_days=shift_days,
        weekdays=weekdays,
        day_start=day_start,
        day_end=day_end,
        handoff_time=handoff,
    )
    r = roster_selectors.roster_for(platform)
    # The weekdays repeat every `period` shifts (a whole number of weeks); n periods
    # hold n × (turns per period) turns: a whole number of rounds of the n people.
    period = 7 // gcd(7, shift_days)
    start = r.boundary(rotation, 0)
    end = r.boundary(rotation, 2 * n * period)

    counts = Counter(turns(platform, start, end))

    assert len(counts) == n
    assert len(set(counts.values())) == 1, counts
    # No shift that took a turn is empty.
    shifts = r.shifts(start, end, merge=False)["primary"]
    assert all(s.end > s.start for s in shifts)


# ---------------------------------------------------------------- edits keep who is on call


@pytest.fixture
def abc(platform):
    return people(platform, 3)


def daily(lead, team, crew, **kwargs):
    return make_rotation(actor=lead, team=team, people=crew, shift_days=1, **kwargs)


def edit(lead, rotation, crew, **changes):
    spec = roster_services.RotationSpec(
        name=rotation.name,
        layer=rotation.layer,
        participants=crew,
        shift_days=rotation.shift_days,
        handoff_time=rotation.handoff_time,
        start_date=rotation.start_date,
        weekdays=rotation.weekdays,
        day_start=rotation.day_start,
        day_end=rotation.day_end,
    )
    for name, value in changes.items():
        setattr(spec, name, value)
    return roster_services.rotation_save(
        actor=lead, team=rotation.team, spec=spec, rotation=rotation
    )


def on_call(team, at):
    return roster_selectors.roster_for(team, since=at).on_call(at, "primary").user.username


def next_days(team, at, days=3):
    """Who holds each of the next `days` daily shifts after the one holding `at`."""
    hand_off = datetime(at.year, at.month, at.day, 1, tzinfo=UTC)
    hand_off += D if hand_off <= at else timedelta(0)
    return [on_call(team, hand_off + i * D + H) for i in range(days)]


def test_reordering_keeps_the_person_on_call_until_the_handoff(clock, platform, lead, abc):
    a, b, c = abc
    rotation = daily(lead, platform, [a, b, c])
    tuesday_noon = local(24, 12)
    clock.move_to(tuesday_noon)
    assert on_call(platform, tuesday_noon) == "p1"

    edit(lead, rotation, [c, a, b])

    # p1 keeps Tuesday; then the new order goes on from the person after p1: p2 (it
    # put p0 on call at once before).
    assert on_call(platform, tuesday_noon) == "p1"
    assert next_days(platform, tuesday_noon) == ["p2", "p0", "p1"]


def test_removing_someone_else_changes_nobody_now(clock, platform, lead, abc):
    a, b, c = abc
    rotation = daily(lead, platform, [a, b, c])
    wednesday_noon = local(25, 12)
    clock.move_to(wednesday_noon)
    assert on_call(platform, wednesday_noon) == "p2"

    edit(lead, rotation, [b, c])

    assert on_call(platform, wednesday_noon) == "p2"  # it was p1 before
    assert next_days(platform, wednesday_noon) == ["p1", "p2", "p1"]


def test_removing_the_person_on_call_hands_over_to_the_next_at_once(clock, platform, lead, abc):
    a, b, c = abc
    rotation = daily(lead, platform, [a, b, c])
    friday_noon = local(27, 12)  # shift 4: p1's
    clock.move_to(friday_noon)
    assert on_call(platform, friday_noon) == "p1"

    edit(lead, rotation, [a, c])

    # The next after p1 takes over at once and the turns go on from them (the new
    # list re-dealt shift 4 to p0 before).
    assert on_call(platform, friday_noon) == "p2"
    assert next_days(platform, friday_noon) == ["p0", "p2", "p0"]


def test_an_edit_before_the_rotation_begins_starts_from_the_new_first(clock, platform, lead, abc):
    a, b, c = abc
    rotation = daily(lead, platform, [a, b, c], start_date=date(2026, 12, 1))

    edit(lead, rotation, [c, b, a])

    assert on_call(platform, local(1, 12, month=12)) == "p2"


def test_an_edit_of_the_times_keeps_the_person_on_call(clock, platform, lead, abc):
    a, b, c = abc
    rotation = daily(lead, platform, [a, b, c])
    tuesday_noon = local(24, 12)
    clock.move_to(tuesday_noon)

    edit(lead, rotation, [a, b, c], handoff_time=time(8, 0), name="renamed")

    assert on_call(platform, tuesday_noon) == "p1"
    assert next_days(platform, tuesday_noon) == ["p2", "p0", "p1"]


def test_someone_who_leaves_while_on_call_is_replaced_at_once_and_the_turns_go_on(
    clock, platform, lead, abc
):
    a, b, c = abc
    daily(lead, platform, [a, b, c])
    tuesday_noon = local(24, 12)
    clock.move_to(tuesday_noon)

    platform.members.remove(b)

    assert on_call(platform, tuesday_noon) == "p2"  # at once, before any sweep
    clock.move_to(tuesday_noon + 5 * timedelta(minutes=1))
    roster_sweep.sweep_rosters()

    # The turns go on from p2 round the people still here: p0, p2, p0 (p2 would
    # have had Wednesday as well without it).
    assert on_call(platform, tuesday_noon + 5 * timedelta(minutes=1)) == "p2"
    assert next_days(platform, tuesday_noon) == ["p0", "p2", "p0"]
    [event] = RosterEvent.objects.filter(kind=RosterEvent.Kind.TURNS_MOVED)
    assert event.data["left"] == ["p1"]
    assert event.data["holder"] == "p2"
    assert "p1 left" in roster_selectors.describe(event)

    # A second sweep changes nothing more.
    roster_sweep.sweep_rosters()
    assert RosterEvent.objects.filter(kind=RosterEvent.Kind.TURNS_MOVED).count() == 1


# ---------------------------------------------------------------- DST and windows


def test_a_handoff_in_the_skipped_hour_happens_at_the_first_instant_after_the_gap(
    clock, platform, lead, engineer
):
    platform.time_zone = "America/Chicago"
    platform.save()
    rotation = make_rotation(
        actor=lead,
        team=platform,
        people=[engineer],
        shift_days=1,
        handoff_time=time(2, 30),
        start_date=date(2026, 3, 7),
    )
    r = roster_selectors.roster_for(platform)

    # 8 March 2026: 02:00 CST jumps to 03:00 CDT; 02:30 happens at 03:00 CDT (08:00
    # UTC), not 03:30 CDT (08:30 UTC).
    assert r.boundary(rotation, 1) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert r.boundary(rotation, 0) == datetime(2026, 3, 7, 8, 30, tzinfo=UTC)  # CST
    assert r.boundary(rotation, 2) == datetime(2026, 3, 9, 7, 30, tzinfo=UTC)  # CDT


def test_a_repeated_handoff_time_takes_its_first_occurrence(clock, platform, lead, engineer):
    platform.time_zone = "America/Chicago"
    platform.save()
    rotation = make_rotation(
        actor=lead,
        team=platform,
        people=[engineer],
        shift_days=1,
        handoff_time=time(1, 30),
        start_date=date(2026, 11, 1),
    )

    # 1 November 2026: 01:30 happens twice, first in CDT (06:30 UTC).
    assert roster_selectors.roster_for(platform).boundary(rotation, 0) == datetime(
        2026, 11, 1, 6, 30, tzinfo=UTC
    )


def test_a_daily_window_that_ends_when_it_starts_lasts_24_hours(clock, platform, lead, engineer):
    make_rotation(
        actor=lead,
        team=platform,
        people=[engineer],
        shift_days=1,
        handoff_time=time(8, 0),
        weekdays="01234",
        day_start=time(8, 0),
        day_end=time(8, 0),
    )

    got = primary(platform, local(23, 0), local(30, 23))

    # Monday 08:00 until Saturday 08:00, then Monday 08:00 again.
    assert got == [
        ("engineer", local(23, 8), local(28, 8)),
        ("engineer", local(30, 8), local(30, 23)),
    ]


def test_the_rotation_page_accepts_a_window_that_ends_when_it_starts(
    client, clock, platform, lead, engineer
):
    client.force_login(lead)

    response = client.post(
        "/oncall/platform/rotations/new/",
        {
            "name": "weekday 24h",
            "layer": "primary",
            "participants": "engineer",
            "shift_days": 1,
            "handoff_time": "08:00",
            "start_date": "2026-11-23",
            "weekdays": ["0", "1", "2", "3", "4"],
            "day_start": "08:00",
            "day_end": "08:00",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert platform.rotations.get().day_end == time(8, 0)


# ---------------------------------------------------------------- the past stays as it was


def test_an_edit_leaves_the_past_schedule_as_it_was(clock, platform, lead, abc):
    a, b, c = abc
    rotation = daily(lead, platform, [a, b, c])
    tuesday_noon = local(24, 12)
    clock.move_to(tuesday_noon)
    past = primary(platform, local(16, 0), tuesday_noon)

    edit(lead, rotation, [c, b], shift_days=2, handoff_time=time(7, 0))

    assert primary(platform, local(16, 0), tuesday_noon) == past
    assert past[0] == ("p0", local(23, 9), local(24, 9))
    # The schedule runs on without a seam: p1 keeps Tuesday, under the new settings.
    assert on_call(platform, tuesday_noon + H) == "p1"
    assert platform.rotations.filter(ends_at__isnull=True).count() == 1


def test_a_deleted_rotation_keeps_its_past(client, clock, platform, lead, abc):
    a, b, c = abc
    rotation = daily(lead, platform, [a, b, c])
    wednesday_noon = local(25, 12)
    clock.move_to(wednesday_noon)
    past = primary(platform, local(20, 0), wednesday_noon)

    roster_services.rotation_delete(actor=lead, rotation=rotation)

    assert primary(platform, local(20, 0), wednesday_noon) == past
    assert primary(platform, wednesday_noon, wednesday_noon + 7 * D) == []
    client.force_login(lead)
    assert client.get(f"/oncall/platform/rotations/{rotation.pk}/").status_code == 404


def test_a_rotation_deleted_before_it_begins_is_gone(clock, platform, lead, abc):
    rotation = daily(lead, platform, list(abc), start_date=date(2026, 12, 7))

    roster_services.rotation_delete(actor=lead, rotation=rotation)

    assert not platform.rotations.exists()


def test_a_team_change_leaves_the_past_schedule_as_it_was(clock, platform, lead, abc):
    a, b, c = abc
    daily(lead, platform, [a, b, c])
    friday_noon = local(27, 12)
    clock.move_to(friday_noon)
    past = primary(platform, local(20, 0), local(27, 9))

    platform.members.remove(a)
    roster_sweep.sweep_rosters()

    assert primary(platform, local(20, 0), local(27, 9)) == past
