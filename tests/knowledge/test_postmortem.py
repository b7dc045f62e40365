"""The post-mortem: pre-filled from the incident, saved by its lead or owner."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from common.errors import StaleVersion, TransitionNotAllowed
from escalation.engine import sweep_due_deadlines
from incidents import services
from incidents.models import TimelineEvent
from knowledge import services as knowledge
from knowledge.models import PostMortem
from knowledge.selectors import postmortem_prefill
from tests.conftest import NOW
from tests.factories import IncidentFactory, in_progress_incident, resolved_incident

pytestmark = pytest.mark.django_db


def test_it_prefills_the_timeline_with_durations_events_and_notices(clock, onduty, lead, owner):
    incident = IncidentFactory(actor=onduty, severity="P1", title="Checkout 502")
    clock.move_to(NOW + timedelta(minutes=16))  # the 15-minute respond deadline passed
    sweep_due_deadlines()
    clock.move_to(NOW + timedelta(minutes=20))
    services.incident_acknowledge(incident=incident, actor=lead)
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    services.incident_log(incident=incident, actor=owner, kind="workaround", text="Failed over.")
    clock.move_to(NOW + timedelta(minutes=90))
    services.incident_resolve(incident=incident, actor=owner, fix="Pool raised.")
    services.incident_verify(
        incident=incident, actor=lead, functional_ok=True, regression_ok=True, monitoring_ok=True
    )
    incident.refresh_from_db()

    draft = postmortem_prefill(incident)

    first = draft["timeline"].splitlines()[0]
    assert "acknowledged 11-26 10:20 (+20 min)" in first
    assert "service restored 11-26 11:30 (+1 h 30 min)" in first
    assert "Escalation: Response, level 1" in draft["timeline"]
    assert "Temporary workaround: Failed over." in draft["timeline"]
    assert "Checkout 502" in draft["summary"]
    # Events and notices in time order: the notice (10:16) before the acknowledgement.
    lines = draft["timeline"].splitlines()
    notice = next(i for i, line in enumerate(lines) if "Escalation" in line)
    acknowledged = next(i for i, line in enumerate(lines) if "Acknowledged —" in line)
    assert notice < acknowledged


def test_it_saves_and_versions_the_postmortem(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    pm = knowledge.postmortem_save(
        incident=incident,
        actor=owner,
        root_cause_category="capacity",
        root_cause="Pool too small.",
        meeting_date=date(2026, 11, 26),
        attendees=[lead, owner],
    )
    assert pm.version == 1
    assert set(pm.attendees.all()) == {lead, owner}
    assert incident.events.filter(kind=TimelineEvent.Kind.POSTMORTEM_SAVED).count() == 1

    pm = knowledge.postmortem_save(
        incident=incident, actor=lead, expected_version=1, root_cause="Pool too small for peak."
    )
    assert pm.version == 2

    with pytest.raises(StaleVersion):
        knowledge.postmortem_save(incident=incident, actor=lead, expected_version=1)
    assert PostMortem.objects.get(incident=incident).root_cause == "Pool too small for peak."


@pytest.mark.parametrize("role", ["engineer", "tester", "onduty", "manager", "pay_lead"])
def test_it_refuses_anyone_but_the_lead_or_owner(request, clock, lead, owner, role):
    incident = resolved_incident(lead=lead, owner=owner)
    with pytest.raises(PermissionDenied):
        knowledge.postmortem_save(incident=incident, actor=request.getfixturevalue(role))
    assert not PostMortem.objects.exists()


def test_it_waits_until_the_incident_is_resolved(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    with pytest.raises(TransitionNotAllowed):
        knowledge.postmortem_save(incident=incident, actor=lead)


def test_it_refuses_a_meeting_in_the_future(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner)
    with pytest.raises(ValidationError):
        knowledge.postmortem_save(incident=incident, actor=lead, meeting_date=date(2026, 12, 31))


# ---------------------------------------------------------------- the page


def test_its_page_is_prefilled_for_a_new_postmortem(clock, client, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    client.force_login(owner)
    body = client.get(f"/incidents/{incident.pk}/postmortem/").content.decode()
    assert "Resolution submitted" in body  # the timeline, pre-filled from the record
    assert 'id="archive-missing"' in body
    assert "Code defect" in body  # the category choices


def test_its_page_says_what_archiving_still_needs_in_chinese_punctuation(
    clock, client, lead, owner
):
    from incidents.models import UserProfile

    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    knowledge.postmortem_save(incident=incident, actor=lead, root_cause="A config push.")
    UserProfile.objects.update_or_create(user=owner, defaults={"language": "zh-hans"})
    client.force_login(owner)

    body = client.get(f"/incidents/{incident.pk}/postmortem/").content.decode()

    missing = body.split('id="archive-missing">')[1].split("</div>")[0]
    assert missing.startswith("P1 事件须完成复盘后才能归档。尚缺：根本原因类别；")
    assert missing.endswith("。")
    assert ": " not in missing
    assert "; " not in missing


def test_its_page_saves_and_keeps_typed_text_on_a_conflict(clock, client, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    knowledge.postmortem_save(incident=incident, actor=lead, root_cause="First.")
    client.force_login(owner)
    url = f"/incidents/{incident.pk}/postmortem/"

    ok = client.post(
        url, {"version": 1, "root_cause": "Second.", "root_cause_category": "capacity"}
    )
    assert ok.status_code == 302
    stale = client.post(url, {"version": 1, "root_cause": "Third, typed by me."})

    assert stale.status_code == 409
    assert "Third, typed by me." in stale.content.decode()
    assert PostMortem.objects.get(incident=incident).root_cause == "Second."


def test_its_page_is_403_for_a_tester_while_there_is_none(clock, client, lead, owner, tester):
    incident = resolved_incident(lead=lead, owner=owner)
    client.force_login(tester)
    assert client.get(f"/incidents/{incident.pk}/postmortem/").status_code == 403


def test_its_page_is_404_across_teams(clock, client, lead, owner, pay_lead):
    incident = resolved_incident(lead=lead, owner=owner)
    client.force_login(pay_lead)
    assert client.get(f"/incidents/{incident.pk}/postmortem/").status_code == 404


def test_its_page_lets_everyone_who_sees_the_incident_read_it(clock, client, lead, owner, manager):
    from tests.factories import archived_incident

    incident = archived_incident(lead=lead, owner=owner, severity="P1")
    client.force_login(manager)
    response = client.get(f"/incidents/{incident.pk}/postmortem/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "A config push halved the connection pool." in body
    assert 'id="postmortem-form"' not in body  # read only
    assert client.post(f"/incidents/{incident.pk}/postmortem/", {"version": 1}).status_code == 403


def test_its_prefilled_timeline_names_people(clock, onduty, lead):
    lead.first_name, lead.last_name = "Jie", "Chen"
    lead.save()
    incident = IncidentFactory(actor=onduty, severity="P1", title="Checkout 502")
    services.incident_acknowledge(incident=incident, actor=lead)
    incident.refresh_from_db()

    timeline = postmortem_prefill(incident)["timeline"]

    assert "Acknowledged — Jie Chen" in timeline
    assert "— lead" not in timeline
