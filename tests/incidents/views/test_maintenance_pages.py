"""The maintenance windows' pages: the list and calendar, the form with its
preview, a window's page with end and delete, the dashboard's banner."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import gettext

from incidents.maintenance import any_upcoming, services, upcoming
from incidents.models import Alert, AlertIntegration, MaintenanceWindow, Service, UserProfile
from tests.conftest import NOW
from tests.factories import new_incident

pytestmark = pytest.mark.django_db

# NOW is 10:00 in Asia/Shanghai on Thursday 2026-11-26; the form reads local times.
TOMORROW_2 = "2026-11-27T02:00"
TOMORROW_4 = "2026-11-27T04:00"


def plan(actor, team, **fields):
    fields.setdefault("title", "DB upgrade")
    fields.setdefault("starts_at", NOW - timedelta(hours=1))
    if not fields.get("recurrence"):
        fields.setdefault("ends_at", NOW + timedelta(hours=1))
    return services.window_create(actor=actor, team=team, **fields)


def form(**overrides) -> dict:
    data = {
        "team": "platform",
        "title": "Database upgrade",
        "starts_at": TOMORROW_2,
        "ends_at": TOMORROW_4,
        "repeat": "",
        "rule": "",
        "until": "",
        "calendar": "",
        "mode": "suppress",
        "matchers": "alertname=DiskFull\ninstance=~db-[0-9]+",
        "description": "",
    }
    data.update(overrides)
    return data


_n = iter(range(1, 10_000))


def alert(team, labels, *, incident=None, pending=False, status="firing"):
    n = next(_n)
    integration, _ = AlertIntegration.objects.get_or_create(
        name=f"prom-{team.slug}",
        defaults={"team": team, "token_hash": f"{team.slug:0<64}"[:64], "token_hint": "x"},
    )
    return Alert.objects.create(
        integration=integration,
        group_key=f"g{n}",
        fingerprint=f"fp{n}",
        incident=incident,
        pending=pending,
        status=status,
        labels=labels,
        summary=f"alert {n}",
        first_seen=NOW,
        last_seen=NOW,
    )


# ---------------------------------------------------------------- list and calendar


def test_it_lists_the_running_window_first_with_its_badge(clock, signed_in, lead, platform):
    later = plan(
        lead,
        platform,
        title="Later",
        starts_at=NOW + timedelta(days=2),
        ends_at=NOW + timedelta(days=2, hours=1),
    )
    running = plan(lead, platform, title="Running")
    body = signed_in(lead).get("/maintenance/").content.decode()
    windows = body.split('id="windows"')[1].split('id="calendar"')[0]
    assert windows.index("Running") < windows.index("Later")
    row = windows.split(f'data-window="{running.pk}"')[1].split("</li>")[0]
    assert "active now" in row
    assert "active now" not in windows.split(f'data-window="{later.pk}"')[1].split("</li>")[0]


def test_its_calendar_shows_four_weeks_of_occurrences_in_the_users_zone(
    clock, signed_in, lead, platform
):
    weekly = plan(
        lead,
        platform,
        title="Weekly patching",
        starts_at=NOW + timedelta(hours=16),  # 02:00 Friday in Shanghai
        recurrence="FREQ=WEEKLY",
        duration_minutes=60,
    )
    body = signed_in(lead).get("/maintenance/").content.decode()
    calendar = body.split('id="calendar"')[1]
    days = re.findall(r'data-day="([0-9-]+)"', calendar)
    assert days[0] == "2026-11-23"  # the Monday of this week
    assert "2026-12-23" in days  # four weeks ahead
    shown = re.findall(
        rf'data-day="([0-9-]+)"(?:(?!data-day).)*data-window="{weekly.pk}"', calendar, re.S
    )
    assert shown == ["2026-11-27", "2026-12-04", "2026-12-11", "2026-12-18"]
    assert "02:00–03:00" in calendar

    UserProfile.objects.update_or_create(user=lead, defaults={"time_zone": "UTC"})
    body = signed_in(lead).get("/maintenance/").content.decode()
    calendar = body.split('id="calendar"')[1]
    shown = re.findall(
        rf'data-day="([0-9-]+)"(?:(?!data-day).)*data-window="{weekly.pk}"', calendar, re.S
    )
    assert shown[0] == "2026-11-26"  # 18:00 UTC, Thursday
    assert "18:00–19:00" in calendar


def test_it_hides_other_teams_windows(clock, signed_in, lead, pay_lead, payments, manager):
    plan(pay_lead, payments, title="Payments freeze")
    assert "Payments freeze" not in signed_in(lead).get("/maintenance/").content.decode()
    assert "Payments freeze" in signed_in(manager).get("/maintenance/").content.decode()


def test_its_query_count_does_not_grow_with_windows(clock, signed_in, lead, platform):
    client = signed_in(lead)
    disk = Service.objects.create(team=platform, slug="disk", name="Disk")

    def make(n, start):
        for i in range(start, start + n):
            plan(lead, platform, title=f"one-off {i}", services=[disk])
            plan(
                lead,
                platform,
                title=f"daily {i}",
                starts_at=NOW + timedelta(hours=i),
                recurrence="FREQ=DAILY",
                duration_minutes=30,
            )

    make(2, 0)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/maintenance/").status_code == 200
    make(10, 2)
    with CaptureQueriesContext(connection) as many:
        body = client.get("/maintenance/").content.decode()
    assert body.count('class="list-group-item') == 24
    assert len(many.captured_queries) == len(few.captured_queries), "\n".join(
        q["sql"] for q in many.captured_queries
    )
    assert len(few.captured_queries) <= 8, "\n".join(q["sql"] for q in few.captured_queries)


def _zh(msgid: str) -> str:
    """The page's text in Chinese (the catalog's; English until it is translated)."""
    with translation.override("zh-hans"):
        return gettext(msgid)


def test_it_speaks_chinese_to_a_chinese_browser(clock, signed_in, lead, platform):
    plan(lead, platform, title="数据库升级")
    body = (
        signed_in(lead)
        .get("/maintenance/", headers={"accept-language": "zh-hans"})
        .content.decode()
    )
    assert 'lang="zh-hans"' in body
    assert "值班" in body  # the layout's navigation, from the catalog
    assert _zh("Maintenance windows") in body
    assert _zh("active now") in body
    assert "数据库升级" in body


def test_it_speaks_the_users_language(clock, signed_in, lead, platform):
    UserProfile.objects.update_or_create(user=lead, defaults={"language": "zh-hans"})
    body = signed_in(lead).get("/maintenance/new/", headers={"accept-language": "en"})
    body = body.content.decode()
    assert 'lang="zh-hans"' in body
    assert _zh("Plan a maintenance window") in body
    assert _zh("Alert matchers") in body


# ---------------------------------------------------------------- the form


def test_a_lead_plans_a_one_off_window(clock, signed_in, lead, platform):
    disk = Service.objects.create(team=platform, slug="disk", name="Disk")
    response = signed_in(lead).post("/maintenance/new/", form(services=[str(disk.pk)], public="on"))
    window = MaintenanceWindow.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/maintenance/{window.pk}/"
    assert (window.team, window.title, window.created_by) == (platform, "Database upgrade", lead)
    assert window.starts_at == NOW + timedelta(hours=16)  # 02:00 tomorrow in Shanghai
    assert window.ends_at == NOW + timedelta(hours=18)
    assert (window.recurrence, window.duration_minutes, window.public) == ("", None, True)
    assert window.matchers == [
        {"name": "alertname", "value": "DiskFull", "is_regex": False},
        {"name": "instance", "value": "db-[0-9]+", "is_regex": True},
    ]
    assert list(window.services.all()) == [disk]


def test_a_lead_plans_a_recurring_window(clock, signed_in, lead, platform):
    response = signed_in(lead).post(
        "/maintenance/new/",
        form(repeat="FREQ=WEEKLY", until="2026-12-31", calendar="workdays", mode="mark"),
    )
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert window.recurrence == "FREQ=WEEKLY;UNTIL=20261231T235959"
    assert (window.duration_minutes, window.ends_at) == (120, None)
    assert (window.calendar, window.mode) == ("workdays", "mark")
    page = signed_in(lead).get(f"/maintenance/{window.pk}/").content.decode()
    listed = page.split('id="window-next"')[1].split("</ol>")[0]
    assert "2026-11-27" in listed
    assert "2026-12-04" in listed
    assert "2027-" not in listed  # UNTIL ends it


def test_a_custom_rule_is_taken_as_written(clock, signed_in, lead, platform):
    signed_in(lead).post("/maintenance/new/", form(repeat="custom", rule="FREQ=DAILY;COUNT=3"))
    assert MaintenanceWindow.objects.get().recurrence == "FREQ=DAILY;COUNT=3"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"ends_at": "2026-11-27T01:00"}, "ends_at", "The end must come after the start."),
        ({"matchers": "instance=~db-[0-9"}, "matchers", "is not a valid regular expression"),
        ({"matchers": "9lives=yes"}, "matchers", "is not a label name"),
        ({"matchers": "just words"}, "matchers", "Line 1: write name=value or name=~regex."),
        ({"repeat": "custom", "rule": "FREQ=MINUTELY"}, "rule", "FREQ must be one of"),
        ({"repeat": "custom", "rule": ""}, "rule", "Write the rule"),
        ({"title": " "}, "title", "This field is required."),
    ],
)
def test_a_refused_form_comes_back_with_the_error_and_the_input(
    clock, signed_in, lead, platform, overrides, field, message
):
    data = form(**overrides)
    response = signed_in(lead).post("/maintenance/new/", data)
    assert response.status_code == 400
    assert not MaintenanceWindow.objects.exists()
    body = response.content.decode()
    errors = response.context["form"].errors
    assert any(message in text for text in errors[field]), errors
    assert message.split("“")[0] in body
    assert 'value="Database upgrade"' in body or field == "title"
    assert f'value="{data["starts_at"]}"' in body
    assert data["matchers"].split("\n")[0] in body


def test_an_edit_changes_the_window_and_keeps_its_team(clock, signed_in, lead, platform, payments):
    window = plan(lead, platform, matchers=[{"name": "job", "value": "db", "is_regex": False}])
    client = signed_in(lead)
    page = client.get(f"/maintenance/{window.pk}/edit/").content.decode()
    assert "job=db" in page
    data = form(title="Longer upgrade", team="payments", ends_at="2026-11-27T06:00")
    response = client.post(f"/maintenance/{window.pk}/edit/", data)
    assert response.status_code == 302
    window.refresh_from_db()
    assert (window.title, window.team) == ("Longer upgrade", platform)
    assert window.ends_at == NOW + timedelta(hours=20)


# ---------------------------------------------------------------- the preview


@pytest.fixture
def open_alerts(platform, payments, lead, pay_lead):
    incident = new_incident(reporter=lead)
    return {
        "disk": alert(
            platform,
            {"alertname": "DiskFull", "instance": "db-1", "service": "disk"},
            incident=incident,
        ),
        "pending": alert(platform, {"alertname": "DiskFull", "instance": "db-2"}, pending=True),
        "web": alert(
            platform, {"alertname": "HighLatency", "instance": "web-1"}, incident=incident
        ),
        "resolved": alert(
            platform,
            {"alertname": "DiskFull", "instance": "db-3"},
            incident=incident,
            status="resolved",
        ),
        "theirs": alert(payments, {"alertname": "DiskFull", "instance": "db-9"}, pending=True),
    }


def test_the_preview_answers_which_open_alerts_and_services_match(
    clock, signed_in, lead, platform, open_alerts
):
    Service.objects.create(team=platform, slug="disk", name="Disk")
    Service.objects.create(team=platform, slug="web", name="Web")
    response = signed_in(lead).post("/maintenance/preview/", form())
    assert response.status_code == 200
    answer = response.json()
    assert answer["errors"] == []
    assert answer["alerts"]["count"] == 2
    assert answer["alerts"]["of"] == 3  # firing, of an open incident or pending, the team's
    ids = {item["id"] for item in answer["alerts"]["items"]}
    assert ids == {open_alerts["disk"].pk, open_alerts["pending"].pk}
    assert (answer["services"]["count"], answer["services"]["of"]) == (2, 2)


def test_the_preview_narrows_to_services_and_matches_everything_without_matchers(
    clock, signed_in, lead, platform, open_alerts
):
    disk = Service.objects.create(team=platform, slug="disk", name="Disk")
    Service.objects.create(team=platform, slug="web", name="Web")
    client = signed_in(lead)
    answer = client.post("/maintenance/preview/", form(matchers="", services=[str(disk.pk)])).json()
    assert [i["id"] for i in answer["alerts"]["items"]] == [open_alerts["disk"].pk]
    assert [s["slug"] for s in answer["services"]["items"]] == ["disk"]
    assert answer["matches_everything"] is False
    answer = client.post("/maintenance/preview/", form(matchers="")).json()
    assert (answer["alerts"]["count"], answer["matches_everything"]) == (3, True)


def test_the_preview_shows_a_bad_matcher(clock, signed_in, lead, platform, open_alerts):
    answer = signed_in(lead).post("/maintenance/preview/", form(matchers="x=~(")).json()
    assert answer["alerts"]["count"] == 0
    assert "not a valid regular expression" in answer["errors"][0]


def test_the_preview_fragment_and_the_form_without_javascript(
    clock, signed_in, lead, platform, open_alerts
):
    client = signed_in(lead)
    fragment = client.post("/maintenance/preview/", form(format="html")).content.decode()
    assert "2 of 3 open alerts" in fragment
    assert "<html" not in fragment
    response = client.post("/maintenance/new/", form(preview="1"))
    assert response.status_code == 200
    assert not MaintenanceWindow.objects.exists()
    body = response.content.decode()
    assert "2 of 3 open alerts" in body
    assert 'value="Database upgrade"' in body


def test_the_preview_is_for_the_teams_one_leads(clock, signed_in, engineer, lead, open_alerts):
    assert signed_in(engineer).post("/maintenance/preview/", form()).status_code == 403
    client = signed_in(lead)
    answer = client.post("/maintenance/preview/", form(team="payments")).json()
    assert answer["team"] is None
    assert answer["alerts"]["count"] == 0


# ---------------------------------------------------------------- permissions


def test_only_leads_write(clock, signed_in, lead, engineer, platform):
    window = plan(lead, platform)
    client = signed_in(engineer)
    assert client.get("/maintenance/").status_code == 200
    assert client.get(f"/maintenance/{window.pk}/").status_code == 200
    assert "Plan a window" not in client.get("/maintenance/").content.decode()
    assert client.get("/maintenance/new/").status_code == 403
    assert client.post("/maintenance/new/", form()).status_code == 403
    assert client.get(f"/maintenance/{window.pk}/edit/").status_code == 403
    assert client.post(f"/maintenance/{window.pk}/end/").status_code == 403
    assert client.post(f"/maintenance/{window.pk}/delete/").status_code == 403
    assert MaintenanceWindow.objects.filter(pk=window.pk, ended_at__isnull=True).exists()


def test_other_teams_windows_are_not_found(clock, signed_in, lead, pay_lead, payments):
    window = plan(pay_lead, payments)
    client = signed_in(lead)
    for path in ("", "edit/"):
        assert client.get(f"/maintenance/{window.pk}/{path}").status_code == 404
    for path in ("end/", "delete/"):
        assert client.post(f"/maintenance/{window.pk}/{path}").status_code == 404
    assert client.post("/maintenance/preview/", form(window=window.pk)).status_code == 404
    assert client.post("/maintenance/new/", form(team="payments")).status_code == 400
    assert MaintenanceWindow.objects.count() == 1


def test_signed_out_visitors_go_to_the_login(client, clock, lead, platform):
    window = plan(lead, platform)
    for path in ("/maintenance/", f"/maintenance/{window.pk}/", "/maintenance/new/"):
        assert client.get(path)["Location"].startswith("/accounts/login/")


# ---------------------------------------------------------------- one window


def test_a_lead_ends_a_running_window_and_deletes_it(clock, signed_in, lead, platform):
    window = plan(lead, platform)
    client = signed_in(lead)
    page = client.get(f"/maintenance/{window.pk}/").content.decode()
    assert 'id="form-end"' in page
    assert 'id="form-delete"' in page
    response = client.post(f"/maintenance/{window.pk}/end/", follow=True)
    window.refresh_from_db()
    assert window.ended_at == NOW
    assert "ended" in response.content.decode()
    again = client.post(f"/maintenance/{window.pk}/end/", follow=True).content.decode()
    assert "is not running now" in again
    assert 'id="form-end"' not in again
    response = client.post(f"/maintenance/{window.pk}/delete/")
    assert response["Location"] == "/maintenance/"
    assert not MaintenanceWindow.objects.exists()


def test_a_window_page_shows_its_counts_silence_and_timeline(clock, signed_in, lead, platform):
    from incidents.models import TeamEvent

    window = plan(lead, platform, title="Kernel patch")
    MaintenanceWindow.objects.filter(pk=window.pk).update(suppressed_alerts=7, silence_id="abc-123")
    TeamEvent.objects.create(
        team=platform,
        kind="maintenance_started",
        at=NOW - timedelta(hours=1),
        text="Kernel patch",
        window=window,
        occurrence=window.starts_at,
    )
    alert(platform, {"alertname": "X"}).__class__.objects.update(held_by=window)
    page = signed_in(lead).get(f"/maintenance/{window.pk}/").content.decode()
    assert "7 alerts suppressed" in page
    assert "1 alert held without an incident" in page
    assert "abc-123" in page
    events = page.split('id="window-events"')[1].split("</ul>")[0]
    assert "Maintenance started" in events
    assert "Kernel patch" in events


# ---------------------------------------------------------------- the dashboard banner


def test_the_dashboard_shows_running_and_coming_maintenance(
    clock, signed_in, lead, platform, pay_lead, payments
):
    running = plan(lead, platform, title="Kernel patch")
    soon = plan(
        lead,
        platform,
        title="Switch swap",
        starts_at=NOW + timedelta(hours=5),
        ends_at=NOW + timedelta(hours=6),
    )
    plan(pay_lead, payments, title="Payments freeze")
    body = signed_in(lead).get("/dashboard/").content.decode()
    banner = body.split("maintenance-banner")[1].split("</div>")[0]
    assert "Maintenance in progress:" in banner
    assert "Kernel patch" in banner
    assert "until 11-26 11:00" in banner
    assert "page nobody" in banner
    assert f'href="/maintenance/{running.pk}/"' in banner
    following = body.split("maintenance-banner-next")[1].split("</div>")[0]
    assert "Switch swap" in following
    assert "15:00" in following
    assert f'href="/maintenance/{soon.pk}/"' in following
    assert "Payments freeze" not in body


def test_the_banner_costs_the_dashboard_a_fixed_number_of_queries(clock, signed_in, lead, platform):
    client = signed_in(lead)
    plan(lead, platform, title="first")
    client.get("/dashboard/")  # the on-call line is kept a minute: both below read it kept
    with CaptureQueriesContext(connection) as one:
        client.get("/dashboard/")
    for n in range(5):
        plan(
            lead,
            platform,
            title=f"more {n}",
            starts_at=NOW + timedelta(hours=n + 1),
            ends_at=NOW + timedelta(hours=n + 2),
        )
    with CaptureQueriesContext(connection) as six:
        body = client.get("/dashboard/").content.decode()
    assert body.count('class="alert alert-warning py-2 small maintenance-banner"') == 1
    assert len(six.captured_queries) == len(one.captured_queries)


def test_the_dashboard_has_no_banner_without_maintenance(clock, signed_in, lead, platform):
    plan(
        lead,
        platform,
        title="Far away",
        starts_at=NOW + timedelta(days=3),
        ends_at=NOW + timedelta(days=3, hours=1),
    )
    body = signed_in(lead).get("/dashboard/").content.decode()
    assert "maintenance-banner" not in body


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, True),  # running now
        ({"starts_at": NOW - timedelta(hours=3), "ends_at": NOW - timedelta(hours=1)}, False),
        ({"starts_at": NOW + timedelta(hours=5), "ends_at": NOW + timedelta(hours=6)}, True),
        (
            {"starts_at": NOW + timedelta(days=2), "ends_at": NOW + timedelta(days=2, hours=1)},
            False,
        ),
        (
            {
                "starts_at": NOW - timedelta(days=30),
                "recurrence": "FREQ=DAILY",
                "duration_minutes": 30,
            },
            True,
        ),
    ],
    ids=["running", "over", "later-today", "in-two-days", "daily"],
)
def test_the_banners_quick_check_agrees_with_the_windows_it_reads(
    clock, lead, platform, fields, expected
):
    # The banner asks any_upcoming() first (one small statement) and reads the
    # windows only when it says yes: both must see the same windows.
    plan(lead, platform, **fields)
    since, until = NOW, NOW + timedelta(hours=24)
    assert bool(upcoming(team_ids={platform.pk}, since=since, until=until)) is expected
    assert any_upcoming(team_ids={platform.pk}, since=since, until=until) is expected
    assert any_upcoming(team_ids={platform.pk + 1000}, since=since, until=until) is False
