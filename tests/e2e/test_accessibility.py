"""axe-core on the main pages, as the role that uses each sees them, with a week's
realistic data (overdue rows, every level P0-P3, a duty roster with an override):
no serious or critical violation, in English at 1280 px and in Chinese at 375 px.

The `axe` fixture (tests/e2e/conftest.py) injects the pinned axe-core that
`make browser` installs; its pages' contexts bypass the Content-Security-Policy,
which would refuse the injected script (tests/e2e/test_security_headers.py keeps
the policy itself under test).
"""

import pytest
from playwright.sync_api import expect

from incidents.models import UserProfile
from tests.e2e.test_pages import scene  # noqa: F401 (a fixture)
from tests.factories import new_incident

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
SETTINGS = {"en-1280": ("en", DESKTOP), "zh-375": ("zh-hans", PHONE)}

# name: (who, path or a function of the scene, what must show before the check)
PAGES = {
    "intake": ("onduty", "/incidents/new/", "#intake-form"),
    "dashboard": ("lead", "/dashboard/", "tr[id^=row-]"),
    "workspace": ("lead", lambda s: f"/incidents/{s.in_progress.pk}/", "#h-log"),
    "workspace-overdue": ("lead", lambda s: f"/incidents/{s.overdue_p0.pk}/", "h1"),
    "archive": ("manager", "/archive/", "h1"),
    "metrics": ("manager", "/metrics/", "#metrics-by-level"),
    "knowledge": ("manager", "/knowledge/?q=磁盘", "#results li"),
    "oncall": ("lead", "/oncall/", "#grid-platform"),
    "oncall-team": ("lead", "/oncall/platform/", "#grid-platform"),
    "my-work-owner": ("owner", "/my/", "h1"),
    "my-work-tester": ("tester", "/my/", "h1"),
    "notifications": ("lead", "/notifications/", ".list-group-item"),
}


@pytest.fixture
def due_soon(onduty):
    """A P0 filed a minute ago: its response is due in four minutes (amber)."""
    return new_incident(reporter=onduty, severity="P0", title="网关 502 / Gateway 502s")


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("name", list(PAGES))
def test_it_has_no_serious_axe_violations(
    login_as,
    axe,
    screenshot,
    scene,  # noqa: F811 (the fixture imported above)
    duty_roster,
    due_soon,
    django_user_model,
    name,
    setting,
):
    language, viewport = SETTINGS[setting]
    who, path, visible = PAGES[name]
    user = django_user_model.objects.get(username=who)
    UserProfile.objects.update_or_create(user=user, defaults={"language": language})
    page = login_as(who, viewport=viewport, bypass_csp=True)
    page.goto(path(scene) if callable(path) else path)
    expect(page.locator(visible).first).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", language)

    violations = axe(page)
    screenshot(page, f"axe-{name}-{setting}")
    assert not violations, f"axe-core on {name} ({setting}):\n  " + "\n  ".join(violations)
