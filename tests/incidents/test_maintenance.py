"""Maintenance windows: when they run, which alert they cover, who writes them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from incidents import maintenance, rules
from incidents.maintenance import services
from incidents.maintenance.services import WindowNotActive
from incidents.models import MaintenanceWindow, Service
from tests.conftest import NOW


def window(team, **fields) -> MaintenanceWindow:
    """A window stored as given (the schedule tests need rows the services refuse)."""
    services = fields.pop("services", ())
    fields.setdefault("title", "DB upgrade")
    fields.setdefault("starts_at", NOW - timedelta(hours=1))
    if not fields.get("recurrence"):
        fields.setdefault("ends_at", NOW + timedelta(hours=1))
    row = MaintenanceWindow.objects.create(team=team, **fields)
    row.services.set(services)
    return row


# ---------------------------------------------------------------- active windows


def test_it_lists_the_teams_running_windows_in_two_queries(
    platform, payments, django_assert_num_queries
):
    running = window(platform, title="running")
    window(
        platform,
        title="later",
        starts_at=NOW + timedelta(hours=2),
        ends_at=NOW + timedelta(hours=3),
    )
    window(
        platform, title="over", starts_at=NOW - timedelta(hours=3), ends_at=NOW - timedelta(hours=2)
    )
    window(platform, title="ended early", ended_at=NOW - timedelta(minutes=5))
    weekly = window(
        platform,
        title="weekly",
        starts_at=NOW - timedelta(days=7, minutes=30),
        recurrence="FREQ=WEEKLY",
        duration_minutes=60,
    )
    window(
        platform,
        title="weekly, not now",
        starts_at=NOW - timedelta(days=7, hours=3),
        recurrence="FREQ=WEEKLY",
        duration_minutes=60,
    )
    window(payments, title="other team")
    with django_assert_num_queries(2):
        found = maintenance.active_windows(team_id=platform.pk, at=NOW)
        titles = [w.title for w in found]
        [list(w.services.all()) for w in found]
    assert titles == [running.title, weekly.title]


def test_it_keeps_the_query_count_with_more_windows(platform, django_assert_num_queries):
    for n in range(6):
        window(
            platform,
            title=f"w{n}",
            services=[Service.objects.create(team=platform, slug=f"s{n}", name=f"S{n}")],
        )
    with django_assert_num_queries(2):
        found = maintenance.active_windows(team_id=platform.pk, at=NOW)
        assert all(len(w.services.all()) == 1 for w in found)
    assert len(found) == 6


# ---------------------------------------------------------------- matching


def test_it_matches_by_equality(platform):
    db = window(platform, matchers=[{"name": "job", "value": "mysql", "is_regex": False}])
    assert maintenance.window_matching([db], labels={"job": "mysql", "x": "y"}) == db
    assert maintenance.window_matching([db], labels={"job": "mysql-2"}) is None
    assert maintenance.window_matching([db], labels={}) is None


def test_it_matches_a_regex_against_the_whole_value(platform):
    db = window(platform, matchers=[{"name": "instance", "value": "db-[0-9]+", "is_regex": True}])
    assert maintenance.window_matching([db], labels={"instance": "db-12"}) == db
    assert maintenance.window_matching([db], labels={"instance": "db-12.example"}) is None
    assert maintenance.window_matching([db], labels={"instance": "old-db-12"}) is None


def test_it_needs_every_matcher(platform):
    db = window(
        platform,
        matchers=[
            {"name": "job", "value": "mysql", "is_regex": False},
            {"name": "env", "value": "prod|staging", "is_regex": True},
        ],
    )
    assert maintenance.window_matching([db], labels={"job": "mysql", "env": "staging"}) == db
    assert maintenance.window_matching([db], labels={"job": "mysql", "env": "dev"}) is None
    assert maintenance.window_matching([db], labels={"job": "redis", "env": "prod"}) is None


def test_it_matches_the_service_label_against_the_windows_services(platform):
    api = Service.objects.create(team=platform, slug="api", name="API")
    web = Service.objects.create(team=platform, slug="web", name="Web")
    scoped = window(platform, services=[api, web])
    assert maintenance.window_matching([scoped], labels={"service": "web"}) == scoped
    assert maintenance.window_matching([scoped], labels={"service": "db"}) is None
    assert maintenance.window_matching([scoped], labels={"job": "api"}) is None


def test_it_matches_every_alert_with_neither_matchers_nor_services(platform):
    everything = window(platform)
    assert maintenance.window_matching([everything], labels={}) == everything
    assert maintenance.window_matching([everything], labels={"a": "b"}) == everything


def test_it_prefers_suppress_then_the_earliest_created(platform):
    mark = window(platform, title="mark", mode=MaintenanceWindow.Mode.MARK)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        late = window(platform, title="late suppress")
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        early = window(platform, title="early suppress")
    assert maintenance.window_matching([mark, late, early], labels={}) == early
    assert maintenance.window_matching([mark, late], labels={}) == late
    assert maintenance.window_matching([mark], labels={}) == mark
    assert maintenance.window_matching([], labels={}) is None


# ---------------------------------------------------------------- schedule


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_it_gives_a_one_off_window_its_one_occurrence(platform):
    one = window(platform, starts_at=utc(2026, 11, 26, 1), ends_at=utc(2026, 11, 26, 3))
    assert maintenance.occurrences(one, utc(2026, 11, 25), utc(2026, 11, 27)) == [
        (utc(2026, 11, 26, 1), utc(2026, 11, 26, 3))
    ]
    assert maintenance.occurrences(one, utc(2026, 11, 26, 3), utc(2026, 11, 27)) == []
    assert maintenance.occurrences(one, utc(2026, 11, 25), utc(2026, 11, 26, 1)) == []
    assert maintenance.is_active(one, utc(2026, 11, 26, 1))
    assert not maintenance.is_active(one, utc(2026, 11, 26, 3))
    assert maintenance.next_occurrences(one, utc(2026, 11, 25)) == [utc(2026, 11, 26, 1)]
    assert maintenance.next_occurrences(one, utc(2026, 11, 26, 2)) == []


def test_it_repeats_at_the_wall_time_of_the_teams_zone(platform):
    # The site's zone (Asia/Shanghai): Tuesdays 22:00 local = 14:00 UTC.
    weekly = window(
        platform,
        starts_at=utc(2026, 11, 24, 14),
        recurrence="FREQ=WEEKLY;BYDAY=TU",
        duration_minutes=90,
    )
    assert maintenance.next_occurrences(weekly, utc(2026, 11, 26)) == [
        utc(2026, 12, 1, 14),
        utc(2026, 12, 8, 14),
        utc(2026, 12, 15, 14),
        utc(2026, 12, 22, 14),
        utc(2026, 12, 29, 14),
    ]
    assert maintenance.current_occurrence(weekly, utc(2026, 12, 1, 15)) == (
        utc(2026, 12, 1, 14),
        utc(2026, 12, 1, 15, 30),
    )
    assert maintenance.current_occurrence(weekly, utc(2026, 12, 1, 15, 30)) is None
    assert maintenance.occurrences(weekly, utc(2026, 12, 1, 15), utc(2026, 12, 9)) == [
        (utc(2026, 12, 1, 14), utc(2026, 12, 1, 15, 30)),
        (utc(2026, 12, 8, 14), utc(2026, 12, 8, 15, 30)),
    ]


def test_it_keeps_the_wall_time_across_the_berlin_dst_changes(platform):
    platform.time_zone = "Europe/Berlin"
    platform.save()
    # Sundays 02:30 in Berlin, from 15 March 2026 (CET, +01:00).
    sundays = window(
        platform,
        starts_at=utc(2026, 3, 15, 1, 30),
        recurrence="FREQ=WEEKLY;BYDAY=SU",
        duration_minutes=60,
    )
    starts = [s for s, _e in maintenance.occurrences(sundays, utc(2026, 3, 14), utc(2026, 4, 6))]
    assert starts == [
        utc(2026, 3, 15, 1, 30),  # 02:30 CET
        utc(2026, 3, 22, 1, 30),
        # 29 March: 02:00 jumps to 03:00, so 02:30 never happens: 03:00 CEST.
        utc(2026, 3, 29, 1, 0),
        utc(2026, 4, 5, 0, 30),  # 02:30 CEST
    ]
    # 25 October: 02:30 happens twice; the first (still CEST) is taken.
    autumn = maintenance.occurrences(sundays, utc(2026, 10, 24), utc(2026, 11, 2))
    assert autumn == [
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)),
        (utc(2026, 11, 1, 1, 30), utc(2026, 11, 1, 2, 30)),
    ]


def test_it_keeps_only_chinas_working_days_tiaoxiu_included(platform):
    # Daily 09:00 Shanghai (01:00 UTC) over the 2025 National Day holiday.
    daily = window(
        platform,
        starts_at=utc(2025, 9, 1, 1),
        recurrence="FREQ=DAILY",
        duration_minutes=30,
        calendar=MaintenanceWindow.Calendar.WORKDAYS,
    )
    days = [
        s.date().isoformat()
        for s, _e in maintenance.occurrences(daily, utc(2025, 9, 26), utc(2025, 10, 13))
    ]
    assert days == [
        "2025-09-26",
        "2025-09-28",  # a Sunday worked (调休)
        "2025-09-29",
        "2025-09-30",
        # 1–8 October: the holiday
        "2025-10-09",
        "2025-10-10",
        "2025-10-11",  # a Saturday worked (调休)
    ]


def test_it_keeps_only_chinas_rest_days(platform):
    weekends = window(
        platform,
        starts_at=utc(2025, 9, 6, 1),
        recurrence="FREQ=WEEKLY;BYDAY=SA,SU",
        duration_minutes=30,
        calendar=MaintenanceWindow.Calendar.RESTDAYS,
    )
    days = [
        s.date().isoformat()
        for s, _e in maintenance.occurrences(weekends, utc(2025, 9, 20), utc(2025, 10, 13))
    ]
    # 28 September (Sunday) and 11 October (Saturday) are worked: no maintenance.
    assert days == [
        "2025-09-20",
        "2025-09-21",
        "2025-09-27",
        "2025-10-04",
        "2025-10-05",
        "2025-10-12",
    ]


def test_it_takes_monday_to_friday_as_working_days_in_a_year_without_data(platform):
    daily = window(
        platform,
        starts_at=utc(2031, 1, 1, 1),
        recurrence="FREQ=DAILY",
        duration_minutes=30,
        calendar=MaintenanceWindow.Calendar.WORKDAYS,
    )
    starts = [s for s, _e in maintenance.occurrences(daily, utc(2031, 1, 3), utc(2031, 1, 8))]
    assert [s.strftime("%a") for s in starts] == ["Fri", "Mon", "Tue"]


def test_it_honours_count_and_a_utc_until(platform):
    counted = window(
        platform,
        starts_at=utc(2026, 11, 20, 2),
        recurrence="FREQ=DAILY;COUNT=3",
        duration_minutes=10,
    )
    assert maintenance.next_occurrences(counted, utc(2026, 11, 1), n=10) == [
        utc(2026, 11, 20, 2),
        utc(2026, 11, 21, 2),
        utc(2026, 11, 22, 2),
    ]
    until = window(
        platform,
        starts_at=utc(2026, 11, 20, 2),
        recurrence="FREQ=DAILY;UNTIL=20261122T020000Z",
        duration_minutes=10,
    )
    assert maintenance.next_occurrences(until, utc(2026, 11, 1), n=10)[-1] == utc(2026, 11, 22, 2)


# ---------------------------------------------------------------- services


@pytest.fixture
def mirrored(monkeypatch):
    """What the services told incidents.silences, in order."""
    calls = []
    monkeypatch.setattr(
        services.silences, "window_changed", lambda w: calls.append(("changed", w.pk))
    )
    monkeypatch.setattr(
        services.silences, "window_deleted", lambda w: calls.append(("deleted", w.pk))
    )
    return calls


def plan(actor, team, **fields):
    fields.setdefault("title", "DB upgrade")
    fields.setdefault("starts_at", NOW + timedelta(hours=1))
    if not fields.get("recurrence"):
        fields.setdefault("ends_at", NOW + timedelta(hours=3))
    return services.window_create(actor=actor, team=team, **fields)


def test_it_plans_a_window(clock, platform, lead, mirrored):
    api = Service.objects.create(team=platform, slug="api", name="API")
    made = plan(
        lead,
        platform,
        title="  Failover drill ",
        matchers=[
            {"name": "job", "value": "db-.*", "is_regex": True},
            {"name": "env", "value": "prod"},
        ],
        services=["api"],
        mode=MaintenanceWindow.Mode.MARK,
        public=True,
        description="Planned",
    )
    made.refresh_from_db()
    assert made.title == "Failover drill"
    assert made.created_by == lead
    assert made.matchers == [
        {"name": "job", "value": "db-.*", "is_regex": True},
        {"name": "env", "value": "prod", "is_regex": False},
    ]
    assert list(made.services.all()) == [api]
    assert (made.mode, made.public, made.description) == ("mark", True, "Planned")
    assert mirrored == [("changed", made.pk)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"recurrence": "FREQ=SOMETIMES", "duration_minutes": 60}, "recurrence"),
        ({"recurrence": "FREQ=WEEKLY;BYDAY=XX", "duration_minutes": 60}, "recurrence"),
        (
            {"recurrence": "DTSTART:20261126T000000\nRRULE:FREQ=DAILY", "duration_minutes": 60},
            "recurrence",
        ),
        (
            {"recurrence": "FREQ=DAILY;DTSTART=20261126T000000", "duration_minutes": 60},
            "recurrence",
        ),
        ({"recurrence": "FREQ=MINUTELY", "duration_minutes": 1}, "recurrence"),
        ({"ends_at": NOW}, "ends_at"),
        ({"ends_at": NOW + timedelta(hours=1)}, "ends_at"),
        ({"ends_at": None}, "ends_at"),
        (
            {
                "recurrence": "FREQ=DAILY",
                "duration_minutes": 60,
                "ends_at": NOW + timedelta(days=1),
            },
            "recurrence",
        ),
        ({"recurrence": "FREQ=DAILY"}, "duration_minutes"),
        ({"recurrence": "FREQ=DAILY", "duration_minutes": 0}, "duration_minutes"),
        ({"recurrence": "FREQ=DAILY", "duration_minutes": 10081}, "duration_minutes"),
        ({"duration_minutes": 30}, "duration_minutes"),
        ({"matchers": [{"name": "9lives", "value": "x", "is_regex": False}]}, "matchers"),
        ({"matchers": [{"name": "job-name", "value": "x", "is_regex": False}]}, "matchers"),
        ({"matchers": [{"name": "job", "value": "db-(", "is_regex": True}]}, "matchers"),
        ({"matchers": [{"name": "job", "value": "x", "is_equal": False}]}, "matchers"),
        ({"matchers": "job=x"}, "matchers"),
        ({"services": ["nope"]}, "services"),
        ({"title": "  "}, "title"),
        ({"mode": "ignore"}, "mode"),
        ({"calendar": "holidays", "recurrence": "FREQ=DAILY", "duration_minutes": 5}, "calendar"),
        ({"calendar": "workdays"}, "calendar"),
        ({"starts_at": datetime(2026, 11, 26, 12)}, "starts_at"),
    ],
)
def test_it_refuses_a_bad_window_and_saves_nothing(clock, platform, lead, mirrored, fields, field):
    with pytest.raises(ValidationError) as refused:
        plan(lead, platform, **fields)
    assert field in refused.value.message_dict
    assert not MaintenanceWindow.objects.exists()
    assert mirrored == []


def test_it_refuses_another_teams_service(clock, platform, payments, lead):
    theirs = Service.objects.create(team=payments, slug="api", name="API")
    with pytest.raises(ValidationError) as refused:
        plan(lead, platform, services=[theirs])
    assert "services" in refused.value.message_dict


def test_it_names_every_field_at_once(clock, platform, lead):
    with pytest.raises(ValidationError) as refused:
        plan(lead, platform, title="", recurrence="FREQ=NEVER", matchers=[{"name": "1"}])
    assert set(refused.value.message_dict) == {
        "title",
        "recurrence",
        "duration_minutes",
        "matchers",
    }


@pytest.mark.parametrize("who", ["engineer", "manager", "pay_lead", "onduty"])
def test_it_lets_only_the_teams_tech_leads_plan(request, clock, platform, who, mirrored):
    with pytest.raises(PermissionDenied):
        plan(request.getfixturevalue(who), platform)
    assert not MaintenanceWindow.objects.exists()


def test_it_lets_an_admin_plan(clock, platform, admin):
    assert plan(admin, platform).created_by == admin


def test_it_changes_a_window(clock, platform, lead, mirrored):
    made = plan(lead, platform)
    changed = services.window_update(
        window=made, actor=lead, title="Longer", ends_at=NOW + timedelta(hours=5)
    )
    changed.refresh_from_db()
    assert (changed.title, changed.ends_at) == ("Longer", NOW + timedelta(hours=5))
    assert changed.starts_at == NOW + timedelta(hours=1)
    assert mirrored == [("changed", made.pk), ("changed", made.pk)]


def test_it_turns_a_one_off_window_into_a_recurring_one(clock, platform, lead):
    made = plan(lead, platform)
    changed = services.window_update(
        window=made, actor=lead, ends_at=None, recurrence="FREQ=DAILY", duration_minutes=30
    )
    assert (changed.ends_at, changed.recurrence, changed.duration_minutes) == (
        None,
        "FREQ=DAILY",
        30,
    )


def test_it_refuses_a_bad_change_and_keeps_the_window(clock, platform, lead, mirrored):
    made = plan(lead, platform)
    with pytest.raises(ValidationError) as refused:
        services.window_update(window=made, actor=lead, title="New", ends_at=NOW)
    assert "ends_at" in refused.value.message_dict
    made.refresh_from_db()
    assert made.title == "DB upgrade"
    assert mirrored == [("changed", made.pk)]


def test_it_keeps_a_window_with_its_team(clock, platform, payments, admin):
    made = plan(admin, platform)
    with pytest.raises(ValidationError) as refused:
        services.window_update(window=made, actor=admin, team=payments)
    assert "team" in refused.value.message_dict


@pytest.mark.parametrize("who", ["engineer", "pay_lead"])
def test_it_lets_only_the_teams_tech_leads_change_end_or_delete(
    request, clock, platform, lead, who
):
    made = plan(lead, platform, starts_at=NOW - timedelta(hours=1))
    actor = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        services.window_update(window=made, actor=actor, title="Mine")
    with pytest.raises(PermissionDenied):
        services.window_end(window=made, actor=actor)
    with pytest.raises(PermissionDenied):
        services.window_delete(window=made, actor=actor)
    made.refresh_from_db()
    assert (made.title, made.ended_at) == ("DB upgrade", None)


def test_it_deletes_a_window(clock, platform, lead, mirrored):
    made = plan(lead, platform)
    pk = made.pk
    services.window_delete(window=made, actor=lead)
    assert not MaintenanceWindow.objects.filter(pk=pk).exists()
    assert mirrored == [("changed", pk), ("deleted", pk)]


def test_it_ends_a_one_off_window_early(clock, platform, lead, mirrored):
    made = plan(lead, platform, starts_at=NOW - timedelta(hours=1))
    clock.shift(timedelta(minutes=10))
    ended = services.window_end(window=made, actor=lead)
    assert ended.ended_at == NOW + timedelta(minutes=10)
    assert ended.ended_occurrence is None
    assert not maintenance.is_active(ended, NOW + timedelta(minutes=10))
    assert maintenance.occurrences(ended, NOW - timedelta(days=1), NOW + timedelta(days=1)) == [
        (NOW - timedelta(hours=1), NOW + timedelta(minutes=10))
    ]
    assert maintenance.active_windows(team_id=platform.pk, at=NOW + timedelta(minutes=10)) == []
    assert mirrored[-1] == ("changed", made.pk)


def test_it_ends_only_the_running_occurrence_of_a_recurring_window(clock, platform, lead):
    daily = plan(
        lead,
        platform,
        starts_at=NOW - timedelta(days=3, minutes=30),
        recurrence="FREQ=DAILY",
        duration_minutes=60,
    )
    ended = services.window_end(window=daily, actor=lead)
    assert ended.ended_occurrence == NOW - timedelta(minutes=30)
    assert ended.ended_at == NOW
    assert not maintenance.is_active(ended, NOW)
    assert maintenance.occurrences(
        ended, NOW - timedelta(hours=1), NOW + timedelta(days=1, hours=1)
    ) == [
        (NOW - timedelta(minutes=30), NOW),
        (NOW + timedelta(days=1, minutes=-30), NOW + timedelta(days=1, minutes=30)),
    ]
    assert maintenance.is_active(ended, NOW + timedelta(days=1))


def test_it_refuses_to_end_a_window_that_is_not_running(clock, platform, lead, mirrored):
    made = plan(lead, platform)
    with pytest.raises(WindowNotActive):
        services.window_end(window=made, actor=lead)
    made.refresh_from_db()
    assert made.ended_at is None
    assert mirrored == [("changed", made.pk)]


def test_it_forgets_an_early_end_when_rescheduled(clock, platform, lead):
    made = plan(lead, platform, starts_at=NOW - timedelta(hours=1))
    services.window_end(window=made, actor=lead)
    again = services.window_update(window=made, actor=lead, ends_at=NOW + timedelta(hours=4))
    assert again.ended_at is None
    assert maintenance.is_active(again, NOW)


# ---------------------------------------------------------------- who sees what


def test_it_shows_windows_to_their_team_managers_and_admins(
    platform, payments, engineer, manager, admin, pay_engineer, lead
):
    ours = window(platform)
    theirs = window(payments)
    assert list(maintenance.windows_visible_to(engineer)) == [ours]
    assert list(maintenance.windows_visible_to(pay_engineer)) == [theirs]
    assert set(maintenance.windows_visible_to(manager)) == {ours, theirs}
    assert set(maintenance.windows_visible_to(admin)) == {ours, theirs}
    assert rules.sees_window(engineer, ours)
    assert not rules.sees_window(engineer, theirs)
    assert rules.edits_windows(lead, platform)
    assert not rules.edits_windows(lead, payments)
    assert rules.edits_windows(admin, payments)
    assert not rules.edits_windows(manager, platform)


def test_it_lists_upcoming_occurrences_for_a_calendar(platform, payments):
    one = window(
        platform, title="one", starts_at=utc(2026, 11, 27, 1), ends_at=utc(2026, 11, 27, 2)
    )
    daily = window(
        platform,
        title="daily",
        starts_at=utc(2026, 11, 20, 0),
        recurrence="FREQ=DAILY",
        duration_minutes=30,
    )
    window(payments, title="theirs", starts_at=utc(2026, 11, 27, 1), ends_at=utc(2026, 11, 27, 2))
    rows = maintenance.upcoming(
        team_ids=[platform.pk], since=utc(2026, 11, 26, 12), until=utc(2026, 11, 28, 12)
    )
    assert [(w.title, start) for w, start, _end in rows] == [
        ("daily", utc(2026, 11, 27, 0)),
        ("one", utc(2026, 11, 27, 1)),
        ("daily", utc(2026, 11, 28, 0)),
    ]
    assert daily in [w for w, *_ in rows]
    assert one in [w for w, *_ in rows]


# ---------------------------------------------------------------- the admin


@pytest.fixture
def root(admin):
    """An administrator with Django's model permissions (as seed_demo's admin)."""
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    return admin


def admin_form(team, **fields) -> dict:
    data = {
        "team": team.pk,
        "title": "Switch swap",
        "description": "",
        "starts_at_0": "2026-11-26",
        "starts_at_1": "11:00:00",
        "ends_at_0": "2026-11-26",
        "ends_at_1": "13:00:00",
        "recurrence": "",
        "duration_minutes": "",
        "matchers": '[{"name": "job", "value": "switch", "is_regex": false}]',
        "mode": "suppress",
        "calendar": "",
    }
    data.update(fields)
    return data


def test_it_plans_a_window_in_the_admin_through_the_service(
    clock, client, platform, root, mirrored
):
    client.force_login(root)
    response = client.post("/admin/incidents/maintenancewindow/add/", admin_form(platform))
    assert response.status_code == 302
    made = MaintenanceWindow.objects.get()
    assert made.created_by == root
    assert made.starts_at == utc(2026, 11, 26, 3)  # 11:00 in Shanghai
    assert made.matchers == [{"name": "job", "value": "switch", "is_regex": False}]
    assert mirrored == [("changed", made.pk)]


@pytest.mark.parametrize(
    "fields",
    [
        {"ends_at_1": "10:00:00"},
        {"recurrence": "FREQ=DAILY", "duration_minutes": "30"},
        {"matchers": '[{"name": "bad-name", "value": "x"}]'},
        {"ends_at_0": "", "ends_at_1": "", "recurrence": "FREQ=NEVER", "duration_minutes": "30"},
    ],
)
def test_it_refuses_a_bad_window_in_the_admin(clock, client, platform, root, fields):
    client.force_login(root)
    response = client.post(
        "/admin/incidents/maintenancewindow/add/", admin_form(platform, **fields)
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not MaintenanceWindow.objects.exists()


def test_it_changes_and_deletes_a_window_in_the_admin(
    clock, client, platform, payments, root, lead, mirrored
):
    made = plan(lead, platform)
    client.force_login(root)
    page = f"/admin/incidents/maintenancewindow/{made.pk}/change/"
    response = client.post(page, admin_form(platform, title="Renamed", ends_at_1="14:00:00"))
    assert response.status_code == 302
    made.refresh_from_db()
    assert (made.title, made.ends_at) == ("Renamed", utc(2026, 11, 26, 6))
    moved = client.post(page, admin_form(payments))
    assert moved.status_code == 200
    assert "team" in moved.context["adminform"].form.errors
    response = client.post(f"/admin/incidents/maintenancewindow/{made.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not MaintenanceWindow.objects.exists()
    assert mirrored[-1] == ("deleted", made.pk)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # never: dateutil would search to 9999
        "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=31",
        "FREQ=DAILY;UNTIL=20200101T000000Z",  # over before it starts
        "FREQ=YEARLY;COUNT=20",  # the last in twenty years
        "FREQ=YEARLY;UNTIL=99991231T235959Z;BYMONTH=13",
    ],
)
def test_it_refuses_a_rule_with_nothing_to_expand_soon(clock, platform, lead, rule):
    with pytest.raises(ValidationError) as refused:
        plan(lead, platform, recurrence=rule, duration_minutes=5)
    assert "recurrence" in refused.value.message_dict


def test_it_accepts_a_far_until_and_expands_only_what_is_asked(clock, platform, lead):
    made = plan(lead, platform, recurrence="FREQ=YEARLY;UNTIL=99991231T235959Z", duration_minutes=5)
    assert len(maintenance.next_occurrences(made, NOW)) == 5
    assert maintenance.next_occurrences(made, NOW, n=50)[-1] < NOW + timedelta(days=3660)
