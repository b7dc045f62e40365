"""Maintenance windows in a real browser, in English at 1280 px and in Chinese at
375 px: a tech lead plans a window, the live preview shows the open alert it
would match (and a bad matcher's error), and the window shows on the calendar."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import Alert, AlertIntegration, MaintenanceWindow, UserProfile
from tests.factories import new_incident

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
SETTINGS = {"en-1280": ("en", DESKTOP), "zh-375": ("zh-hans", PHONE)}


@pytest.fixture
def firing(platform, lead):
    """Two open alerts of the platform team: a full disk and a slow web server."""
    integration = AlertIntegration.objects.create(
        name="prometheus", team=platform, token_hash="e" * 64, token_hint="e"
    )
    incident = new_incident(reporter=lead, title="DiskFull — /var 95% on db-1")
    now = timezone.now()
    for n, labels in enumerate(
        (
            {"alertname": "DiskFull", "instance": "db-1"},
            {"alertname": "HighLatency", "instance": "web-1"},
        )
    ):
        Alert.objects.create(
            integration=integration,
            group_key=f"g{n}",
            fingerprint=f"fp{n}",
            incident=incident,
            status=Alert.Status.FIRING,
            labels=labels,
            summary=f"{labels['alertname']} on {labels['instance']}",
            first_seen=now,
            last_seen=now,
        )


def no_overflow(page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{scroll} px wide at {width} px"


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_a_lead_plans_a_window_with_its_live_preview(
    login_as, screenshot, axe, platform, lead, firing, setting
):
    language, viewport = SETTINGS[setting]
    UserProfile.objects.update_or_create(user=lead, defaults={"language": language})
    page = login_as("lead", viewport=viewport)
    page.goto("/maintenance/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.locator("#maintenance-new").click()

    # Before any matcher: the window would match every open alert of the team.
    preview = page.locator("#mw-preview .mw-preview")
    expect(preview).to_have_attribute("data-alerts", "2")
    tomorrow = timezone.localdate() + timedelta(days=1)
    page.locator("#id_title").fill("数据库升级 DB upgrade")
    page.locator("#id_starts_at").fill(f"{tomorrow:%Y-%m-%d}T02:00")
    page.locator("#id_ends_at").fill(f"{tomorrow:%Y-%m-%d}T04:00")

    # A matcher typed: the preview follows (debounced), naming the alert it matches.
    page.locator("#id_matchers").fill("alertname=DiskFull\ninstance=~db-[")
    expect(page.locator("#preview-errors")).to_contain_text("db-[")
    page.locator("#id_matchers").fill("alertname=DiskFull\ninstance=~db-[0-9]+")
    expect(preview).to_have_attribute("data-alerts", "1")
    expect(page.locator("#preview-alerts")).to_contain_text("DiskFull")
    expect(page.locator("#preview-alerts")).not_to_contain_text("HighLatency")
    no_overflow(page, viewport["width"])
    screenshot(page, f"maintenance-form-{setting}")

    page.locator("#window-form button[name=save]").click()
    expect(page.locator("#window-title")).to_contain_text("数据库升级 DB upgrade")
    window = MaintenanceWindow.objects.get()
    assert window.matchers[1] == {"name": "instance", "value": "db-[0-9]+", "is_regex": True}
    assert timezone.localtime(window.starts_at).strftime("%H:%M") == "02:00"

    # On the calendar, on tomorrow's day, at both widths.
    page.goto("/maintenance/")
    entry = page.locator(f'.mw-day[data-day="{tomorrow:%Y-%m-%d}"] [data-window="{window.pk}"]')
    expect(entry).to_be_visible()
    expect(entry).to_contain_text("02:00–04:00")
    no_overflow(page, viewport["width"])
    screenshot(page, f"maintenance-calendar-{setting}")
    other = PHONE if viewport == DESKTOP else DESKTOP
    page.set_viewport_size(other)
    expect(entry).to_be_visible()
    no_overflow(page, other["width"])
    screenshot(page, f"maintenance-calendar-{setting}-then-{other['width']}")

    # No serious accessibility problem on the list, the form or the window's page
    # (axe is injected as an inline script: its context bypasses the policy).
    checked = login_as("lead", viewport=viewport, bypass_csp=True)
    for path in ("/maintenance/", "/maintenance/new/", f"/maintenance/{window.pk}/"):
        checked.goto(path)
        expect(checked.locator("h1")).to_be_visible()
        violations = axe(checked)
        assert not violations, f"axe-core on {path} ({setting}):\n  " + "\n  ".join(violations)
    screenshot(checked, f"maintenance-window-{setting}")
