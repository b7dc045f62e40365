"""The workspace's action forms are drawn when opened: from "What you can do now",
by keyboard on a box's summary, and without JavaScript through the box's link."""

import re

from playwright.sync_api import expect

from tests.factories import in_progress_incident


def test_what_you_can_do_now_opens_the_form_with_the_focus_in_it(login_as, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    page = login_as("lead")
    page.goto(f"/incidents/{incident.pk}/")
    expect(page.locator("#form-grade")).to_have_count(0)

    page.get_by_role("navigation", name="What you can do now").get_by_role(
        "link", name="Grade"
    ).click()

    expect(page.locator("details[data-action=grade]")).to_have_attribute("open", "")
    expect(page.locator("#form-grade select[name=severity]")).to_be_focused()
    assert "open=" not in page.url  # opened in place, not reloaded


def test_a_box_opens_and_draws_its_form_from_the_keyboard(login_as, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    page = login_as("owner")
    page.goto(f"/incidents/{incident.pk}/")
    summary = page.locator("details[data-action=log] summary")
    summary.focus()
    page.keyboard.press("Enter")

    expect(page.locator("#form-log select[name=kind]")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator("#form-log select[name=kind]")).to_be_focused()


def test_a_form_opens_and_posts_without_javascript(login_as, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    page = login_as("owner", java_script_enabled=False)
    page.goto(f"/incidents/{incident.pk}/")
    box = page.locator("details[data-action=log]")
    box.locator("summary").click()
    box.get_by_role("link", name="Open the form").click()

    page.wait_for_url(re.compile(r"\?open=log#form-log$"))
    form = page.locator("#form-log")
    form.locator("textarea[name=text]").fill("Rolled back without scripts")
    form.get_by_role("button", name="Add entry").click()
    expect(page.locator("#log .timeline")).to_contain_text("Rolled back without scripts")


def test_a_box_opened_before_the_script_ran_still_draws_its_form(login_as, lead, owner):
    # A quick click while the page is still loading: the box opens before
    # workspace.js listens for it, so the script must draw it when it starts.
    incident = in_progress_incident(lead=lead, owner=owner)
    page = login_as("owner")
    held = []
    page.route("**/js/workspace*.js", lambda route: held.append(route))
    page.goto(f"/incidents/{incident.pk}/", wait_until="commit")
    summary = page.locator("details[data-action=log] summary")
    summary.click()
    expect(page.locator("details[data-action=log]")).to_have_attribute("open", "")
    assert len(held) == 1  # the script has not run yet
    expect(page.locator("#form-log")).to_have_count(0)

    held[0].continue_()

    expect(page.locator("#form-log select[name=kind]")).to_be_visible()
