"""Business calendars: working hours, mainland China's holidays and make-up working
days (调休), the administrator's own days, time zones and daylight saving."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from escalation.calendars import ALWAYS, NoWorkingTime, WorkingTime, china_workday
from escalation.engine import sweep_due_deadlines
from escalation.models import BusinessCalendar, CalendarDay, LadderStep, Notice, SlaPolicy
from escalation.sla import working_time
from incidents import services
from tests.factories import IncidentFactory, TeamFactory, in_progress_incident

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)
NINE_TO_SIX = {d: ((time(9), time(18)),) for d in range(5)}


def at(y, m, d, hh, mm=0, tz=SHANGHAI):
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def china(**kwargs):
    return WorkingTime(
        weekly=kwargs.get("weekly", NINE_TO_SIX),
        extra=kwargs.get("extra", {}),
        china_holidays=kwargs.get("china_holidays", True),
        tz=kwargs.get("tz", SHANGHAI),
    )


# ---------------------------------------------------------------- arithmetic


def test_it_knows_national_day_2026_and_its_make_up_days():
    assert china_workday(date(2026, 9, 30)) is True  # Wednesday before
    assert [china_workday(date(2026, 10, d)) for d in range(1, 8)] == [False] * 7
    assert china_workday(date(2026, 10, 10)) is True  # make-up Saturday
    assert china_workday(date(2026, 9, 20)) is True  # make-up Sunday


def test_a_p2_filed_at_1730_before_national_day_is_due_after_the_holiday():
    # 30 min on Wed 30 Sep, Oct 1-7 off, then 7 h 30 of the 8 h on Thu 8 Oct.
    assert china().add(at(2026, 9, 30, 17, 30), 8 * HOUR) == at(2026, 10, 8, 16, 30)


def test_a_p2_filed_at_1730_on_a_friday_is_due_on_monday():
    assert china().add(at(2026, 11, 6, 17, 30), 8 * HOUR) == at(2026, 11, 9, 16, 30)


def test_the_mid_autumn_festival_2026_is_a_holiday():
    # Thu 24 Sep 17:30: Fri 25 - Sun 27 Sep are off, Monday 28 Sep is worked.
    assert china().add(at(2026, 9, 24, 17, 30), 8 * HOUR) == at(2026, 9, 28, 16, 30)


def test_a_make_up_saturday_counts_as_a_working_day():
    # Fri 9 Oct 17:30 + 8 h: 30 min on Friday, the rest on make-up Saturday 10 Oct.
    assert china().add(at(2026, 10, 9, 17, 30), 8 * HOUR) == at(2026, 10, 10, 16, 30)
    # The same Saturday is a normal day off for a calendar without China's holidays.
    plain = china(china_holidays=False)
    assert plain.add(at(2026, 10, 9, 17, 30), 8 * HOUR) == at(2026, 10, 12, 16, 30)


def test_spring_festival_2026_with_its_two_make_up_saturdays():
    calendar = china()
    # Fri 13 Feb 17:00: 1 h, then make-up Saturday 14 Feb from 09:00.
    assert calendar.add(at(2026, 2, 13, 17), 8 * HOUR) == at(2026, 2, 14, 16)
    # Sat 14 Feb 17:00: 1 h, 15-23 Feb off, then Tue 24 Feb.
    assert calendar.add(at(2026, 2, 14, 17), 8 * HOUR) == at(2026, 2, 24, 16)
    # Make-up Saturday 28 Feb is worked too.
    assert calendar.add(at(2026, 2, 27, 17), 8 * HOUR) == at(2026, 2, 28, 16)
    # The holiday counts nothing.
    assert calendar.elapsed(at(2026, 2, 14, 18), at(2026, 2, 24, 9)) == timedelta(0)


def test_it_starts_counting_at_the_next_working_hour_and_skips_nights():
    calendar = china()
    assert calendar.add(at(2026, 9, 28, 7), 30 * MIN) == at(2026, 9, 28, 9, 30)
    assert calendar.add(at(2026, 9, 28, 22), 2 * HOUR) == at(2026, 9, 29, 11)
    assert calendar.elapsed(at(2026, 9, 28, 17), at(2026, 9, 29, 10)) == 2 * HOUR


def test_the_administrators_days_win_over_weekday_and_library():
    calendar = china(
        extra={
            date(2026, 11, 9): False,  # a company holiday on a Monday
            date(2026, 11, 8): True,  # a Sunday worked
        }
    )
    assert calendar.add(at(2026, 11, 6, 17, 30), 8 * HOUR) == at(2026, 11, 8, 16, 30)
    only_holiday = china(extra={date(2026, 11, 9): False})
    assert only_holiday.add(at(2026, 11, 6, 17, 30), 8 * HOUR) == at(2026, 11, 10, 16, 30)
    # A day the library calls a holiday, worked by this team.
    festival_worked = china(extra={date(2026, 9, 25): True})
    assert festival_worked.add(at(2026, 9, 24, 17, 30), 8 * HOUR) == at(2026, 9, 25, 16, 30)


def test_a_split_day_counts_both_spans():
    calendar = china(weekly={d: ((time(9), time(12)), (time(13), time(18))) for d in range(5)})
    assert calendar.add(at(2026, 9, 28, 11), 2 * HOUR) == at(2026, 9, 28, 14)


def test_a_year_the_library_does_not_know_falls_back_to_the_weekdays():
    assert china_workday(date(2031, 1, 1)) is None
    # Wed 1 Jan 2031 counts as a plain Wednesday.
    assert china().add(at(2030, 12, 31, 17), 2 * HOUR) == at(2031, 1, 1, 10)


def test_a_calendar_with_no_working_time_says_so():
    with pytest.raises(NoWorkingTime):
        china(weekly={}, china_holidays=False).add(at(2026, 9, 28, 9), HOUR)


def test_a_team_in_another_zone_across_the_start_of_daylight_saving():
    berlin = china(tz=BERLIN, china_holidays=False)
    # Fri 27 Mar 2026 17:00 CET (16:00 UTC): 1 h; Europe moves to CEST on Sun 29 Mar;
    # Mon 30 Mar 09:00 CEST (07:00 UTC) + 7 h = 16:00 CEST = 14:00 UTC.
    due = berlin.add(at(2026, 3, 27, 17, tz=BERLIN), 8 * HOUR)
    assert due == datetime(2026, 3, 30, 14, 0, tzinfo=UTC)
    assert berlin.elapsed(at(2026, 3, 27, 17, tz=BERLIN), due) == 8 * HOUR


def test_a_team_in_another_zone_across_the_end_of_daylight_saving():
    berlin = china(tz=BERLIN, china_holidays=False)
    # Fri 23 Oct 2026 17:00 CEST (15:00 UTC); CET from Sun 25 Oct; Mon 09:00 CET = 08:00 UTC.
    due = berlin.add(at(2026, 10, 23, 17, tz=BERLIN), 8 * HOUR)
    assert due == datetime(2026, 10, 26, 15, 0, tzinfo=UTC)


def test_24x7_counts_every_minute():
    start = at(2026, 9, 30, 17, 30)
    assert ALWAYS.add(start, 8 * HOUR) == start + 8 * HOUR
    assert ALWAYS.elapsed(start, start + 3 * HOUR) == 3 * HOUR


# ---------------------------------------------------------------- deadlines and notices


@pytest.fixture
def working_days(db):
    calendar = BusinessCalendar.objects.get(name="Mainland China working days")
    SlaPolicy.objects.filter(severity__in=["P2", "P3"]).update(calendar=calendar)
    return calendar


def test_the_migration_seeds_a_calendar_and_leaves_every_level_24x7(db):
    calendar = BusinessCalendar.objects.get(name="Mainland China working days")
    assert calendar.china_holidays is True
    hours = sorted(calendar.hours.values_list("weekday", "start", "end"))
    assert hours == [(d, time(9), time(18)) for d in range(5)]
    assert list(SlaPolicy.objects.exclude(calendar=None)) == []
    assert working_time(None) is ALWAYS


def test_a_business_hours_level_sets_the_deadlines_in_working_time(
    clock, working_days, onduty, lead
):
    clock.move_to(at(2026, 9, 30, 17, 30))
    incident = IncidentFactory(actor=onduty, severity="P2")  # respond 30 min, resolve 8 h
    assert incident.respond_by == at(2026, 9, 30, 18, 0)
    assert incident.resolve_by == at(2026, 10, 8, 16, 30)
    # The 80 % warning: 6 h 24 of working time.
    assert incident.resolve_warn_by == at(2026, 10, 8, 14, 54)


def test_a_p1_stays_24x7(clock, working_days, onduty):
    clock.move_to(at(2026, 9, 30, 17, 30))
    incident = IncidentFactory(actor=onduty, severity="P1")
    assert incident.resolve_by == at(2026, 9, 30, 21, 30)


def test_the_team_zone_decides_the_working_hours(clock, working_days, onduty):
    berlin_team = TeamFactory(slug="berlin", name="Berlin", time_zone="Europe/Berlin")
    berlin_team.members.add(onduty)
    BusinessCalendar.objects.filter(pk=working_days.pk).update(china_holidays=False)
    clock.move_to(at(2026, 3, 27, 17, tz=BERLIN))
    incident = IncidentFactory(actor=onduty, severity="P2", team=berlin_team)
    assert incident.resolve_by == datetime(2026, 3, 30, 14, 0, tzinfo=UTC)


def test_no_notice_falls_due_over_the_holiday_and_the_ladder_runs_in_working_time(
    clock, working_days, onduty, lead, manager
):
    LadderStep.objects.filter(clock="respond", level=2).update(after_minutes=60)
    LadderStep.objects.filter(clock="respond", level=3).update(after_minutes=120)
    clock.move_to(at(2026, 9, 30, 17, 50))
    incident = IncidentFactory(actor=onduty, severity="P2")  # respond: 10 min + 20 min
    assert incident.respond_by == at(2026, 10, 8, 9, 20)

    clock.move_to(at(2026, 10, 7, 23, 59))
    sweep_due_deadlines()
    assert not Notice.objects.filter(incident=incident).exists()

    clock.move_to(at(2026, 10, 8, 9, 20))
    sweep_due_deadlines()
    assert list(Notice.objects.filter(incident=incident).values_list("clock", "level")) == [
        ("respond", 1)
    ]
    # Level 2, 60 working minutes later: 09:20 + 60 min on Thursday 8 Oct = 10:20.
    clock.move_to(at(2026, 10, 8, 10, 19))
    sweep_due_deadlines()
    assert Notice.objects.filter(incident=incident, level=2).count() == 0
    clock.move_to(at(2026, 10, 8, 10, 20))
    sweep_due_deadlines()
    notice = Notice.objects.get(incident=incident, clock="respond", level=2)
    assert notice.due_at == at(2026, 10, 8, 10, 20)
    assert notice.late is False


def test_a_ladder_step_past_the_end_of_the_day_waits_for_the_next_working_morning(
    clock, working_days, onduty, lead, manager
):
    LadderStep.objects.filter(clock="respond", level=2).update(after_minutes=60)
    LadderStep.objects.filter(clock="respond", level=3).update(after_minutes=120)
    clock.move_to(at(2026, 10, 9, 17, 0))  # Friday; Saturday 10 Oct is a make-up day
    incident = IncidentFactory(actor=onduty, severity="P2")
    assert incident.respond_by == at(2026, 10, 9, 17, 30)
    clock.move_to(at(2026, 10, 9, 17, 30))
    sweep_due_deadlines()
    clock.move_to(at(2026, 10, 10, 9, 29))
    sweep_due_deadlines()
    assert Notice.objects.filter(incident=incident, level=2).count() == 0
    clock.move_to(at(2026, 10, 10, 9, 30))  # 30 min on Friday + 30 min on Saturday
    sweep_due_deadlines()
    assert Notice.objects.filter(incident=incident, clock="respond", level=2).count() == 1


def test_a_pause_on_a_business_hours_level_adds_back_only_its_working_time(
    clock, working_days, lead, owner
):
    clock.move_to(at(2026, 9, 28, 9))  # Monday
    incident = in_progress_incident(lead=lead, owner=owner, severity="P2")
    assert incident.resolve_by == at(2026, 9, 28, 17)
    clock.move_to(at(2026, 9, 28, 16))
    services.incident_pause(incident=incident, actor=owner, reason="Vendor")
    clock.move_to(at(2026, 9, 29, 10))  # 16-18 Mon and 9-10 Tue: 3 working hours
    services.incident_resume(incident=incident, actor=owner)
    incident.refresh_from_db()
    assert incident.resolve_by == at(2026, 9, 29, 11)  # 17:00 Mon + 3 working hours
    assert incident.paused_for == 18 * HOUR  # wall time


def test_an_administrators_holiday_moves_new_deadlines(clock, working_days, onduty):
    CalendarDay.objects.create(
        calendar=working_days, day=date(2026, 11, 9), kind="holiday", name="Company day"
    )
    clock.move_to(at(2026, 11, 6, 17, 30))
    incident = IncidentFactory(actor=onduty, severity="P2")
    assert incident.resolve_by == at(2026, 11, 10, 16, 30)


def test_after_an_outage_a_business_hours_level_catches_up_with_one_late_notice(
    clock, working_days, onduty, lead, manager
):
    clock.move_to(at(2026, 11, 6, 17, 50))  # Friday: respond due Monday 09:20
    incident = IncidentFactory(actor=onduty, severity="P2")
    # Nothing swept until Monday noon (beat was down over the weekend).
    clock.move_to(at(2026, 11, 9, 12, 0))
    sweep_due_deadlines()
    sweep_due_deadlines()
    notices = list(Notice.objects.filter(incident=incident, clock="respond"))
    assert [(n.level, n.late) for n in notices] == [(3, True)]  # jumped, once
    assert notices[0].deadline == at(2026, 11, 9, 9, 20)
