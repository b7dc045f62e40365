"""Issue 23, a new team's first day: the workspace and dashboard forms open with
what is already there, come back to the row or section acted on, refuse cleanly,
and the intake form says everything wrong at once."""

import re
from datetime import timedelta

import pytest

from common import clock as app_clock
from incidents import services
from incidents.models import ExternalContact, Incident, LogEntry, State, TimelineEvent
from knowledge import services as knowledge
from tests.conftest import NOW
from tests.factories import (
    acknowledged_incident,
    assigned_incident,
    in_progress_incident,
    new_incident,
    resolved_incident,
)

pytestmark = pytest.mark.django_db


def url(incident, action=""):
    return f"/incidents/{incident.pk}/" + (f"{action}/" if action else "")


def form_html(body: str, form_id: str) -> str:
    return body.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


def current(incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


# ---------------------------------------------------------------- 1. reassigning keeps all


@pytest.fixture
def staffed(clock, lead, owner, helper):
    incident = acknowledged_incident(lead=lead)
    limit = NOW + timedelta(hours=3, seconds=17)
    services.incident_assign(
        incident=incident,
        actor=lead,
        owner=owner,
        helpers=[helper],
        goal="Restore checkout before the evening peak",
        time_limit=limit,
        external_contacts=[{"name": "Li Wei", "organisation": "Aliyun", "owes": "RCA"}],
    )
    return current(incident)


def test_it_opens_the_assign_form_with_the_current_assignment(signed_in, lead, staffed, helper):
    body = signed_in(lead).get(url(staffed, "form/assign")).content.decode()
    form = form_html(body, "form-assign")

    assert re.search(rf'<option value="{staffed.owner_id}" selected>', form)
    assert re.search(rf'value="{helper.pk}"[^>]*checked', form)
    assert 'value="Restore checkout before the evening peak"' in form
    assert 'value="2026-11-26T13:00"' in form  # the time limit, in Shanghai time
    assert "Li Wei" in form  # the contacts the incident keeps


def test_it_keeps_helpers_goal_and_time_limit_when_only_the_owner_changes(
    signed_in, lead, staffed, helper, engineer
):
    client = signed_in(lead)
    # What the browser sends for the form as it opened, with another owner picked.
    data = {
        "version": staffed.version,
        "owner": engineer.pk,
        "helpers": [helper.pk],
        "goal": "Restore checkout before the evening peak",
        "time_limit": "2026-11-26T13:00",
    }
    response = client.post(url(staffed, "assign"), data)

    assert response.status_code == 302
    after = current(staffed)
    assert after.owner == engineer
    assert list(after.helpers.all()) == [helper]
    assert after.goal == "Restore checkout before the evening peak"
    assert after.time_limit == staffed.time_limit  # to the second, not cut to the minute
    assert ExternalContact.objects.filter(incident=staffed).count() == 1


def test_it_does_not_add_a_contact_the_incident_already_has(lead, staffed):
    services.incident_assign(
        incident=staffed,
        actor=lead,
        owner=staffed.owner,
        external_contacts=[{"name": "Li Wei", "organisation": "Aliyun", "owes": "RCA"}],
    )
    assert ExternalContact.objects.filter(incident=staffed).count() == 1


def test_it_offers_a_helper_from_another_team_who_already_helps(
    signed_in, lead, owner, pay_engineer
):
    incident = assigned_incident(lead=lead, owner=owner, helpers=[pay_engineer])
    form = form_html(
        signed_in(lead).get(url(incident, "form/assign")).content.decode(), "form-assign"
    )
    assert re.search(rf'value="{pay_engineer.pk}"[^>]*checked', form)


# ---------------------------------------------------------------- 8. back to the row or section


@pytest.mark.parametrize(
    ("state", "action", "data", "anchor"),
    [
        (State.NEW, "acknowledge", {}, "#grading"),
        (State.ACKNOWLEDGED, "grade", {"severity": "P1", "diagnosis": "Pool."}, "#grading"),
        (State.IN_PROGRESS, "resolve", {"fix": "Pool raised."}, "#verification"),
        (State.IN_PROGRESS, "log", {"kind": "progress", "text": "Rolling back."}, "#log"),
        (State.NEW, "cancel", {"reason": "Duplicate."}, "#archive-summary"),
    ],
)
def test_it_comes_back_to_the_section_of_the_action(
    clock, signed_in, lead, owner, state, action, data, anchor
):
    incident = {
        State.NEW: lambda: new_incident(reporter=lead),
        State.ACKNOWLEDGED: lambda: acknowledged_incident(lead=lead),
        State.IN_PROGRESS: lambda: in_progress_incident(lead=lead, owner=owner),
    }[state]()
    response = signed_in(lead).post(url(incident, action), {"version": incident.version, **data})
    assert response["Location"] == url(incident) + anchor


def test_it_comes_back_to_the_assignment_section(clock, signed_in, lead, owner):
    incident = acknowledged_incident(lead=lead)
    response = signed_in(lead).post(
        url(incident, "assign"), {"version": incident.version, "owner": owner.pk}
    )
    assert response["Location"] == url(incident) + "#assignment"


def test_it_comes_back_to_the_dashboard_row_after_a_quick_action(clock, signed_in, lead):
    incident = new_incident(reporter=lead)
    response = signed_in(lead).post(
        url(incident, "acknowledge"),
        {"version": incident.version, "next": "/dashboard/?severity=P2"},
    )
    assert response["Location"] == f"/dashboard/?severity=P2#row-{incident.pk}"


def test_it_sends_a_refused_action_back_to_the_workspace_with_the_reason_once(
    clock, signed_in, lead, owner
):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    client = signed_in(lead)

    response = client.post(
        url(incident, "archive"), {"version": incident.version, "summary": "Pool exhausted."}
    )

    assert response.status_code == 303
    assert response["Location"] == url(incident) + "#archive-summary"
    body = client.get(response["Location"]).content.decode()
    assert body.count("archived after its post-mortem") == 1
    assert "Pool exhausted." in form_html(body, "form-archive")  # the typed summary is kept
    assert current(incident).state == State.RESOLVED
    # Shown once: the next visit is the plain workspace.
    again = client.get(url(incident)).content.decode()
    assert "Pool exhausted." not in again


def test_it_sends_a_transition_the_state_no_longer_allows_back_to_the_workspace(
    clock, signed_in, lead
):
    incident = acknowledged_incident(lead=lead)
    client = signed_in(lead)
    response = client.post(url(incident, "acknowledge"), {"version": incident.version})
    assert response.status_code == 303
    assert response["Location"] == url(incident) + "#grading"
    assert "Cannot acknowledge" in client.get(response["Location"]).content.decode()


# ---------------------------------------------------------------- 9. grading is a response


def test_grading_a_new_incident_acknowledges_it(clock, signed_in, lead):
    incident = new_incident(reporter=lead)
    clock.shift(timedelta(minutes=3))
    client = signed_in(lead)

    response = client.post(
        url(incident, "grade"),
        {"version": incident.version, "severity": "P1", "diagnosis": "Pool exhausted."},
    )

    after = current(incident)
    assert after.state == State.ACKNOWLEDGED
    assert after.acknowledged_at == app_clock.now()
    assert not after.respond_clock_running
    kinds = list(after.events.order_by("id").values_list("kind", flat=True))
    assert kinds[-2:] == [TimelineEvent.Kind.GRADED, TimelineEvent.Kind.ACKNOWLEDGED]
    page = client.get(response["Location"]).content.decode()
    assert "the incident is acknowledged" in page


def test_grading_an_acknowledged_incident_does_not_acknowledge_again(clock, lead):
    incident = acknowledged_incident(lead=lead)
    services.incident_grade(incident=incident, actor=lead, severity="P3", diagnosis="Cosmetic.")
    assert current(incident).events.filter(kind=TimelineEvent.Kind.ACKNOWLEDGED).count() == 1


# ---------------------------------------------------------------- 10. quick assign has helpers


def test_its_quick_assign_offers_helpers_and_keeps_goal_and_time_limit(
    signed_in, lead, staffed, helper, engineer
):
    client = signed_in(lead)
    body = client.get(url(staffed) + "quick/assign/?next=/dashboard/").content.decode()
    assert re.search(rf'name="helpers" value="{helper.pk}"[^>]*checked', body)
    assert f'name="helpers" value="{engineer.pk}"' in body

    client.post(
        url(staffed, "assign"),
        {
            "version": staffed.version,
            "owner": staffed.owner_id,
            "helpers": [helper.pk, engineer.pk],
            "goal": re.search(r'name="goal" value="([^"]*)"', body).group(1),
            "time_limit": re.search(r'name="time_limit" value="([^"]*)"', body).group(1),
            "next": "/dashboard/",
        },
    )
    after = current(staffed)
    assert set(after.helpers.all()) == {helper, engineer}
    assert after.goal == "Restore checkout before the evening peak"
    assert after.time_limit == staffed.time_limit


# ---------------------------------------------------------------- 11. archive gate is visible


def test_it_disables_archive_with_the_reason_beside_it(clock, signed_in, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    body = signed_in(lead).get(url(incident) + "?open=archive").content.decode()
    form = form_html(body, "form-archive")
    button = re.search(r"<button[^>]*>", form).group(0)
    assert "disabled" in button
    assert 'aria-describedby="archive-missing"' in button
    # The reason sits right below the form's box, shown whether it is open or not.
    after_box = body.split('data-action="archive"', 1)[1].split("</details>", 1)[1]
    assert after_box.lstrip().startswith(
        '<p class="small mt-1 mb-0 text-danger-emphasis" id="archive-missing">'
    )


def test_it_enables_archive_once_the_postmortem_is_complete(clock, signed_in, lead, owner):
    from tests.factories import complete_postmortem

    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    complete_postmortem(incident, lead=lead, owner=owner)
    form = form_html(
        signed_in(lead).get(url(incident, "form/archive")).content.decode(), "form-archive"
    )
    assert "disabled" not in re.search(r"<button[^>]*>", form).group(0)


def test_it_marks_what_the_postmortem_needs_before_archiving(clock, signed_in, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    knowledge.postmortem_save(incident=incident, actor=lead, root_cause="Unindexed query.")
    body = signed_in(lead).get(f"/incidents/{incident.pk}/postmortem/").content.decode()
    for name in ("root_cause_category", "root_cause", "contributing_factors", "lessons"):
        field = re.search(rf'<[^>]*name="{name}"[^>]*>', body).group(0)
        assert 'aria-describedby="needed-note' in field or "needed-note" in field, name
    assert 'id="needed-note"' in body


# ---------------------------------------------------------------- 13. resolve pre-filled


def test_it_prefills_the_resolution_from_the_log(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    for kind, text in (
        (LogEntry.Kind.WORKAROUND, "Restarted the pool."),
        (LogEntry.Kind.FIX, "Raised the pool size (PR 12)."),
        (LogEntry.Kind.WORKAROUND, "Failed over to the standby."),
    ):
        services.incident_log(incident=incident, actor=owner, kind=kind, text=text)
        clock.shift(timedelta(minutes=1))
    form = form_html(
        signed_in(owner).get(url(incident, "form/resolve")).content.decode(), "form-resolve"
    )
    assert ">\nFailed over to the standby.</textarea>" in form
    assert ">\nRaised the pool size (PR 12).</textarea>" in form
    assert "Restarted the pool." not in form


# ---------------------------------------------------------------- 12, 14. intake


def intake_data(**overrides):
    data = {
        "title": "",
        "symptoms": "Every order request returns HTTP 500.",
        "severity": "P1",
        "impact_scope": "Checkout unusable",
        "affected_users": "350",
        "source": "user_complaint",
        "category": "production",
        "received_at": "2026-11-26T11:40",  # 100 min after NOW, Shanghai
        "occurred_at": "2026-11-26T11:50",
        "phone_call_to": "",
        "phone_call_at": "",
    }
    data.update(overrides)
    return data


def test_intake_shows_every_error_in_one_round(clock, signed_in, onduty, platform):
    response = signed_in(onduty).post("/incidents/new/", intake_data(team=platform.pk))
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required" in body  # the title
    assert body.count("This time is in the future.") == 2  # received and occurred
    assert not Incident.objects.exists()


def test_intake_checks_occurred_after_received_with_other_errors(
    clock, signed_in, onduty, platform
):
    data = intake_data(
        team=platform.pk, received_at="2026-11-26T09:00", occurred_at="2026-11-26T09:30"
    )
    body = signed_in(onduty).post("/incidents/new/", data).content.decode()
    assert "This field is required" in body
    assert "The problem cannot occur after it was received." in body


def test_intake_ignores_a_phone_time_once_urgent_is_unticked(clock, signed_in, onduty, platform):
    data = intake_data(
        team=platform.pk,
        title="Checkout 500",
        received_at="2026-11-26T09:40",
        occurred_at="",
        phone_call_to="Wang",
        phone_call_at="2026-11-26T23:00",  # typed (in the future), then "urgent" unticked
    )
    response = signed_in(onduty).post("/incidents/new/", data)
    assert response.status_code == 302
    assert Incident.objects.get().phone_call_made is False


def test_intake_puts_the_level_guide_before_the_level_choice(signed_in, onduty):
    body = signed_in(onduty).get("/incidents/new/").content.decode()
    form = body.split('id="intake-form"', 1)[1].split("</form>", 1)[0]
    guide_at = form.index('id="level-guide-compact"')
    assert guide_at < form.index('name="severity"')
    assert 'id="urgent-details"' in form
    assert form.index('name="phone_call_to"') > form.index('id="urgent-details"')
