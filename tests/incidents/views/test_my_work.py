"""/my/: what I own or help with, and my next update due."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    assigned_incident,
    in_progress_incident,
    new_incident,
    resolved_incident,
    verifying_incident,
)

pytestmark = pytest.mark.django_db


def test_it_lists_what_i_own_and_help_with(clock, signed_in, lead, owner, helper, engineer):
    owned = in_progress_incident(lead=lead, owner=owner)
    helping = assigned_incident(lead=lead, owner=engineer, helpers=[owner])
    others = assigned_incident(lead=lead, owner=helper)
    done = resolved_incident(lead=lead, owner=owner)

    body = signed_in(owner).get("/my/").content.decode()

    assert owned.number in body
    assert helping.number in body
    assert others.number not in body
    assert done.number not in body
    assert ">owner<" in body
    assert ">helper<" in body


def test_it_shows_my_next_update_due(clock, signed_in, lead, owner):
    in_progress_incident(lead=lead, owner=owner, severity="P1")  # update every 30 min
    clock.shift(timedelta(minutes=5))
    in_progress_incident(lead=lead, owner=owner, severity="P3")

    body = signed_in(owner).get("/my/").content.decode()

    assert 'id="next-update"' in body
    assert 'data-deadline="2026-11-26T02:30:00+00:00"' in body


def test_it_shows_testers_what_waits_for_verification(signed_in, lead, owner, tester):
    waiting = verifying_incident(lead=lead, owner=owner)
    body = signed_in(tester).get("/my/").content.decode()
    assert "Waiting for verification" in body
    assert waiting.number in body


def test_it_shows_on_duty_staff_what_they_filed(signed_in, onduty):
    filed = new_incident(reporter=onduty)
    body = signed_in(onduty).get("/my/").content.decode()
    assert filed.number in body


def test_its_query_count_does_not_grow_with_incidents(signed_in, lead, owner, helper):
    client = signed_in(owner)

    def make(n):
        for i in range(n):
            if i % 2:
                in_progress_incident(lead=lead, owner=owner, helpers=[helper])
            else:
                assigned_incident(lead=lead, owner=helper, helpers=[owner])

    make(5)
    with CaptureQueriesContext(connection) as five:
        assert client.get("/my/").status_code == 200
    make(45)
    with CaptureQueriesContext(connection) as fifty:
        body = client.get("/my/").content.decode()
    assert body.count('class="fw-semibold"') == 50
    assert len(fifty.captured_queries) == len(five.captured_queries), "\n".join(
        q["sql"] for q in fifty.captured_queries
    )
