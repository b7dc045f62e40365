"""A new team's first day, in a real browser: the intake form's similar-incident
lookup with long Chinese symptoms, the dashboard's clocks, the metrics chart at
phone width and the knowledge search's matching passages."""

from playwright.sync_api import Page, Route, expect

from tests.factories import archived_incident

# gunicorn refuses a request line longer than this (its default limit_request_line)
# with "414 URI Too Long"; the live server has no such limit, so the test sets it.
REQUEST_LINE_LIMIT = 4094

LONG_SYMPTOMS = (
    "下单接口大量超时，数据库连接池耗尽，用户无法支付。"  # the words a past incident shares
    + "监控显示响应时间持续升高，部分请求返回错误页面，客服收到大量投诉电话。" * 14
)[:500]


def like_gunicorn(page: Page) -> None:
    """Answer 414, as gunicorn does, to a request whose request line is too long."""

    def route(route: Route) -> None:
        request = route.request
        line = f"{request.method} {request.url.split('/', 3)[-1]} HTTP/1.1"
        if len(line.encode()) + 1 > REQUEST_LINE_LIMIT:
            route.fulfill(status=414, body="Request Line is too large")
        else:
            route.fallback()

    page.route("**/*", route)


def test_the_intake_form_suggests_similar_incidents_for_500_chinese_characters(
    login_as, lead, owner, tester, onduty, screenshot
):
    assert len(LONG_SYMPTOMS) == 500
    pool = archived_incident(
        lead=lead, owner=owner, tester=tester, title="订单库连接池耗尽", symptoms="连接池耗尽"
    )
    fonts = archived_incident(
        lead=lead, owner=owner, tester=tester, title="报表页面字体错位", symptoms="字体错位"
    )
    page = login_as("onduty")
    like_gunicorn(page)
    page.goto("/incidents/new/")
    similar = page.locator("#similar-incidents")

    page.get_by_label("Title").fill("报表字体错位")
    expect(similar).to_contain_text(fonts.number)
    page.get_by_label("Title").fill("")
    with page.expect_response("**/knowledge/similar/**") as answer:
        page.get_by_label("Symptoms").fill(LONG_SYMPTOMS)

    assert answer.value.status == 200
    assert answer.value.request.method == "POST"  # the text travels in the body
    expect(similar).to_contain_text(pool.number)  # not the stale suggestion
    expect(similar).not_to_contain_text(fonts.number)
    screenshot(page, "intake-similar-long-chinese")


# ---------------------------------------------------------------- metrics at phone width

CHART_GEOMETRY_JS = """() => [...document.querySelectorAll("svg.chart")].map((svg) => {
  const scale = svg.getScreenCTM().a;  // rendered px per SVG unit
  const centre = (r) => r.left + r.width / 2;
  const months = [...svg.querySelectorAll("text[data-month]")].map((label) => {
    const bars = [...svg.querySelectorAll(`rect[data-month="${label.dataset.month}"]`)]
      .map((bar) => bar.getBoundingClientRect());
    const left = Math.min(...bars.map((r) => r.left));
    const right = Math.max(...bars.map((r) => r.right));
    return {month: label.dataset.month, label: centre(label.getBoundingClientRect()),
            bars: bars.length ? (left + right) / 2 : null};
  });
  const box = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll("text")].map((t) => ({
    text: t.textContent,
    px: parseFloat(getComputedStyle(t).fontSize) * scale,
    inside: t.getBoundingClientRect().left >= box.left - 1
      && t.getBoundingClientRect().right <= box.right + 1,
  }));
  return {months, texts};
})"""

CAPTIONS = "main caption, main .chart-caption, main .table-title, main p"
CAPTIONS_JS = """() => [...document.querySelectorAll(CAPTIONS)].map((c) => {
  const r = c.getBoundingClientRect();
  return {text: c.textContent.trim().slice(0, 40), left: r.left, right: r.right};
})"""


def test_the_metrics_chart_puts_bars_over_their_months_and_reads_at_375_px(
    login_as, lead, onduty, manager, screenshot
):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import new_incident

    new_incident(reporter=onduty, severity="P1", received_at=timezone.now() - timedelta(days=40))
    new_incident(reporter=onduty, severity="P2", received_at=timezone.now() - timedelta(days=40))
    new_incident(reporter=onduty, severity="P3")
    page = login_as("manager", viewport={"width": 375, "height": 800})
    page.goto("/metrics/")

    charts = page.evaluate(CHART_GEOMETRY_JS)

    assert len(charts) == 2
    count_chart = charts[0]  # the MTTR chart has no bars: nothing was resolved
    assert [m["bars"] is not None for m in count_chart["months"]] == [True, True]
    for chart in charts:
        assert len(chart["months"]) == 2
        for month in chart["months"]:
            if month["bars"] is not None:  # px: the label is centred under its bars
                assert abs(month["bars"] - month["label"]) < 4, month
        for text in chart["texts"]:
            assert text["px"] >= 11, text  # readable on a phone
            assert text["inside"], text  # nothing drawn past the chart's edge
    for caption in page.evaluate(CAPTIONS_JS.replace("CAPTIONS", repr(CAPTIONS))):
        assert caption["left"] >= 0, caption
        assert caption["right"] <= 375, caption  # wraps on the screen, not cut off
    screenshot(page, "metrics-375")


# ---------------------------------------------------------------- knowledge search


def test_knowledge_search_marks_the_matching_passage(login_as, lead, owner, tester, engineer):
    past = archived_incident(
        lead=lead,
        owner=owner,
        tester=tester,
        title="订单服务故障",
        symptoms="下单接口大量超时，数据库连接池耗尽，用户无法支付 <i>紧急</i>。",
    )
    page = login_as("engineer")
    page.goto("/knowledge/?q=连接池耗尽")

    result = page.locator("#results li", has_text=past.number)
    expect(result.locator(".passage mark")).to_have_text("连接池耗尽")
    expect(result.locator(".passage")).to_contain_text("数据库连接池耗尽，用户无法支付 <i>紧急</i>")
    expect(result.locator(".passage i")).to_have_count(0)  # shown as text, not markup


# ---------------------------------------------------------------- the pages, looked at

PAGES = [
    "/dashboard/",
    "/my/",
    "/archive/",
    "/knowledge/?q=连接池",
    "/metrics/",
    "/oncall/platform/",
]


def test_the_first_day_pages_in_both_languages_and_widths(
    login_as, lead, owner, tester, helper, onduty, duty_roster, screenshot
):
    from datetime import timedelta

    from django.utils import timezone

    from incidents.models import UserProfile
    from tests.factories import acknowledged_incident, new_incident

    lead.first_name, lead.last_name = "陈杰", ""
    lead.save()
    past = archived_incident(
        lead=lead,
        owner=owner,
        tester=tester,
        helpers=[helper],
        title="订单库连接池耗尽",
        symptoms="下单接口大量超时，数据库连接池耗尽。",
        severity="P1",
    )
    acknowledged_incident(lead=lead, severity="P3", received_at=timezone.now() - timedelta(hours=4))
    new_incident(reporter=onduty, severity="P0", title="全站无法访问 Whole site down")
    for language in ("en", "zh-hans"):
        UserProfile.objects.update_or_create(user=lead, defaults={"language": language})
        for width in (1280, 375):
            page = login_as("lead", viewport={"width": width, "height": 900})
            for path in [*PAGES, f"/incidents/{past.pk}/print/"]:
                response = page.goto(path)
                assert response.status == 200, path
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, (path, width, overflow)  # nothing wider than the screen
                name = path.strip("/").split("?")[0].replace("/", "-")
                screenshot(page, f"{name}-{language}-{width}")
            page.context.close()
