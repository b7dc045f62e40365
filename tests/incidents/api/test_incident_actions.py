"""POST /api/v1/incidents/{id}/{action}/ for every process action, plus timeline and notices."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from incidents.models import (
    Grading,
    LogEntry,
    Resolution,
    State,
    UserFeedback,
    UserNotification,
    Verification,
)
from incidents.rules import Role
from tests.conftest import NOW
from tests.factories import incident_in_state, incident_snapshot, make_user, new_incident

from .helpers import LIST_URL, action_url, detail_url, etag_of, reload, when

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
User = get_user_model()

ACTIONS = [
    "acknowledge",
    "grade",
    "assign",
    "log",
    "resolve",
    "verify",
    "notify-users",
    "feedback",
    "archive",
    "reopen",
    "cancel",
]

# A state the action is allowed in, who may take it there, and valid input.
VALID = {
    "acknowledge": (State.NEW, "lead", {}),
    "grade": (State.ACKNOWLEDGED, "lead", {"severity": "P1", "diagnosis": "Pool exhausted."}),
    "assign": (State.ACKNOWLEDGED, "lead", {"owner": "owner", "helpers": ["helper"]}),
    "log": (State.ASSIGNED, "owner", {"kind": "action", "text": "Rolled back the gateway."}),
    "resolve": (State.IN_PROGRESS, "owner", {"workaround": "Standby", "fix": "Pool raised"}),
    "verify": (
        State.VERIFYING,
        "tester",
        {"functional_ok": True, "regression_ok": True, "monitoring_ok": True, "notes": "Green"},
    ),
    "notify-users": (State.RESOLVED, "onduty", {"message": "Checkout works again."}),
    "feedback": (State.RESOLVED, "onduty", {"text": "Users confirm it works."}),
    "archive": (State.RESOLVED, "lead", {"summary": "Pool exhaustion; pool raised."}),
    "reopen": (State.RESOLVED, "lead", {"reason": "The 502s are back."}),
    "cancel": (State.NEW, "lead", {"reason": "Duplicate of INC-20261126-0001."}),
}

# What each state allows, from the state table of DESIGN.md.
ALLOWED = {
    State.NEW: {"acknowledge", "grade", "log", "cancel"},
    # "pause" while not paused ("resume" instead while paused).
    State.ACKNOWLEDGED: {"grade", "assign", "log", "pause", "cancel"},
    State.ASSIGNED: {"grade", "assign", "log", "pause", "resolve", "cancel"},
    State.IN_PROGRESS: {"grade", "assign", "log", "pause", "resolve", "cancel"},
    State.VERIFYING: {"grade", "assign", "log", "pause", "verify", "cancel"},
    State.RESOLVED: {"notify-users", "feedback", "archive", "reopen"},
    State.ARCHIVED: {"feedback", "reopen"},
    State.CANCELLED: set(),
}


@pytest.fixture
def users(request, clock, onduty, engineer, owner, helper, tester, lead, manager, admin):
    """Every platform role user by username; the payments users on demand."""
    named = {u.username: u for u in (onduty, engineer, owner, helper, tester, lead, manager, admin)}
    return lambda name: named.get(name) or request.getfixturevalue(name)


@pytest.fixture
def make_incident(clock, onduty, lead, owner, helper, tester):
    """`make_incident(state)`: a platform P2 filed by onduty, owned by owner, helped by helper."""

    def make(state):
        return incident_in_state(
            state, lead=lead, owner=owner, tester=tester, helpers=[helper], reporter=onduty
        )

    return make


@pytest.fixture
def act(client_for, users):
    """`act(username, incident, action, payload, **headers)` → the response."""

    def post(username, incident, action, payload=None, **extra):
        client = client_for(users(username))
        return client.post(action_url(incident, action), payload or {}, format="json", **extra)

    return post


# ---------------------------------------------------------------- happy paths


def test_it_acknowledges(act, make_incident):
    incident = make_incident(State.NEW)

    response = act("lead", incident, "acknowledge", {"note": "On it."})

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.ACKNOWLEDGED
    assert when(response.data["acknowledged_at"]) == NOW
    # P2: a progress update is due 60 min after acknowledge.
    assert when(response.data["next_update_by"]) == NOW + 60 * MINUTE
    assert response.data["version"] == 2
    assert response["ETag"] == f'"{incident.pk}-2"'
    assert reload(incident).events.last().message == "On it."


def test_it_grades_and_recomputes_the_deadlines(act, make_incident):
    incident = make_incident(State.ACKNOWLEDGED)

    response = act(
        "lead",
        incident,
        "grade",
        {"severity": "P0", "diagnosis": "Pool exhausted.", "reproduced": True},
    )

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.ACKNOWLEDGED
    assert response.data["severity"] == "P0"
    assert response.data["initial_severity"] == "P2"
    # P0 from received_at (NOW): resolve 2 h, update every 30 min; the respond
    # deadline was decided at acknowledge and stays P2's 30 min.
    assert when(response.data["respond_by"]) == NOW + 30 * MINUTE
    assert when(response.data["resolve_by"]) == NOW + 120 * MINUTE
    assert when(response.data["next_update_by"]) == NOW + 30 * MINUTE
    grading = Grading.objects.get(incident=incident)
    assert (grading.previous_severity, grading.severity) == ("P2", "P0")
    assert grading.diagnosis == "Pool exhausted."
    assert grading.reproduced is True


def test_it_assigns_the_owner_and_helpers(act, make_incident):
    incident = make_incident(State.ACKNOWLEDGED)

    response = act(
        "lead",
        incident,
        "assign",
        {"owner": "owner", "helpers": ["helper", "tester"], "goal": "Restore within 2 h"},
    )

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.ASSIGNED
    assert response.data["owner"] == "owner"
    assert sorted(response.data["helpers"]) == ["helper", "tester"]
    assert response.data["goal"] == "Restore within 2 h"
    assert when(response.data["assigned_at"]) == NOW
    assert reload(incident).assignments.count() == 1


def test_it_logs_and_starts_the_work(act, make_incident):
    incident = make_incident(State.ASSIGNED)

    response = act("helper", incident, "log", {"kind": "action", "text": "Rolled back."})

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.IN_PROGRESS
    assert when(response.data["started_at"]) == NOW
    entry = LogEntry.objects.get(incident=incident)
    assert (entry.author.username, entry.kind, entry.text) == ("helper", "action", "Rolled back.")


def test_it_restarts_the_update_clock_with_a_progress_entry(act, make_incident, clock):
    incident = make_incident(State.IN_PROGRESS)
    clock.shift(45 * MINUTE)

    response = act("owner", incident, "log", {"kind": "progress", "text": "Half way."})

    assert response.status_code == 200, response.data
    assert when(response.data["next_update_by"]) == NOW + (45 + 60) * MINUTE


def test_it_resolves_for_verification(act, make_incident):
    incident = make_incident(State.IN_PROGRESS)

    response = act("owner", incident, "resolve", {"workaround": "Standby", "fix": "Pool raised"})

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.VERIFYING
    assert when(response.data["resolution_submitted_at"]) == NOW
    resolution = Resolution.objects.get(incident=incident)
    assert (resolution.workaround, resolution.fix, resolution.outcome) == (
        "Standby",
        "Pool raised",
        Resolution.Outcome.PENDING,
    )


def test_it_verifies_all_checks_as_resolved(act, make_incident):
    incident = make_incident(State.VERIFYING)

    response = act("tester", incident, "verify", VALID["verify"][2])

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.RESOLVED
    assert when(response.data["resolved_at"]) == NOW
    assert response.data["restored_at"] is not None
    assert Verification.objects.get(incident=incident).passed is True


def test_it_sends_a_failed_verification_back_to_work(act, make_incident):
    incident = make_incident(State.VERIFYING)

    response = act(
        "tester",
        incident,
        "verify",
        {
            "functional_ok": True,
            "regression_ok": True,
            "monitoring_ok": False,
            "monitoring_evidence": "Error rate still 5 %",
        },
    )

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.IN_PROGRESS
    assert response.data["restored_at"] is None
    assert Verification.objects.get(incident=incident).passed is False
    assert "Error rate still 5 %" in reload(incident).events.last().message


def test_it_records_that_users_were_notified(act, make_incident):
    incident = make_incident(State.RESOLVED)

    response = act("onduty", incident, "notify-users", {"message": "Checkout works again."})

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.RESOLVED
    notice = UserNotification.objects.get(incident=incident)
    assert (notice.message, notice.notified_by.username) == ("Checkout works again.", "onduty")


def test_it_records_feedback(act, make_incident):
    incident = make_incident(State.RESOLVED)

    response = act("onduty", incident, "feedback", {"text": "Works, thanks.", "satisfied": True})

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.RESOLVED
    feedback = UserFeedback.objects.get(incident=incident)
    assert (feedback.text, feedback.satisfied) == ("Works, thanks.", True)


def test_it_archives(act, make_incident):
    incident = make_incident(State.RESOLVED)

    response = act("lead", incident, "archive", {"summary": "Pool exhaustion; pool raised."})

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.ARCHIVED
    assert response.data["archive_summary"] == "Pool exhaustion; pool raised."
    assert when(response.data["archived_at"]) == NOW


def test_it_reopens(act, make_incident):
    incident = make_incident(State.ARCHIVED)

    response = act("lead", incident, "reopen", {"reason": "The 502s are back."})

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.IN_PROGRESS
    assert response.data["reopen_count"] == 1
    assert response.data["archived_at"] is None
    assert response.data["resolved_at"] is None
    assert reload(incident).events.last().message == "The 502s are back."


def test_it_cancels(act, make_incident):
    incident = make_incident(State.ACKNOWLEDGED)

    response = act("lead", incident, "cancel", {"reason": "False alarm."})

    assert response.status_code == 200, response.data
    assert response.data["state"] == State.CANCELLED
    assert response.data["cancel_reason"] == "False alarm."
    assert when(response.data["cancelled_at"]) == NOW
    assert response.data["next_update_by"] is None
    assert response.data["allowed_actions"] == []


@pytest.mark.parametrize("action", ACTIONS)
def test_it_answers_every_action_with_the_incident_and_its_etag(act, make_incident, action):
    state, username, payload = VALID[action]
    incident = make_incident(state)
    events = incident.events.count()

    response = act(username, incident, action, payload)

    assert response.status_code == 200, response.data
    row = reload(incident)
    assert response.data["id"] == incident.pk
    assert response.data["state"] == row.state
    assert response.data["version"] == row.version == incident.version + 1
    assert response["ETag"] == f'"{incident.pk}-{row.version}"'
    assert row.events.count() == events + 1


@pytest.mark.parametrize("action", ["acknowledge", "grade", "assign", "archive", "cancel"])
def test_it_lets_an_admin_take_lead_actions(act, make_incident, action):
    state, _, payload = VALID[action]
    incident = make_incident(state)

    response = act("admin", incident, action, payload)

    assert response.status_code == 200, response.data


# ---------------------------------------------------------------- refused transitions

REFUSED = {
    "acknowledge": (State.ACKNOWLEDGED, "lead"),
    "grade": (State.RESOLVED, "lead"),
    "assign": (State.NEW, "lead"),
    "log": (State.RESOLVED, "lead"),
    "resolve": (State.NEW, "lead"),
    "verify": (State.IN_PROGRESS, "tester"),
    "notify-users": (State.IN_PROGRESS, "onduty"),
    "feedback": (State.NEW, "onduty"),
    "archive": (State.IN_PROGRESS, "lead"),
    "reopen": (State.IN_PROGRESS, "lead"),
    "cancel": (State.RESOLVED, "lead"),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_it_refuses_a_transition_with_409(act, make_incident, action):
    state, username = REFUSED[action]
    incident = make_incident(state)
    before = incident_snapshot(incident)

    response = act(username, incident, action, VALID[action][2])

    assert response.status_code == 409, response.data
    assert response.data["state"] == state
    assert set(response.data["allowed"]) == ALLOWED[state]
    assert incident.number in response.data["detail"]
    assert incident_snapshot(incident) == before


@pytest.mark.parametrize("action", ["acknowledge", "reopen", "cancel", "feedback"])
def test_it_refuses_every_action_on_a_cancelled_incident(act, make_incident, action):
    incident = make_incident(State.CANCELLED)
    before = incident_snapshot(incident)

    response = act("lead", incident, action, VALID[action][2])

    assert response.status_code == 409
    assert response.data["allowed"] == []
    assert incident_snapshot(incident) == before


# ---------------------------------------------------------------- roles

FORBIDDEN = {
    "acknowledge": "engineer",
    "grade": "manager",
    "assign": "engineer",
    "log": "engineer",
    "resolve": "helper",
    "verify": "engineer",
    "notify-users": "engineer",
    "feedback": "tester",
    "archive": "manager",
    "reopen": "owner",
    "cancel": "tester",
}


@pytest.mark.parametrize("action", ACTIONS)
def test_it_refuses_a_role_that_may_not_act_with_403(act, make_incident, action):
    state, _, payload = VALID[action]
    incident = make_incident(state)
    before = incident_snapshot(incident)

    response = act(FORBIDDEN[action], incident, action, payload)

    assert response.status_code == 403, response.data
    assert response.data["detail"]
    assert incident_snapshot(incident) == before


@pytest.mark.parametrize("username", ["pay_engineer", "pay_lead"])
@pytest.mark.parametrize("action", ACTIONS)
def test_it_hides_platform_incidents_from_payments_users(act, make_incident, action, username):
    state, _, payload = VALID[action]
    incident = make_incident(state)
    before = incident_snapshot(incident)

    response = act(username, incident, action, payload)

    assert response.status_code == 404, response.data
    assert incident.number not in response.content.decode()
    assert incident_snapshot(incident) == before


def test_it_answers_404_for_an_action_on_a_missing_incident(act, make_incident):
    make_incident(State.NEW)

    response = act("lead", 999999, "acknowledge")

    assert response.status_code == 404


def test_it_refuses_anonymous_actions(api_client, make_incident):
    incident = make_incident(State.NEW)
    before = incident_snapshot(incident)

    response = api_client.post(action_url(incident, "acknowledge"), {}, format="json")

    assert response.status_code in (401, 403)
    assert incident_snapshot(incident) == before


def test_it_takes_actions_only_by_post(client_for, lead, make_incident):
    incident = make_incident(State.NEW)

    response = client_for(lead).get(action_url(incident, "acknowledge"))

    assert response.status_code == 405
    assert reload(incident).state == State.NEW


# ---------------------------------------------------------------- bad input

BAD_INPUT = [
    ("assign", {"owner": "nobody"}, {"owner"}),
    ("assign", {"owner": "owner", "helpers": ["helper", "nobody"]}, {"helpers"}),
    ("assign", {"helpers": ["helper"]}, {"owner"}),
    ("assign", {"owner": "owner", "helpers": "helper"}, {"helpers"}),
    ("log", {"kind": "rant", "text": "Grr."}, {"kind"}),
    ("log", {"kind": "note", "text": ""}, {"text"}),
    ("log", {"kind": "note", "text": "   "}, {"text"}),
    ("log", {"kind": "note"}, {"text"}),
    (
        "log",
        {"kind": "note", "text": "Later", "happened_at": "2026-11-26T12:00:00+08:00"},
        {"happened_at"},
    ),
    ("verify", {}, {"functional_ok", "regression_ok", "monitoring_ok"}),
    ("verify", {"functional_ok": True, "regression_ok": True}, {"monitoring_ok"}),
    (
        "verify",
        {"functional_ok": "maybe", "regression_ok": "perhaps", "monitoring_ok": True},
        {"functional_ok", "regression_ok"},
    ),
    (
        "verify",
        {"functional_ok": None, "regression_ok": True, "monitoring_ok": True},
        {"functional_ok"},
    ),
    (
        "verify",
        {"functional_ok": "true", "regression_ok": 1, "monitoring_ok": True},
        {"functional_ok", "regression_ok"},
    ),
    ("grade", {"severity": "P7", "diagnosis": "Pool exhausted."}, {"severity"}),
    ("grade", {"severity": "P1"}, {"diagnosis"}),
    ("grade", {"severity": "P1", "diagnosis": "  "}, {"diagnosis"}),
    ("resolve", {}, {"fix"}),
    ("resolve", {"workaround": " ", "fix": " "}, {"fix"}),
    ("notify-users", {"message": ""}, {"message"}),
    ("feedback", {}, {"text"}),
    ("archive", {"summary": "  "}, {"summary"}),
    ("reopen", {}, {"reason"}),
    ("cancel", {"reason": ""}, {"reason"}),
]


@pytest.mark.parametrize(
    ("action", "payload", "fields"),
    BAD_INPUT,
    ids=[f"{a}-{'-'.join(sorted(f))}-{i}" for i, (a, _, f) in enumerate(BAD_INPUT)],
)
def test_it_refuses_bad_input_with_field_errors(act, make_incident, action, payload, fields):
    state, username, _ = VALID[action]
    incident = make_incident(state)
    before = incident_snapshot(incident)

    response = act(username, incident, action, payload)

    assert response.status_code == 400, response.data
    assert set(response.data) == fields
    assert incident_snapshot(incident) == before


def test_it_refuses_an_inactive_owner(act, make_incident, owner):
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    incident = make_incident(State.ACKNOWLEDGED)
    before = incident_snapshot(incident)

    response = act("lead", incident, "assign", {"owner": "owner"})

    assert response.status_code == 400
    assert set(response.data) == {"owner"}
    assert incident_snapshot(incident) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_it_refuses_malformed_json(client_for, users, make_incident, action):
    state, username, _ = VALID[action]
    incident = make_incident(state)
    before = incident_snapshot(incident)

    response = client_for(users(username)).post(
        action_url(incident, action), '{"text": "unfinished', content_type="application/json"
    )

    assert response.status_code == 400
    assert "detail" in response.data
    assert incident_snapshot(incident) == before


@pytest.mark.parametrize("action", ["grade", "log", "cancel"])
def test_it_refuses_a_json_body_that_is_not_an_object(client_for, users, make_incident, action):
    state, username, _ = VALID[action]
    incident = make_incident(state)
    before = incident_snapshot(incident)

    response = client_for(users(username)).post(
        action_url(incident, action), '["P1"]', content_type="application/json"
    )

    assert response.status_code == 400
    assert incident_snapshot(incident) == before


# ---------------------------------------------------------------- If-Match


@pytest.mark.parametrize("action", ["acknowledge", "log", "verify", "archive"])
def test_it_refuses_an_action_with_a_stale_if_match(act, make_incident, action):
    state, username, payload = VALID[action]
    incident = make_incident(state)
    stale = f'"{incident.pk}-{incident.version - 1}"'
    before = incident_snapshot(incident)

    response = act(username, incident, action, payload, HTTP_IF_MATCH=stale)

    assert response.status_code == 412, response.data
    assert response.data["current_version"] == incident.version
    assert incident_snapshot(incident) == before


def test_it_refuses_a_stale_if_match_after_someone_elses_change(act, make_incident):
    incident = make_incident(State.NEW)
    seen = etag_of(incident)
    assert act("lead", incident, "grade", VALID["grade"][2]).status_code == 200
    before = incident_snapshot(incident)

    response = act("lead", incident, "acknowledge", {}, HTTP_IF_MATCH=seen)

    assert response.status_code == 412
    assert response.data["current_version"] == 2
    assert incident_snapshot(incident) == before


@pytest.mark.parametrize("action", ["acknowledge", "log", "verify", "archive"])
def test_it_takes_an_action_with_a_current_if_match(act, make_incident, action):
    state, username, payload = VALID[action]
    incident = make_incident(state)

    response = act(username, incident, action, payload, HTTP_IF_MATCH=etag_of(incident))

    assert response.status_code == 200, response.data
    assert reload(incident).version == incident.version + 1


# ---------------------------------------------------------------- timeline and notices


def test_it_lists_the_timeline_oldest_first_with_actors(act, client_for, clock, onduty, lead):
    incident = new_incident(reporter=onduty)
    clock.shift(3 * MINUTE)
    act("lead", incident, "acknowledge", {})
    clock.shift(2 * MINUTE)
    act("lead", incident, "assign", {"owner": "owner", "helpers": ["helper"]})
    clock.shift(MINUTE)
    act("helper", incident, "log", {"kind": "action", "text": "Rolled back."})

    response = client_for(onduty).get(action_url(incident, "timeline"))

    assert response.status_code == 200
    rows = response.data
    assert [r["kind"] for r in rows] == ["created", "acknowledged", "assigned", "logged"]
    assert [r["actor"] for r in rows] == ["onduty", "lead", "lead", "helper"]
    assert [when(r["created_at"]) for r in rows] == [
        NOW,
        NOW + 3 * MINUTE,
        NOW + 5 * MINUTE,
        NOW + 6 * MINUTE,
    ]
    assert (rows[1]["from_state"], rows[1]["to_state"]) == ("new", "acknowledged")
    assert rows[2]["changes"]["owner"] == [None, "owner"]
    assert (rows[3]["from_state"], rows[3]["to_state"]) == ("assigned", "in_progress")
    assert rows[3]["message"] == "Action: Rolled back."
    assert rows[3]["data"] == {"kind": "action", "text": "Rolled back."}


def test_it_orders_same_moment_events_by_insertion(client_for, make_incident, onduty):
    incident = make_incident(State.IN_PROGRESS)  # every step at NOW

    response = client_for(onduty).get(action_url(incident, "timeline"))

    assert [r["kind"] for r in response.data] == ["created", "acknowledged", "assigned", "logged"]
    ids = [r["id"] for r in response.data]
    assert ids == sorted(ids)


@pytest.mark.parametrize("endpoint", ["timeline", "notices"])
def test_it_hides_timeline_and_notices_across_teams(client_for, make_incident, pay_lead, endpoint):
    incident = make_incident(State.NEW)

    response = client_for(pay_lead).get(action_url(incident, endpoint))

    assert response.status_code == 404


def test_it_lists_no_notices_yet(client_for, make_incident, lead):
    incident = make_incident(State.NEW)

    response = client_for(lead).get(action_url(incident, "notices"))

    assert response.status_code == 200
    assert response.data == []


@pytest.mark.parametrize("endpoint", ["timeline", "notices"])
def test_it_answers_404_for_timeline_of_a_missing_incident(client_for, lead, endpoint):
    response = client_for(lead).get(f"{LIST_URL}999999/{endpoint}/")

    assert response.status_code == 404


def test_it_shows_the_state_after_an_action_on_get(client_for, act, make_incident, lead):
    incident = make_incident(State.NEW)
    act("lead", incident, "acknowledge", {})

    response = client_for(lead).get(detail_url(incident))

    assert response.data["state"] == State.ACKNOWLEDGED
    assert set(response.data["allowed_actions"]) == ALLOWED[State.ACKNOWLEDGED]


# ---------------------------------------------------------------- concurrency


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_acknowledges_once_when_two_leads_race(lead, onduty):
    """Without If-Match, the state check under the row lock refuses the second one."""
    second_lead = make_user(Role.TECH_LEAD, lead.teams.get(), lead=True, username="lead2")
    incident = new_incident(reporter=onduty)
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}
    errors: list[BaseException] = []

    def acknowledge(user_pk: int) -> None:
        try:
            client = APIClient()
            user = User.objects.get(pk=user_pk)
            client.force_authenticate(user)
            barrier.wait(timeout=10)
            response = client.post(action_url(incident, "acknowledge"), {}, format="json")
            answers[user.username] = response.status_code
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=acknowledge, args=(u.pk,)) for u in (lead, second_lead)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert sorted(answers.values()) == [200, 409], answers
    row = reload(incident)
    assert (row.state, row.version) == (State.ACKNOWLEDGED, 2)
    winner = next(name for name, code in answers.items() if code == 200)
    assert list(row.events.values_list("kind", "actor__username")) == [
        ("created", "onduty"),
        ("acknowledged", winner),
    ]
