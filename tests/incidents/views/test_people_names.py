"""List pages and the print form name people by their names (the username only
where the name is empty): the archive's owner, the print form's helpers and
sign-offs, the dashboard's owner and overdue improvement actions."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident
from tests.factories import archived_incident, assigned_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def named(lead, owner, helper, tester):
    for user, first, last in (
        (lead, "Jie", "Chen"),
        (owner, "Fang", "Wang"),
        (helper, "Lei", "Zhao"),
        (tester, "", ""),  # no name: the username stands in
    ):
        user.first_name, user.last_name = first, last
        user.save()
    return lead, owner, helper, tester


def test_the_archive_names_the_owner(clock, signed_in, named):
    lead, owner, helper, tester = named
    archived_incident(lead=lead, owner=owner, tester=tester, helpers=[helper])

    body = signed_in(lead).get("/archive/").content.decode()

    assert ">Fang Wang<" in body
    assert ">owner<" not in body


def test_the_print_form_names_helpers_and_everyone_who_signed(clock, signed_in, named):
    lead, owner, helper, tester = named
    incident = archived_incident(lead=lead, owner=owner, tester=tester, helpers=[helper])

    body = signed_in(lead).get(f"/incidents/{incident.pk}/print/").content.decode()

    assert "Lei Zhao" in body  # helper
    assert "Jie Chen" in body  # graded
    assert "tester" in body  # verified, no name
    for username in ("helper", "lead", "owner"):
        assert f">{username}<" not in body, username
        assert f"{username}<br>" not in body, username
        assert f"({username}," not in body, username


def test_the_workspace_names_helpers_by_username_without_a_query_of_their_own(
    clock, signed_in, named
):
    """The helpers' names come with the incident's own read: by username ("helper"
    before "tester"), the name else the username."""
    lead, owner, helper, tester = named
    incident = assigned_incident(lead=lead, owner=owner, helpers=[tester, helper])
    client = signed_in(lead)
    client.get(f"/incidents/{incident.pk}/")  # rows kept; the second read is the page's own

    with CaptureQueriesContext(connection) as captured:
        body = client.get(f"/incidents/{incident.pk}/").content.decode()

    assert "Lei Zhao, tester</dd>" in body
    joined = f'INNER JOIN "{Incident.helpers.through._meta.db_table}"'
    assert not [q["sql"] for q in captured.captured_queries if joined in q["sql"]]


def test_the_dashboard_names_owners_and_action_item_owners(clock, signed_in, named):
    lead, owner, helper, tester = named
    assigned_incident(lead=lead, owner=owner, severity="P2")
    archived_incident(lead=lead, owner=owner, tester=tester, severity="P1")  # one action, owner's
    clock.shift(timedelta(days=8))  # the action is overdue

    body = signed_in(lead).get("/dashboard/").content.decode()

    assert "<td>Fang Wang</td>" in body
    assert "Add a pool saturation alert. — Fang Wang" in body
