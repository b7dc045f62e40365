"""The main pages in a real browser: phone layout, labels, keyboard use, live
countdowns, and screenshots with realistic data.

Every test here also runs under `browser_problems`, so each page visited must
load nothing from elsewhere and log no console error.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from escalation.engine import sweep_due_deadlines
from escalation.models import Delivery
from incidents import services
from incidents.models import Incident, LogEntry, State
from tests.factories import (
    acknowledged_incident,
    archived_incident,
    assigned_incident,
    in_progress_incident,
    new_incident,
    resolved_incident,
    verifying_incident,
)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}

# A visible form control's accessible label, or why it has none. `labels` holds
# both <label for> (resolved by id, so a label pointing at another element with
# the same id does not count) and wrapping labels.
UNLABELLED_JS = """() => {
  const text = (el) => (el ? el.textContent.replace(/\\s+/g, " ").trim() : "");
  const bad = [];
  let checked = 0;
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const style = getComputedStyle(el);
    if (!el.getClientRects().length || style.visibility === "hidden") continue;
    checked += 1;
    const byLabel = [...(el.labels || [])].some((l) => text(l));
    const byAria = (el.getAttribute("aria-label") || "").trim();
    const byIds = (el.getAttribute("aria-labelledby") || "").split(/\\s+/)
      .some((id) => id && text(document.getElementById(id)));
    if (!(byLabel || byAria || byIds)) {
      const form = el.closest("form");
      bad.push(`<${el.tagName.toLowerCase()} name=${el.name} id=${el.id || "-"}` +
               ` type=${el.type}> in form ${form ? form.id || form.action : "-"}`);
    }
  }
  return {checked, bad};
}"""

# The page's width against the viewport's, and the outermost elements that stick out.
WIDTH_JS = """() => {
  const inner = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > inner + 0.5 && !wide.some((w) => w.el.contains(el))) {
      wide.push({el, right: Math.round(r.right)});
    }
  }
  const describe = ({el, right}) => {
    const cls = el.className && typeof el.className === "string"
      ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    return `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${cls} (right edge ${right}px)`;
  };
  return {
    scroll: document.documentElement.scrollWidth,
    inner,
    wide: wide.slice(0, 8).map(describe),
  };
}"""


@dataclass
class Scene:
    """A platform team's week: incidents in every state, some overdue, some Chinese."""

    overdue_p0: Incident
    fresh_p1: Incident
    acknowledged: Incident
    assigned: Incident
    in_progress: Incident
    verifying: Incident
    resolved: Incident
    archived: Incident

    @property
    def open(self):
        return [
            self.overdue_p0,
            self.fresh_p1,
            self.acknowledged,
            self.assigned,
            self.in_progress,
            self.verifying,
        ]


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


@pytest.fixture
def scene(onduty, lead, owner, helper, tester, manager) -> Scene:
    common = {"reporter": onduty, "impact_scope": "全国用户 / all regions"}
    overdue_p0 = new_incident(
        title=(
            "核心数据库主库连接数耗尽，下单接口全部返回 HTTP 500，全国用户无法下单 "
            "/ Primary database out of connections: order API returns HTTP 500"
        ),
        severity="P0",
        received_at=ago(minutes=12),  # respond within 5 min: level 1 (the leads) is due
        affected_users=120000,
        **common,
    )
    fresh_p1 = new_incident(
        title="App 登录页白屏（Android 14）/ Login page blank on Android 14",
        severity="P1",
        source="user_complaint",
        affected_users=350,
        **common,
    )
    acknowledged = acknowledged_incident(
        lead=lead,
        title="报表模块导出 Excel 超过十万行时超时，财务月结受阻 / Report export times out",
        severity="P2",
        received_at=ago(minutes=20),
        **common,
    )
    assigned = assigned_incident(
        lead=lead,
        owner=owner,
        helpers=[helper],
        title=(
            "Settings page label overflows: NotificationPreferencesControllerConfigurationPanel"
            "_DisplayNameTooLong"
        ),
        severity="P3",
        source="internal_chat",
        category="user_facing",
        **common,
    )
    in_progress = in_progress_incident(
        lead=lead,
        owner=owner,
        helpers=[helper],
        title="支付回调超时 / Payment callback timeouts",
        severity="P1",
        received_at=ago(minutes=90),
        affected_users=2300,
        **common,
    )
    services.incident_grade(
        incident=in_progress,
        actor=lead,
        severity="P1",
        diagnosis="回调线程池耗尽；日志中大量 ReadTimeout。Callback worker pool exhausted.",
        reproduced=True,
        findings="CPU 35%, p99 30 s on /pay/callback",
    )
    for kind, text in (
        (LogEntry.Kind.WORKAROUND, "切换到备用回调网关 / switched to the standby gateway"),
        (LogEntry.Kind.BLOCKER, "需要第三方支付渠道确认白名单 / waiting for the PSP"),
        (LogEntry.Kind.PROGRESS, "回调成功率恢复到 97% / callback success back to 97%"),
    ):
        services.incident_log(incident=in_progress, actor=owner, kind=kind, text=text)
    verifying = verifying_incident(
        lead=lead,
        owner=owner,
        title="测试环境部署在数据库迁移步骤失败 / Staging deploy fails at the migration step",
        severity="P2",
        category="dev_test",
        **common,
    )
    resolved = resolved_incident(
        lead=lead,
        owner=owner,
        tester=tester,
        title="消息推送延迟 / Push notifications delayed",
        severity="P2",
        **common,
    )
    archived = archived_incident(
        lead=lead,
        owner=owner,
        tester=tester,
        title="存储节点磁盘告警 / Storage node disk alert",
        severity="P3",
        category="infrastructure",
        received_at=ago(hours=5),
        **common,
    )
    sweep_due_deadlines()  # the P0's respond clock and the blocker: notices to the lead
    return Scene(
        overdue_p0=overdue_p0,
        fresh_p1=fresh_p1,
        acknowledged=acknowledged,
        assigned=assigned,
        in_progress=in_progress,
        verifying=verifying,
        resolved=resolved,
        archived=archived,
    )


def open_all_details(page: Page) -> None:
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    # The workspace's action forms are drawn as their boxes open (workspace.js).
    expect(page.locator("details.action-box:not([data-loaded])")).to_have_count(0)


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
    focused = page.evaluate("document.activeElement.outerHTML.slice(0, 200)")
    pytest.fail(f"{limit} presses of Tab did not reach {selector}; focus is on {focused}")


# ---------------------------------------------------------------- phone layout


def test_it_does_not_scroll_sideways_on_a_phone(login_as, scene):
    lead = login_as("lead")
    onduty = login_as("onduty")
    owner = login_as("owner")
    tester = login_as("tester")
    pages = [
        ("dashboard", lead, "/dashboard/", False),
        ("dashboard, quick forms open", lead, "/dashboard/", True),
        ("workspace (in progress, lead)", lead, f"/incidents/{scene.in_progress.pk}/", True),
        ("workspace (new P0, lead)", lead, f"/incidents/{scene.overdue_p0.pk}/", True),
        ("workspace (verifying, tester)", tester, f"/incidents/{scene.verifying.pk}/", True),
        ("intake", onduty, "/incidents/new/", False),
        ("my work (owner)", owner, "/my/", False),
        ("my work (tester)", tester, "/my/", False),
    ]
    too_wide = []
    for name, page, path, open_details in pages:
        page.set_viewport_size(PHONE)
        page.goto(path)
        expect(page.locator("h1").first).to_be_visible()
        if open_details:
            open_all_details(page)
        widths = page.evaluate(WIDTH_JS)
        assert widths["inner"] == PHONE["width"], widths
        if widths["scroll"] > widths["inner"]:
            too_wide.append(f"{name} ({path}): {widths}")
    assert not too_wide, "sideways scrolling at 375 px:\n  " + "\n  ".join(too_wide)


# ---------------------------------------------------------------- labels


def test_it_labels_every_form_control(login_as, scene):
    lead = login_as("lead")
    checks = [
        ("intake", login_as("onduty"), "/incidents/new/"),
        ("dashboard", lead, "/dashboard/"),
        ("archive (lead)", lead, "/archive/"),
        ("notifications", lead, "/notifications/"),
        ("password", lead, "/accounts/password/"),
        ("verification form", login_as("tester"), f"/incidents/{scene.verifying.pk}/"),
        ("my work (owner)", login_as("owner"), "/my/"),
        ("archive (manager)", login_as("manager"), "/archive/"),
    ]
    for incident in (
        scene.overdue_p0,
        scene.acknowledged,
        scene.in_progress,
        scene.verifying,
        scene.resolved,
        scene.archived,
    ):
        checks.append((f"workspace ({incident.state})", lead, f"/incidents/{incident.pk}/"))

    unlabelled = []
    for name, page, path in checks:
        page.goto(path)
        expect(page.locator("h1").first).to_be_visible()
        open_all_details(page)  # the quick forms, reopen, cancel, edit
        if name == "dashboard":
            expect(page.locator(f"#row-{scene.overdue_p0.pk} [name=diagnosis]")).to_be_visible()
        found = page.evaluate(UNLABELLED_JS)
        if not name.startswith("my work"):  # a list without forms
            assert found["checked"] > 0, f"{name} {path}: no visible form control to check"
        unlabelled += [f"{name} {path}: {field}" for field in found["bad"]]
    assert not unlabelled, "form controls without an accessible label:\n  " + "\n  ".join(
        unlabelled
    )


# ---------------------------------------------------------------- keyboard


def test_it_lets_a_lead_acknowledge_from_the_dashboard_with_the_keyboard(login_as, scene):
    page = login_as("lead")
    page.goto("/dashboard/")
    row = page.locator(f"#row-{scene.fresh_p1.pk}")
    expect(row.locator(".state-badge")).to_have_text("New")

    tab_to(page, f"#row-{scene.fresh_p1.pk} button[formaction$='/acknowledge/']")
    page.keyboard.press("Enter")

    expect(row.locator(".state-badge")).to_have_text("Acknowledged")
    # Back on the dashboard at the row acted on, which has the focus.
    assert page.url.endswith(f"/dashboard/#row-{scene.fresh_p1.pk}")
    expect(row).to_be_focused()
    assert Incident.objects.get(pk=scene.fresh_p1.pk).state == State.ACKNOWLEDGED


def test_it_files_an_incident_with_the_keyboard_only(login_as, onduty, lead):
    page = login_as("onduty")
    page.goto("/incidents/new/")
    form = "#intake-form"

    tab_to(page, f"{form} [name=title]")
    page.keyboard.type("订单服务返回 500 / Order service returns HTTP 500")
    tab_to(page, f"{form} [name=symptoms]", limit=2)
    page.keyboard.type("下单按钮无响应。\nThe order button does nothing.")
    tab_to(page, f"{form} [name=severity]:checked", limit=2)  # the group's one tab stop: P2
    page.keyboard.press("ArrowUp")  # moves to P1 and selects it
    page.keyboard.press("Space")
    expect(page.locator(f"{form} [name=severity][value=P1]")).to_be_checked()
    tab_to(page, f"{form} [name=impact_scope]", limit=2)
    page.keyboard.type("华东区 App 下单 / ordering in the East China app")
    tab_to(page, f"{form} [name=affected_users]", limit=2)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("450")
    tab_to(page, f"{form} [name=source]", limit=2)
    page.keyboard.type("Monitoring")
    expect(page.locator(f"{form} [name=source]")).to_have_value("monitoring")
    tab_to(page, f"{form} [name=category]", limit=2)
    page.keyboard.type("Infra")
    expect(page.locator(f"{form} [name=category]")).to_have_value("infrastructure")
    tab_to(page, f"{form} [name=team]", limit=2)
    page.keyboard.type("Platform")
    expect(page.locator(f"{form} [name=team] option:checked")).to_have_text("Platform")
    tab_to(page, f"{form} [name=urgent]", limit=20)  # past service and the two times
    page.keyboard.press("Space")
    expect(page.locator(f"{form} [name=urgent]")).to_be_checked()
    tab_to(page, f"{form} [name=phone_call_to]", limit=2)
    page.keyboard.type("lead 王工")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/incidents/\d+/$"))
    expect(page.locator("h1")).to_contain_text("Order service returns HTTP 500")
    incident = Incident.objects.get(title="订单服务返回 500 / Order service returns HTTP 500")
    assert incident.state == State.NEW
    assert (incident.initial_severity, incident.source, incident.category) == (
        "P1",
        "monitoring",
        "infrastructure",
    )
    assert incident.affected_users == 450
    # A browser submits a textarea's line breaks as CRLF.
    symptoms = incident.symptoms.replace("\r\n", "\n")
    assert symptoms == "下单按钮无响应。\nThe order button does nothing."
    assert incident.team.slug == "platform"
    assert incident.urgent
    assert incident.phone_call_to == "lead 王工"


# ---------------------------------------------------------------- live countdowns


def test_it_counts_down_and_marks_a_passed_deadline_overdue(login_as, onduty, lead):
    soon = new_incident(reporter=onduty, severity="P0", title="Due in five minutes")
    late = new_incident(
        reporter=onduty, severity="P0", title="Due long ago", received_at=ago(minutes=40)
    )
    page = login_as("lead")
    page.goto("/dashboard/")

    countdown = page.locator(f"#row-{soon.pk} td[data-label=Respond] [data-deadline] .countdown")
    expect(countdown).to_have_text(re.compile(r"^4 min \d+ s left$"))
    before = countdown.text_content()
    expect(countdown).not_to_have_text(before, timeout=5_000)

    overdue = page.locator(f"#row-{late.pk} td[data-label=Respond] [data-deadline]")
    expect(overdue).to_have_class(re.compile(r"\boverdue\b"))
    expect(overdue).to_contain_text(re.compile(r"overdue by \d+ min"))
    expect(page.locator(f"#row-{late.pk}")).to_have_class(re.compile(r"\btable-danger\b"))

    # The workspace counts the same way.
    page.goto(f"/incidents/{late.pk}/")
    expect(page.locator("[data-deadline].overdue").first).to_contain_text("overdue by")


# ---------------------------------------------------------------- screenshots


def test_it_takes_screenshots_of_the_main_pages(page, login_as, screenshot, scene, lead):
    assert Delivery.objects.filter(user=lead, channel="inapp").exists()  # notices to show
    people = {
        "lead": login_as("lead"),
        "onduty": login_as("onduty"),
        "tester": login_as("tester"),
        "owner": login_as("owner"),
        "manager": login_as("manager"),
    }
    shots = [
        # name, who (None: signed out), path, what must be visible
        ("login", None, "/accounts/login/", "form:has(input[name=password]) [type=submit]"),
        ("dashboard", "lead", "/dashboard/", "h1:has-text('Triage dashboard')"),
        ("intake", "onduty", "/incidents/new/", "h1:has-text('File an incident')"),
        ("workspace", "lead", f"/incidents/{scene.in_progress.pk}/", "#h-log"),
        ("verification", "tester", f"/incidents/{scene.verifying.pk}/?open=verify", "#form-verify"),
        ("my-work", "owner", "/my/", "h1:has-text('My work')"),
        ("archive", "manager", "/archive/", "h1:has-text('Archive')"),
        (
            "print",
            "manager",
            f"/incidents/{scene.archived.pk}/print/",
            "h1:has-text('Problem tracking form')",
        ),
        ("knowledge", "manager", "/knowledge/?q=磁盘", "#results li"),
        ("metrics", "manager", "/metrics/", "#metrics-by-level"),
        (
            "postmortem",
            "lead",
            f"/incidents/{scene.resolved.pk}/postmortem/",
            "#postmortem-form",
        ),
        # Last for the lead: the checks below read this page.
        ("notifications", "lead", "/notifications/", "h1:has-text('Notifications')"),
    ]
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        for name, who, path, visible in shots:
            tab = people[who] if who else page
            tab.set_viewport_size(size)
            tab.goto(path)
            expect(tab.locator(visible).first).to_be_visible()
            shot = screenshot(tab, f"{name}-{size_name}")
            assert shot.is_file(), shot
            assert shot.stat().st_size > 1000, shot
    # What the pages showed, beyond their headings.
    lead_page = people["lead"]
    notices = lead_page.locator(".list-group-item")
    expect(notices.filter(has_text=scene.overdue_p0.number)).to_contain_text("response overdue")
    expect(notices.filter(has_text=scene.in_progress.number)).to_contain_text("blocker")
    lead_page.goto("/dashboard/")
    for incident in scene.open:
        expect(lead_page.locator(f"#row-{incident.pk}")).to_be_visible()
    expect(lead_page.locator(f"#row-{scene.overdue_p0.pk}")).to_have_class(
        re.compile(r"\btable-danger\b")
    )


def test_it_takes_screenshots_in_chinese(login_as, screenshot, scene, lead, manager):
    """The same pages as a Chinese team sees them (language saved in the profile)."""
    from incidents.models import UserProfile

    for user in (lead, manager):
        UserProfile.objects.update_or_create(user=user, defaults={"language": "zh-hans"})
    lead_page, manager_page = login_as("lead"), login_as("manager")
    shots = [
        ("dashboard-zh", lead_page, "/dashboard/", "h1:has-text('分诊看板')"),
        (
            "workspace-zh",
            lead_page,
            f"/incidents/{scene.in_progress.pk}/",
            "#h-log:has-text('处理过程记录')",
        ),
        ("metrics-zh", manager_page, "/metrics/", "h1:has-text('指标')"),
    ]
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        for name, tab, path, visible in shots:
            tab.set_viewport_size(size)
            tab.goto(path)
            expect(tab.locator(visible).first).to_be_visible()
            expect(tab.locator("html")).to_have_attribute("lang", "zh-hans")
            shot = screenshot(tab, f"{name}-{size_name}")
            assert shot.stat().st_size > 1000, shot
