"""Years without holiday data: the warning (healthz has its own in tests/config), the
dashboard and the admin showing it, and importing a year from a CSV or an .ics file
by `manage.py import_calendar` and by the admin's "Import holidays" page.

tests/escalation/data holds a made-up 2031: New Year's Day, a Spring Festival from
Wed 22 to Wed 29 January and two make-up Saturdays (18 January, 8 February).
"""

from datetime import date, datetime
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from escalation.calendar_import import calendar_import
from escalation.calendars import holiday_data_warnings
from escalation.models import BusinessCalendar, CalendarDay, SlaPolicy
from tests.factories import IncidentFactory, make_user

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SEEDED = "Mainland China working days"
WARNING_2027 = (
    "Calendar “Mainland China working days” has no holiday data for 2027: import the "
    "year's holidays and working weekend days."
)
HOLIDAYS_2031 = [date(2031, 1, 1)] + [date(2031, 1, d) for d in range(22, 30)]
WORKDAYS_2031 = [date(2031, 1, 18), date(2031, 2, 8)]


def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture
def seeded(db):
    return BusinessCalendar.objects.get(name=SEEDED)


@pytest.fixture
def superuser(admin):
    admin.is_staff = admin.is_superuser = True  # as seed_demo makes the admin
    admin.save()
    return admin


def days_of(calendar) -> dict[date, tuple[str, str]]:
    return {d.day: (d.kind, d.name) for d in CalendarDay.objects.filter(calendar=calendar)}


def import_file(calendar, name: str):
    return calendar_import(calendar=calendar, data=(DATA / name).read_bytes(), filename=name)


# ---------------------------------------------------------------- the warning


def test_it_warns_about_next_year_from_the_first_of_november(seeded):
    assert holiday_data_warnings(date(2026, 10, 31)) == []
    assert holiday_data_warnings(date(2026, 11, 1)) == [WARNING_2027]
    assert holiday_data_warnings(date(2026, 12, 31)) == [WARNING_2027]


def test_it_warns_about_the_current_year_all_year(seeded):
    assert holiday_data_warnings(date(2027, 1, 1)) == [WARNING_2027]
    assert holiday_data_warnings(date(2027, 10, 31)) == [WARNING_2027]
    # From November both: this year's data is still missing, and next year's too.
    assert holiday_data_warnings(date(2027, 11, 1)) == [
        WARNING_2027,
        WARNING_2027.replace("2027", "2028"),
    ]


def test_it_reads_the_projects_clock_in_the_sites_time_zone(clock, seeded):
    clock.move_to(at(2026, 10, 31, 23, 59))
    assert holiday_data_warnings() == []
    # 1 November 00:30 in Shanghai is still 31 October in UTC.
    clock.move_to(at(2026, 11, 1, 0, 30))
    assert holiday_data_warnings() == [WARNING_2027]


def test_it_is_silent_for_a_year_the_calendar_has_days_of(seeded):
    BusinessCalendar.objects.create(name="Shenzhen office")
    CalendarDay.objects.create(calendar=seeded, day=date(2027, 2, 8), kind="holiday")
    assert holiday_data_warnings(date(2026, 11, 1)) == [
        "Calendar “Shenzhen office” has no holiday data for 2027: import the year's "
        "holidays and working weekend days."
    ]
    assert holiday_data_warnings(date(2026, 11, 1), calendar_id=seeded.pk) == []


def test_it_ignores_a_calendar_without_chinas_holidays(seeded):
    BusinessCalendar.objects.filter(pk=seeded.pk).update(china_holidays=False)
    assert holiday_data_warnings(date(2027, 3, 1)) == []


def test_it_costs_one_query_and_none_while_the_library_knows_the_years(
    seeded, django_assert_num_queries
):
    for n in range(5):
        BusinessCalendar.objects.create(name=f"Office {n}")
    with django_assert_num_queries(1):
        assert len(holiday_data_warnings(date(2027, 11, 1))) == 12
    with django_assert_num_queries(0):
        assert holiday_data_warnings(date(2026, 6, 1)) == []


# ---------------------------------------------------------------- dashboard and admin


def test_the_dashboard_shows_the_warning_to_admins_and_not_to_a_lead(
    clock, client, admin, manager, lead
):
    client.force_login(admin)  # the admin role, not a superuser
    body = client.get("/dashboard/").content.decode()
    assert "data-holiday-warning" in body
    assert "has no holiday data for 2027" in body
    for user in (lead, manager):
        client.force_login(user)
        body = client.get("/dashboard/").content.decode()
        assert "has no holiday data" not in body, user.username


def test_a_superuser_sees_it_with_a_link_to_the_calendars(clock, client, superuser):
    client.force_login(superuser)
    body = client.get("/dashboard/").content.decode()
    assert "has no holiday data for 2027" in body
    assert 'href="/admin/escalation/businesscalendar/"' in body


def test_the_dashboard_costs_a_lead_no_query_for_it(clock, client, lead, admin):
    def count(user, when):
        clock.move_to(when)
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/dashboard/").status_code == 200
        return len(captured.captured_queries)

    # June: the library knows 2026, the check needs no query; December: one.
    assert count(admin, at(2026, 12, 1)) == count(admin, at(2026, 6, 1)) + 1
    assert count(lead, at(2026, 12, 1)) == count(lead, at(2026, 6, 1))


def test_the_admin_shows_the_warning_on_the_calendar_and_the_list(clock, client, superuser, seeded):
    client.force_login(superuser)
    page = client.get(f"/admin/escalation/businesscalendar/{seeded.pk}/change/")
    assert page.status_code == 200
    assert "has no holiday data for 2027" in page.content.decode()
    assert f"/admin/escalation/businesscalendar/{seeded.pk}/import/" in page.content.decode()
    listing = client.get("/admin/escalation/businesscalendar/").content.decode()
    assert "has no holiday data for 2027" in listing
    CalendarDay.objects.create(calendar=seeded, day=date(2027, 1, 1), kind="holiday")
    page = client.get(f"/admin/escalation/businesscalendar/{seeded.pk}/change/")
    assert "has no holiday data" not in page.content.decode()


# ---------------------------------------------------------------- the import


def test_it_imports_a_year_from_csv_and_from_ics_alike(seeded):
    result = import_file(seeded, "holidays-2031.csv")
    assert (result.holidays, result.workdays, result.created, result.updated) == (9, 2, 11, 0)
    assert result.years == (2031,)
    from_csv = days_of(seeded)
    assert sorted(d for d, (kind, _n) in from_csv.items() if kind == "holiday") == HOLIDAYS_2031
    assert sorted(d for d, (kind, _n) in from_csv.items() if kind == "workday") == WORKDAYS_2031
    assert from_csv[date(2031, 1, 22)] == ("holiday", "春节")

    other = BusinessCalendar.objects.create(name="From ics")
    result = import_file(other, "holidays-2031.ics")
    assert (result.holidays, result.workdays, result.created) == (9, 2, 11)
    from_ics = days_of(other)
    assert {d: kind for d, (kind, _n) in from_ics.items()} == {
        d: kind for d, (kind, _n) in from_csv.items()
    }
    assert from_ics[date(2031, 2, 8)] == ("workday", "春节调休上班")


def test_it_updates_the_days_the_calendar_has_and_keeps_the_others(seeded):
    CalendarDay.objects.create(calendar=seeded, day=date(2031, 1, 22), kind="workday", name="Old")
    CalendarDay.objects.create(calendar=seeded, day=date(2031, 5, 6), kind="holiday", name="Ours")
    result = import_file(seeded, "holidays-2031.csv")
    assert (result.created, result.updated) == (10, 1)
    days = days_of(seeded)
    assert days[date(2031, 1, 22)] == ("holiday", "春节")
    assert days[date(2031, 5, 6)] == ("holiday", "Ours")
    again = import_file(seeded, "holidays-2031.csv")
    assert (again.created, again.updated) == (0, 0)


def test_it_reads_a_spreadsheets_csv_with_a_byte_order_mark_and_crlf(seeded):
    data = "\ufeffDate,Kind,Name\r\n2031-01-22,Holiday,春节\r\n\r\n2031-02-08,WORKDAY,\r\n"
    result = calendar_import(calendar=seeded, data=data.encode(), filename="export.csv")
    assert (result.holidays, result.workdays) == (1, 1)
    assert days_of(seeded) == {
        date(2031, 1, 22): ("holiday", "春节"),
        date(2031, 2, 8): ("workday", ""),
    }


@pytest.mark.parametrize(
    ("summary", "kind"),
    [
        ("春节补班", "workday"),
        ("上班", "workday"),
        ("Spring Festival working day", "workday"),
        ("Make-up Workday", "workday"),
        ("Work day", "workday"),
        ("春节", "holiday"),
        ("Labour Day", "holiday"),
        ("休", "holiday"),
    ],
)
def test_an_ics_event_is_a_working_day_when_its_summary_says_so(seeded, summary, kind):
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:1@t\r\nSUMMARY:{summary}\r\nDTSTART;VALUE=DATE:20310301\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    calendar_import(calendar=seeded, data=ics.encode(), filename="x.ics")
    assert days_of(seeded) == {date(2031, 3, 1): (kind, summary)}


def test_the_import_silences_the_warning_of_its_year(seeded):
    assert "2031" in " ".join(holiday_data_warnings(date(2031, 2, 1)))
    import_file(seeded, "holidays-2031.ics")
    assert holiday_data_warnings(date(2031, 2, 1)) == []


def test_after_the_import_a_deadline_skips_the_holiday_and_counts_the_make_up_day(
    clock, seeded, onduty
):
    SlaPolicy.objects.filter(severity="P2").update(calendar=seeded)  # resolve in 8 working hours
    # Without 2031's data: Tue 21 Jan 17:30 + 8 h is Wednesday 16:30, a festival day.
    clock.move_to(at(2031, 1, 21, 17, 30))
    assert IncidentFactory(actor=onduty, severity="P2").resolve_by == at(2031, 1, 22, 16, 30)
    # Fri 7 Feb 17:30 + 8 h would be Monday: Saturday 8 Feb is a weekend day.
    clock.move_to(at(2031, 2, 7, 17, 30))
    assert IncidentFactory(actor=onduty, severity="P2").resolve_by == at(2031, 2, 10, 16, 30)

    import_file(seeded, "holidays-2031.csv")
    # 30 min on Tuesday, 22-29 Jan off, 7 h 30 on Thursday 30 Jan.
    clock.move_to(at(2031, 1, 21, 17, 30))
    assert IncidentFactory(actor=onduty, severity="P2").resolve_by == at(2031, 1, 30, 16, 30)
    # 30 min on Friday, 7 h 30 on make-up Saturday 8 Feb.
    clock.move_to(at(2031, 2, 7, 17, 30))
    assert IncidentFactory(actor=onduty, severity="P2").resolve_by == at(2031, 2, 8, 16, 30)


# ---------------------------------------------------------------- bad files

CSV_HEAD = "date,kind,name\n"
BAD_FILES = [
    ("wrong header", "x.csv", b"day,type,name\n2031-01-22,holiday,x\n", "Line 1: the header"),
    ("no name column", "x.csv", b"date,kind\n2031-01-22,holiday\n", "Line 1: the header"),
    (
        "bad date",
        "x.csv",
        (CSV_HEAD + "2031-01-22,holiday,ok\n2031-02-30,holiday,x\n").encode(),
        "Line 3: “2031-02-30” is not a date",
    ),
    (
        "not an ISO day",
        "x.csv",
        (CSV_HEAD + "2031-W04-3,holiday,x\n").encode(),
        "Line 2: “2031-W04-3” is not a date",
    ),
    (
        "unknown kind",
        "x.csv",
        (CSV_HEAD + "2031-01-22,vacation,x\n").encode(),
        "Line 2: the kind must be “holiday” or “workday”, not “vacation”",
    ),
    (
        "too many fields",
        "x.csv",
        (CSV_HEAD + "2031-01-22,holiday,a,b\n").encode(),
        "Line 2: expected 3 fields",
    ),
    (
        "a date twice with different kinds",
        "x.csv",
        (CSV_HEAD + "2031-01-22,holiday,a\n2031-01-23,holiday,b\n2031-01-22,workday,c\n").encode(),
        "Line 4: 2031-01-22 is both a holiday and a working day (see line 2)",
    ),
    ("empty file", "x.csv", b"", "The file is empty."),
    ("only blank lines", "x.csv", b"\n \n", "The file is empty."),
    ("header only", "x.csv", CSV_HEAD.encode(), "The file lists no days."),
    ("binary junk", "x.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not UTF-8 text"),
    ("text with NUL bytes", "x.csv", b"date,kind,name\x00\x00", "is not a text file"),
    ("junk as ics", "x.ics", b"BEGIN:VCALENDAR\r\nthis is not ics\r\n", "not an iCalendar"),
    ("ics without a calendar", "x.ics", b"hello", "not an iCalendar"),
    (
        "timed ics event",
        "x.ics",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Lunch\r\n"
        b"DTSTART:20310122T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "Line 2: the event “Lunch” is not an all-day event",
    ),
    (
        "ics event ending before it starts",
        "x.ics",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Oops\r\nDTSTART;VALUE=DATE:20310122\r\n"
        b"DTEND;VALUE=DATE:20310120\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "Line 2: the event “Oops” must end on a later date",
    ),
    (
        "ics with a broken date",
        "x.ics",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:X\r\nDTSTART;VALUE=DATE:2031XX22\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n",
        "Line 2: the event “X” has no valid DTSTART",
    ),
    (
        "ics repeating event",
        "x.ics",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:New Year\r\nDTSTART;VALUE=DATE:20310101\r\n"
        b"RRULE:FREQ=YEARLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "Line 2: the event “New Year” repeats",
    ),
    (
        "ics with the same day twice, holiday and working day",
        "x.ics",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Festival\r\nDTSTART;VALUE=DATE:20310122\r\n"
        b"DTEND;VALUE=DATE:20310125\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Workday\r\n"
        b"DTSTART;VALUE=DATE:20310124\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "Line 7: 2031-01-24 is both a holiday and a working day (see line 2)",
    ),
]


@pytest.fixture
def existing(seeded):
    """A day of the calendar a bad file must leave as it is."""
    CalendarDay.objects.create(calendar=seeded, day=date(2031, 1, 22), kind="workday", name="Ours")
    return days_of(seeded)


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_a_bad_file_is_refused_with_its_line_and_changes_nothing(
    seeded, existing, filename, data, message
):
    with pytest.raises(ValidationError) as refused:
        calendar_import(calendar=seeded, data=data, filename=filename)
    assert any(message in m for m in refused.value.messages), refused.value.messages
    assert CalendarDay.objects.count() == 1
    assert days_of(seeded) == existing


def test_it_lists_every_bad_line_of_a_file(seeded):
    data = (CSV_HEAD + "2031-01-22,holiday,ok\n2031-13-01,holiday,x\n2031-01-23,feast,y\n").encode()
    with pytest.raises(ValidationError) as refused:
        calendar_import(calendar=seeded, data=data, filename="x.csv")
    assert [m.split(":")[0] for m in refused.value.messages] == ["Line 3", "Line 4"]
    assert not CalendarDay.objects.exists()


# ---------------------------------------------------------------- manage.py import_calendar


def test_the_command_imports_by_calendar_name(seeded):
    out = StringIO()
    call_command("import_calendar", SEEDED, str(DATA / "holidays-2031.csv"), stdout=out)
    assert "Imported 9 holidays and 2 working days for 2031" in out.getvalue()
    assert len(days_of(seeded)) == 11


def test_the_command_imports_an_ics_by_calendar_id(seeded):
    out = StringIO()
    call_command("import_calendar", str(seeded.pk), str(DATA / "holidays-2031.ics"), stdout=out)
    assert "Imported 9 holidays and 2 working days" in out.getvalue()
    assert days_of(seeded)[date(2031, 1, 18)] == ("workday", "春节补班")


def test_the_command_fails_on_a_bad_file_and_changes_nothing(seeded, existing, tmp_path):
    bad = tmp_path / "holidays.csv"
    bad.write_text(CSV_HEAD + "2031-01-25,holiday,ok\n2031-01-26,vacation,x\n")
    with pytest.raises(CommandError) as failed:
        call_command("import_calendar", SEEDED, str(bad))
    assert "Nothing imported" in str(failed.value)
    assert "Line 3: the kind must be" in str(failed.value)
    assert days_of(seeded) == existing


def test_the_command_names_the_calendars_when_it_finds_none(seeded, tmp_path):
    with pytest.raises(CommandError, match="Mainland China working days"):
        call_command("import_calendar", "Nowhere", str(DATA / "holidays-2031.csv"))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_calendar", SEEDED, str(tmp_path / "missing.csv"))
    assert not CalendarDay.objects.exists()


# ---------------------------------------------------------------- the admin's import page


def upload(name: str, data: bytes | None = None):
    return SimpleUploadedFile(name, data if data is not None else (DATA / name).read_bytes())


def import_url(calendar) -> str:
    return f"/admin/escalation/businesscalendar/{calendar.pk}/import/"


@pytest.mark.parametrize("name", ["holidays-2031.csv", "holidays-2031.ics"])
def test_the_admin_page_imports_a_file(client, superuser, seeded, name):
    client.force_login(superuser)
    assert "Import holidays" in client.get(import_url(seeded)).content.decode()
    response = client.post(import_url(seeded), {"file": upload(name)})
    assert response.status_code == 302
    assert response["Location"] == f"/admin/escalation/businesscalendar/{seeded.pk}/change/"
    days = days_of(seeded)
    assert sorted(d for d, (kind, _n) in days.items() if kind == "workday") == WORKDAYS_2031
    assert len(days) == 11
    page = client.get(response["Location"]).content.decode()
    assert "Imported 9 holidays and 2 working days for 2031" in page
    assert LogEntry.objects.filter(object_id=str(seeded.pk), user=superuser).exists()


def test_the_admin_page_shows_the_error_of_a_bad_file_and_changes_nothing(
    client, superuser, seeded, existing
):
    client.force_login(superuser)
    data = (CSV_HEAD + "2031-01-25,holiday,ok\n31/01/2031,holiday,x\n").encode()
    response = client.post(import_url(seeded), {"file": upload("bad.csv", data)})
    assert response.status_code == 400
    assert "Line 3: “31/01/2031” is not a date (YYYY-MM-DD)." in response.content.decode()
    assert days_of(seeded) == existing
    empty = client.post(import_url(seeded), {})
    assert empty.status_code == 400
    assert days_of(seeded) == existing


def test_the_admin_page_needs_its_csrf_token(superuser, seeded):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)
    response = browser.post(import_url(seeded), {"file": upload("holidays-2031.csv")})
    assert response.status_code == 403
    assert not CalendarDay.objects.exists()


def test_only_administrators_import(client, lead, seeded):
    # A staff tech lead allowed to edit calendars is no administrator: the admin
    # refuses them (config/admin.py), the import page included.
    lead.is_staff = True
    lead.save()
    lead.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_businesscalendar", "change_businesscalendar"]
        )
    )
    client.force_login(lead)
    page = client.get(f"/admin/escalation/businesscalendar/{seeded.pk}/change/")
    assert page.status_code == 403
    assert import_url(seeded) not in page.content.decode()
    assert client.get(import_url(seeded)).status_code == 403
    response = client.post(import_url(seeded), {"file": upload("holidays-2031.csv")})
    assert response.status_code == 403
    assert not CalendarDay.objects.exists()


def test_an_admin_role_user_with_the_permission_imports(client, platform, seeded):
    staff_admin = make_user("admin", platform, username="staff-admin", is_staff=True)
    staff_admin.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_businesscalendar", "change_businesscalendar"]
        )
    )
    client.force_login(staff_admin)
    response = client.post(import_url(seeded), {"file": upload("holidays-2031.csv")})
    assert response.status_code == 302
    assert len(days_of(seeded)) == 11
