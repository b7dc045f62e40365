"""/incidents/<id>/: the whole tracking form, and exactly the actions this user may take."""

import pytest

from escalation.models import Delivery, Notice
from incidents.models import Incident, State, TimelineEvent
from incidents.workflow import PROCESS_ACTIONS, Action
from tests.factories import (
    STATE_FOR_ACTION,
    IncidentFactory,
    assigned_incident,
    in_progress_incident,
    incident_in_state,
    incident_snapshot,
    ready_for,
    verifying_incident,
)
from tests.incidents.test_rules import DENIED, EXPECTED, GRANTED, ids
from tests.incidents.views.conftest import form_data, offers

pytestmark = pytest.mark.django_db


def url(incident, action=None):
    return f"/incidents/{incident.pk}/" + (f"{action.value}/" if action else "")


@pytest.fixture
def make_incident(lead, onduty, owner, helper):
    def make(state):
        return incident_in_state(state, lead=lead, reporter=onduty, owner=owner, helpers=[helper])

    return make


# ---------------------------------------------------------------- what is shown


@pytest.mark.parametrize("role", list(EXPECTED), ids=list(EXPECTED))
@pytest.mark.parametrize("action", PROCESS_ACTIONS, ids=[a.value for a in PROCESS_ACTIONS])
def test_it_shows_a_form_exactly_for_the_actions_the_user_may_take(
    request, signed_in, make_incident, role, action
):
    incident = ready_for(action, make_incident(STATE_FOR_ACTION[action]))
    response = signed_in(request.getfixturevalue(role)).get(url(incident))

    if role.startswith("pay_"):
        assert response.status_code == 404  # another team's incident does not exist for them
        return
    assert response.status_code == 200
    assert offers(response.content.decode(), action) is (action in EXPECTED[role])


def test_it_shows_every_section_of_the_tracking_form(signed_in, lead, owner, make_incident):
    incident = make_incident(State.VERIFYING)
    body = signed_in(lead).get(url(incident)).content.decode()
    for section in (
        "Basic information",
        "Grading and diagnosis",
        "Task assignment",
        "Process log",
        "Result verification",
        "User notification and feedback",
        "Archive summary",
        "Escalation notices",
        "Audit trail",
    ):
        assert section in body, section
    assert "Rolled the gateway back" in body  # the log entry
    assert "Connection pool size raised" in body  # the submitted fix


def test_it_answers_404_for_an_unknown_incident(signed_in, lead):
    assert signed_in(lead).get("/incidents/999999/").status_code == 404


def test_it_sends_anonymous_users_to_login(client, make_incident):
    incident = make_incident(State.NEW)
    response = client.get(url(incident))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# ---------------------------------------------------------------- posting the actions


@pytest.mark.parametrize(("role", "action"), GRANTED, ids=ids(GRANTED))
def test_it_applies_each_allowed_action(
    request, clock, signed_in, make_incident, owner, role, action
):
    actor = request.getfixturevalue(role)
    incident = ready_for(action, make_incident(STATE_FOR_ACTION[action]))
    before = incident_snapshot(incident)

    response = signed_in(actor).post(
        url(incident, action), form_data(action, incident, owner=owner)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"].startswith(url(incident))
    after = incident_snapshot(incident)
    assert after["version"] == before["version"] + 1
    assert Incident.objects.get(pk=incident.pk).events.order_by("-id").first().actor == actor


@pytest.mark.parametrize(("role", "action"), DENIED, ids=ids(DENIED))
def test_it_refuses_each_forbidden_action_and_writes_nothing(
    request, clock, signed_in, make_incident, owner, role, action
):
    actor = request.getfixturevalue(role)
    incident = ready_for(action, make_incident(STATE_FOR_ACTION[action]))
    before = incident_snapshot(incident)

    response = signed_in(actor).post(
        url(incident, action), form_data(action, incident, owner=owner)
    )

    assert response.status_code == (404 if role.startswith("pay_") else 403)
    assert incident_snapshot(incident) == before


def test_it_refuses_a_get_on_an_action(signed_in, lead, make_incident):
    incident = make_incident(State.NEW)
    assert signed_in(lead).get(url(incident, Action.ACKNOWLEDGE)).status_code == 405


def test_it_goes_back_to_the_dashboard_after_a_quick_action(signed_in, lead, make_incident):
    incident = make_incident(State.NEW)
    data = {**form_data(Action.ACKNOWLEDGE, incident), "next": "/dashboard/?severity=P2"}
    response = signed_in(lead).post(url(incident, Action.ACKNOWLEDGE), data)
    assert response["Location"] == f"/dashboard/?severity=P2#row-{incident.pk}"


def test_it_ignores_a_next_pointing_elsewhere(signed_in, lead, make_incident):
    incident = make_incident(State.NEW)
    data = {**form_data(Action.ACKNOWLEDGE, incident), "next": "https://evil.example/"}
    response = signed_in(lead).post(url(incident, Action.ACKNOWLEDGE), data)
    assert response["Location"] == url(incident) + "#grading"


# ---------------------------------------------------------------- bad input, conflicts


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        (Action.GRADE, {"severity": "P1", "diagnosis": "  "}, "This field is required"),
        (Action.GRADE, {"severity": "P7", "diagnosis": "x"}, "Select a valid choice"),
        (Action.LOG, {"kind": "gossip", "text": "x"}, "Select a valid choice"),
        (Action.LOG, {"kind": "progress", "text": ""}, "This field is required"),
        (Action.RESOLVE, {"fix": "", "workaround": ""}, "Describe the temporary workaround"),
        (Action.CANCEL, {"reason": ""}, "This field is required"),
        (Action.PAUSE, {"reason": "", "waiting_on": "Dell"}, "This field is required"),
    ],
)
def test_it_rerenders_a_bad_form_with_messages_and_writes_nothing(
    signed_in, lead, make_incident, action, data, message
):
    state = State.IN_PROGRESS if action == Action.RESOLVE else STATE_FOR_ACTION[action]
    incident = make_incident(state)
    before = incident_snapshot(incident)

    response = signed_in(lead).post(url(incident, action), {"version": incident.version, **data})

    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert "Your changes were not saved" in body
    assert incident_snapshot(incident) == before


def test_it_shows_a_stale_edit_as_a_conflict_and_keeps_the_typed_text(
    signed_in, lead, owner, make_incident
):
    incident = make_incident(State.IN_PROGRESS)
    seen_version = incident.version
    # Someone else logs a step after the owner opened the page.
    signed_in(lead).post(url(incident, Action.LOG), form_data(Action.LOG, incident))
    before = incident_snapshot(incident)

    response = signed_in(owner).post(
        url(incident, Action.LOG),
        {"version": seen_version, "kind": "action", "text": "Switched to the standby server."},
    )

    assert response.status_code == 409
    body = response.content.decode()
    assert "Someone changed this incident while you were editing" in body
    assert "Switched to the standby server." in body  # what the user typed
    assert f'name="version" value="{before["version"]}"' in body  # a resubmit applies it
    assert incident_snapshot(incident) == before


def test_it_applies_the_resubmitted_form_after_a_conflict(signed_in, lead, owner, make_incident):
    incident = make_incident(State.IN_PROGRESS)
    current = Incident.objects.get(pk=incident.pk).version
    response = signed_in(owner).post(
        url(incident, Action.LOG),
        {"version": current, "kind": "action", "text": "Switched to the standby server."},
    )
    assert response.status_code == 302


def test_it_refuses_an_action_the_state_no_longer_allows(signed_in, lead, make_incident):
    incident = make_incident(State.ACKNOWLEDGED)
    before = incident_snapshot(incident)

    response = signed_in(lead).post(
        url(incident, Action.ACKNOWLEDGE), {"version": incident.version}, follow=True
    )

    # Back on the workspace (not the action's URL), the reason said once.
    assert response.redirect_chain == [(url(incident) + "#grading", 303)]
    assert response.content.decode().count("Cannot acknowledge") == 1
    assert incident_snapshot(incident) == before


def test_it_lets_the_reporter_correct_the_details(signed_in, onduty, make_incident):
    incident = make_incident(State.NEW)
    respond_by = incident.respond_by
    response = signed_in(onduty).post(
        f"/incidents/{incident.pk}/edit/",
        {
            "version": incident.version,
            "title": "Checkout returns 502 for mainland users",
            "symptoms": incident.symptoms,
            "impact_scope": incident.impact_scope,
            "affected_users": 500,
            "source": incident.source,
            "category": incident.category,
            "occurred_at": "",
        },
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "Checkout returns 502 for mainland users"
    assert incident.affected_users == 500
    assert incident.respond_by == respond_by  # received_at untouched: deadlines stay


def test_it_shows_a_stale_details_edit_as_a_conflict(signed_in, onduty, lead, make_incident):
    incident = make_incident(State.NEW)
    seen = incident.version
    signed_in(lead).post(url(incident, Action.ACKNOWLEDGE), {"version": seen})
    before = incident_snapshot(incident)

    response = signed_in(onduty).post(
        f"/incidents/{incident.pk}/edit/",
        {
            "version": seen,
            "title": "A better title",
            "symptoms": incident.symptoms,
            "impact_scope": incident.impact_scope,
            "affected_users": 1,
            "source": incident.source,
            "category": incident.category,
        },
    )

    assert response.status_code == 409
    assert 'value="A better title"' in response.content.decode()
    assert incident_snapshot(incident) == before
    assert Incident.objects.get(pk=incident.pk).title != "A better title"


def test_it_does_not_offer_received_at_to_a_reporter_who_is_not_a_lead(
    signed_in, onduty, make_incident
):
    incident = make_incident(State.NEW)
    body = signed_in(onduty).get(url(incident) + "?open=edit").content.decode()
    assert 'id="form-edit"' in body
    assert 'name="received_at"' not in body


# ---------------------------------------------------------------- verification


def test_it_returns_a_failed_verification_to_the_owner_with_the_reasons(
    clock, signed_in, lead, owner, tester
):
    incident = verifying_incident(lead=lead, owner=owner)
    response = signed_in(tester).post(
        url(incident, Action.VERIFY),
        {
            "version": incident.version,
            "functional": "passed",
            "regression": "failed",
            "regression_evidence": "Payment callback fails after the login fix.",
            "monitoring": "passed",
        },
    )

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == State.IN_PROGRESS
    event = incident.events.get(kind=TimelineEvent.Kind.VERIFICATION_FAILED)
    assert "Payment callback fails after the login fix." in event.message
    body = signed_in(owner).get(url(incident)).content.decode()
    assert "Verification failed" in body
    assert offers(body, Action.RESOLVE)  # the owner can resolve again


def test_it_asks_for_evidence_of_a_failed_check(signed_in, lead, owner, tester):
    incident = verifying_incident(lead=lead, owner=owner)
    before = incident_snapshot(incident)
    response = signed_in(tester).post(
        url(incident, Action.VERIFY),
        {
            "version": incident.version,
            "functional": "failed",
            "regression": "passed",
            "monitoring": "passed",
        },
    )
    assert response.status_code == 400
    assert "Say what failed" in response.content.decode()
    assert incident_snapshot(incident) == before


def test_it_resolves_when_all_three_checks_pass(signed_in, lead, owner, tester):
    incident = verifying_incident(lead=lead, owner=owner)
    signed_in(tester).post(url(incident, Action.VERIFY), form_data(Action.VERIFY, incident))
    incident.refresh_from_db()
    assert incident.state == State.RESOLVED


# ---------------------------------------------------------------- notices on the incident


def test_it_shows_notices_and_a_failed_delivery(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    notice = Notice.objects.create(
        incident=incident,
        clock="update",
        cycle=0,
        level=1,
        deadline=incident.next_update_by,
        due_at=incident.next_update_by,
        created_at=incident.next_update_by,
        recipients=["owner"],
    )
    Delivery.objects.create(
        notice=notice,
        channel="webhook",
        address="https://hooks.example/x",
        status="failed",
        attempts=6,
        last_error="HTTP 502 from the receiver",
    )
    Delivery.objects.create(notice=notice, channel="inapp", user=owner, status="sent", attempts=1)

    body = signed_in(lead).get(url(incident)).content.decode()

    assert "1 escalation notice could not be delivered." in body
    assert "HTTP 502 from the receiver" in body
    assert "6 attempts" in body


def test_it_lists_a_helper_from_another_team_as_working_on_it(signed_in, lead, owner, pay_engineer):
    incident = assigned_incident(lead=lead, owner=owner, helpers=[pay_engineer])
    response = signed_in(pay_engineer).get(url(incident))
    assert response.status_code == 200
    assert offers(response.content.decode(), Action.LOG)


def test_its_print_form_holds_every_section(signed_in, lead, owner, tester):
    from tests.factories import archived_incident

    incident = archived_incident(lead=lead, owner=owner, tester=tester)
    response = signed_in(lead).get(f"/incidents/{incident.pk}/print/")
    assert response.status_code == 200
    body = response.content.decode()
    for text in (
        "Problem tracking form",
        incident.number,
        "Grading and diagnosis",
        "Process log",
        "Result verification",
        "Archive summary",
        "Pool exhaustion after a config push",
    ):
        assert text in body, text
    assert "print.css" in body


def test_its_print_form_is_404_across_teams(signed_in, pay_engineer):
    incident = IncidentFactory()
    assert signed_in(pay_engineer).get(f"/incidents/{incident.pk}/print/").status_code == 404


# ---------------------------------------------------------------- a busy incident


def test_it_shows_the_newest_of_a_long_record_and_all_on_request(clock, signed_in, lead, owner):
    from escalation.models import Clock, Delivery, Notice
    from incidents import services
    from incidents.models import LogEntry
    from tests.factories import in_progress_incident

    incident = in_progress_incident(lead=lead, owner=owner)
    for i in range(60):
        services.incident_log(
            incident=incident, actor=owner, kind=LogEntry.Kind.NOTE, text=f"entry number {i:02}"
        )
    now = incident.received_at
    for i in range(25):
        notice = Notice.objects.create(
            incident=incident,
            clock=Clock.UPDATE,
            cycle=i,
            level=1,
            deadline=now,
            due_at=now,
            created_at=now,
        )
        # The oldest notice's delivery failed: the banner counts it though it is not shown.
        status = Delivery.Status.FAILED if i == 0 else Delivery.Status.SENT
        Delivery.objects.create(notice=notice, channel="email", user=owner, status=status)
    client = signed_in(lead)

    body = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "entry number 59" in body
    assert "entry number 10" in body  # the newest 50 of 60 (and the factory's first entry)
    assert "entry number 09" not in body
    assert body.count('id="older-') == 3  # the log, the notices and the audit trail
    assert 'href="?all=1#log"' in body
    assert "1 escalation notice could not be delivered." in body

    everything = client.get(f"/incidents/{incident.pk}/?all=1").content.decode()
    assert "entry number 00" in everything
    assert 'id="older-' not in everything
    printed = client.get(f"/incidents/{incident.pk}/print/").content.decode()
    assert "entry number 00" in printed  # the paper form holds the whole record


def _deadline_cards(body: str) -> list[str]:
    """The texts of the three deadline cards at the top of the workspace."""
    import re

    cards = body.split('aria-label="Deadlines"')[1].split("</div>\n</div>")[0]
    return [
        re.sub(r"<[^>]+>", " ", card).split(None, 3)[-1].strip()
        for card in cards.split('<div class="col-12 col-sm-4">')[1:]
    ]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (State.RESOLVED, ["met", "met", "resolved"]),
        (State.ARCHIVED, ["met", "met", "archived"]),
        (State.CANCELLED, ["cancelled", "cancelled", "cancelled"]),
    ],
)
def test_it_says_why_a_closed_incidents_clocks_stopped(
    signed_in, lead, make_incident, state, expected
):
    incident = make_incident(state)

    body = signed_in(lead).get(url(incident)).content.decode()

    cards = _deadline_cards(body)
    assert ">stopped<" not in body
    assert [card.split(" ")[-1] for card in cards] == expected, cards


def _in_chinese(user):
    from incidents.models import UserProfile

    UserProfile.objects.update_or_create(user=user, defaults={"language": "zh-hans"})


def _text(html: str) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def test_it_writes_the_verification_checks_with_chinese_colons(signed_in, lead, owner):
    from tests.factories import resolved_incident

    incident = resolved_incident(lead=lead, owner=owner, severity="P2")
    _in_chinese(lead)

    body = signed_in(lead).get(url(incident)).content.decode()

    checks = _text(body.split('id="verification"')[1].split("</ul>")[0])
    assert "功能测试：通过" in checks
    assert "回归测试：通过" in checks
    assert "监控观察：通过" in checks
    assert ": " not in checks


def test_it_says_what_archiving_still_needs_in_one_sentence(signed_in, lead, owner):
    from tests.factories import resolved_incident

    incident = resolved_incident(lead=lead, owner=owner, severity="P1")

    english = signed_in(lead).get(url(incident)).content.decode()
    missing = _text(english.split('id="archive-missing">')[1].split("</p>")[0])
    assert missing == (
        "A P1 incident is archived after its post-mortem. "
        "Still missing: a post-mortem (required for P1). Complete the post-mortem"
    )

    _in_chinese(lead)
    chinese = signed_in(lead).get(url(incident)).content.decode()
    missing = _text(chinese.split('id="archive-missing">')[1].split("</p>")[0])
    # Full-width colon and full stop: no Western punctuation between Chinese phrases.
    assert missing == "P1 事件须完成复盘后才能归档。尚缺：复盘（P1 必须复盘）。 完善复盘"
