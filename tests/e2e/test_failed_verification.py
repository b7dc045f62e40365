"""A tester working in English fails a verification; the owner, who reads Chinese,
finds it in their inbox and on the incident's audit trail in Chinese, with the
tester's own evidence and notes as written."""

import pytest
from django.utils import translation
from playwright.sync_api import expect

from incidents import services
from incidents.models import UserProfile
from tests.factories import verifying_incident


@pytest.fixture
def failed(lead, owner, tester):
    UserProfile.objects.update_or_create(user=owner, defaults={"language": "zh-hans"})
    UserProfile.objects.update_or_create(user=tester, defaults={"language": "en"})
    incident = verifying_incident(lead=lead, owner=owner, severity="P1", title="订单接口超时")
    with translation.override("en"):
        services.incident_verify(
            incident=incident,
            actor=tester,
            functional_ok=True,
            regression_ok=False,
            regression_evidence="Refund flow returns HTTP 500 (3 of 10 runs).",
            monitoring_ok=True,
            notes="Retried from the Beijing office.",
        )
    return incident


def test_the_owner_reads_a_failed_verification_in_their_language(login_as, screenshot, failed):
    page = login_as("owner")

    page.goto("/notifications/")
    inbox = page.locator("main")
    expect(inbox).to_contain_text("订单接口超时")
    expect(inbox).to_contain_text("回归测试")  # "Regression test", in the reader's language
    expect(inbox).to_contain_text("Refund flow returns HTTP 500 (3 of 10 runs).")
    expect(inbox).to_contain_text("Retried from the Beijing office.")
    expect(inbox).not_to_contain_text("Regression test")
    screenshot(page, "inbox-verification-failed-zh")

    page.goto(f"/incidents/{failed.pk}/")
    audit = page.locator("#events")
    expect(audit).to_contain_text("Refund flow returns HTTP 500 (3 of 10 runs).")
    expect(audit).to_contain_text("回归测试")
    expect(audit).not_to_contain_text("Filed as")
    expect(audit).not_to_contain_text("Workaround:")
    screenshot(page, "audit-trail-zh")
