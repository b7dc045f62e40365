"""Rotation arithmetic: shift boundaries at the handoff time in the team's zone,
DST, participants who leave, layering of rotations and overrides, gaps."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from escalation.models import Override
from escalation.roster import arithmetic
from escalation.roster import selectors as roster_selectors
from escalation.roster import services as roster_services
from tests.conftest import NOW
from tests.factories import make_rotation

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
D = timedelta(days=1)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def table(shifts):
    return [(s.user.username, s.start, s.end) for s in shifts]


def primary(team, start, end):
    return table(roster_selectors.roster_for(team, since=start).shifts(start, end)["primary"])


def test_it_hands_a_weekly_shift_over_at_the_handoff_time_in_the_team_zone(
    clock, platform, lead, engineer, onduty
):
    # Asia/Shanghai (the site's zone): 09:00 local is 01:00 UTC.
    make_rotation(actor=lead, team=platform, people=[engineer, onduty])

    got = primary(platform, utc(2026, 11, 23), utc(2026, 12, 14))

    assert got == [
        ("engineer", utc(2026, 11, 23, 1), utc(2026, 11, 30, 1)),
        ("onduty", utc(2026, 11, 30, 1), utc(2026, 12, 7, 1)),
        ("engineer", utc(2026, 12, 7, 1), utc(2026, 12, 14)),  # clipped to the window
    ]


def test_it_has_nobody_before_the_first_shift(clock, platform, lead, engineer):
    make_rotation(actor=lead, team=platform, people=[engineer], start_date=date(2026, 11, 27))

    got = primary(platform, utc(2026, 11, 25), utc(2026, 11, 28))

    assert got == [("engineer", utc(2026, 11, 27, 1), utc(2026, 11, 28))]


def test_it_rotates_daily_and_every_n_days(clock, platform, lead, engineer, onduty, tester):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty, tester], shift_days=1)
    got = primary(platform, utc(2026, 11, 23, 1), utc(2026, 11, 27, 1))
    assert [g[0] for g in got] == ["engineer", "onduty", "tester", "engineer"]
    assert [g[1] for g in got] == [utc(2026, 11, 23 + i, 1) for i in range(4)]

    platform.rotations.all().delete()
    make_rotation(actor=lead, team=platform, people=[engineer, onduty], shift_days=3)
    got = primary(platform, utc(2026, 11, 23, 1), utc(2026, 12, 2, 1))
    assert got == [
        ("engineer", utc(2026, 11, 23, 1), utc(2026, 11, 26, 1)),
        ("onduty", utc(2026, 11, 26, 1), utc(2026, 11, 29, 1)),
        ("engineer", utc(2026, 11, 29, 1), utc(2026, 12, 2, 1)),
    ]


def test_it_keeps_the_local_handoff_time_across_dst(clock, platform, lead, engineer, onduty):
    platform.time_zone = "Europe/Berlin"
    platform.save()
    make_rotation(
        actor=lead,
        team=platform,
        people=[engineer, onduty],
        shift_days=1,
        start_date=date(2026, 3, 27),
    )
    # Summer time begins on 2026-03-29 at 02:00: 09:00 is 08:00 UTC before, 07:00 after.
    spring = primary(platform, utc(2026, 3, 28, 8), utc(2026, 3, 31, 7))
    assert spring == [
        ("onduty", utc(2026, 3, 28, 8), utc(2026, 3, 29, 7)),  # 23 hours
        ("engineer", utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)),
        ("onduty", utc(2026, 3, 30, 7), utc(2026, 3, 31, 7)),
    ]
    # It ends on 2026-10-25 at 03:00: that shift lasts 25 hours.
    autumn = primary(platform, utc(2026, 10, 24, 7), utc(2026, 10, 26, 8))
    assert [(s, e - s) for _u, s, e in autumn] == [
        (utc(2026, 10, 24, 7), 25 * H),
        (utc(2026, 10, 25, 8), 24 * H),
    ]


def test_a_handoff_in_the_skipped_hour_happens_at_the_first_instant_after_it(
    clock, platform, lead, engineer
):
    platform.time_zone = "Europe/Berlin"
    platform.save()
    rotation = make_rotation(
        actor=lead,
        team=platform,
        people=[engineer],
        shift_days=1,
        handoff_time=time(2, 30),
        start_date=date(2026, 3, 29),
    )
    r = roster_selectors.roster_for(platform)
    # 02:30 does not exist that night; the clock jumps from 02:00 CET to 03:00 CEST
    # (01:00 UTC), and the hand-off happens then, not an hour late (it was 01:30 UTC).
    assert r.boundary(rotation, 0) == utc(2026, 3, 29, 1, 0)
    assert r.boundary(rotation, 1) == utc(2026, 3, 30, 0, 30)  # 02:30 CEST


def test_it_skips_a_participant_who_left_the_team_and_warns(
    clock, platform, lead, engineer, onduty, tester
):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty, tester], shift_days=1)
    platform.members.remove(onduty)

    r = roster_selectors.roster_for(platform)
    got = table(r.shifts(utc(2026, 11, 23, 1), utc(2026, 11, 26, 1))["primary"])

    # onduty's day goes to the next in order; the others keep their days.
    assert got == [
        ("engineer", utc(2026, 11, 23, 1), utc(2026, 11, 24, 1)),
        ("tester", utc(2026, 11, 24, 1), utc(2026, 11, 26, 1)),
    ]
    assert [(w.user.username, w.reason) for w in r.warnings()] == [("onduty", "left")]
    assert "onduty" in str(r.warnings()[0])
    assert "left the team" in str(r.warnings()[0])


def test_it_skips_an_inactive_participant(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty], shift_days=1)
    onduty.is_active = False
    onduty.save()

    r = roster_selectors.roster_for(platform)

    assert {s.user.username for s in r.shifts(NOW, NOW + 5 * D)["primary"]} == {"engineer"}
    assert [w.reason for w in r.warnings()] == ["inactive"]


def test_the_later_rotation_wins_where_two_overlap(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[onduty], name="nights and weekends")
    make_rotation(
        actor=lead,
        team=platform,
        people=[engineer],
        name="weekday days",
        weekdays="01234",
        day_start=time(9, 0),
        day_end=time(18, 0),
    )

    # Thursday 26th 00:00 to Saturday 28th 12:00, Shanghai time.
    got = primary(platform, utc(2026, 11, 25, 16), utc(2026, 11, 28, 4))

    assert got == [
        ("onduty", utc(2026, 11, 25, 16), utc(2026, 11, 26, 1)),
        ("engineer", utc(2026, 11, 26, 1), utc(2026, 11, 26, 10)),  # Thu 09:00-18:00
        ("onduty", utc(2026, 11, 26, 10), utc(2026, 11, 27, 1)),
        ("engineer", utc(2026, 11, 27, 1), utc(2026, 11, 27, 10)),  # Fri
        ("onduty", utc(2026, 11, 27, 10), utc(2026, 11, 28, 4)),  # the weekend
    ]


def test_an_overnight_window_runs_into_the_next_day(clock, platform, lead, engineer):
    make_rotation(
        actor=lead,
        team=platform,
        people=[engineer],
        weekdays="0",
        day_start=time(18, 0),
        day_end=time(9, 0),
    )

    got = primary(platform, utc(2026, 11, 23), utc(2026, 11, 30))

    # Monday 18:00 until Tuesday 09:00 only (Shanghai).
    assert got == [("engineer", utc(2026, 11, 23, 10), utc(2026, 11, 24, 1))]


def override(team, user, start, end, actor, layer="primary"):
    return roster_services.override_create(
        actor=actor, team=team, layer=layer, user=user, start=start, end=end
    )


def test_a_partial_override_covers_part_of_a_shift(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[engineer])
    override(platform, onduty, NOW + 2 * H, NOW + 5 * H, lead)

    r = roster_selectors.roster_for(platform)
    shifts = r.shifts(NOW, NOW + 8 * H)["primary"]

    assert table(shifts) == [
        ("engineer", NOW, NOW + 2 * H),
        ("onduty", NOW + 2 * H, NOW + 5 * H),
        ("engineer", NOW + 5 * H, NOW + 8 * H),
    ]
    assert shifts[1].is_override
    assert [u.username for u in shifts[1].covers] == ["engineer"]
    assert r.on_call(NOW + 3 * H)["primary"].user == onduty
    assert r.on_call(NOW + 6 * H)["primary"].user == engineer


def test_the_later_override_wins_inside_an_earlier_one(
    clock, platform, lead, engineer, onduty, tester
):
    make_rotation(actor=lead, team=platform, people=[engineer])
    override(platform, onduty, NOW + 1 * H, NOW + 9 * H, lead)
    override(platform, tester, NOW + 3 * H, NOW + 4 * H, lead)  # nested

    got = primary(platform, NOW, NOW + 10 * H)

    assert got == [
        ("engineer", NOW, NOW + 1 * H),
        ("onduty", NOW + 1 * H, NOW + 3 * H),
        ("tester", NOW + 3 * H, NOW + 4 * H),
        ("onduty", NOW + 4 * H, NOW + 9 * H),
        ("engineer", NOW + 9 * H, NOW + 10 * H),
    ]
    Override.objects.filter(user=tester).delete()
    assert primary(platform, NOW, NOW + 10 * H)[1] == ("onduty", NOW + 1 * H, NOW + 9 * H)


def test_an_override_of_one_layer_leaves_the_other_alone(
    clock, platform, lead, engineer, onduty, tester
):
    make_rotation(actor=lead, team=platform, people=[engineer])
    make_rotation(actor=lead, team=platform, people=[tester], layer="secondary")
    override(platform, onduty, NOW, NOW + 2 * H, lead, layer="secondary")

    now = roster_selectors.roster_for(platform).on_call(NOW + H)

    assert (now["primary"].user, now["secondary"].user) == (engineer, onduty)


def test_on_call_gives_whole_stretches_now_and_next(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty])

    answer = roster_selectors.roster_for(platform).on_call(NOW)

    assert table([answer["primary"].now]) == [
        ("engineer", utc(2026, 11, 23, 1), utc(2026, 11, 30, 1))
    ]
    assert table([answer["primary"].next]) == [
        ("onduty", utc(2026, 11, 30, 1), utc(2026, 12, 7, 1))
    ]
    assert answer["primary"].user == engineer
    nobody = answer["secondary"]
    assert (nobody.user, nobody.now, nobody.next) == (None, None, None)


def test_on_call_of_one_layer(clock, platform, lead, engineer, onduty, tester):
    make_rotation(actor=lead, team=platform, people=[engineer])
    override(platform, tester, NOW + H, NOW + 2 * H, lead)

    r = roster_selectors.roster_for(platform)

    assert r.on_call(NOW, "primary").user == engineer
    assert r.on_call(NOW, "primary").next.user == tester
    assert r.on_call(NOW + H, "primary").user == tester
    assert r.on_call(NOW + H, "secondary").user is None


def test_who_is_on_call_needs_only_the_shifts_around_the_moment(
    clock, platform, lead, engineer, onduty, tester, monkeypatch
):
    # The escalation sweep and the dashboard read `user` alone: the stretches (29
    # days either side) are worked out only when `now` or `next` is read, once.
    make_rotation(actor=lead, team=platform, people=[engineer, onduty])
    make_rotation(actor=lead, team=platform, people=[onduty, tester], layer="secondary")
    r = roster_selectors.roster_for(platform)
    windows = []
    stretches = type(r).stretches
    monkeypatch.setattr(
        type(r), "stretches", lambda self, a, b: windows.append(b - a) or stretches(self, a, b)
    )

    answer = r.on_call(NOW + H)
    assert [a.user for a in answer.values()] == [engineer, onduty]
    assert windows == []

    assert [a.next.user for a in answer.values()] == [onduty, tester]
    assert answer["primary"].now.user == engineer
    assert windows == [2 * arithmetic.REACH]


def test_it_finds_the_first_gap_and_when_it_began(clock, platform, lead, engineer):
    make_rotation(actor=lead, team=platform, people=[engineer], weekdays="01234")
    r = roster_selectors.roster_for(platform)

    # Weekdays only: Friday's stretch runs to Saturday's 09:00 hand-off, so nobody is
    # on call from Saturday 09:00 until Monday 09:00 (Shanghai). (Before stretches,
    # Friday was cut at midnight.)
    gap = r.first_gap(NOW, NOW + 3 * D)
    assert gap == (utc(2026, 11, 28, 1), NOW + 3 * D)
    assert r.first_gap(NOW, NOW + H) is None
    # Seen from inside it, the gap still began on Saturday at 09:00.
    inside = utc(2026, 11, 28, 6)
    assert r.gap_began(inside, anchor=NOW - 30 * D) == utc(2026, 11, 28, 1)
    assert r.gap_began(inside, anchor=utc(2026, 11, 28, 3)) == utc(2026, 11, 28, 3)


def test_it_loads_any_number_of_teams_in_a_constant_number_of_queries(
    clock, platform, payments, lead, pay_lead, engineer, pay_engineer, django_assert_num_queries
):
    make_rotation(actor=lead, team=platform, people=[engineer])
    make_rotation(actor=pay_lead, team=payments, people=[pay_engineer])

    with django_assert_num_queries(4):  # rotations, their members, overrides, people
        rosters = roster_selectors.rosters_for([platform, payments])
    with django_assert_num_queries(0):
        found = {t: r.on_call(NOW)["primary"].user.username for t, r in rosters.items()}
    assert found == {platform.pk: "engineer", payments.pk: "pay-engineer"}


def test_it_finds_who_is_primary_and_secondary_at_once(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[engineer])
    make_rotation(actor=lead, team=platform, people=[onduty], layer="secondary")
    start = utc(2026, 11, 27, 1)  # Friday 09:00 in Shanghai
    roster_services.override_create(
        actor=lead, team=platform, layer="primary", user=onduty, start=start, end=start + 9 * H
    )
    schedule = roster_selectors.roster_for(platform)

    found = schedule.double_duty(NOW, NOW + 7 * D)

    assert [(d.user.username, d.start, d.end) for d in found] == [("onduty", start, start + 9 * H)]
    assert str(found[0]) == (
        "Onduty is primary and secondary at once from 11-27 09:00 until 11-27 18:00: "
        "nobody backs them up then."
    )
    assert schedule.double_duty(NOW, NOW + 7 * D, user=engineer) == []
    assert schedule.double_duty(start + 9 * H, NOW + 7 * D) == []
