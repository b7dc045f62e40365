"""Repeated wrong passwords lock one username from one address for a while.

django-axes counts failures per (username, client address); settings give 5
failures and 15 minutes. Admins see and lift locks in the admin.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings

LOGIN = "/accounts/login/"
PASSWORD = "responder-test"


def attempt(client, username="engineer", password="wrong", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def fail(client, times, username="engineer", **extra):
    for _ in range(times):
        response = attempt(client, username, **extra)
        assert response.status_code == 200, "a wrong password re-renders the form"


@pytest.fixture
def browser_client():
    return Client(REMOTE_ADDR="203.0.113.7")


def test_it_locks_after_five_wrong_passwords(clock, engineer, browser_client):
    fail(browser_client, 4)

    response = attempt(browser_client)

    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()
    assert "5 wrong passwords" in response.content.decode()
    assert "15 min" in response.content.decode()


def test_it_refuses_even_the_right_password_while_locked(clock, engineer, browser_client):
    fail(browser_client, 4)
    attempt(browser_client)

    response = attempt(browser_client, password=PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in browser_client.session


def test_it_lets_the_user_in_below_the_limit_and_forgets_the_failures(
    clock, engineer, browser_client
):
    fail(browser_client, 4)

    response = attempt(browser_client, password=PASSWORD)

    assert response.status_code == 302
    assert browser_client.session["_auth_user_id"] == str(engineer.pk)
    assert not AccessAttempt.objects.filter(username="engineer").exists()


def test_it_unlocks_after_the_cool_off(clock, engineer, browser_client):
    fail(browser_client, 4)
    attempt(browser_client)
    clock.shift(timedelta(minutes=14))
    assert attempt(browser_client, password=PASSWORD).status_code == 429

    clock.shift(timedelta(minutes=16))
    response = attempt(browser_client, password=PASSWORD)

    assert response.status_code == 302


def test_it_does_not_lock_the_user_out_from_another_address(clock, engineer, browser_client):
    fail(browser_client, 4)
    attempt(browser_client)

    response = attempt(Client(REMOTE_ADDR="198.51.100.20"), password=PASSWORD)

    assert response.status_code == 302


def test_it_locks_the_admin_login_too(clock, admin, browser_client):
    for _ in range(5):
        browser_client.post(
            "/admin/login/?next=/admin/", {"username": "admin", "password": "wrong"}
        )

    response = browser_client.post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD}
    )

    assert response.status_code == 429


def test_it_shows_the_lock_to_admins_who_can_lift_it(clock, engineer, admin, browser_client):
    fail(browser_client, 4)
    attempt(browser_client)
    admin.is_staff = admin.is_superuser = True  # as seed_demo makes the admin
    admin.save()
    staff = Client()
    staff.force_login(admin)

    listing = staff.get("/admin/axes/accessattempt/")

    assert listing.status_code == 200
    assert "engineer" in listing.content.decode()
    assert "203.0.113.7" in listing.content.decode()
    lock = AccessAttempt.objects.get(username="engineer")
    staff.post(
        f"/admin/axes/accessattempt/{lock.pk}/delete/",
        {"post": "yes"},
    )
    assert attempt(browser_client, password=PASSWORD).status_code == 302


@override_settings(BEHIND_PROXY=True)
def test_it_counts_the_address_the_proxy_saw_not_one_the_client_wrote(clock, engineer):
    through_proxy = Client(REMOTE_ADDR="10.0.0.2")
    # The client forges a fresh first hop each time; the proxy appends the real one.
    for n in range(5):
        attempt(through_proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7")

    response = attempt(
        through_proxy, password=PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7"
    )

    assert response.status_code == 429
    other = attempt(through_proxy, password=PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert other.status_code == 302


def test_it_answers_the_lock_in_the_users_language(clock, engineer, browser_client):
    fail(browser_client, 4, HTTP_ACCEPT_LANGUAGE="zh-hans")

    response = attempt(browser_client, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 429
    assert 'lang="zh-hans"' in response.content.decode()
