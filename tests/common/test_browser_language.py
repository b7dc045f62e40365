"""Someone who never chose a language gets e-mail, notices and the calendar feed in
the language their browser asked for when they last signed in."""

from datetime import timedelta

import icalendar
import pytest
from django.core import mail

from escalation.engine import sweep_due_deadlines
from escalation.models import Delivery
from escalation.roster import services as roster_services
from escalation.tasks import deliver
from incidents.models import UserProfile
from tests.conftest import NOW
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def sign_in(client, user, accept_language="", cookie=""):
    if cookie:
        client.cookies["django_language"] = cookie
    return client.post(
        "/accounts/login/",
        {"username": user.username, "password": "responder-test"},
        HTTP_ACCEPT_LANGUAGE=accept_language,
    )


def browser_language(user) -> str:
    recorded = UserProfile.objects.filter(user=user).values_list("browser_language", flat=True)
    return recorded.first() or ""


@pytest.mark.parametrize(
    ("header", "recorded"),
    [("zh-CN,zh;q=0.9,en;q=0.8", "zh-hans"), ("en-GB,en;q=0.9", "en"), ("fr-FR,de;q=0.5", "")],
)
def test_it_records_the_browsers_language_at_sign_in(client, lead, header, recorded):
    response = sign_in(client, lead, header)

    assert response.status_code == 302
    assert browser_language(lead) == recorded


def test_it_records_the_language_picked_on_the_sign_in_page_first(client, lead):
    sign_in(client, lead, "en-US,en;q=0.9", cookie="zh-hans")
    assert browser_language(lead) == "zh-hans"


def test_it_keeps_the_chosen_language_apart(client, lead):
    UserProfile.objects.create(user=lead, language="en")
    sign_in(client, lead, "zh-CN")
    profile = UserProfile.objects.get(user=lead)
    assert (profile.language, profile.browser_language) == ("en", "zh-hans")


def test_a_p0_email_follows_the_browser_without_a_saved_language(
    client, clock, settings, onduty, lead
):
    settings.LANGUAGE_CODE = "en"  # the site's language is not the browser's
    lead.email = "lead@example.com"
    lead.save()
    sign_in(client, lead, "zh-CN,zh;q=0.9")
    IncidentFactory(actor=onduty, severity="P0")
    clock.move_to(NOW + timedelta(minutes=6))
    sweep_due_deadlines()

    deliver(Delivery.objects.get(channel="email", user=lead).pk)

    assert "响应已超时" in mail.outbox[0].subject
    assert "已超时 1 分钟" in mail.outbox[0].body


def test_a_saved_language_wins_over_the_browser(client, clock, settings, onduty, lead):
    settings.LANGUAGE_CODE = "zh-hans"
    lead.email = "lead@example.com"
    lead.save()
    sign_in(client, lead, "zh-CN")
    UserProfile.objects.filter(user=lead).update(language="en")
    IncidentFactory(actor=onduty, severity="P0")
    clock.move_to(NOW + timedelta(minutes=6))
    sweep_due_deadlines()

    deliver(Delivery.objects.get(channel="email", user=lead).pk)

    assert "response overdue" in mail.outbox[0].subject


def test_the_calendar_feed_follows_the_browser_without_a_saved_language(
    client, clock, settings, lead
):
    settings.LANGUAGE_CODE = "en"
    sign_in(client, lead, "zh-CN")
    feed = roster_services.feed_create(user=lead)
    client.logout()

    # Fetched by a calendar program: no cookie, no Accept-Language of the person.
    response = client.get(f"/oncall/feeds/{feed.token}.ics", HTTP_ACCEPT_LANGUAGE="en-US")

    cal = icalendar.Calendar.from_ical(response.content)
    assert str(cal["x-wr-calname"]) == "我的值班"


def test_it_forgets_a_language_the_browser_no_longer_asks_for(client, lead):
    sign_in(client, lead, "zh-CN")
    client.logout()
    sign_in(client, lead, "fr-FR")
    assert browser_language(lead) == ""
