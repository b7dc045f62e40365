"""The six-step process of PROCESS.md driven only through the HTTP API, one token per person."""

from datetime import timedelta

import pytest

from incidents.models import State
from tests.conftest import NOW

from .helpers import LIST_URL, action_url, detail_url, when

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


@pytest.fixture
def people(clock, token_client_for, onduty, lead, owner, helper, tester):
    """A token-authenticated client for each person in the process."""
    return {user.username: token_client_for(user) for user in (onduty, lead, owner, helper, tester)}


@pytest.fixture
def step(people, clock):
    """`step(who, action, payload, expected_state)`: one minute later, `who` takes `action`."""

    def take(who, pk, action, payload, expected_state):
        clock.shift(MINUTE)
        response = people[who].post(action_url(pk, action), payload, format="json")
        assert response.status_code == 200, (who, action, response.data)
        assert response.data["state"] == expected_state, (who, action, response.data["state"])
        return response.data

    return take


def file_incident(people) -> dict:
    response = people["onduty"].post(
        LIST_URL,
        {
            "title": "订单服务 502 / Orders return 502",
            "symptoms": "数据库连接池耗尽; every third order fails.",
            "severity": "P3",
            "source": "user_complaint",
            "impact_scope": "Ordering in the mainland region",
            "affected_users": 300,
            "category": "production",
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["state"] == State.NEW
    assert response.data["team"] == "platform"
    return response.data


def timeline(client, pk) -> list[dict]:
    response = client.get(action_url(pk, "timeline"))
    assert response.status_code == 200
    return response.data


def test_it_runs_the_whole_process_through_the_api(people, step):
    pk = file_incident(people)["id"]

    # Step 2: triage.
    step("lead", pk, "acknowledge", {}, State.ACKNOWLEDGED)
    graded = step(
        "lead",
        pk,
        "grade",
        {"severity": "P2", "diagnosis": "Slow queries exhaust the connection pool."},
        State.ACKNOWLEDGED,
    )
    assert (graded["initial_severity"], graded["severity"]) == ("P3", "P2")
    # P2 resolves within 8 h of received_at (NOW), however late it was graded.
    assert when(graded["resolve_by"]) == NOW + 480 * MINUTE

    # Step 3: assignment.
    assigned = step("lead", pk, "assign", {"owner": "owner", "helpers": ["helper"]}, State.ASSIGNED)
    assert (assigned["owner"], assigned["helpers"]) == ("owner", ["helper"])

    # Step 4: handling.
    step("helper", pk, "log", {"kind": "action", "text": "Killed the slow queries."}, "in_progress")
    progress = step(
        "owner", pk, "log", {"kind": "progress", "text": "Error rate falling."}, State.IN_PROGRESS
    )
    assert when(progress["next_update_by"]) == NOW + 5 * MINUTE + 60 * MINUTE
    step("owner", pk, "resolve", {"workaround": "Restarted the pool."}, State.VERIFYING)

    # Step 5: verification fails once, then passes.
    step(
        "tester",
        pk,
        "verify",
        {
            "functional_ok": True,
            "regression_ok": False,
            "monitoring_ok": True,
            "regression_evidence": "Refund flow breaks",
        },
        State.IN_PROGRESS,
    )
    step("owner", pk, "resolve", {"fix": "Raised the pool size and fixed refunds."}, "verifying")
    resolved = step(
        "tester",
        pk,
        "verify",
        {"functional_ok": True, "regression_ok": True, "monitoring_ok": True},
        State.RESOLVED,
    )
    # Service counts as restored at the submission that passed (the second resolve).
    assert when(resolved["restored_at"]) == NOW + 8 * MINUTE
    step("onduty", pk, "notify-users", {"message": "Ordering works again."}, State.RESOLVED)
    step("onduty", pk, "feedback", {"text": "Users confirm.", "satisfied": True}, "resolved")

    # Step 6: archive; the problem comes back, and the second round closes it again.
    step("lead", pk, "archive", {"summary": "Pool exhaustion; pool raised."}, State.ARCHIVED)
    reopened = step("lead", pk, "reopen", {"reason": "502s are back."}, State.IN_PROGRESS)
    assert reopened["reopen_count"] == 1
    step("owner", pk, "log", {"kind": "fix", "text": "Connection leak fixed."}, "in_progress")
    step("owner", pk, "resolve", {"fix": "Connection leak fixed."}, State.VERIFYING)
    step(
        "tester",
        pk,
        "verify",
        {"functional_ok": True, "regression_ok": True, "monitoring_ok": True},
        State.RESOLVED,
    )
    step("lead", pk, "archive", {"summary": "Leak fixed for good."}, State.ARCHIVED)

    events = timeline(people["owner"], pk)
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("created", "onduty"),
        ("acknowledged", "lead"),
        ("graded", "lead"),
        ("assigned", "lead"),
        ("logged", "helper"),
        ("logged", "owner"),
        ("resolution_submitted", "owner"),
        ("verification_failed", "tester"),
        ("resolution_submitted", "owner"),
        ("verification_passed", "tester"),
        ("users_notified", "onduty"),
        ("feedback_recorded", "onduty"),
        ("archived", "lead"),
        ("reopened", "lead"),
        ("logged", "owner"),
        ("resolution_submitted", "owner"),
        ("verification_passed", "tester"),
        ("archived", "lead"),
    ]
    assert [when(e["created_at"]) for e in events] == [NOW + i * MINUTE for i in range(18)]
    failed = events[7]
    assert (failed["from_state"], failed["to_state"]) == ("verifying", "in_progress")
    assert "Failed: Regression test — Refund flow breaks" in failed["message"]
    assert events[13]["message"] == "502s are back."

    final = people["lead"].get(detail_url(pk))
    assert final.data["state"] == State.ARCHIVED
    assert final.data["version"] == 18
    assert final["ETag"] == f'"{pk}-18"'
    assert set(final.data["allowed_actions"]) == {"feedback", "reopen"}


def test_it_runs_a_cancelled_path_through_the_api(people, step):
    pk = file_incident(people)["id"]

    step("lead", pk, "acknowledge", {}, State.ACKNOWLEDGED)
    step("lead", pk, "assign", {"owner": "owner"}, State.ASSIGNED)
    step("owner", pk, "log", {"kind": "note", "text": "Looks like INC-1 again."}, State.IN_PROGRESS)
    cancelled = step(
        "lead", pk, "cancel", {"reason": "Duplicate of INC-20261126-0001."}, State.CANCELLED
    )
    assert cancelled["cancel_reason"] == "Duplicate of INC-20261126-0001."
    assert cancelled["next_update_by"] is None
    assert cancelled["overdue"] == []

    for who, action, payload in [
        ("owner", "resolve", {"fix": "Nothing to fix."}),
        ("lead", "reopen", {"reason": "Not a duplicate after all."}),
        ("lead", "cancel", {"reason": "Again."}),
    ]:
        refused = people[who].post(action_url(pk, action), payload, format="json")
        assert refused.status_code == 409, (action, refused.data)
        assert refused.data["state"] == State.CANCELLED
        assert refused.data["allowed"] == []

    events = timeline(people["onduty"], pk)
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("created", "onduty"),
        ("acknowledged", "lead"),
        ("assigned", "lead"),
        ("logged", "owner"),
        ("cancelled", "lead"),
    ]
    assert (events[-1]["from_state"], events[-1]["to_state"]) == ("in_progress", "cancelled")
    assert events[-1]["message"] == "Duplicate of INC-20261126-0001."
    listed = people["lead"].get(LIST_URL, {"state": "cancelled"})
    assert [row["id"] for row in listed.data["results"]] == [pk]
