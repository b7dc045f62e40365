"""Pausing and resuming the SLA from the workspace, in a real browser and in both
languages: the clocks show "paused since …", the dashboard too, and resuming
gives the countdown back."""

import re

import pytest
from playwright.sync_api import expect

from incidents.models import Pause, UserProfile
from tests.factories import in_progress_incident

TEXT = {
    "en": {
        "summary": "Pause the SLA — waiting on someone outside the team",
        "reason": "What are you waiting for?",
        "waiting_on": "Waiting on",
        "pause": "Pause",
        "resume": "Resume",
        "paused": "SLA paused since",
        "paused_cell": "paused since",
    },
    "zh-hans": {
        "summary": "暂停 SLA —— 正在等待团队之外的人",
        "reason": "在等待什么？",
        "waiting_on": "等待对象",
        "pause": "暂停",
        "resume": "恢复计时",
        "paused": "SLA 自",
        "paused_cell": "暂停自",
    },
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_owner_pauses_and_resumes_from_the_workspace(
    login_as, screenshot, lead, owner, language
):
    t = TEXT[language]
    UserProfile.objects.update_or_create(user=owner, defaults={"language": language})
    incident = in_progress_incident(lead=lead, owner=owner, severity="P1", title="订单接口超时")
    page = login_as("owner")
    page.goto(f"/incidents/{incident.pk}/")

    page.locator("#pause-control summary").click()
    expect(page.locator("#pause-control summary")).to_have_text(t["summary"])
    page.get_by_label(t["reason"]).fill("等待戴尔更换硬盘 / replacement disk")
    page.get_by_label(t["waiting_on"], exact=True).fill("Dell 技术支持")
    page.locator("#form-pause").get_by_role("button", name=t["pause"]).click()

    banner = page.locator("#paused")
    expect(banner).to_contain_text(t["paused"])
    expect(banner).to_contain_text("Dell 技术支持")
    expect(page.locator("#form-resume")).to_be_visible()
    expect(page.locator("#pause-control")).to_have_count(0)
    screenshot(page, f"workspace-paused-{language}")
    pause = Pause.objects.get(incident=incident)
    assert (pause.reason, pause.waiting_on, pause.ended_at) == (
        "等待戴尔更换硬盘 / replacement disk",
        "Dell 技术支持",
        None,
    )

    lead_page = login_as("lead")
    lead_page.goto("/dashboard/")
    row = lead_page.locator(f"#row-{incident.pk}")
    expect(row).to_contain_text("Dell")
    expect(row.locator("[data-deadline]")).to_have_count(0)
    screenshot(lead_page, f"dashboard-paused-{language}")

    page.goto(f"/incidents/{incident.pk}/")
    page.locator("#form-resume").get_by_role("button", name=t["resume"]).click()
    expect(page.locator("#paused")).to_have_count(0)
    expect(page.locator("#pause-control")).to_be_visible()
    expect(page.locator("[data-deadline]").first).to_be_visible()
    assert Pause.objects.get(incident=incident).ended_at is not None
    expect(page.locator("#events")).to_contain_text(re.compile("SLA resumed|SLA 已恢复"))
