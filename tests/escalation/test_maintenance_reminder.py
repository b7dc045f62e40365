"""The team hears of a maintenance window 3 hours before each occurrence, once."""

from datetime import timedelta

import pytest
from django.core import mail

from escalation.maintenance import remind_windows
from escalation.messages import render
from escalation.models import Delivery, Notice
from incidents.models import MaintenanceWindow
from tests.conftest import NOW
from tests.factories import make_user

HOUR = timedelta(hours=1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def people(platform, lead, engineer):
    lead.email, engineer.email = "lead@example.com", "engineer@example.com"
    lead.save(), engineer.save()
    return lead, engineer


def one_off(team, start, hours=2, **kwargs):
    return MaintenanceWindow.objects.create(
        team=team, title="Database upgrade", starts_at=start, ends_at=start + hours * HOUR, **kwargs
    )


def test_it_reminds_the_team_three_hours_before_once(
    clock, platform, people, django_capture_on_commit_callbacks
):
    window = one_off(platform, NOW + 3 * HOUR)

    with django_capture_on_commit_callbacks(execute=True):
        assert remind_windows(NOW) == 1
        assert remind_windows(NOW + HOUR) == 0  # the same occurrence

    notice = Notice.objects.get(clock="window")
    assert notice.incident_id is None
    assert notice.team == platform
    assert set(notice.recipients) >= {"lead", "engineer"}
    assert notice.deadline == window.starts_at
    assert sorted(m.to[0] for m in mail.outbox) == ["engineer@example.com", "lead@example.com"]
    subject, body = render(notice)
    assert "Database upgrade" in subject
    assert "page nobody" in body
    assert f"/maintenance/{window.pk}/" in body
    window.refresh_from_db()
    assert window.reminded_occurrence == window.starts_at


def test_it_waits_until_three_hours_before(clock, platform, people):
    one_off(platform, NOW + 3 * HOUR + timedelta(minutes=1))

    assert remind_windows(NOW) == 0
    assert remind_windows(NOW + timedelta(minutes=2)) == 1


def test_it_does_not_remind_of_a_window_already_running(clock, platform, people):
    one_off(platform, NOW - HOUR)

    assert remind_windows(NOW) == 0
    assert not Notice.objects.exists()


def test_it_reminds_of_each_occurrence_of_a_recurring_window(clock, platform, people):
    MaintenanceWindow.objects.create(
        team=platform,
        title="Nightly backup",
        starts_at=NOW + 2 * HOUR,
        recurrence="FREQ=DAILY",
        duration_minutes=30,
    )

    assert remind_windows(NOW) == 1
    assert remind_windows(NOW + 2 * HOUR) == 0
    assert remind_windows(NOW + 24 * HOUR) == 1  # tomorrow's, 2 hours ahead
    cycles = set(Notice.objects.values_list("cycle", flat=True))
    assert len(cycles) == 2


def test_it_tells_the_team_channels_too(clock, platform, people):
    from escalation.models import TeamChannel

    TeamChannel.objects.create(
        team=platform, kind="webhook", url="https://hooks.example.com/x", name="ops room"
    )
    one_off(platform, NOW + HOUR)

    remind_windows(NOW)

    assert Delivery.objects.filter(channel="webhook").count() == 1


def test_it_does_not_remind_another_team(clock, platform, payments, people):
    make_user("engineer", payments, username="pay-someone")
    one_off(payments, NOW + HOUR)

    remind_windows(NOW)

    assert Notice.objects.get().recipients == ["pay-someone"]


def test_the_inbox_links_the_reminder_to_its_window(clock, client, platform, people):
    lead, _engineer = people
    window = one_off(platform, NOW + HOUR)
    remind_windows(NOW)
    client.force_login(lead)

    page = client.get("/notifications/").content.decode()

    assert f'href="/maintenance/{window.pk}/"' in page
    assert "Database upgrade" in page
