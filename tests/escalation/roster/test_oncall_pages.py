"""The /oncall/ pages: the schedule grid, rotations edited by tech leads, overrides,
handover notes, the roster timeline; the dashboard's on-call line."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.engine import sweep_due_deadlines
from escalation.models import HandoverNote, Override, RosterEvent, Rotation
from escalation.roster.services import override_create
from tests.conftest import NOW
from tests.factories import IncidentFactory, make_rotation

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def rostered(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty], name="Weekly primary")
    return platform


def cell(body: str, day: str, layer: str) -> str:
    row = re.search(rf'<tr[^>]*data-day="{day}".*?</tr>', body, re.S).group(0)
    return re.search(rf'<td data-layer="{layer}">(.*?)</td>', row, re.S).group(1)


def test_members_see_the_grid_day_by_day(client, rostered, tester):
    client.force_login(tester)

    body = client.get("/oncall/platform/").content.decode()

    assert 'data-user="engineer"' in cell(body, "2026-11-26", "primary")
    # The handoff on Monday 30th at 09:00: both, with the times.
    monday = cell(body, "2026-11-30", "primary")
    assert re.search(r"–09:00</span> Engineer", monday)
    assert re.search(r"09:00–</span> Onduty", monday)
    assert "nobody" in cell(body, "2026-11-26", "secondary")
    assert body.count("<tr class=") == 28  # four weeks by default
    assert "Add a rotation" not in body  # a tester does not set up rotations
    assert "Weekly primary" in body


def test_it_marks_an_override_in_the_grid(client, rostered, lead, tester):
    client.force_login(lead)
    start = timezone.localtime(NOW + timedelta(days=1)).replace(hour=9, minute=0)
    response = client.post(
        "/oncall/platform/overrides/",
        {
            "layer": "primary",
            "user": "tester",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + 9 * H).strftime("%Y-%m-%dT%H:%M"),
            "note": "Release rehearsal",
        },
    )
    assert response.status_code == 302

    body = client.get("/oncall/platform/").content.decode()
    friday = cell(body, "2026-11-27", "primary")
    assert 'class="shift override" data-user="tester"' in friday
    assert "09:00–18:00" in friday
    assert "for Engineer" in friday  # by name
    event = RosterEvent.objects.get(kind="override_created")
    assert "Release rehearsal" in event.summary
    assert "Override added: Tester covers Engineer" in body.replace("\n", " ")


def test_a_bad_override_re_renders_with_the_reason_and_writes_nothing(
    client, rostered, lead, tester
):
    client.force_login(lead)

    response = client.post(
        "/oncall/platform/overrides/",
        {
            "layer": "primary",
            "user": "tester",
            "start": "2026-11-20T09:00",
            "end": "2026-11-20T10:00",
        },
    )

    assert response.status_code == 400
    assert "This stretch is over already." in response.content.decode()
    assert not Override.objects.exists()


def test_someone_elses_shift_is_refused_with_403(client, rostered, tester, onduty):
    client.force_login(tester)
    start = timezone.localtime(NOW + H)

    response = client.post(
        "/oncall/platform/overrides/",
        {
            "layer": "primary",
            "user": "onduty",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + H).strftime("%Y-%m-%dT%H:%M"),
        },
    )

    assert response.status_code == 403
    assert "Only the person covering, the person covered" in response.content.decode()
    assert not Override.objects.exists()


def test_a_lead_creates_and_edits_a_rotation(client, platform, lead, engineer, onduty):
    client.force_login(lead)
    assert client.get("/oncall/platform/rotations/new/").status_code == 200
    data = {
        "name": "Nights",
        "layer": "secondary",
        "participants": "engineer, onduty",
        "shift_days": 1,
        "handoff_time": "18:00",
        "start_date": "2026-11-26",
        "weekdays": list("01234"),
        "day_start": "18:00",
        "day_end": "09:00",
    }
    assert client.post("/oncall/platform/rotations/new/", data).status_code == 302
    rotation = Rotation.objects.get()
    assert [m.user.username for m in rotation.members.all()] == ["engineer", "onduty"]
    assert (rotation.weekdays, rotation.day_start.hour, rotation.day_end.hour) == ("01234", 18, 9)

    data.update(participants="onduty\nengineer", shift_days=7)
    assert client.post(f"/oncall/platform/rotations/{rotation.pk}/", data).status_code == 302
    rotation.refresh_from_db()
    assert [m.user.username for m in rotation.members.all()] == ["onduty", "engineer"]
    assert rotation.shift_days == 7
    kinds = list(RosterEvent.objects.order_by("at", "id").values_list("kind", "actor__username"))
    assert kinds == [("rotation_created", "lead"), ("rotation_changed", "lead")]
    page = client.get("/oncall/platform/").content.decode()
    assert "Rotation changed" in page


def test_a_bad_rotation_keeps_what_was_typed(client, platform, lead, engineer):
    client.force_login(lead)

    response = client.post(
        "/oncall/platform/rotations/new/",
        {
            "name": "Nights",
            "layer": "primary",
            "participants": "engineer, nobody-here",
            "shift_days": 40,
            "handoff_time": "09:00",
            "start_date": "2026-11-26",
            "weekdays": ["0"],
        },
    )

    body = response.content.decode()
    assert response.status_code == 400
    assert "No such user: nobody-here." in body
    assert "Ensure this value is less than or equal to 28." in body
    assert 'value="Nights"' in body
    assert not Rotation.objects.exists()


def test_only_leads_open_the_rotation_form(client, rostered, engineer, manager):
    for user in (engineer, manager):
        client.force_login(user)
        assert client.get("/oncall/platform/rotations/new/").status_code == 403


def test_the_outgoing_person_leaves_a_handover_note(client, rostered, engineer, onduty):
    client.force_login(onduty)  # not on call now
    assert 'id="form-handover"' not in client.get("/oncall/platform/").content.decode()
    assert (
        client.post("/oncall/platform/handover-note/", {"layer": "primary", "text": "x"})
    ).status_code == 403

    client.force_login(engineer)
    assert 'id="form-handover"' in client.get("/oncall/platform/").content.decode()
    response = client.post(
        "/oncall/platform/handover-note/", {"layer": "primary", "text": "Watch db-3"}
    )
    assert response.status_code == 302
    assert HandoverNote.objects.get().text == "Watch db-3"


def test_the_overview_shows_each_team_and_who_is_on_call(client, rostered, payments, manager):
    client.force_login(manager)

    body = client.get("/oncall/").content.decode()

    assert 'id="now-platform"' in body
    assert 'data-layer="primary" data-user="engineer"' in body
    assert "No rotation yet" in body  # payments


def test_the_dashboard_header_shows_the_viewers_teams_on_call(client, rostered, lead, pay_lead):
    client.force_login(lead)
    body = client.get("/dashboard/").content.decode()
    header = re.search(r'id="oncall-header".*?</p>', body, re.S).group(0)
    assert 'data-team="platform"' in header
    assert "Engineer" in header

    client.force_login(pay_lead)  # payments keeps no roster
    assert 'id="oncall-header"' not in client.get("/dashboard/").content.decode()


def test_the_pages_speak_chinese(client, rostered, lead):
    client.force_login(lead)
    client.post("/accounts/language/", {"language": "zh-hans"})

    body = client.get("/oncall/platform/").content.decode()

    assert "值班表" in body
    assert "主值班" in body
    assert "添加代班" in body


def test_another_teams_roster_is_not_found(client, rostered, pay_engineer):
    client.force_login(pay_engineer)
    assert client.get("/oncall/platform/").status_code == 404
    assert 'id="now-platform"' not in client.get("/oncall/").content.decode()


def test_the_workspace_says_who_was_paged_or_that_it_fell_back(client, platform, lead, onduty):
    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")
    sweep_due_deadlines()
    client.force_login(lead)

    body = client.get(f"/incidents/{incident.pk}/").content.decode()

    assert "Nobody is on call (primary) now: sent to the team&#x27;s tech leads instead." in body


def test_an_override_that_doubles_someone_up_is_saved_with_a_warning(
    client, rostered, lead, onduty
):
    make_rotation(actor=lead, team=rostered, people=[onduty], layer="secondary", name="Backup")
    client.force_login(lead)
    start = timezone.localtime(NOW + timedelta(days=1)).replace(hour=9, minute=0)
    response = client.post(
        "/oncall/platform/overrides/",
        {
            "layer": "primary",
            "user": "onduty",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + 9 * H).strftime("%Y-%m-%dT%H:%M"),
        },
        follow=True,
    )

    # Saved all the same (a warning, not a refusal), and said once after saving:
    # by the page's roster warning, not a second time as a message.
    assert Override.objects.filter(user=onduty).exists()
    double = "Onduty is primary and secondary at once from 11-27 09:00 until 11-27 18:00"
    assert response.content.decode().count(double) == 1
    assert not [m for m in response.context["messages"] if m.level_tag == "warning"]
    # The team page and the overview keep warning while the stretch lies ahead.
    body = client.get("/oncall/platform/").content.decode()
    assert re.search(r'class="alert alert-warning[^"]*roster-warning">[^<]*' + double, body)
    assert double in client.get("/oncall/").content.decode()


def test_a_double_duty_beyond_the_grid_is_said_after_saving(client, rostered, lead, onduty):
    make_rotation(actor=lead, team=rostered, people=[onduty], layer="secondary", name="Backup")
    client.force_login(lead)
    start = timezone.localtime(NOW + timedelta(days=60)).replace(hour=9, minute=0)
    response = client.post(
        "/oncall/platform/overrides/",
        {
            "layer": "primary",
            "user": "onduty",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + 9 * H).strftime("%Y-%m-%dT%H:%M"),
        },
        follow=True,
    )

    # The grid does not reach that far: the message is the only place it is said.
    double = "Onduty is primary and secondary at once from 01-25 09:00 until 01-25 18:00"
    [warning] = [m for m in response.context["messages"] if m.level_tag == "warning"]
    assert double in str(warning)
    assert response.content.decode().count(double) == 1


def test_no_double_duty_warning_without_one(client, rostered, lead, tester):
    make_rotation(actor=lead, team=rostered, people=[tester], layer="secondary", name="Backup")
    client.force_login(lead)

    body = client.get("/oncall/platform/").content.decode()

    assert "at once" not in body
    assert "at once" not in client.get("/oncall/").content.decode()


def test_the_first_calendar_address_does_not_speak_of_a_previous_one(client, rostered, lead):
    client.force_login(lead)

    first = client.post("/oncall/feeds/", {"team": "platform"}, follow=True)
    again = client.post("/oncall/feeds/", {"team": "platform"}, follow=True)

    [made] = [str(m) for m in first.context["messages"]]
    assert made == "Calendar address made."
    [remade] = [str(m) for m in again.context["messages"]]
    assert remade == "New calendar address made; the previous one no longer works."


def test_a_calendar_address_has_a_copy_button_and_stays_selectable(client, rostered, lead):
    client.force_login(lead)
    client.post("/oncall/feeds/", {"team": "platform"})

    body = client.get("/oncall/platform/").content.decode()

    address = re.search(r'<input[^>]*id="feed-team-url"[^>]*>', body).group(0)
    assert "readonly" in address
    assert "/oncall/feeds/" in address
    button = re.search(r'<button[^>]*data-copy="feed-team-url"[^>]*>[^<]*</button>', body)
    assert button is not None
    assert "Copy" in button.group(0)
    assert " hidden" in button.group(0)  # shown by the script, where it can copy


def header_of(client) -> str:
    body = client.get("/dashboard/").content.decode()
    return re.search(r'id="oncall-header".*?</p>', body, re.S).group(0)


def test_the_dashboard_header_is_worked_out_once_a_minute(client, rostered, lead):
    client.force_login(lead)
    client.get("/dashboard/")
    with CaptureQueriesContext(connection) as first:
        client.get("/dashboard/")  # the roster's answer as kept
    clock_queries = [q for q in first.captured_queries if "escalation_rotation" in q["sql"]]

    assert clock_queries == []
    assert "Engineer" in header_of(client)


def test_the_dashboard_header_follows_a_handoff_within_a_minute(client, clock, rostered, lead):
    client.force_login(lead)
    handoff = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 30th 09:00 in Shanghai
    clock.move_to(handoff - timedelta(seconds=30))
    assert "Engineer" in header_of(client)

    clock.move_to(handoff + timedelta(seconds=10))
    assert "Engineer" in header_of(client)  # the answer of 40 s ago, kept

    clock.move_to(handoff + timedelta(seconds=31))  # a minute after it was worked out
    header = header_of(client)
    assert "Onduty" in header
    assert "Engineer" not in header


def test_the_dashboard_header_shows_a_new_override_at_once(client, clock, rostered, lead, tester):
    client.force_login(lead)
    assert "Engineer" in header_of(client)

    override_create(
        actor=lead,
        team=rostered,
        layer="primary",
        user=tester,
        start=NOW - timedelta(minutes=5),
        end=NOW + 2 * H,
    )

    header = header_of(client)
    assert "Tester" in header
    assert "Engineer" not in header
