"""The roster timeline in Chinese: a change's kind and its text joined by a full-width colon."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import UserProfile
from tests.conftest import NOW
from tests.factories import make_rotation

pytestmark = pytest.mark.django_db


def test_it_joins_a_roster_change_and_its_text_with_a_chinese_colon(
    client, clock, platform, lead, engineer, onduty, tester
):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty], name="Weekly primary")
    UserProfile.objects.update_or_create(user=lead, defaults={"language": "zh-hans"})
    client.force_login(lead)
    start = timezone.localtime(NOW + timedelta(days=1)).replace(hour=9, minute=0)
    client.post(
        "/oncall/platform/overrides/",
        {
            "layer": "primary",
            "user": "tester",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M"),
            "note": "Release rehearsal",
        },
    )

    body = client.get("/oncall/platform/").content.decode()

    timeline = body.split('id="roster-timeline"')[1].split("</section>")[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", timeline))
    assert "添加代班：" in text
    assert "添加代班:" not in text
