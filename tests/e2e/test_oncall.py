"""The duty roster in a real browser, in both languages: a tech lead edits a
rotation and adds an override, and the schedule grid shows both."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from escalation.models import Override, Rotation
from incidents.models import UserProfile
from tests.factories import make_rotation

TEXT = {
    "en": {
        "title": "duty roster",
        "edit": "Edit",
        "save": "Save rotation",
        "add_summary": "Add an override",
        "add": "Add override",
        "badge": "override",
        "saved": "saved",
    },
    "zh-hans": {
        "title": "值班表",
        "edit": "编辑",
        "save": "保存轮值",
        "add_summary": "添加代班",
        "add": "添加代班",
        "badge": "代班",
        "saved": "已保存",
    },
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_lead_edits_a_rotation_and_adds_an_override(
    login_as, screenshot, platform, lead, engineer, onduty, tester, language
):
    t = TEXT[language]
    UserProfile.objects.update_or_create(user=lead, defaults={"language": language})
    today = timezone.localdate()
    make_rotation(
        actor=lead,
        team=platform,
        people=[engineer],
        name="Weekly primary",
        start_date=today - timedelta(days=today.weekday()),
    )
    page = login_as("lead")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/oncall/platform/")
    expect(page.locator("h1")).to_contain_text(t["title"])

    # Edit the rotation: onduty joins, daily shifts handed over at 08:30.
    page.locator("#rotations").get_by_role("link", name=t["edit"]).click()
    page.locator("#id_participants").fill("engineer\nonduty")
    page.locator("#id_shift_days").fill("1")
    page.locator("#id_handoff_time").fill("08:30")
    page.locator("#form-rotation").get_by_role("button", name=t["save"]).click()
    expect(page.locator(".alert-success")).to_contain_text(t["saved"])
    rotation = Rotation.objects.get(ends_at__isnull=True)  # the edit kept an ended version
    assert [m.user.username for m in rotation.members.all()] == ["engineer", "onduty"]
    assert (rotation.shift_days, rotation.handoff_time.strftime("%H:%M")) == (1, "08:30")

    # Two days ahead, 09:00-18:00: tester covers the primary layer.
    day = today + timedelta(days=2)
    page.locator("#override-add summary").click()
    page.locator("#override_layer").select_option("primary")
    page.locator("#override_user").select_option("tester")
    page.locator("#override_start").fill(f"{day:%Y-%m-%d}T09:00")
    page.locator("#override_end").fill(f"{day:%Y-%m-%d}T18:00")
    page.locator("#override_note").fill("发布演练 release rehearsal")
    page.locator("#form-override").get_by_role("button", name=t["add"]).click()

    cell = page.locator(f'tr[data-day="{day:%Y-%m-%d}"] td[data-layer="primary"]')
    covering = cell.locator('.shift.override[data-user="tester"]')
    expect(covering).to_contain_text("09:00–18:00")
    expect(covering.locator(".badge")).to_have_text(t["badge"])
    # The rest of the day stays with the rotation: until the 08:30 handoff, then
    # the day's person before and after the override.
    rest = cell.locator(".shift:not(.override)")
    expect(rest).to_have_count(3)
    expect(rest.nth(0)).to_contain_text("–08:30")
    expect(rest.nth(1)).to_contain_text("08:30–09:00")
    expect(rest.nth(2)).to_contain_text("18:00–")
    expect(page.locator("#roster-timeline")).to_contain_text("release rehearsal")
    override = Override.objects.get()
    assert (override.user.username, override.created_by) == ("tester", lead)
    assert timezone.localtime(override.start).strftime("%H:%M") == "09:00"

    # Nothing spills past the right edge at 1280 px.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, width
    screenshot(page, f"oncall-team-{language}")
    # And none at phone width (375 px): the grid wraps its cells.
    page.set_viewport_size({"width": 375, "height": 800})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/oncall/")
    expect(page.locator("#now-platform")).to_be_visible()
    screenshot(page, f"oncall-overview-{language}")


def test_it_copies_a_calendar_address_and_warns_of_double_duty(
    login_as, screenshot, platform, lead, onduty, engineer
):
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    make_rotation(actor=lead, team=platform, people=[engineer], start_date=monday)
    make_rotation(actor=lead, team=platform, people=[onduty], layer="secondary", start_date=monday)
    page = login_as("lead", viewport={"width": 1280, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/oncall/platform/")

    # The first address: nothing to say about a previous one.
    page.locator("#feed-team").get_by_role("button", name="Make an address").click()
    expect(page.locator(".alert-success")).to_have_text("Calendar address made.")
    address = page.locator("#feed-team-url")
    url = address.input_value()
    assert "/oncall/feeds/" in url
    assert url.endswith(".ics")
    copy = page.locator("#feed-team").get_by_role("button", name="Copy")
    copy.click()
    expect(page.locator("#feed-team").get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == url

    # Onduty covers the primary layer tomorrow while being the secondary all week.
    day = today + timedelta(days=1)
    page.locator("#override-add summary").click()
    page.locator("#override_layer").select_option("primary")
    page.locator("#override_user").select_option("onduty")
    page.locator("#override_start").fill(f"{day:%Y-%m-%d}T09:00")
    page.locator("#override_end").fill(f"{day:%Y-%m-%d}T18:00")
    page.locator("#form-override").get_by_role("button", name="Add override").click()
    span = f"from {day:%m-%d} 09:00 until {day:%m-%d} 18:00"
    expect(page.locator(".alert-warning").first).to_contain_text(
        f"Onduty is primary and secondary at once {span}"
    )
    expect(page.locator(".roster-warning")).to_contain_text(span)
    screenshot(page, "oncall-double-duty")

    # Without the script the address stays selectable text and no button shows.
    plain = login_as("lead", java_script_enabled=False)
    plain.goto("/oncall/platform/")
    expect(plain.locator("#feed-team-url")).to_have_value(url)
    expect(plain.locator("#feed-team button[data-copy]")).to_be_hidden()


def test_an_override_box_opened_before_the_scripts_ran_still_loads_its_form(
    login_as, platform, lead, engineer
):
    # A quick click while the page is still loading: the box opens (and fires its
    # toggle) before htmx listens, so the form must load once htmx has started.
    make_rotation(actor=lead, team=platform, people=[engineer], name="Weekly primary")
    page = login_as("lead")
    held = []
    page.route("**/htmx.min*.js", lambda route: held.append(route))
    page.goto("/oncall/platform/", wait_until="commit")
    page.locator("#override-add summary").click()
    expect(page.locator("#override-add")).to_have_attribute("open", "")
    assert len(held) == 1  # htmx has not run yet
    expect(page.locator("#override_layer")).to_have_count(0)

    held[0].continue_()

    expect(page.locator("#override_layer")).to_be_visible()
    page.locator("#override_layer").select_option("primary")
