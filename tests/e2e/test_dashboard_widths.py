"""The tech lead's dashboard fits the window at every width, in both languages: the
quick actions are never cut off, the page never scrolls sideways."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services
from incidents.models import UserProfile
from incidents.rules import Role
from tests.factories import (
    acknowledged_incident,
    in_progress_incident,
    make_user,
    new_incident,
    paused,
)

QUICK_ACTIONS = "#dashboard-rows tbody summary, #dashboard-rows tbody button"
WIDTHS = [320, 375, 768, 800, 900, 991, 992, 1024, 1100, 1199, 1280]


@pytest.fixture
def busy_dashboard(lead, onduty, owner, helper, engineer):
    """Rows a tech lead sees on a busy morning: new ones to acknowledge, grade and
    assign, owned ones with long bilingual names, a paused one, long titles."""
    for user, first, last in (
        (owner, "欧阳娜娜", "Ouyang Nana-Christensen"),
        (helper, "王建国", "Wang Jianguo"),
    ):
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
    long_ago = timezone.now() - timedelta(hours=4, minutes=37)
    rows = [
        new_incident(reporter=onduty, severity="P0", title="支付网关大量超时 gateway timeouts"),
        new_incident(  # respond and resolve overdue: the longest countdowns
            reporter=lead,
            severity="P1",
            received_at=long_ago,
            title="Customer-facing API returns 503 for /v2/orders/export",
        ),
        new_incident(reporter=onduty, severity="P2", title="Order export job stuck at 99 %"),
        acknowledged_incident(lead=lead, severity="P1", title="Login page slow for SSO users"),
        in_progress_incident(
            lead=lead, owner=owner, helpers=[helper], severity="P1", title="库存同步延迟"
        ),
    ]
    paused(
        in_progress_incident(lead=lead, owner=owner, severity="P2", title="Vendor SMS delays"),
        by=owner,
        reason="Waiting for the SMS vendor to restore their gateway in region east.",
    )
    services.incident_acknowledge(incident=rows[2], actor=lead)
    return rows


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_it_fits_the_leads_dashboard_at_every_width(
    login_as, lead, busy_dashboard, screenshot, language
):
    UserProfile.objects.update_or_create(user=lead, defaults={"language": language})
    page = login_as("lead")
    too_wide = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/dashboard/")
        expect(page.locator("#dashboard-rows tbody tr")).to_have_count(6)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            too_wide.append(f"{width} px: {scroll} px wide")
        # Every quick action lies inside the window.
        for action in page.locator(QUICK_ACTIONS).all():
            b = action.bounding_box()
            if b["x"] < 0 or b["x"] + b["width"] > width + 0.5:
                too_wide.append(
                    f"{width} px: {action.inner_text()!r} ends at {b['x'] + b['width']}"
                )
        screenshot(page, f"dashboard-{language}-{width}")
    assert not too_wide, "\n".join(too_wide)


def test_it_shows_every_helper_of_a_quick_assign_on_a_phone(
    login_as, lead, platform, busy_dashboard, screenshot
):
    for n in range(6):  # a team of eleven: more helpers than a short list shows
        make_user(Role.ENGINEER, platform, username=f"engineer{n}", first_name=f"工程师{n}")
    page = login_as("lead", viewport={"width": 375, "height": 740})
    page.goto("/dashboard/")
    row = page.locator(f"#row-{busy_dashboard[2].pk}")
    row.locator("summary", has_text="Assign").click()
    helpers = row.locator(".quick-helpers")
    expect(helpers.locator(".form-check")).to_have_count(11)

    box = helpers.bounding_box()
    last = helpers.locator(".form-check").last.bounding_box()
    assert last["y"] + last["height"] <= box["y"] + box["height"] + 0.5, (last, box)
    scroll, client = helpers.evaluate("(e) => [e.scrollHeight, e.clientHeight]")
    assert scroll <= client, (scroll, client)  # nothing hidden behind a scroll box
    screenshot(page, "dashboard-quick-assign-375")
