"""The audit trail keeps facts, not sentences: each reader sees the system's texts in
their own language, whoever's language the writer had. Rows written before the
facts were kept still show their text."""

import pytest
from django.utils import translation

from incidents import services
from incidents.models import TimelineEvent, UserProfile
from incidents.timeline import describe
from tests.factories import IncidentFactory, verifying_incident

pytestmark = pytest.mark.django_db


def as_english_writer(fn, **kwargs):
    """A writer whose screen is in English (the language active while they act)."""
    with translation.override("en"):
        return fn(**kwargs)


def events_of(incident, kind):
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind))


def failed_verification(lead, owner, tester):
    incident = verifying_incident(lead=lead, owner=owner)
    return as_english_writer(
        services.incident_verify,
        incident=incident,
        actor=tester,
        functional_ok=False,
        functional_evidence="Checkout still shows HTTP 502 (…).",
        regression_ok=True,
        monitoring_ok=False,
        monitoring_evidence="Error rate 4 %..",
        notes="Tried three times.",
    )


def test_it_shows_the_filing_in_the_readers_language(clock, onduty):
    incident = as_english_writer(IncidentFactory, actor=onduty, severity="P0", source="monitoring")
    (event,) = events_of(incident, "created")

    assert event.message == "Filed as P0 from Monitoring alert."  # English, for the admin
    with translation.override("zh-hans"):
        chinese = describe(event)
    assert "P0" in chinese
    assert "Filed as" not in chinese
    assert "Monitoring alert" not in chinese
    with translation.override("en"):
        assert describe(event) == "Filed as P0 from Monitoring alert."


def test_it_shows_workaround_and_fix_in_the_readers_language(clock, lead, owner):
    incident = verifying_incident(lead=lead, owner=owner)
    (event,) = events_of(incident, "resolution_submitted")

    with translation.override("zh-hans"):
        text = describe(event)
    assert "Workaround:" not in text
    assert "Fix:" not in text
    assert "Traffic moved to the standby gateway." in text  # the owner's own words stay
    with translation.override("en"):
        assert describe(event) == (
            "Workaround: Traffic moved to the standby gateway.\n"
            "Fix: Connection pool size raised and alerting added."
        )


def test_it_lists_each_failed_check_on_its_own_line_without_mangled_stops(
    clock, lead, owner, tester
):
    incident = failed_verification(lead, owner, tester)
    (event,) = events_of(incident, "verification_failed")

    with translation.override("en"):
        assert describe(event).splitlines() == [
            "Failed: Functional test — Checkout still shows HTTP 502 (…).",
            "Failed: Monitoring observation — Error rate 4 %..",
            "Notes: Tried three times.",
        ]
    assert ".;" not in event.message
    assert "(…).." not in event.message
    with translation.override("zh-hans"):
        assert "Functional test" not in describe(event)


def test_it_shows_log_entries_and_pauses_in_the_readers_language(clock, lead, owner):
    from tests.factories import in_progress_incident

    incident = in_progress_incident(lead=lead, owner=owner)
    as_english_writer(
        services.incident_log, incident=incident, actor=owner, kind="progress", text="Half done."
    )
    as_english_writer(
        services.incident_pause,
        incident=incident,
        actor=owner,
        reason="Vendor ticket open",
        waiting_on="Acme",
    )
    logged = events_of(incident, "logged")[-1]
    paused = events_of(incident, "paused")[-1]

    with translation.override("en"):
        assert describe(logged) == "Progress update: Half done."
        assert describe(paused) == "Vendor ticket open (waiting on Acme)"
    with translation.override("zh-hans"):
        assert "Progress update" not in describe(logged)
        assert "Half done." in describe(logged)
        assert "waiting on" not in describe(paused)
        assert "Acme" in describe(paused)


def test_it_shows_a_row_from_before_the_facts_as_it_was_stored(clock, onduty):
    incident = IncidentFactory(actor=onduty)
    legacy = TimelineEvent.objects.create(
        incident=incident,
        actor=onduty,
        kind="created",
        message="以 P1 登记。",
        created_at=clock_now(),
    )
    old_log = TimelineEvent.objects.create(
        incident=incident,
        actor=onduty,
        kind="logged",
        message="[progress] Half done.",
        created_at=clock_now(),
    )
    with translation.override("en"):
        assert describe(legacy) == "以 P1 登记。"
        assert describe(old_log) == "Progress update: Half done."


def clock_now():
    from common import clock

    return clock.now()


def test_the_workspace_shows_an_english_writers_timeline_to_a_chinese_reader(
    client, clock, lead, owner, tester
):
    incident = failed_verification(lead, owner, tester)
    UserProfile.objects.update_or_create(user=lead, defaults={"language": "zh-hans"})
    client.force_login(lead)

    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    audit = page[page.index('id="events"') :]

    assert "Filed as" not in audit
    assert "Workaround:" not in audit
    assert "Failed:" not in audit
    assert "Checkout still shows HTTP 502 (…)." in audit  # the tester's evidence, as written

    UserProfile.objects.filter(user=lead).update(language="en")
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    audit = page[page.index('id="events"') :]
    assert "Filed as P" in audit
    assert "Failed: Functional test — Checkout still shows HTTP 502 (…)." in audit


def test_the_api_timeline_speaks_the_readers_language(token_client, clock, lead, owner, tester):
    incident = failed_verification(lead, owner, tester)
    api = token_client(lead)

    body = api.get(
        f"/api/v1/incidents/{incident.pk}/timeline/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).json()
    rows = body["results"] if isinstance(body, dict) else body
    created = next(r for r in rows if r["kind"] == "created")
    assert "Filed as" not in created["message"]


def test_the_postmortem_draft_leaves_no_dangling_colon(clock, lead, onduty):
    from knowledge.selectors import postmortem_prefill

    incident = IncidentFactory(actor=onduty)
    services.incident_acknowledge(incident=incident, actor=lead)

    with translation.override("en"):
        timeline = postmortem_prefill(incident)["timeline"]
    line = next(x for x in timeline.splitlines() if "Acknowledged" in x)
    assert "Acknowledged — " in line
    assert not line.rstrip().endswith(":")


def test_it_shows_an_improvement_action_in_the_readers_language(clock, lead, owner):
    from datetime import date

    from knowledge import services as knowledge
    from tests.factories import resolved_incident

    incident = resolved_incident(lead=lead, owner=owner)
    as_english_writer(
        knowledge.action_item_add,
        incident=incident,
        actor=lead,
        text="Alert on pool saturation",
        owner=owner,
        due_date=date(2026, 12, 1),
    )
    (event,) = events_of(incident, "action_item_added")

    with translation.override("en"):
        assert describe(event) == "Alert on pool saturation — owner, due 2026-12-01"
    with translation.override("zh-hans"):
        assert "due" not in describe(event)
        assert "Alert on pool saturation" in describe(event)


def test_it_shows_an_acknowledgement_by_grading_in_the_readers_language(clock, lead, onduty):
    incident = IncidentFactory(actor=onduty, severity="P2")
    as_english_writer(
        services.incident_grade, incident=incident, actor=lead, severity="P1", diagnosis="Real."
    )
    (event,) = events_of(incident, "acknowledged")

    assert event.data == {"by": "grading"}
    with translation.override("en"):
        assert describe(event) == "Acknowledged by grading."
    with translation.override("zh-hans"):
        assert describe(event) == "分级时一并确认。"
