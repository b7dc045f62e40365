"""Step 6 in a real browser: the manager finds a past incident by a Chinese
symptom phrase, opens its post-mortem and downloads the archive as XLSX."""

import io
import re

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.factories import archived_incident, in_progress_incident, resolved_incident

SYMPTOMS = "数据库连接池耗尽导致超时，下单接口大量报错。"


def test_it_lets_a_manager_find_a_past_incident_read_its_postmortem_and_export(
    login_as, lead, owner, tester, manager, screenshot
):
    past = archived_incident(
        lead=lead,
        owner=owner,
        tester=tester,
        severity="P1",
        title="订单服务故障 / Order service failure",
        symptoms=SYMPTOMS,
    )
    resolved_incident(lead=lead, owner=owner, title="报表字体错位 / Report fonts", severity="P3")
    page = login_as("manager")

    page.get_by_role("link", name="Knowledge", exact=True).click()
    page.get_by_role("searchbox").fill("连接池耗尽")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result-count")).to_have_text("1 result")
    page.get_by_role("link", name=f"{past.number} 订单服务故障 / Order service failure").click()

    expect(page).to_have_url(re.compile(f"/incidents/{past.pk}/$"))
    expect(page.locator("#incident-number")).to_have_text(past.number)
    page.locator("#postmortem-summary").get_by_role("link", name="Post-mortem").click()
    expect(page.locator("#postmortem")).to_contain_text("A config push halved the connection pool.")
    expect(page.locator("#postmortem")).to_contain_text("Add a pool saturation alert.")
    screenshot(page, "postmortem-read")

    page.get_by_role("link", name="Archive", exact=True).click()
    page.get_by_label("Level").select_option("P1")
    page.get_by_role("button", name="Filter").click()
    with page.expect_download() as download:
        page.locator("#export-xlsx").click()
    path = download.value.path()
    sheet = load_workbook(io.BytesIO(path.read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Number", "Title", "Level")
    assert [r[0] for r in rows[1:]] == [past.number]  # the P1 filter applied
    assert rows[1][1] == "订单服务故障 / Order service failure"


def test_the_workspace_loads_similar_past_incidents_after_the_page(login_as, lead, owner, tester):
    past = archived_incident(
        lead=lead, owner=owner, tester=tester, title="订单服务故障", symptoms=SYMPTOMS
    )
    current = in_progress_incident(lead=lead, owner=owner, title="订单接口超时 连接池耗尽")
    page = login_as("owner")
    page.goto(f"/incidents/{current.pk}/")
    similar = page.locator("#similar")
    expect(similar.locator("#similar-list")).to_be_visible()  # swapped in by htmx
    expect(similar.get_by_role("link", name=f"{past.number} 订单服务故障")).to_be_visible()
    expect(similar).not_to_contain_text(current.number)
