"""SLA time: wall time on a 24×7 level, working time on a business-hours level.

A business calendar (BusinessCalendar) has working hours per weekday, in the
time zone of the incident's team. Which days are worked:

1. a day the administrator added to the calendar (CalendarDay): a holiday or
   a working day, as they said;
2. else, with `china_holidays` on, the statutory holidays and make-up working
   days (调休) of mainland China from `chinese-calendar`, for the years it
   knows;
3. else, the days of the week that have working hours.

A worked day that has no hours of its own (a make-up Saturday) uses the hours
of the first weekday that has some. All arithmetic runs on UTC instants, so a
daylight-saving change inside a span counts the hours that really passed.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext

from common import clock
from escalation.models import BusinessCalendar, CalendarDay

# Far enough for any real deadline; a calendar with no working time at all
# (refused by its form) would otherwise loop for ever.
MAX_DAYS = 3 * 366


class NoWorkingTime(ValueError):
    """The calendar has no working time within MAX_DAYS of the start."""


@lru_cache(maxsize=4096)
def china_workday(day: date) -> bool | None:
    """Whether mainland China works on `day` (holidays, 调休); None for a year the
    library does not know."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def china_years_known() -> tuple[int, int]:
    """The first and last years `chinese-calendar` has holidays for."""
    years = sorted({d.year for d in chinese_calendar.holidays})
    return years[0], years[-1]


class TwentyFourSeven:
    """Every minute counts: a level with no calendar."""

    business_hours = False

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


ALWAYS = TwentyFourSeven()


@dataclass(frozen=True)
class WorkingTime:
    """A business calendar made ready for arithmetic in one time zone.

    `weekly`: weekday (0 = Monday) → its working intervals as (start, end) local
    times. `extra`: date → True (worked) or False (holiday), the admin's days.
    """

    weekly: dict[int, tuple[tuple[time, time], ...]]
    extra: dict[date, bool]
    china_holidays: bool
    tz: ZoneInfo
    business_hours = True

    def is_working_day(self, day: date) -> bool:
        if day in self.extra:
            return self.extra[day]
        if self.china_holidays:
            worked = china_workday(day)
            if worked is not None:
                return worked
        return bool(self.weekly.get(day.weekday()))

    def hours_of(self, day: date) -> tuple[tuple[time, time], ...]:
        if not self.is_working_day(day):
            return ()
        own = self.weekly.get(day.weekday())
        if own:
            return own
        for weekday in range(7):  # a make-up working day: a normal day's hours
            if self.weekly.get(weekday):
                return self.weekly[weekday]
        return ()

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working intervals as UTC instants."""
        spans = []
        for start, end in self.hours_of(day):
            begin = datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC)
            finish = datetime.combine(day, end, tzinfo=self.tz).astimezone(UTC)
            spans.append((begin, finish))
        return spans

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of working time has passed since `start`."""
        start = start.astimezone(UTC)
        remaining = duration
        day = start.astimezone(self.tz).date()
        if remaining <= timedelta(0):
            return start
        for _ in range(MAX_DAYS):
            for begin, finish in self.intervals(day):
                begin = max(begin, start)
                if begin >= finish:
                    continue
                available = finish - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += timedelta(days=1)
        raise NoWorkingTime(f"no working time within {MAX_DAYS} days of {start.isoformat()}")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants (zero if `end` is not after `start`)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        total = timedelta(0)
        if end <= start:
            return total
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            for begin, finish in self.intervals(day):
                begin, finish = max(begin, start), min(finish, end)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total


def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or settings.TIME_ZONE)


# ---------------------------------------------------------------- holiday data check

# From this day of the year on, next year's holidays are expected to be in: the
# State Council publishes them in the autumn, and the first deadlines that count
# next year's working days are set in December.
NEXT_YEAR_FROM = (11, 1)


@lru_cache(maxsize=1)
def _library_years() -> frozenset[int]:
    return frozenset(d.year for d in chinese_calendar.holidays)


def holiday_data_gaps(today: date | None = None, *, calendar_id: int | None = None):
    """(calendar, year) for each calendar with `china_holidays` on that has no
    holiday data for a year it needs: the current year always, the next one from
    1 November. A year has data when `chinese-calendar` knows it or the calendar
    has at least one CalendarDay in it. One query, none while the library knows
    both years. `today`: the site's local date by default."""
    if today is None:
        today = clock.now().astimezone(zone(None)).date()
    years = [today.year]
    if (today.month, today.day) >= NEXT_YEAR_FROM:
        years.append(today.year + 1)
    years = [y for y in years if y not in _library_years()]
    if not years:
        return []
    calendars = BusinessCalendar.objects.filter(china_holidays=True)
    if calendar_id is not None:
        calendars = calendars.filter(pk=calendar_id)
    calendars = calendars.annotate(
        **{
            f"has_{y}": Exists(CalendarDay.objects.filter(calendar=OuterRef("pk"), day__year=y))
            for y in years
        }
    ).order_by("name")
    return [(c, y) for c in calendars for y in years if not getattr(c, f"has_{y}")]


def holiday_data_warnings(
    today: date | None = None, *, calendar_id: int | None = None
) -> list[str]:
    """One sentence per calendar and year without holiday data (holiday_data_gaps),
    in the active language."""
    return [
        gettext(
            "Calendar “%(name)s” has no holiday data for %(year)s: import the year's "
            "holidays and working weekend days."
        )
        % {"name": calendar.name, "year": year}
        for calendar, year in holiday_data_gaps(today, calendar_id=calendar_id)
    ]
