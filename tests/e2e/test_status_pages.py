"""The status page in a real browser, in English and in Chinese, each at 1280 px and 375 px:
a tech lead publishes an incident from its workspace (fill, preview as typed and
with the button, publish, post an update), and an anonymous visitor reads /status/,
subscribes and answers a feedback link. Zero serious or critical axe violations."""

import pytest
from django.conf import settings
from django.core.cache import caches
from playwright.sync_api import expect

from escalation.status import services as status_services
from escalation.status.feedback import feedback_request_for
from escalation.status.models import (
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
    Subscriber,
)
from incidents.models import UserProfile
from tests.e2e.workspace import open_form
from tests.factories import in_progress_incident

SETTINGS = {
    "en-1280": ("en", {"width": 1280, "height": 900}),
    "en-375": ("en", {"width": 375, "height": 800}),
    "zh-1280": ("zh-hans", {"width": 1280, "height": 900}),
    "zh-375": ("zh-hans", {"width": 375, "height": 800}),
}
INTERNAL_TITLE = "db-7 连接池耗尽 after deploy 4711"


@pytest.fixture(autouse=True)
def _fresh_subscribe_counts(live_server):
    """The live server's tests commit, and flushing the database between them leaves
    the subscribe throttle's counts (a database cache table) alone: without this,
    the fourth visitor of a run is refused (429) as the same address and client."""
    throttle = caches[settings.STATUS_THROTTLE_CACHE]
    throttle.clear()
    yield
    throttle.clear()


@pytest.fixture
def components(platform, lead):
    website = status_services.component_create(
        actor=lead, slug="website", name="Website 网站", team=platform, order=1
    )
    api = status_services.component_create(
        actor=lead, slug="api", name="Public API", team=platform, order=2
    )
    return website, api


@pytest.fixture
def incident(lead, owner, components):
    return in_progress_incident(lead=lead, owner=owner, title=INTERNAL_TITLE)


def no_overflow(page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{scroll} px wide at {width} px"


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_a_lead_publishes_and_updates_from_the_workspace(
    login_as, screenshot, axe, lead, incident, setting
):
    language, viewport = SETTINGS[setting]
    UserProfile.objects.update_or_create(user=lead, defaults={"language": language})
    page = login_as("lead", viewport=viewport)
    page.goto(f"/incidents/{incident.pk}/")

    form = open_form(page, "publish")
    form.locator("input[name=components][value]").first.check()
    form.locator("input[name=impact][value=partial_outage]").check()
    form.locator("input[name=public_title]").fill("Checkout is slow 结账缓慢")
    form.locator("textarea[name=message]").fill("We are looking into slow checkouts.")
    # status-preview.js shows the public's view as the user types.
    preview = page.locator("#status-preview")
    expect(preview).to_contain_text("We are looking into slow checkouts.")
    expect(preview).to_contain_text("Checkout is slow 结账缓慢")
    assert INTERNAL_TITLE not in preview.inner_text()
    no_overflow(page, viewport["width"])
    screenshot(page, f"status-publish-form-{setting}")

    # The Preview button re-renders the page with the same preview, nothing written.
    form.locator("#status-preview-button").click()
    expect(page.locator("#status-preview")).to_contain_text("Checkout is slow 结账缓慢")
    assert not Publication.objects.exists()
    page.locator("#status-submit").click()
    expect(page.locator("#status-public-copy")).to_contain_text("Checkout is slow 结账缓慢")
    assert Publication.objects.get().public_title == "Checkout is slow 结账缓慢"

    form = open_form(page, "publish")
    form.locator("input[name=status][value=identified]").check()
    form.locator("textarea[name=message]").fill("We found the cause and are rolling back.")
    expect(page.locator("#status-preview")).to_contain_text("rolling back")
    form.locator("#status-submit").click()
    expect(page.locator("#status-public-copy")).to_contain_text("rolling back")
    assert Publication.objects.get().status == PublicStatus.IDENTIFIED
    assert PublicUpdate.objects.count() == 2
    no_overflow(page, viewport["width"])
    screenshot(page, f"status-published-{setting}")

    # axe is injected as a script, which the pages' CSP forbids: a second context.
    checked = login_as("lead", viewport=viewport, bypass_csp=True)
    checked.goto(f"/incidents/{incident.pk}/")
    open_form(checked, "publish").locator("textarea[name=message]").fill("Monitoring the fix.")
    expect(checked.locator("#status-preview")).to_contain_text("Monitoring the fix.")
    assert axe(checked) == []


@pytest.fixture
def published(lead, incident, components):
    website, _api = components
    status_services.incident_publish(
        incident=incident,
        actor=lead,
        components=[website],
        impact=Impact.MAJOR_OUTAGE,
        public_title="Checkout is down 无法结账",
        message="Nobody can pay right now. 暂时无法付款。",
    )
    return incident


@pytest.fixture
def feedback_link(lead, published):
    status_services.incident_public_update(
        incident=published,
        actor=lead,
        status=PublicStatus.RESOLVED,
        message="Payments work again. 付款已恢复。",
    )
    subscriber = Subscriber.objects.create(
        kind=Subscriber.Kind.EMAIL,
        address="user@example.com",
        created_at=published.received_at,
        confirmed_at=published.received_at,
    )
    request = feedback_request_for(incident=published, subscriber=subscriber)
    return f"/status/feedback/{request.token}/"


def anonymous(new_context, browser_problems, language, viewport, **args):
    locale = "zh-CN" if language == "zh-hans" else "en-US"
    context = new_context(locale=locale, viewport=viewport, **args)
    return browser_problems.watch(context).new_page()


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_a_visitor_reads_the_page_subscribes_and_answers(
    new_context, browser_problems, screenshot, axe, lead, published, feedback_link, setting
):
    language, viewport = SETTINGS[setting]
    page = anonymous(new_context, browser_problems, language, viewport)

    page.goto("/status/")
    body = page.locator("body")
    expect(body).to_contain_text("Checkout is down 无法结账")
    expect(body).to_contain_text("Payments work again.")
    text = page.content()
    assert INTERNAL_TITLE not in text
    assert published.number not in text
    assert lead.email not in text
    no_overflow(page, viewport["width"])
    screenshot(page, f"status-page-{setting}")

    page.goto("/status/subscribe/")
    page.locator("input[name=email]").fill("visitor@example.com")
    page.locator("form:has(input[name=email]) [type=submit]").click()
    expect(page.locator("#subscribe-sent")).to_be_visible()
    assert "visitor@example.com" not in page.content()  # addresses are never shown
    assert Subscriber.objects.filter(address="visitor@example.com").exists()
    no_overflow(page, viewport["width"])
    screenshot(page, f"status-subscribe-{setting}")

    page.goto(feedback_link)
    expect(page.locator("main")).to_contain_text("Checkout is down 无法结账")
    assert INTERNAL_TITLE not in page.content()
    page.locator("input[name=rating][value='4']").check()
    page.locator("textarea[name=comment]").fill("Works now, thanks. 好了，谢谢。")
    page.locator("form:has(input[name=rating]) [type=submit]").click()
    expect(page.locator("#feedback-answer")).to_be_visible()
    assert published.feedback.get(by_affected_user=True).rating == 4
    no_overflow(page, viewport["width"])
    screenshot(page, f"status-feedback-{setting}")

    checked = anonymous(new_context, browser_problems, language, viewport, bypass_csp=True)
    for path in ("/status/", "/status/subscribe/", feedback_link):
        checked.goto(path)
        assert axe(checked) == [], path
