"""/accounts/language/ and /accounts/profile/: where a user saves their language,
time zone and notice channels (incidents.middleware applies them)."""

import pytest

from incidents.models import UserProfile

pytestmark = pytest.mark.django_db


def test_the_switch_saves_the_language_and_goes_back(client, lead):
    client.force_login(lead)
    response = client.post("/accounts/language/", {"language": "zh-hans", "next": "/my/"})
    assert response.status_code == 302
    assert response["Location"] == "/my/"
    assert UserProfile.objects.get(user=lead).language == "zh-hans"
    assert response.cookies["django_language"].value == "zh-hans"


def test_the_switch_works_before_signing_in(client):
    response = client.post("/accounts/language/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"
    assert client.get("/accounts/login/")["Content-Language"] == "en"


@pytest.mark.parametrize("language", ["fr", "", "zh-hant"])
def test_the_switch_refuses_an_unknown_language(client, lead, language):
    client.force_login(lead)
    response = client.post("/accounts/language/", {"language": language})
    assert response.status_code == 400
    assert not UserProfile.objects.filter(user=lead).exclude(language="").exists()


def test_the_switch_ignores_a_next_elsewhere(client, lead):
    client.force_login(lead)
    response = client.post(
        "/accounts/language/", {"language": "en", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_the_settings_page_saves_language_zone_and_notices(client, lead):
    client.force_login(lead)
    assert client.get("/accounts/profile/").status_code == 200
    response = client.post(
        "/accounts/profile/",
        {"language": "en", "time_zone": "UTC", "email_notices": "on", "phone": "+86 138"},
    )
    assert response.status_code == 302
    profile = UserProfile.objects.get(user=lead)
    assert (profile.language, profile.time_zone, profile.email_notices) == ("en", "UTC", True)
    assert profile.inapp_notices is False


def test_the_settings_page_refuses_an_unknown_zone(client, lead):
    client.force_login(lead)
    response = client.post("/accounts/profile/", {"language": "", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert not UserProfile.objects.filter(user=lead, time_zone="Mars/Olympus").exists()
