"""/ sends each role to its first screen."""

import re

import pytest

from incidents.models import UserProfile
from incidents.rules import Role
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("role", "home"),
    [
        ("lead", "/dashboard/"),
        ("manager", "/dashboard/"),
        ("admin", "/dashboard/"),
        ("engineer", "/my/"),
        ("tester", "/my/"),
        ("onduty", "/incidents/new/"),
        ("pay_lead", "/dashboard/"),
    ],
)
def test_it_sends_each_role_home(request, signed_in, role, home):
    client = signed_in(request.getfixturevalue(role))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == home
    assert client.get(home).status_code == 200


def test_it_signs_in_through_the_login_form(client, lead):
    response = client.post("/accounts/login/", {"username": "lead", "password": "responder-test"})
    assert response.status_code == 302
    assert client.get("/", follow=True).status_code == 200


def test_it_keeps_a_wrong_password_on_the_login_page(client, lead):
    response = client.post("/accounts/login/", {"username": "lead", "password": "nope"})
    assert response.status_code == 200
    assert "didn" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_shows_name_roles_and_unread_count_in_the_header(signed_in, lead):
    body = signed_in(lead).get("/dashboard/").content.decode()
    assert 'id="current-user"' in body
    assert "Lead" in body  # first name from the factory
    assert "tech lead" in body


def test_it_changes_the_password(signed_in, engineer):
    client = signed_in(engineer)
    page = client.get("/accounts/password/")
    assert page.status_code == 200
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "responder-test",
            "new_password1": "a-much-Longer-pass-2026",
            "new_password2": "a-much-Longer-pass-2026",
        },
    )
    assert response.status_code == 302
    engineer.refresh_from_db()
    assert engineer.check_password("a-much-Longer-pass-2026")


def test_it_refuses_a_password_change_with_the_wrong_old_password(signed_in, engineer):
    client = signed_in(engineer)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "wrong",
            "new_password1": "x-Long-pass-2026",
            "new_password2": "x-Long-pass-2026",
        },
    )
    assert response.status_code == 200
    assert "old password" in response.content.decode().lower()
    engineer.refresh_from_db()
    assert engineer.check_password("responder-test")


def _header(body: str) -> str:
    return re.search(r'id="current-user".*?</a>', body, re.S).group(0)


def test_it_shows_the_display_name_once_with_each_role(signed_in, platform):
    user = make_user(Role.TECH_LEAD, platform, lead=True, first_name="陈杰", last_name="Chen Jie")
    header = _header(signed_in(user).get("/dashboard/").content.decode())
    assert header.count("陈杰 Chen Jie") == 1
    assert header.count("tech lead") == 1


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_it_does_not_repeat_a_role_the_name_already_states(signed_in, platform, language):
    # The old demo names held the role: "技术负责人 Chen Jie · 技术负责人".
    user = make_user(
        Role.TECH_LEAD, platform, lead=True, first_name="技术负责人", last_name="Chen Jie"
    )
    UserProfile.objects.update_or_create(user=user, defaults={"language": language})
    header = _header(signed_in(user).get("/dashboard/").content.decode())
    assert header.count("技术负责人") == 1
    assert "tech lead" not in header
    assert "Chen Jie" in header
