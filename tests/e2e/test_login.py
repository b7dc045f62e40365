"""/accounts/login/ in a real browser: the form, both outcomes, a phone-width screen."""

from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.e2e.conftest import LOGIN_PATH, PASSWORD


def test_it_renders_labelled_fields(page, screenshot):
    page.goto(LOGIN_PATH)

    expect(page.get_by_label("Username")).to_have_attribute("name", "username")
    expect(page.get_by_label("Password")).to_have_attribute("type", "password")
    expect(page.locator("form:has(input[name=password]) [type=submit]")).to_be_visible()
    screenshot(page, "login")


def test_it_refuses_a_wrong_password(page, onduty):
    page.goto(LOGIN_PATH)
    page.get_by_label("Username").fill("onduty")
    page.get_by_label("Password").fill("not-the-password")
    page.locator("form:has(input[name=password]) [type=submit]").click()

    expect(page.locator(".alert-danger, [role=alert], .errorlist").first).to_be_visible()
    assert urlsplit(page.url).path == LOGIN_PATH
    expect(page.get_by_label("Username")).to_have_value("onduty")


def test_it_signs_in_with_the_right_password(page, onduty):
    page.goto(LOGIN_PATH)
    page.get_by_label("Username").fill("onduty")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form:has(input[name=password]) [type=submit]").click()

    page.wait_for_url(lambda url: urlsplit(url).path != LOGIN_PATH)
    expect(page.locator("body")).to_contain_text(onduty.username, ignore_case=True)


def test_it_signs_in_through_login_as(login_as, lead):
    page = login_as("lead")

    assert urlsplit(page.url).path != LOGIN_PATH
    expect(page.locator("body")).to_contain_text(lead.username, ignore_case=True)


def test_it_loads_nothing_from_elsewhere_and_logs_no_errors(page, browser_problems):
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(LOGIN_PATH)
    page.wait_for_load_state("networkidle")
    browser_problems.settle()

    assert any(url.endswith(".css") for url in requested), requested  # assets did load
    assert browser_problems.problems == []


def test_it_does_not_scroll_sideways_on_a_phone(page, screenshot):
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(LOGIN_PATH)

    widths = page.evaluate(
        "({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["inner"], widths
    screenshot(page, "login-375px")
