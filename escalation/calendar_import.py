"""Import a year's holidays and make-up working days (调休) into a business calendar.

Two formats, told apart by the file name (`.csv`, `.ics`; any other name by its
content):

- CSV, UTF-8, header `date,kind,name`: one day per line, `date` as YYYY-MM-DD,
  `kind` `holiday` or `workday`, `name` optional. Blank lines are skipped.
- iCalendar (.ics): every VEVENT an all-day event (DTSTART a date); it covers
  DTSTART up to, not including, DTEND (one day without DTEND; DURATION in days
  is read too). An event whose SUMMARY contains 班 (上班, 补班, 调休上班) or the
  words "working day", "work day" or "workday" (any case) is a working day,
  every other event a holiday. Cancelled events (STATUS:CANCELLED) are skipped;
  recurring events (RRULE) are refused: list each day of the year.

Each day becomes a CalendarDay of the calendar: created, or updated when the
calendar has that day already; the calendar's other days stay. CalendarDay wins
over the holiday library (escalation.calendars), so an import also corrects a
year the library knows. Names longer than the field are cut.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

import icalendar
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from escalation.models import BusinessCalendar, CalendarDay

MAX_BYTES = 1_000_000  # a year is a few dozen lines; a feed of decades fits easily
MAX_EVENT_DAYS = 31  # the longest real holiday is under two weeks
MAX_ERRORS = 20  # report this many problems of a bad file, then stop listing
HEADER = ["date", "kind", "name"]
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
WORKDAY_SUMMARY = re.compile(r"班|work\s*-?\s*day|working\s+day", re.IGNORECASE)
NAME_LENGTH = CalendarDay._meta.get_field("name").max_length


@dataclass(frozen=True)
class ImportResult:
    holidays: int
    workdays: int
    created: int
    updated: int
    years: tuple[int, ...]


@dataclass(frozen=True)
class _Day:
    day: date
    kind: str
    name: str
    line: int


class _Problems:
    """A bad file's problems, each naming its line; raised together."""

    def __init__(self):
        self.messages: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.messages.append(_("Line %(line)s: %(problem)s") % {"line": line, "problem": message})

    def raise_any(self) -> None:
        if not self.messages:
            return
        shown = self.messages[:MAX_ERRORS]
        if len(self.messages) > MAX_ERRORS:
            shown.append(
                _("… and %(count)s more problems.") % {"count": len(self.messages) - MAX_ERRORS}
            )
        raise ValidationError(shown)


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ValidationError(
            _("The file is larger than %(size)s KB: is it the right file?")
            % {"size": MAX_BYTES // 1000}
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            _("The file is not UTF-8 text (a byte at position %(position)s cannot be read).")
            % {"position": exc.start}
        ) from None
    if "\x00" in text:
        raise ValidationError(_("The file is not a text file."))
    if not text.strip():
        raise ValidationError(_("The file is empty."))
    return text


def _read_csv(text: str, problems: _Problems) -> list[_Day]:
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if [cell.strip().lower() for cell in header or []] != HEADER:
        raise ValidationError(
            _("Line 1: the header must be “date,kind,name”, not “%(header)s”.")
            % {"header": ",".join(header or [])}
        )
    days = []
    try:
        for cells in rows:
            line = rows.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) not in (2, 3):
                problems.add(
                    line,
                    _("expected 3 fields (date,kind,name), found %(count)s.")
                    % {"count": len(cells)},
                )
                continue
            raw_day, raw_kind = cells[0].strip(), cells[1].strip().lower()
            name = cells[2].strip() if len(cells) == 3 else ""
            try:
                if not ISO_DATE.fullmatch(raw_day):
                    raise ValueError(raw_day)
                day = date.fromisoformat(raw_day)
            except ValueError:
                problems.add(
                    line, _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw_day}
                )
                continue
            if raw_kind not in CalendarDay.Kind.values:
                problems.add(
                    line,
                    _("the kind must be “holiday” or “workday”, not “%(value)s”.")
                    % {"value": cells[1].strip()},
                )
                continue
            days.append(_Day(day, raw_kind, name[:NAME_LENGTH], line))
    except csv.Error as exc:
        problems.add(rows.line_num, _("this is not CSV (%(error)s).") % {"error": exc})
    return days


def _event_lines(text: str) -> list[int]:
    """The line number of each BEGIN:VEVENT, in the order icalendar walks them."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip().upper() == "BEGIN:VEVENT"
    ]


def _read_ics(text: str, problems: _Problems) -> list[_Day]:
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise ValidationError(
            _("The file is not an iCalendar (.ics) file: %(error)s") % {"error": exc}
        ) from None
    if calendar.name != "VCALENDAR":
        raise ValidationError(_("The file is not an iCalendar (.ics) file: no VCALENDAR."))
    lines = _event_lines(text)
    days = []
    for index, event in enumerate(calendar.walk("VEVENT")):
        line = lines[index] if index < len(lines) else 0
        summary = str(event.get("SUMMARY", "")).strip()
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue  # a feed's withdrawn day
        broken = {name.upper() for name, _error in event.errors}
        if "DTSTART" in broken or event.get("DTSTART") is None:
            problems.add(line, _("the event “%(name)s” has no valid DTSTART.") % {"name": summary})
            continue
        start = event.get("DTSTART").dt
        if not isinstance(start, date) or hasattr(start, "hour"):
            problems.add(
                line,
                _("the event “%(name)s” is not an all-day event (DTSTART;VALUE=DATE).")
                % {"name": summary},
            )
            continue
        if event.get("RRULE") is not None:
            problems.add(
                line,
                _("the event “%(name)s” repeats (RRULE): list each day instead.")
                % {"name": summary},
            )
            continue
        if "DTEND" in broken or "DURATION" in broken:
            problems.add(line, _("the event “%(name)s” has a broken end.") % {"name": summary})
            continue
        if event.get("DTEND") is not None:
            end = event.get("DTEND").dt
        elif event.get("DURATION") is not None:
            end = start + event.get("DURATION").dt
        else:
            end = start + timedelta(days=1)
        if not isinstance(end, date) or hasattr(end, "hour") or end <= start:
            problems.add(
                line,
                _("the event “%(name)s” must end on a later date than it starts.")
                % {"name": summary},
            )
            continue
        if (end - start).days > MAX_EVENT_DAYS:
            problems.add(
                line,
                _("the event “%(name)s” covers %(count)s days; at most %(limit)s are allowed.")
                % {"name": summary, "count": (end - start).days, "limit": MAX_EVENT_DAYS},
            )
            continue
        if WORKDAY_SUMMARY.search(summary):
            kind = CalendarDay.Kind.WORKDAY.value
        else:
            kind = CalendarDay.Kind.HOLIDAY.value
        for offset in range((end - start).days):
            days.append(_Day(start + timedelta(days=offset), kind, summary[:NAME_LENGTH], line))
    return days


def _parse(data: bytes, filename: str) -> list[_Day]:
    """The file's days, one per date, or ValidationError listing every problem."""
    text = _text(data)
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    is_ics = suffix == "ics" or (suffix != "csv" and text.lstrip().upper().startswith("BEGIN:"))
    problems = _Problems()
    days = _read_ics(text, problems) if is_ics else _read_csv(text, problems)
    seen: dict[date, _Day] = {}
    for item in days:
        first = seen.setdefault(item.day, item)
        if first.kind != item.kind:
            problems.add(
                item.line,
                _("%(day)s is both a holiday and a working day (see line %(first)s).")
                % {"day": item.day.isoformat(), "first": first.line},
            )
    problems.raise_any()
    if not seen:
        raise ValidationError(_("The file lists no days."))
    return sorted(seen.values(), key=lambda d: d.day)


@transaction.atomic
def calendar_import(*, calendar: BusinessCalendar, data: bytes, filename: str) -> ImportResult:
    """Write the holidays and working days of a CSV or .ics file (see the module's
    docstring) into `calendar`: each day created, or updated if the calendar has
    it. The whole file is checked first; a bad one raises ValidationError naming
    each bad line and changes nothing."""
    days = _parse(data, filename)
    existing = {
        d.day: d
        for d in CalendarDay.objects.select_for_update().filter(
            calendar=calendar, day__in=[d.day for d in days]
        )
    }
    created, updated = [], []
    for item in days:
        row = existing.get(item.day)
        if row is None:
            created.append(
                CalendarDay(calendar=calendar, day=item.day, kind=item.kind, name=item.name)
            )
        elif (row.kind, row.name) != (item.kind, item.name):
            row.kind, row.name = item.kind, item.name
            updated.append(row)
    CalendarDay.objects.bulk_create(created)
    CalendarDay.objects.bulk_update(updated, ["kind", "name"])
    return ImportResult(
        holidays=sum(d.kind == CalendarDay.Kind.HOLIDAY for d in days),
        workdays=sum(d.kind == CalendarDay.Kind.WORKDAY for d in days),
        created=len(created),
        updated=len(updated),
        years=tuple(sorted({d.day.year for d in days})),
    )
