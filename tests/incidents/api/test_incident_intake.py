"""POST /api/v1/incidents/: intake (step 1) and its refusals."""

from datetime import timedelta

import pytest

from incidents.models import Incident, Service, State, TimelineEvent
from incidents.rules import Role
from tests.conftest import NOW
from tests.factories import make_user

from .helpers import LIST_URL, when

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


def valid(**overrides) -> dict:
    return {
        "title": "Checkout returns 502",
        "symptoms": "数据库连接池耗尽: a third of checkout requests fail with 502.",
        "severity": "P1",
        "source": "monitoring",
        "impact_scope": "Checkout in the mainland region",
        "affected_users": 1200,
        **overrides,
    }


@pytest.fixture
def filer(clock, client_for, onduty):
    """The on-duty user's client, with the clock frozen at NOW."""
    return client_for(onduty)


def post_refused(client, payload, **kwargs):
    """POST that must answer 400 and write nothing."""
    incidents, events = Incident.objects.count(), TimelineEvent.objects.count()

    response = client.post(LIST_URL, payload, **kwargs)

    assert response.status_code == 400, response.content
    assert Incident.objects.count() == incidents
    assert TimelineEvent.objects.count() == events
    return response


# ---------------------------------------------------------------- filing


def test_it_files_an_incident(filer):
    response = filer.post(LIST_URL, valid(), format="json")

    assert response.status_code == 201, response.data
    incident = Incident.objects.get()
    body = response.data
    assert body["id"] == incident.pk
    assert body["number"] == "INC-20261126-0001"
    assert body["state"] == State.NEW
    assert body["severity"] == "P1"
    assert body["initial_severity"] == "P1"
    assert body["reporter"] == "onduty"
    assert body["title"] == "Checkout returns 502"
    assert body["affected_users"] == 1200
    assert body["category"] == "production"
    assert body["version"] == 1
    assert when(body["received_at"]) == NOW
    # P1: respond within 15 min, resolve within 4 h; no update is due before acknowledge.
    assert when(body["respond_by"]) == NOW + 15 * MINUTE
    assert when(body["resolve_by"]) == NOW + 240 * MINUTE
    assert body["next_update_by"] is None
    assert body["overdue"] == []


def test_it_sends_etag_and_location(filer):
    response = filer.post(LIST_URL, valid(), format="json")

    pk = response.data["id"]
    assert response["ETag"] == f'"{pk}-1"'
    assert response["Location"] == f"http://testserver/api/v1/incidents/{pk}/"
    assert filer.get(response["Location"]).data["number"] == response.data["number"]


def test_it_records_the_filing_on_the_timeline(filer):
    response = filer.post(LIST_URL, valid(), format="json")

    event = TimelineEvent.objects.get(incident_id=response.data["id"])
    assert event.kind == TimelineEvent.Kind.CREATED
    assert event.actor.username == "onduty"
    assert event.to_state == State.NEW


def test_it_numbers_incidents_of_the_day_in_sequence(filer):
    first = filer.post(LIST_URL, valid(), format="json")
    second = filer.post(LIST_URL, valid(title="Second"), format="json")

    assert first.data["number"] == "INC-20261126-0001"
    assert second.data["number"] == "INC-20261126-0002"


def test_it_defaults_the_team_to_the_reporters(filer, pay_engineer, client_for):
    platform = filer.post(LIST_URL, valid(), format="json")
    payments = client_for(pay_engineer).post(LIST_URL, valid(), format="json")

    assert platform.data["team"] == "platform"
    assert payments.data["team"] == "payments"
    assert Incident.objects.get(pk=payments.data["id"]).team.slug == "payments"


def test_it_takes_an_explicit_team_of_the_reporter(filer):
    response = filer.post(LIST_URL, valid(team="platform"), format="json")

    assert response.status_code == 201
    assert response.data["team"] == "platform"


def test_it_lets_a_manager_file_for_any_team(clock, client_for, manager, payments):
    response = client_for(manager).post(LIST_URL, valid(team="payments"), format="json")

    assert response.status_code == 201, response.data
    assert response.data["team"] == "payments"


def test_it_moves_the_deadlines_with_a_past_received_at(filer):
    received = NOW - 30 * MINUTE

    response = filer.post(
        LIST_URL, valid(received_at="2026-11-26T09:30:00+08:00", severity="P2"), format="json"
    )

    assert response.status_code == 201, response.data
    assert when(response.data["received_at"]) == received
    # P2: respond within 30 min, resolve within 8 h, both from received_at.
    assert when(response.data["respond_by"]) == received + 30 * MINUTE
    assert when(response.data["resolve_by"]) == received + 480 * MINUTE
    assert Incident.objects.get().respond_by == NOW


def test_it_shows_a_long_received_incident_overdue_at_once(filer):
    response = filer.post(
        LIST_URL, valid(received_at=(NOW - 20 * MINUTE).isoformat()), format="json"
    )

    assert when(response.data["respond_by"]) == NOW - 5 * MINUTE
    assert response.data["overdue"] == ["respond"]


def test_it_accepts_a_received_at_a_little_ahead_as_now(filer):
    """Reporters' clocks drift: 30 s ahead is taken as now, not refused."""
    response = filer.post(
        LIST_URL, valid(received_at=(NOW + timedelta(seconds=30)).isoformat()), format="json"
    )

    assert response.status_code == 201, response.data
    assert when(response.data["received_at"]) == NOW


def test_it_keeps_occurred_at_and_category(filer):
    response = filer.post(
        LIST_URL,
        valid(
            received_at=(NOW - 10 * MINUTE).isoformat(),
            occurred_at=(NOW - 25 * MINUTE).isoformat(),
            category="infrastructure",
            source="user_complaint",
        ),
        format="json",
    )

    assert response.status_code == 201, response.data
    assert when(response.data["occurred_at"]) == NOW - 25 * MINUTE
    assert response.data["category"] == "infrastructure"
    assert response.data["source"] == "user_complaint"


def test_it_takes_a_service_of_the_team(filer, platform):
    Service.objects.create(team=platform, slug="checkout", name="Checkout")

    response = filer.post(LIST_URL, valid(service="checkout"), format="json")

    assert response.status_code == 201, response.data
    assert response.data["service"] == "checkout"


def test_it_records_the_phone_call_of_an_urgent_incident(filer):
    response = filer.post(
        LIST_URL, valid(severity="P0", urgent=True, phone_call_to="lead"), format="json"
    )

    assert response.status_code == 201, response.data
    assert response.data["urgent"] is True
    assert response.data["phone_call_made"] is True
    assert response.data["phone_call_to"] == "lead"
    kinds = list(
        TimelineEvent.objects.filter(incident_id=response.data["id"]).values_list("kind", flat=True)
    )
    assert sorted(kinds) == ["created", "phone_call"]


def test_it_offers_a_lead_the_next_actions(clock, client_for, lead):
    response = client_for(lead).post(LIST_URL, valid(), format="json")

    assert set(response.data["allowed_actions"]) == {"acknowledge", "grade", "log", "cancel"}


def test_it_offers_an_on_duty_reporter_no_process_action(filer):
    response = filer.post(LIST_URL, valid(), format="json")

    assert response.data["allowed_actions"] == []


def test_it_refuses_anonymous_filing(clock, api_client, platform):
    response = api_client.post(LIST_URL, valid(team="platform"), format="json")

    assert response.status_code in (401, 403)
    assert not Incident.objects.exists()


# ---------------------------------------------------------------- bad input


def test_it_refuses_malformed_json(filer):
    response = post_refused(
        filer, '{"title": "Checkout", "severity": ', content_type="application/json"
    )

    assert "detail" in response.data


@pytest.mark.parametrize("body", ["[]", '[{"title": "x"}]', '"title"', "42", "null"])
def test_it_refuses_a_json_body_that_is_not_an_object(filer, body):
    response = post_refused(filer, body, content_type="application/json")

    assert response.data


@pytest.mark.parametrize("field", ["title", "symptoms", "severity", "source", "impact_scope"])
def test_it_requires_the_intake_fields(filer, field):
    payload = valid()
    del payload[field]

    response = post_refused(filer, payload, format="json")

    assert set(response.data) == {field}


@pytest.mark.parametrize("field", ["title", "symptoms", "impact_scope"])
def test_it_refuses_a_nul_character(filer, field):
    """PostgreSQL cannot store NUL in text: it must be a 400, never a 500."""
    response = post_refused(filer, valid(**{field: "pool\x00exhausted"}), format="json")

    assert set(response.data) == {field}


@pytest.mark.parametrize("field", ["title", "symptoms", "impact_scope"])
def test_it_refuses_blank_text(filer, field):
    response = post_refused(filer, valid(**{field: "   "}), format="json")

    assert field in response.data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("severity", "P5"),
        ("severity", "p1"),
        ("source", "twitter"),
        ("category", "marketing"),
    ],
)
def test_it_refuses_unknown_choices(filer, field, value):
    response = post_refused(filer, valid(**{field: value}), format="json")

    assert set(response.data) == {field}


def test_it_refuses_a_future_received_at(filer):
    response = post_refused(
        filer, valid(received_at=(NOW + timedelta(hours=1)).isoformat()), format="json"
    )

    assert set(response.data) == {"received_at"}


def test_it_refuses_a_future_occurred_at(filer):
    response = post_refused(
        filer, valid(occurred_at=(NOW + timedelta(hours=1)).isoformat()), format="json"
    )

    assert "occurred_at" in response.data


def test_it_refuses_occurred_at_after_received_at(filer):
    response = post_refused(
        filer,
        valid(
            received_at=(NOW - 60 * MINUTE).isoformat(),
            occurred_at=(NOW - 30 * MINUTE).isoformat(),
        ),
        format="json",
    )

    assert set(response.data) == {"occurred_at"}


@pytest.mark.parametrize("value", [-1, "many", 2**31, 1.5])
def test_it_refuses_a_bad_affected_users(filer, value):
    response = post_refused(filer, valid(affected_users=value), format="json")

    assert set(response.data) == {"affected_users"}


def test_it_refuses_an_unknown_team(filer):
    response = post_refused(filer, valid(team="no-such-team"), format="json")

    assert set(response.data) == {"team"}


def test_it_refuses_a_team_the_reporter_is_not_in(filer, payments):
    response = post_refused(filer, valid(team="payments"), format="json")

    assert set(response.data) == {"team"}


def test_it_refuses_an_unknown_service(filer, platform):
    response = post_refused(filer, valid(service="no-such-service"), format="json")

    assert set(response.data) == {"service"}


def test_it_refuses_another_teams_service(filer, platform, payments):
    Service.objects.create(team=payments, slug="refunds", name="Refunds")

    response = post_refused(filer, valid(service="refunds"), format="json")

    assert set(response.data) == {"service"}


def test_it_asks_a_reporter_without_a_team_to_name_one(clock, client_for):
    loner = make_user(Role.ON_DUTY, None, username="loner")

    response = post_refused(client_for(loner), valid(), format="json")

    assert set(response.data) == {"team"}


def test_it_refuses_a_title_over_200_characters(filer):
    response = post_refused(filer, valid(title="x" * 201), format="json")

    assert set(response.data) == {"title"}


def test_it_accepts_a_title_of_200_characters(filer):
    response = filer.post(LIST_URL, valid(title="x" * 200), format="json")

    assert response.status_code == 201
    assert len(Incident.objects.get().title) == 200


def test_it_reports_every_bad_field_at_once(filer):
    response = post_refused(
        filer, valid(severity="P9", source="fax", affected_users=-5, title=""), format="json"
    )

    assert set(response.data) == {"severity", "source", "affected_users", "title"}
