"""A form posted without its CSRF token gets a clear page, in the user's language."""

from django.test import Client


def test_it_says_the_form_expired_and_offers_it_again(db):
    response = Client(enforce_csrf_checks=True).post(
        "/status/subscribe/", {"email": "a@example.com"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 403
    body = response.content.decode()
    assert "The form has expired" in body
    assert "Nothing was saved" in body
    assert 'href="/status/subscribe/"' in body
    assert "<style>" not in body  # the site's CSP blocks inline styles


def test_it_speaks_chinese_to_a_chinese_browser(db):
    response = Client(enforce_csrf_checks=True).post(
        "/status/subscribe/", {"email": "a@example.com"}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )

    assert response.status_code == 403
    assert "表单已失效" in response.content.decode()
