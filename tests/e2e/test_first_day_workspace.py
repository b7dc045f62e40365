"""Issue 23, a new team's first day, in a real browser at 1280 px and 375 px, in
English and Chinese: the assign forms keep what is there, the page comes back
to the row or section acted on with the focus on it, a refused action lands on
the workspace with its reason once, Archive says why it is disabled, and the
intake form puts the level guide above the level on a phone, hides the phone
call fields until "urgent" is ticked and shows every error in one round.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents import services
from incidents.models import Incident, State, UserProfile
from tests.e2e.workspace import open_form
from tests.factories import (
    acknowledged_incident,
    new_incident,
    resolved_incident,
)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
SETTINGS = {
    "en-1280": ("en", DESKTOP),
    "en-375": ("en", PHONE),
    "zh-1280": ("zh-hans", DESKTOP),
    "zh-375": ("zh-hans", PHONE),
}


def sign_in(login_as, user, setting) -> Page:
    language, viewport = SETTINGS[setting]
    UserProfile.objects.update_or_create(user=user, defaults={"language": language})
    page = login_as(user.username, viewport=viewport)
    return page


def focused_id(page: Page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_it_reassigns_without_losing_helpers_or_goal_and_returns_to_the_section(
    login_as, screenshot, lead, owner, helper, engineer, setting
):
    incident = acknowledged_incident(lead=lead, title="订单服务 500 / Orders return 500")
    services.incident_assign(
        incident=incident,
        actor=lead,
        owner=owner,
        helpers=[helper],
        goal="Restore orders before the evening peak",
        external_contacts=[{"name": "Li Wei", "organisation": "Aliyun"}],
    )
    page = sign_in(login_as, lead, setting)
    page.goto(f"/incidents/{incident.pk}/")
    form = open_form(page, "assign")
    expect(form.locator(f"input[name=helpers][value='{helper.pk}']")).to_be_checked()
    expect(form.locator("input[name=goal]")).to_have_value("Restore orders before the evening peak")
    expect(form.locator("input[name=time_limit]")).not_to_have_value("")
    expect(form).to_contain_text("Li Wei")

    form.locator("select[name=owner]").select_option(str(engineer.pk))
    form.locator("button[type=submit]").click()

    page.wait_for_url(re.compile(rf"/incidents/{incident.pk}/#assignment$"))
    expect(page.locator("#assignment")).to_be_focused()
    saved = Incident.objects.get(pk=incident.pk)
    assert saved.owner == engineer
    assert list(saved.helpers.all()) == [helper]
    assert saved.goal == "Restore orders before the evening peak"
    assert saved.external_contacts.count() == 1
    screenshot(page, f"first-day-reassigned-{setting}")


@pytest.mark.parametrize("setting", ["en-1280", "zh-375"])
def test_it_comes_back_to_the_dashboard_row_and_assigns_helpers_there(
    login_as, screenshot, lead, owner, helper, setting
):
    for n in range(12):  # enough rows to push the one acted on below the fold
        new_incident(reporter=lead, title=f"Noise {n}")
    target = acknowledged_incident(lead=lead, title="库存同步延迟 / Stock sync lag")
    page = sign_in(login_as, lead, setting)
    page.goto("/dashboard/")

    row = page.locator(f"#row-{target.pk}")
    row.locator("details[data-quick=assign] summary").click()
    form = row.locator("form.quick-form")
    form.locator("select[name=owner]").select_option(str(owner.pk))
    form.locator(f"input[name=helpers][value='{helper.pk}']").check()
    screenshot(page, f"first-day-quick-assign-{setting}")
    form.locator("button[type=submit]").click()

    page.wait_for_url(re.compile(rf"/dashboard/#row-{target.pk}$"))
    assert focused_id(page) == f"row-{target.pk}"
    saved = Incident.objects.get(pk=target.pk)
    assert (saved.owner, list(saved.helpers.all())) == (owner, [helper])
    screenshot(page, f"first-day-dashboard-row-{setting}")


@pytest.mark.parametrize("setting", ["en-1280", "zh-375"])
def test_it_lands_a_refused_action_on_the_workspace_with_its_reason_once(login_as, lead, setting):
    incident = new_incident(reporter=lead)
    page = sign_in(login_as, lead, setting)
    page.goto(f"/incidents/{incident.pk}/")
    services.incident_acknowledge(incident=incident, actor=lead)  # someone else was quicker

    page.locator("#form-acknowledge button[type=submit]").click()

    page.wait_for_url(re.compile(rf"/incidents/{incident.pk}/#grading$"))
    expect(page.locator(".alert-danger")).to_have_count(1)
    page.reload()  # a GET of the workspace, not a bare 405
    expect(page.locator("h1")).to_contain_text(incident.number)
    expect(page.locator(".alert-danger")).to_have_count(0)


def test_grading_a_new_incident_acknowledges_it(login_as, lead):
    incident = new_incident(reporter=lead)
    page = sign_in(login_as, lead, "en-1280")
    page.goto(f"/incidents/{incident.pk}/")
    form = open_form(page, "grade")
    form.locator("select[name=severity]").select_option("P1")
    form.locator("textarea[name=diagnosis]").fill("Connection pool exhausted.")
    form.locator("button[type=submit]").click()

    page.wait_for_url(re.compile(r"#grading$"))
    expect(page.locator(".alert-success")).to_contain_text("the incident is acknowledged")
    assert Incident.objects.get(pk=incident.pk).state == State.ACKNOWLEDGED


@pytest.mark.parametrize("setting", ["en-1280", "zh-375"])
def test_it_disables_archive_until_the_postmortem_is_done(
    login_as, screenshot, lead, owner, setting
):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    page = sign_in(login_as, lead, setting)
    page.goto(f"/incidents/{incident.pk}/#archive-summary")
    expect(page.locator("#archive-missing")).to_be_visible()  # before the form is opened

    button = open_form(page, "archive").locator("button[type=submit]")
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("aria-describedby", "archive-missing")
    expect(page.locator("#archive-missing")).to_be_visible()
    screenshot(page, f"first-day-archive-disabled-{setting}")

    page.locator("#archive-missing a").click()
    expect(page.locator("#needed-note")).to_be_visible()
    expect(page.locator(".needed-for-archive textarea[name=root_cause]")).to_have_attribute(
        "aria-describedby", re.compile(r"\bneeded-note\b")
    )
    screenshot(page, f"first-day-postmortem-needed-{setting}")


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_intake_guides_the_level_and_shows_every_error_at_once(
    login_as, browser_problems, screenshot, onduty, platform, setting
):
    page = sign_in(login_as, onduty, setting)
    page.goto("/incidents/new/")
    guide = page.locator("#level-guide-compact")
    severity = page.locator("input[name=severity]").first
    if SETTINGS[setting][1] is PHONE:
        expect(guide).to_be_visible()
        assert guide.bounding_box()["y"] < severity.bounding_box()["y"]
    else:
        expect(guide).to_be_hidden()
        table = page.locator("#guide-title")
        expect(table).to_be_visible()
        assert table.bounding_box()["x"] > severity.bounding_box()["x"] + 300  # beside
    # The phone call fields only once "urgent" is ticked; what was typed stays.
    expect(page.locator("#id_phone_call_to")).to_be_hidden()
    page.locator("#id_urgent").check()
    expect(page.locator("#id_phone_call_to")).to_be_visible()
    page.locator("#id_phone_call_to").fill("王工 / Wang")
    page.locator("#id_urgent").uncheck()
    expect(page.locator("#id_phone_call_to")).to_be_hidden()
    expect(page.locator("#id_phone_call_to")).to_have_value("王工 / Wang")
    screenshot(page, f"first-day-intake-{setting}")

    # No title and a received time two hours ahead: both said in one round.
    later = timezone.localtime(timezone.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    page.locator("#id_received_at").fill(later)
    page.locator("#id_symptoms").fill("HTTP 500 on every order.")
    page.locator("#id_impact_scope").fill("Checkout")
    page.locator("#intake-form button[type=submit]").click()

    expect(page.locator("#id_title")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#id_received_at")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#id_title")).to_be_focused()
    assert not Incident.objects.exists()
    screenshot(page, f"first-day-intake-errors-{setting}")
    # Chromium logs the form's 400 answer as a console error: that one is expected.
    browser_problems.settle()
    assert all("400" in p for p in browser_problems.problems), browser_problems.problems
    browser_problems.problems.clear()
