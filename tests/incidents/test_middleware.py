"""incidents.middleware: each request in the language and time zone of the
user's profile, else the browser's / the site's."""

import pytest

from incidents.models import UserProfile

pytestmark = pytest.mark.django_db


def test_it_follows_the_browsers_language_without_a_saved_one(client, lead):
    client.force_login(lead)
    response = client.get("/my/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert response["Content-Language"] == "zh-hans"
    english = client.get("/my/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert english["Content-Language"] == "en"


def test_it_prefers_the_language_saved_in_the_profile(client, lead):
    UserProfile.objects.create(user=lead, language="zh-hans")
    client.force_login(lead)
    response = client.get("/my/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in response.content.decode()


def test_it_falls_back_to_the_site_default(client, lead, settings):
    client.force_login(lead)
    assert client.get("/my/")["Content-Language"] == settings.LANGUAGE_CODE


def test_it_shows_times_in_the_users_time_zone(client, lead, clock):
    from tests.factories import new_incident

    incident = new_incident(reporter=lead)  # received 2026-11-26 02:00 UTC
    client.force_login(lead)
    shanghai = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "2026-11-26 10:00" in shanghai  # the site default, Asia/Shanghai
    UserProfile.objects.update_or_create(user=lead, defaults={"time_zone": "Europe/Berlin"})
    berlin = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "2026-11-26 03:00" in berlin
