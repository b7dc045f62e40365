"""Notices in each recipient's language: a user's saved language for email and
the in-app inbox, the site's language for the team channels; times in the
recipient's time zone."""

import json
from datetime import timedelta

import pytest
from django.core import mail

from escalation.engine import sweep_due_deadlines
from escalation.messages import render
from escalation.models import Delivery, Notice, TeamChannel
from escalation.tasks import deliver
from incidents.models import UserProfile
from tests.conftest import NOW
from tests.escalation.test_channels import Receiver
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

SAYS = {"en": "response overdue", "zh-hans": "响应已超时"}
OVERDUE = {"en": "overdue by 1 min", "zh-hans": "已超时 1 分钟"}
ANSWERS = {
    "webhook": {},
    "slack": {},
    "wecom": {"errcode": 0},
    "dingtalk": {"errcode": 0},
    "feishu": {"code": 0},
}


def breach(clock, onduty):
    incident = IncidentFactory(actor=onduty, severity="P0")
    clock.move_to(NOW + timedelta(minutes=6))  # respond within 5 min: 1 min late
    sweep_due_deadlines()
    return incident


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_it_writes_team_channels_in_the_sites_language(
    clock, settings, onduty, lead, platform, kind, language
):
    settings.LANGUAGE_CODE = language
    with Receiver(ANSWERS[kind]) as r:
        TeamChannel.objects.create(team=platform, kind=kind, name="ops", url=r.url, secret="s3cret")
        breach(clock, onduty)
        deliver(Delivery.objects.get(channel=kind).pk)

    assert Delivery.objects.get(channel=kind).status == "sent"
    sent = json.dumps(r.requests[0]["body"], ensure_ascii=False)
    assert SAYS[language] in sent
    other = "zh-hans" if language == "en" else "en"
    assert SAYS[other] not in sent


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_it_emails_each_user_in_their_language(clock, settings, onduty, lead, language):
    settings.LANGUAGE_CODE = "en" if language == "zh-hans" else "zh-hans"  # not the site's
    UserProfile.objects.create(user=lead, language=language, time_zone="Asia/Shanghai")
    breach(clock, onduty)
    deliver(Delivery.objects.get(channel="email", user=lead).pk)

    [message] = mail.outbox
    assert SAYS[language] in message.subject
    assert OVERDUE[language] in message.body
    assert "2026-11-26 10:05 CST" in message.body  # the deadline, in Shanghai time


def test_it_writes_times_in_the_recipients_zone(clock, onduty, lead):
    UserProfile.objects.create(user=lead, language="en", time_zone="Europe/London")
    breach(clock, onduty)
    deliver(Delivery.objects.get(channel="email", user=lead).pk)
    assert "2026-11-26 02:05 GMT" in mail.outbox[0].body


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_it_shows_the_inbox_in_the_users_language(client, clock, onduty, lead, language):
    UserProfile.objects.create(user=lead, language=language)
    breach(clock, onduty)
    client.force_login(lead)
    body = client.get("/notifications/").content.decode()
    assert SAYS[language] in body
    assert OVERDUE[language].split(" 1 ")[0] in body


def test_it_renders_one_notice_in_both_languages(clock, onduty, lead):
    breach(clock, onduty)
    notice = Notice.objects.get(clock="respond")
    english = render(notice, language="en")
    chinese = render(notice, language="zh-hans")
    assert SAYS["en"] in english[0]
    assert SAYS["zh-hans"] in chinese[0]
    assert english[1] != chinese[1]
