"""Improvement actions: owner and due date, tracked to done; overdue → one notice."""

from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from common.people import display_name
from escalation.engine import sweep_due_deadlines
from escalation.models import Delivery, Notice
from knowledge import services as knowledge
from knowledge.models import ActionItem
from tests.conftest import NOW
from tests.factories import resolved_incident

pytestmark = pytest.mark.django_db

SHANGHAI_MIDNIGHT_AFTER_DUE = datetime.fromisoformat("2026-11-28T00:00:00+08:00")


@pytest.fixture
def item(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    return knowledge.action_item_add(
        incident=incident,
        actor=lead,
        text="Alert on pool saturation.",
        owner=owner,
        due_date=date(2026, 11, 27),
    )


def test_it_needs_text_owner_and_due_date(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner)
    with pytest.raises(ValidationError) as refused:
        knowledge.action_item_add(
            incident=incident, actor=lead, text=" ", owner=None, due_date=None
        )
    assert set(refused.value.message_dict) == {"text", "owner", "due_date"}
    assert not ActionItem.objects.exists()


def test_it_tells_the_owner_once_the_due_date_has_passed(clock, item, owner):
    clock.move_to(SHANGHAI_MIDNIGHT_AFTER_DUE - timedelta(seconds=1))
    sweep_due_deadlines()
    assert not Notice.objects.filter(clock="action").exists()  # still due today

    clock.move_to(SHANGHAI_MIDNIGHT_AFTER_DUE + timedelta(seconds=5))
    sweep_due_deadlines()
    sweep_due_deadlines()

    notice = Notice.objects.get(clock="action")
    assert (notice.cycle, notice.level, notice.recipients, notice.late) == (
        item.pk,
        1,
        ["owner"],
        False,
    )
    assert notice.deadline == SHANGHAI_MIDNIGHT_AFTER_DUE
    assert Delivery.objects.filter(notice=notice, channel="inapp", user=owner).exists()
    item.refresh_from_db()
    assert item.overdue_notified_at is not None


def test_it_marks_a_notice_late_after_an_outage(clock, item):
    clock.move_to(SHANGHAI_MIDNIGHT_AFTER_DUE + timedelta(days=3))
    sweep_due_deadlines()
    notice = Notice.objects.get(clock="action")
    assert notice.late is True
    assert notice.late_seconds == 3 * 24 * 3600


def test_it_does_not_tell_anyone_about_a_done_action(clock, item, owner):
    knowledge.action_item_done(item=item, actor=owner)
    clock.move_to(SHANGHAI_MIDNIGHT_AFTER_DUE + timedelta(days=1))
    sweep_due_deadlines()
    assert not Notice.objects.filter(clock="action").exists()


def test_it_lets_the_owner_or_a_lead_mark_it_done(clock, item, owner, engineer):
    with pytest.raises(PermissionDenied):
        knowledge.action_item_done(item=item, actor=engineer)
    done = knowledge.action_item_done(item=item, actor=owner)
    assert done.done_at == NOW
    assert done.done_by == owner


def test_it_shows_overdue_actions_on_the_leads_dashboard(clock, client, item, lead, engineer):
    clock.move_to(SHANGHAI_MIDNIGHT_AFTER_DUE + timedelta(hours=1))
    client.force_login(lead)
    body = client.get("/dashboard/").content.decode()
    assert 'id="overdue-actions"' in body
    assert "Alert on pool saturation." in body
    incident = item.postmortem.incident
    link = reverse("postmortem", args=[incident.pk])
    assert f'<a href="{link}">{incident.number}</a>' in body
    assert f"— {display_name(item.owner)}, due {item.due_date:%Y-%m-%d}" in body

    client.force_login(engineer)
    assert 'id="overdue-actions"' not in client.get("/dashboard/").content.decode()


def test_it_adds_and_completes_actions_from_the_page(clock, client, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    client.force_login(lead)
    url = f"/incidents/{incident.pk}/postmortem/actions/"

    bad = client.post(url, {"action-text": "", "action-owner": owner.pk})
    assert bad.status_code == 400
    assert not ActionItem.objects.exists()

    ok = client.post(
        url,
        {
            "action-text": "Review pool size",
            "action-owner": owner.pk,
            "action-due_date": "2026-12-01",
        },
    )
    assert ok.status_code == 302
    action = ActionItem.objects.get()
    client.force_login(owner)
    assert client.post(f"/knowledge/actions/{action.pk}/done/").status_code == 302
    action.refresh_from_db()
    assert action.done_by == owner
