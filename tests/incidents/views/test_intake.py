"""/incidents/new/: step 1, the intake form."""

import re
from datetime import timedelta

import pytest

from escalation.models import Notice
from incidents.models import Incident, TimelineEvent
from tests.conftest import NOW

pytestmark = pytest.mark.django_db


def valid(**overrides):
    data = {
        "title": "订单服务全部返回 HTTP 500",
        "symptoms": "Every order request returns HTTP 500.",
        "severity": "P1",
        "impact_scope": "Checkout unusable",
        "affected_users": "350",
        "source": "user_complaint",
        "category": "production",
        "received_at": "2026-11-26T09:40",  # Asia/Shanghai, 20 min before NOW
        "occurred_at": "",
        "phone_call_to": "",
        "phone_call_at": "",
    }
    data.update(overrides)
    return data


def test_it_shows_the_form_with_the_level_guide_and_received_at_now(clock, signed_in, onduty):
    body = signed_in(onduty).get("/incidents/new/").content.decode()
    assert 'name="title"' in body
    assert "Core business interrupted" in body  # the P0 row of the guide
    assert "5 min" in body
    assert "2 h" in body  # P0's respond and resolve windows
    assert 'value="2026-11-26T10:00"' in body  # received_at defaults to now (Shanghai)


def test_it_labels_every_field(signed_in, onduty):
    body = signed_in(onduty).get("/incidents/new/").content.decode()
    for field in (
        "title",
        "symptoms",
        "impact_scope",
        "affected_users",
        "source",
        "category",
        "team",
        "received_at",
        "urgent",
        "phone_call_to",
    ):
        assert f'for="id_{field}"' in body, field


def test_it_files_and_opens_the_workspace(clock, signed_in, onduty, platform):
    response = signed_in(onduty).post("/incidents/new/", valid(team=platform.pk))

    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/"
    assert incident.reporter == onduty
    assert incident.severity == "P1"
    assert incident.affected_users == 350
    assert incident.received_at == NOW - timedelta(minutes=20)
    assert incident.respond_by == NOW - timedelta(minutes=5)  # P1: 15 min from received_at


def test_it_records_the_phone_call_and_pages_the_leads_for_an_urgent_p0(
    clock, signed_in, onduty, lead, platform, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(onduty).post(
            "/incidents/new/",
            valid(team=platform.pk, severity="P0", urgent="on", phone_call_to="Chen Jie"),
        )

    incident = Incident.objects.get()
    assert response.status_code == 302
    assert incident.phone_call_made
    assert incident.phone_call_to == "Chen Jie"
    assert incident.phone_call_at == NOW
    assert incident.events.filter(kind=TimelineEvent.Kind.PHONE_CALL).exists()
    page = Notice.objects.get(incident=incident, clock="page")
    assert "lead" in page.recipients


def test_it_asks_whom_was_phoned_and_writes_nothing(clock, signed_in, onduty, platform):
    response = signed_in(onduty).post(
        "/incidents/new/", valid(team=platform.pk, severity="P0", urgent="on")
    )

    assert response.status_code == 400
    assert "needs the name of the tech lead you phoned" in response.content.decode()
    assert 'value="订单服务全部返回 HTTP 500"' in response.content.decode()  # typed text kept
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("received_at", "2026-11-26T11:00", "future"),
        ("title", "", "This field is required"),
        ("affected_users", "-3", "greater than or equal to 0"),
        ("severity", "P9", "Select a valid choice"),
        ("received_at", "yesterday", "Enter a valid date/time"),
    ],
)
def test_it_rerenders_bad_input_with_messages_and_writes_nothing(
    clock, signed_in, onduty, platform, field, value, message
):
    response = signed_in(onduty).post("/incidents/new/", valid(team=platform.pk, **{field: value}))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Incident.objects.exists()


def test_it_offers_only_the_users_teams(signed_in, onduty, payments):
    client = signed_in(onduty)
    body = client.get("/incidents/new/").content.decode()
    assert "Payments" not in body

    response = client.post("/incidents/new/", valid(team=payments.pk))

    assert response.status_code == 400
    assert not Incident.objects.exists()


def _selected_team(body: str) -> list[str]:
    select = re.search(r'<select name="team".*?</select>', body, re.S).group(0)
    return re.findall(r'<option value="(\d+)"[^>]*selected', select)


def test_it_preselects_the_only_team(signed_in, onduty, platform, payments):
    # onduty belongs to platform alone: nothing to choose, so nothing to forget.
    body = signed_in(onduty).get("/incidents/new/").content.decode()
    assert _selected_team(body) == [str(platform.pk)]


def test_it_preselects_the_users_own_team_among_several(signed_in, manager, platform, payments):
    # A manager sees every team; the one they belong to comes first.
    body = signed_in(manager).get("/incidents/new/").content.decode()
    assert f'<option value="{payments.pk}"' in body
    assert _selected_team(body) == [str(platform.pk)]


def test_it_keeps_the_team_the_user_picked_when_the_form_comes_back(
    clock, signed_in, manager, platform, payments
):
    response = signed_in(manager).post("/incidents/new/", valid(team=payments.pk, title=""))
    assert response.status_code == 400
    assert _selected_team(response.content.decode()) == [str(payments.pk)]
