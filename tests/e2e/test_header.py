"""The header in a real browser: one line at 1280 px in both languages (the
language switch's button no longer wraps into "切 / 换"), and a clean collapse
on a phone, with the user's menu (settings, log out) reachable in both."""

import pytest
from playwright.sync_api import expect

from incidents.models import UserProfile
from incidents.rules import Role
from tests.e2e.test_pages import WIDTH_JS, scene  # noqa: F401 (scene: a fixture)
from tests.factories import make_user

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
ONE_LINE = 60  # px: the navbar's height with a single row of 40 px items


@pytest.fixture
def manager_named(platform, payments):
    # A manager sees every link (archive and metrics too): the widest header.
    user = make_user(
        Role.MANAGER,
        platform,
        lead=True,  # and a tech lead: two roles beside the name
        username="liu",
        first_name="刘洋",
        last_name="Liu Yang",
    )
    return user


def _box(page, selector):
    return page.locator(selector).first.bounding_box()


@pytest.mark.parametrize("script", [True, False], ids=["script", "no-script"])
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_it_fits_in_one_line_at_1280(login_as, screenshot, manager_named, language, script):
    UserProfile.objects.update_or_create(user=manager_named, defaults={"language": language})
    page = login_as("liu", java_script_enabled=script)
    page.set_viewport_size(DESKTOP)
    page.goto("/dashboard/")
    expect(page.locator("html")).to_have_attribute("lang", language)

    nav = _box(page, "nav.navbar")
    assert nav["height"] <= ONE_LINE, nav
    if script:  # the choice applies on select
        expect(page.locator("#language-switch button")).to_be_hidden()
    else:
        select, button = _box(page, "#language-select"), _box(page, "#language-switch button")
        assert button["height"] <= select["height"] + 2, (select, button)  # one line of text
    for selector in (".navbar-brand", "#nav-main .nav-link", "#current-user", "#language-switch"):
        for item in page.locator(selector).all():
            box = item.bounding_box()
            assert box["x"] + box["width"] <= DESKTOP["width"], (selector, box)
            assert box["y"] + box["height"] <= nav["y"] + nav["height"], (selector, box)
    assert not page.evaluate(CLIPPED_NAV_JS)
    header = page.locator("#current-user")
    expect(header).to_contain_text("刘洋 Liu Yang")
    expect(header).to_contain_text("管理者" if language == "zh-hans" else "manager")

    if script:  # the user's menu is a Bootstrap dropdown
        header.click()
        expect(page.locator(".dropdown-menu a[href='/accounts/profile/']")).to_be_visible()
    screenshot(page, f"header-{language}-desktop-{'script' if script else 'no-script'}")


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


# Visible header items cut off: outside the viewport, outside the navbar, or with
# more text than their box shows.
CLIPPED_NAV_JS = """() => {
  const nav = document.querySelector("nav.navbar").getBoundingClientRect();
  const items = document.querySelectorAll(
    "nav.navbar .navbar-brand, nav.navbar .nav-link, #language-switch > :not(.visually-hidden)");
  const bad = [];
  for (const el of items) {
    const r = el.getBoundingClientRect();
    if (!r.width || getComputedStyle(el).visibility === "hidden") continue;
    if (r.left < 0 || r.right > window.innerWidth || r.right > nav.right + 0.5 ||
        el.scrollWidth > el.clientWidth + 1) {
      bad.push(`${el.tagName.toLowerCase()} "${el.textContent.replace(/\\s+/g, " ").trim()}"` +
               ` ${Math.round(r.left)}-${Math.round(r.right)} px, text ${el.scrollWidth} px` +
               ` in ${el.clientWidth} px`);
    }
  }
  return bad;
}"""


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_no_page_scrolls_sideways_for_any_role(
    login_as,
    manager_named,  # before the scene: a lead of the team, so notices come to them too
    scene,  # noqa: F811 (the fixture imported above)
    duty_roster,
    django_user_model,
    viewport,
    language,
):
    """Every main page (the header's links, a workspace, the team's roster) for each
    role: nothing wider than the window, no header item cut off."""
    problems = []
    for username in ("onduty", "owner", "tester", "lead", "manager", "liu"):
        UserProfile.objects.update_or_create(
            user=django_user_model.objects.get(username=username),
            defaults={"language": language},
        )
        page = login_as(username, viewport=viewport)
        page.goto("/dashboard/")
        links = page.locator("#nav-main a.nav-link[href^='/']").evaluate_all(
            "(links) => links.map((a) => a.getAttribute('href'))"
        )
        paths = [*links, f"/incidents/{scene.in_progress.pk}/", "/oncall/platform/"]
        for path in paths:
            page.goto(path)
            expect(page.locator("html")).to_have_attribute("lang", language)
            widths = page.evaluate(WIDTH_JS)
            if widths["scroll"] > viewport["width"]:
                problems.append(f"{username} {path}: {widths['scroll']} px wide {widths['wide']}")
            problems += [f"{username} {path}: {bad}" for bad in page.evaluate(CLIPPED_NAV_JS)]
            if path.startswith("/oncall/"):  # the roster grid shows both layers unscrolled
                for box in page.locator(".table-responsive:has(.roster-grid)").all():
                    scroll, client = box.evaluate("(e) => [e.scrollWidth, e.clientWidth]")
                    if scroll > client:
                        problems.append(f"{username} {path}: roster grid {scroll} px in {client}")
    assert not problems, "\n  ".join(["too wide or cut off:", *problems])


def test_the_language_applies_on_select_and_the_button_stays_without_script(
    login_as, manager_named
):
    page = login_as("liu", viewport=DESKTOP)
    page.goto("/dashboard/")
    expect(page.locator("#language-switch button")).to_be_hidden()
    page.locator("#language-select").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert page.url.endswith("/dashboard/")

    plain = login_as("liu", viewport=DESKTOP, java_script_enabled=False)
    plain.goto("/dashboard/")
    switch = plain.locator("#language-switch button")
    expect(switch).to_be_visible()
    assert not plain.evaluate(CLIPPED_NAV_JS)
    plain.locator("#language-select").select_option("en")
    switch.click()
    expect(plain.locator("html")).to_have_attribute("lang", "en")
