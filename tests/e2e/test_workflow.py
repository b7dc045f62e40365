"""The six-step process in a real browser, each role in its own signed-in session.

On-duty files through the intake form, the tech lead triages from the dashboard
without leaving it, the owner works from "my work" and the workspace, the tester
fails and then passes verification, on-duty closes the loop with the users and
the lead archives. A second test shows a stale form as a conflict that keeps the
typed text.
"""

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from common.people import display_name
from incidents.models import Incident, LogEntry, State
from tests.e2e.workspace import open_form
from tests.factories import in_progress_incident

TITLE = "支付回调超时 / Payment callback timeouts"
WORKSPACE_URL = re.compile(r"/incidents/(\d+)/(#\w+)?$")


def state_badge(page: Page):
    """The state badge in the workspace heading."""
    return page.locator("h1 .state-badge")


def post_to(page: Page, action: str):
    """Waits for the answer to the POST of one action's form."""
    return page.expect_response(
        lambda r: r.request.method == "POST" and urlsplit(r.url).path.endswith(f"/{action}/")
    )


def add_log_entry(page: Page, kind: str, text: str) -> None:
    form = open_form(page, "log")
    form.locator("select[name=kind]").select_option(kind)
    form.locator("textarea[name=text]").fill(text)
    form.get_by_role("button", name="Add entry").click()
    expect(page.locator("#log .timeline")).to_contain_text(text)


def resolve(page: Page, *, workaround: str = "", fix: str = "") -> None:
    form = open_form(page, "resolve")
    form.locator("textarea[name=workaround]").fill(workaround)
    form.locator("textarea[name=fix]").fill(fix)
    form.get_by_role("button", name="Submit for verification").click()
    expect(state_badge(page)).to_have_text("Verifying")


def verify(page: Page, *, regression: str, evidence: str = "", notes: str = "") -> None:
    form = open_form(page, "verify")
    form.locator("input[name=functional][value=passed]").check()
    form.locator(f"input[name=regression][value={regression}]").check()
    form.locator("input[name=monitoring][value=passed]").check()
    form.locator("textarea[name=regression_evidence]").fill(evidence)
    form.locator("textarea[name=notes]").fill(notes)
    form.get_by_role("button", name="Record verification").click()


def test_it_walks_the_whole_process_as_each_role(login_as, onduty, lead, owner, tester, manager):
    # ---- step 1: on-duty files a P1 through the intake form
    desk = login_as("onduty")
    desk.goto("/incidents/new/")
    form = desk.locator("#intake-form")
    form.get_by_label("Title").fill(TITLE)
    form.get_by_label("Initial symptoms").fill("回调接口 30 秒超时；订单停在“支付中”。\nTimeouts.")
    form.get_by_label("P1 high").check()
    form.get_by_label("Impact scope").fill("支付成功后订单状态不更新 / order status not updated")
    form.get_by_label("Affected users (estimate)").fill("300")
    form.get_by_label("Source").select_option("user_complaint")
    form.get_by_label("Category").select_option("user_facing")
    form.get_by_label("Team").select_option(label="Platform")
    form.get_by_role("button", name="File incident").click()

    desk.wait_for_url(WORKSPACE_URL)
    pk = int(WORKSPACE_URL.search(desk.url).group(1))
    number = Incident.objects.get(pk=pk).number
    expect(desk.locator("h1")).to_contain_text(TITLE)
    expect(state_badge(desk)).to_have_text("New")
    expect(desk.locator("h1 .sev-P1")).to_be_visible()

    # ---- steps 2 and 3: the lead acknowledges, grades and assigns on the dashboard
    boss = login_as("lead")
    boss.goto("/dashboard/")
    row = boss.locator(f"#row-{pk}")
    expect(row).to_contain_text(TITLE)
    expect(row.locator(".state-badge")).to_have_text("New")

    row.get_by_role("button", name="Acknowledge").click()
    expect(row.locator(".state-badge")).to_have_text("Acknowledged")
    expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert urlsplit(boss.url).path == "/dashboard/"

    row.locator("summary", has_text="Grade").click()
    grade = row.locator("form[action$='/grade/']")
    grade.get_by_label("Level").select_option("P2")
    grade.get_by_label("Diagnosis").fill(
        "只有使用旧版 SDK 的商户受影响，实际影响小于上报。Only merchants on the old SDK."
    )
    grade.get_by_role("button", name="Save grading").click()
    expect(row.locator(".sev-P2")).to_be_visible()
    assert urlsplit(boss.url).path == "/dashboard/"

    row.locator("summary", has_text="Assign").click()
    assign = row.locator("form[action$='/assign/']")
    assign.get_by_label("Owner", exact=True).select_option(str(owner.pk))
    assign.get_by_role("button", name="Assign").click()
    expect(row.locator(".state-badge")).to_have_text("Assigned")
    # The name, not the username.
    expect(row.locator("td[data-label=Owner]")).to_have_text(display_name(owner))
    assert urlsplit(boss.url).path == "/dashboard/"

    # ---- step 4: the owner works from "my work" and the workspace
    eng = login_as("owner")
    eng.goto("/my/")
    eng.locator("#h-mine + table").get_by_role("link", name=number).click()
    eng.wait_for_url(WORKSPACE_URL)
    expect(state_badge(eng)).to_have_text("Assigned")
    add_log_entry(eng, "workaround", "切换到备用回调网关 / switched to the standby gateway")
    expect(state_badge(eng)).to_have_text("In progress")
    add_log_entry(eng, "progress", "回调成功率恢复到 99% / callback success back to 99%")
    resolve(eng, workaround="备用网关 / standby gateway", fix="")

    # ---- step 5: the tester fails the verification
    qa = login_as("tester")
    qa.goto("/my/")
    qa.locator("#h-verify + table").get_by_role("link", name=number).click()
    qa.wait_for_url(WORKSPACE_URL)
    verify(qa, regression="failed", evidence="退款回调仍然超时 / refund callbacks still time out")
    expect(qa.get_by_role("alert")).to_contain_text("Verification failed")
    expect(state_badge(qa)).to_have_text("In progress")
    verification = qa.locator("#verification")
    expect(verification).to_contain_text("✘ Verification failed")
    expect(verification).to_contain_text(
        "Regression test: failed — 退款回调仍然超时 / refund callbacks still time out"
    )

    # ---- back to step 4: the owner sees why, logs the fix and resolves again
    eng.goto(f"/incidents/{pk}/")
    expect(state_badge(eng)).to_have_text("In progress")
    expect(eng.locator("#verification")).to_contain_text("refund callbacks still time out")
    add_log_entry(eng, "fix", "修复 SDK 重试逻辑并发布 / fixed the SDK retry logic, released 2.4.1")
    resolve(eng, fix="SDK 2.4.1：回调重试带退避 / callback retries with backoff")

    # ---- step 5 again: the tester passes it
    qa.goto(f"/incidents/{pk}/")
    verify(qa, regression="passed", notes="支付和退款回调均正常 / payment and refund callbacks OK")
    expect(qa.get_by_role("alert")).to_contain_text("Verification passed")
    expect(state_badge(qa)).to_have_text("Resolved")
    attempts = qa.locator("#verification")
    expect(attempts).to_contain_text("Resolution 1")
    expect(attempts).to_contain_text("Resolution 2")
    expect(attempts.get_by_text("✘ Verification failed")).to_have_count(1)
    expect(attempts.get_by_text("✔ Verification passed")).to_have_count(1)

    # ---- on-duty tells the users and records what they said
    desk.goto(f"/incidents/{pk}/")
    expect(state_badge(desk)).to_have_text("Resolved")
    notify = open_form(desk, "notifyusers")
    notify.get_by_label("What the users were told").fill("您反馈的问题已修复。It is fixed.")
    notify.get_by_role("button", name="Record notification").click()
    expect(desk.locator("#verification")).to_contain_text("told users: 您反馈的问题已修复")
    feedback = open_form(desk, "feedback")
    feedback.get_by_label("Users' feedback").fill("商户确认订单状态正常 / merchants confirm")
    feedback.get_by_label("Satisfied?").select_option("true")
    feedback.get_by_role("button", name="Record feedback").click()
    expect(desk.locator("#verification")).to_contain_text("feedback: 商户确认订单状态正常")
    expect(desk.locator("#verification")).to_contain_text("(satisfied)")

    # ---- step 6: the lead archives with a summary (P2: no post-mortem needed)
    boss.goto(f"/incidents/{pk}/")
    summary = "旧版 SDK 回调无重试；已发布 2.4.1 并加监控。Old SDK had no retry; 2.4.1 released."
    archive = open_form(boss, "archive")
    archive.get_by_label("Archive summary").fill(summary)
    archive.get_by_role("button", name="Archive").click()
    expect(state_badge(boss)).to_have_text("Archived")
    expect(boss.locator("#archive-summary")).to_contain_text(summary)

    boss.goto("/archive/")
    archived_row = boss.locator("tbody tr", has_text=number)
    expect(archived_row).to_contain_text(TITLE)
    expect(archived_row.locator(".state-badge")).to_have_text("Archived")
    archived_row.get_by_role("link", name="Print").click()
    boss.wait_for_url(f"**/incidents/{pk}/print/")
    sheet = boss.locator(".sheet")
    for heading in (
        "1. Basic information",
        "2. Grading and diagnosis",
        "3. Task assignment",
        "4. Process log",
        "5. Result verification",
        "6. Archive summary",
        "Escalation notices",
    ):
        expect(sheet.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    for text in (
        TITLE,
        "State: Archived",
        "只有使用旧版 SDK 的商户受影响",
        "switched to the standby gateway",
        "callback success back to 99%",
        "fixed the SDK retry logic",
        "functional ✔, regression ✘, monitoring ✔",
        "functional ✔, regression ✔, monitoring ✔",
        "您反馈的问题已修复",
        "商户确认订单状态正常",
        summary,
    ):
        expect(sheet).to_contain_text(text)

    # ---- what the database holds
    incident = Incident.objects.get(pk=pk)
    assert incident.state == State.ARCHIVED
    assert incident.severity == "P2"
    assert incident.initial_severity == "P1"
    assert incident.owner == owner
    assert incident.reporter == onduty
    assert incident.archive_summary == summary
    kinds = list(incident.log_entries.order_by("happened_at", "id").values_list("kind", flat=True))
    assert kinds == [LogEntry.Kind.WORKAROUND, LogEntry.Kind.PROGRESS, LogEntry.Kind.FIX]
    verifications = list(
        incident.resolutions.order_by("submitted_at", "id").values_list(
            "verifications__passed", flat=True
        )
    )
    assert verifications == [False, True]
    assert incident.user_notifications.count() == 1
    assert incident.feedback.get().satisfied is True


def test_it_shows_a_stale_edit_as_a_conflict_and_keeps_what_was_typed(
    login_as, browser_problems, lead, owner
):
    incident = in_progress_incident(lead=lead, owner=owner, title="库存同步延迟 / Stock sync lag")
    url = f"/incidents/{incident.pk}/"
    boss = login_as("lead")
    boss.goto(url)
    eng = login_as("owner")
    eng.goto(url)
    expect(eng.locator("h1")).to_contain_text("Stock sync lag")

    # The lead logs first: the owner's page is now stale.
    add_log_entry(boss, "note", "已联系仓储团队 / warehouse team contacted")

    typed = "重建索引完成 60% / index rebuild 60% done"
    form = open_form(eng, "log")  # drawn now, it still carries the version the page shows
    form.locator("select[name=kind]").select_option("progress")
    form.locator("textarea[name=text]").fill(typed)
    with post_to(eng, "log") as answer:
        form.get_by_role("button", name="Add entry").click()
    assert answer.value.status == 409
    # Chromium logs every 4xx page load as a console error: this one is expected.
    browser_problems.settle()
    problems = browser_problems.problems
    assert len(problems) == 1, problems
    assert "409" in problems[0], problems
    assert answer.value.url in problems[0], problems
    problems.clear()

    conflict = eng.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text(
        re.compile(r"^\s*Someone changed this incident while you were editing")
    )
    form = eng.locator("#form-log")
    expect(form.locator("textarea[name=text]")).to_have_value(typed)
    expect(form.locator("select[name=kind]")).to_have_value("progress")
    # The form now carries the version that includes the lead's entry.
    current = Incident.objects.get(pk=incident.pk).version
    expect(form.locator("input[name=version]")).to_have_value(str(current))
    # The page now shows what changed meanwhile, and nothing of the owner's was saved.
    expect(eng.locator("#log .timeline")).to_contain_text("warehouse team contacted")
    expect(eng.locator("#log .timeline")).not_to_contain_text(typed)
    assert not incident.log_entries.filter(text=typed).exists()

    with post_to(eng, "log") as answer:
        form.get_by_role("button", name="Add entry").click()
    assert answer.value.status == 302
    eng.wait_for_url(WORKSPACE_URL)
    expect(eng.locator("#conflict")).to_have_count(0)
    expect(eng.locator("#log .timeline")).to_contain_text(typed)
    assert incident.log_entries.filter(text=typed, kind="progress", author=owner).count() == 1
