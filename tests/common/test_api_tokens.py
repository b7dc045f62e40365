"""API tokens: each user creates, replaces and revokes their own; admins list and
revoke anyone's. A revoked key gets 401 at once."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

PAGE = "/accounts/token/"
API = "/api/v1/incidents/"


def api_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(API).status_code


@pytest.fixture
def web(engineer):
    client = Client()
    client.force_login(engineer)
    return client


@pytest.fixture
def staff(admin):
    admin.is_staff = admin.is_superuser = True  # as seed_demo makes the admin
    admin.save()
    client = Client()
    client.force_login(admin)
    return client


def test_it_creates_a_token_that_is_shown_once_and_works(web, engineer):
    response = web.post(PAGE, {"action": "create"})

    key = Token.objects.get(user=engineer).key
    assert response.status_code == 200
    assert key in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert api_status(key) == 200
    later = web.get(PAGE).content.decode()
    assert key not in later
    assert key[:6] in later


def test_it_replaces_a_token_and_the_old_key_stops_working(web, engineer):
    web.post(PAGE, {"action": "create"})
    old = Token.objects.get(user=engineer).key

    web.post(PAGE, {"action": "create"})

    new = Token.objects.get(user=engineer).key
    assert new != old
    assert api_status(old) == 401
    assert api_status(new) == 200


def test_it_revokes_a_token(web, engineer):
    web.post(PAGE, {"action": "create"})
    key = Token.objects.get(user=engineer).key

    response = web.post(PAGE, {"action": "revoke"}, follow=True)

    assert not Token.objects.filter(user=engineer).exists()
    assert "no longer works" in response.content.decode()
    assert api_status(key) == 401


def test_it_refuses_an_unknown_action(web, engineer):
    response = web.post(PAGE, {"action": "steal"})

    assert response.status_code == 400
    assert not Token.objects.filter(user=engineer).exists()


def test_it_asks_strangers_to_sign_in(db):
    response = Client().post(PAGE, {"action": "create"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Token.objects.exists()


def test_it_touches_only_the_users_own_token(web, engineer, lead):
    theirs = Token.objects.create(user=lead)

    web.post(PAGE, {"action": "revoke"})

    assert Token.objects.filter(pk=theirs.pk).exists()


def test_it_lists_every_users_token_to_admins_without_the_key(staff, engineer, lead):
    keys = [Token.objects.create(user=user).key for user in (engineer, lead)]

    page = staff.get("/admin/common/apitokenholder/").content.decode()

    for user, key in zip((engineer, lead), keys, strict=True):
        assert user.username in page
        assert key[:6] in page
        assert key not in page


def test_it_lets_admins_revoke_tokens(staff, engineer, lead):
    keys = [Token.objects.create(user=user).key for user in (engineer, lead)]

    response = staff.post(
        "/admin/common/apitokenholder/",
        {"action": "revoke", "_selected_action": [engineer.pk, lead.pk]},
        follow=True,
    )

    assert "2 API tokens revoked." in response.content.decode()
    assert not Token.objects.exists()
    assert api_status(keys[0]) == 401


def test_it_keeps_the_token_admin_from_other_users(web, engineer):
    Token.objects.create(user=engineer)

    response = web.get("/admin/common/apitokenholder/")

    assert response.status_code == 403  # the admin is for administrators (config/admin.py)
