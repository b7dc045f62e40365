"""An engineer reads what monitoring brought, in a real browser, in English at
1280 px and in Chinese at 375 px: the workspace's alerts table (a storm, a flapping
alert, the link to the incident this one repeats) and the pending alerts page."""

import pytest

from incidents.models import Alert, AlertIntegration, Incident, UserProfile
from tests.incidents.alert_helpers import am, close, firing, integration, receive, resolved

SETTINGS = {
    "en-1280": ("en", {"width": 1280, "height": 900}),
    "zh-375": ("zh-hans", {"width": 375, "height": 800}),
}


@pytest.fixture
def monitored(platform, lead, owner, tester):
    """A resolved incident, its recurrence with 12 alerts (a storm) one of which
    flaps, and a group of another integration still pending (open after 3)."""
    source = integration(platform)
    receive(source, am("DiskFull", firing("db-1")))
    first = close(Incident.objects.get(), lead=lead, owner=owner, tester=tester)
    receive(source, am("DiskFull", firing(*(f"db-{n}" for n in range(1, 13)))))
    for _ in range(2):
        receive(source, am("DiskFull", resolved("db-1")))
        receive(source, am("DiskFull", firing("db-1")))
    again = Incident.objects.exclude(pk=first.pk).get()
    waiting = integration(platform, name="zabbix", open_after=3)
    receive(waiting, am("CpuHigh", firing("cpu-1")))
    assert Alert.objects.get(fingerprint="db-1", incident=again).flapping
    assert Alert.objects.filter(pending=True).count() == 1
    return first, again


def no_overflow(page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{scroll} px wide at {width} px"


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_an_engineer_reads_the_alerts_and_the_pending_ones(
    login_as, screenshot, axe, engineer, monitored, setting
):
    first, again = monitored
    language, viewport = SETTINGS[setting]
    UserProfile.objects.update_or_create(user=engineer, defaults={"language": language})
    page = login_as("engineer", viewport=viewport)

    page.goto(f"/incidents/{again.pk}/")
    page.locator("details:has(table) summary").first.click()
    table = page.locator("details table").first
    assert table.locator("tbody tr").count() == 12
    assert page.locator(f'a[href="/incidents/{first.pk}/"]').count() >= 1
    assert "db-1" in table.inner_text()
    no_overflow(page, viewport["width"])
    screenshot(page, f"alerts-workspace-{setting}")

    page.goto("/alerts/pending/")
    assert "cpu-1" in page.content()
    no_overflow(page, viewport["width"])
    screenshot(page, f"alerts-pending-{setting}")

    # axe is injected as a script, which the pages' CSP forbids: a second context.
    checked = login_as("engineer", viewport=viewport, bypass_csp=True)
    for path in (f"/incidents/{again.pk}/", "/alerts/pending/"):
        checked.goto(path)
        assert axe(checked) == [], path
    assert AlertIntegration.objects.count() == 2
