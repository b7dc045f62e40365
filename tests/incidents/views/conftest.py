"""Helpers for the page tests: sign in as a fixture user, post a form."""

import pytest

from incidents.models import LogEntry, Severity
from incidents.workflow import Action

PASSWORD = "responder-test"  # tests.factories.UserFactory


@pytest.fixture
def signed_in(client):
    """`signed_in(user)`: the test client, signed in as `user`."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def form_data(action: Action, incident, *, owner=None) -> dict:
    """Valid web-form input for `action` on `incident` (as its page renders it)."""
    data = {
        Action.ACKNOWLEDGE: {},
        Action.GRADE: {"severity": Severity.P1, "diagnosis": "Connection pool exhausted."},
        Action.ASSIGN: {"owner": owner.pk if owner else ""},
        Action.LOG: {"kind": LogEntry.Kind.PROGRESS, "text": "Still rolling back."},
        Action.RESOLVE: {"fix": "Pool size raised."},
        Action.VERIFY: {"functional": "passed", "regression": "passed", "monitoring": "passed"},
        Action.NOTIFY_USERS: {"message": "Checkout works again."},
        Action.FEEDBACK: {"text": "Users confirm.", "satisfied": "true"},
        Action.ARCHIVE: {"summary": "Pool exhaustion; fixed."},
        Action.REOPEN: {"reason": "502s are back."},
        Action.CANCEL: {"reason": "False alarm."},
        Action.PAUSE: {"reason": "Waiting for the replacement disk.", "waiting_on": "Dell"},
        Action.RESUME: {},
    }[action]
    return {"version": incident.version, **data}


def form_id(action: Action) -> str:
    """The id of the action's form on the workspace."""
    return "form-" + action.value.replace("-", "")


def offers(body: str, action: Action) -> bool:
    """Does the workspace page `body` offer `action`: its form, or the box that
    draws its form when opened?"""
    key = action.value.replace("-", "")
    return f'id="{form_id(action)}"' in body or f'data-action="{key}"' in body
