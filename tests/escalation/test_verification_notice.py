"""A failed verification tells the owner and the helpers at once: which check failed,
the evidence and the tester's notes, in their inbox and through their channels."""

import pytest
from django.core import mail

from escalation.messages import render
from escalation.models import Delivery, Notice
from incidents import services
from incidents.models import UserProfile
from tests.factories import verifying_incident

pytestmark = pytest.mark.django_db


def fail_verification(incident, tester, **checks):
    return services.incident_verify(
        incident=incident,
        actor=tester,
        **{"functional_ok": True, "regression_ok": True, "monitoring_ok": True, **checks},
        notes="Still 502 on retry from the Beijing office.",
    )


def test_it_tells_the_owner_and_the_helpers_when_a_verification_fails(
    clock, lead, owner, helper, tester, django_capture_on_commit_callbacks
):
    owner.email, helper.email = "owner@example.com", "helper@example.com"
    owner.save(), helper.save()
    incident = verifying_incident(lead=lead, owner=owner, helpers=[helper])

    with django_capture_on_commit_callbacks(execute=True):
        fail_verification(
            incident,
            tester,
            regression_ok=False,
            regression_evidence="Payment callback times out (3 of 10 runs).",
        )

    notice = Notice.objects.get(incident=incident, clock="verify")
    assert sorted(notice.recipients) == ["helper", "owner"]
    assert notice.late is False
    inbox = Delivery.objects.filter(notice=notice, channel="inapp")
    assert sorted(d.user.username for d in inbox) == ["helper", "owner"]
    assert {d.status for d in inbox} == {"sent"}
    assert sorted(m.to[0] for m in mail.outbox) == ["helper@example.com", "owner@example.com"]
    body = mail.outbox[0].body
    assert "Regression test" in body
    assert "Payment callback times out (3 of 10 runs)." in body
    assert "Still 502 on retry from the Beijing office." in body
    assert "Functional test" not in body  # it passed


def test_it_does_not_tell_anyone_when_the_verification_passes(clock, lead, owner, tester):
    incident = verifying_incident(lead=lead, owner=owner)
    services.incident_verify(
        incident=incident, actor=tester, functional_ok=True, regression_ok=True, monitoring_ok=True
    )
    assert not Notice.objects.filter(incident=incident, clock="verify").exists()


def test_it_does_not_tell_the_verifier_about_their_own_verdict(clock, lead, owner, helper):
    incident = verifying_incident(lead=lead, owner=owner, helpers=[helper])
    fail_verification(incident, lead, monitoring_ok=False)
    assert Notice.objects.get(incident=incident, clock="verify").recipients == ["owner", "helper"]
    # The lead owning it and verifying it: the helpers are still told.
    incident = verifying_incident(lead=lead, owner=lead, helpers=[helper])
    fail_verification(incident, lead, monitoring_ok=False)
    assert Notice.objects.get(incident=incident, clock="verify").recipients == ["helper"]


def test_it_sends_one_notice_per_failed_attempt(clock, lead, owner, tester):
    incident = verifying_incident(lead=lead, owner=owner)
    fail_verification(incident, tester, functional_ok=False)
    services.incident_resolve(incident=incident, actor=owner, fix="Second try.")
    fail_verification(incident, tester, functional_ok=False)
    assert Notice.objects.filter(incident=incident, clock="verify").count() == 2


def test_it_writes_the_notice_in_each_readers_language(clock, lead, owner, tester):
    UserProfile.objects.update_or_create(user=owner, defaults={"language": "zh-hans"})
    incident = verifying_incident(lead=lead, owner=owner)
    fail_verification(incident, tester, monitoring_ok=False, monitoring_evidence="CPU 95 %")
    notice = Notice.objects.get(incident=incident, clock="verify")

    subject, body = render(notice, language="en")
    assert "verification failed" in subject
    assert "Failed: Monitoring observation — CPU 95 %" in body
    assert "Tester verified the fix" in body  # by name
    zh_subject, zh_body = render(notice, language="zh-hans")
    assert "CPU 95 %" in zh_body
    assert "Monitoring observation" not in zh_body  # translated (after makemessages)


def test_an_english_testers_verdict_reaches_a_chinese_owner_in_chinese(
    clock, lead, owner, tester, django_capture_on_commit_callbacks
):
    owner.email = "owner@example.com"
    owner.save()
    UserProfile.objects.update_or_create(user=owner, defaults={"language": "zh-hans"})
    UserProfile.objects.update_or_create(user=tester, defaults={"language": "en"})
    incident = verifying_incident(lead=lead, owner=owner)

    from django.utils import translation

    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        fail_verification(incident, tester, regression_ok=False, regression_evidence="Refunds 500")

    (message,) = mail.outbox
    assert message.to == ["owner@example.com"]
    assert "回归测试" in message.body  # "Regression test", in the reader's language
    assert "Regression test" not in message.body
    assert "Refunds 500" in message.body  # the tester's own words, as written
