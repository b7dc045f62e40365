"""The header in a real browser: one line at 1280 px in both languages (the
language switch's button no longer wraps into "切 / 换"), and a clean collapse
on a phone, with the user's menu (settings, log out) reachable in both."""

import pytest
from playwright.sync_api import expect

from incidents.models import UserProfile
from incidents.rules import Role
from tests.factories import make_user

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
ONE_LINE = 60  # px: the navbar's height with a single row of 40 px items


@pytest.fixture
def manager_named(platform, payments):
    # A manager sees every link (archive and metrics too): the widest header.
    user = make_user(
        Role.MANAGER, platform, username="liu", first_name="刘洋", last_name="Liu Yang"
    )
    return user


def _box(page, selector):
    return page.locator(selector).first.bounding_box()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_it_fits_in_one_line_at_1280(login_as, screenshot, manager_named, language):
    UserProfile.objects.update_or_create(user=manager_named, defaults={"language": language})
    page = login_as("liu")
    page.set_viewport_size(DESKTOP)
    page.goto("/dashboard/")
    expect(page.locator("html")).to_have_attribute("lang", language)

    nav = _box(page, "nav.navbar")
    assert nav["height"] <= ONE_LINE, nav
    select, button = _box(page, "#language-select"), _box(page, "#language-switch button")
    assert button["height"] <= select["height"] + 2, (select, button)  # one line of text
    for selector in (".navbar-brand", "#nav-main .nav-link", "#current-user", "#language-switch"):
        for item in page.locator(selector).all():
            box = item.bounding_box()
            assert box["x"] + box["width"] <= DESKTOP["width"], (selector, box)
            assert box["y"] + box["height"] <= nav["y"] + nav["height"], (selector, box)
    header = page.locator("#current-user")
    expect(header).to_contain_text("刘洋 Liu Yang")
    expect(header).to_contain_text("管理者" if language == "zh-hans" else "manager")

    header.click()
    expect(page.locator(".dropdown-menu a[href='/accounts/profile/']")).to_be_visible()
    screenshot(page, f"header-{language}-desktop")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_it_collapses_cleanly_on_a_phone(login_as, screenshot, manager_named, language):
    UserProfile.objects.update_or_create(user=manager_named, defaults={"language": language})
    page = login_as("liu")
    page.set_viewport_size(PHONE)
    page.goto("/dashboard/")

    nav = _box(page, "nav.navbar")
    assert nav["height"] <= ONE_LINE, nav  # brand, language switch and menu button
    expect(page.locator("#nav-main .nav-link").first).to_be_hidden()
    toggler = _box(page, ".navbar-toggler")
    assert toggler["x"] + toggler["width"] <= PHONE["width"], toggler
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= PHONE["width"], page_width

    page.locator(".navbar-toggler").click()
    expect(page.locator("#nav-main a[href='/archive/']")).to_be_visible()
    page.locator("#current-user").click()
    expect(page.locator(".dropdown-menu button[type=submit]")).to_be_visible()  # log out
    screenshot(page, f"header-{language}-phone")
