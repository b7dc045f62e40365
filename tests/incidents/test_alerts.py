"""Alert intake: POST /api/v1/alerts/<token>/ and the commands that manage tokens."""

import copy
import io
import json
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from rest_framework.test import APIClient

from incidents import alerts
from incidents.models import Alert, AlertIntegration, Incident, LogEntry, TimelineEvent

pytestmark = pytest.mark.django_db

AM_FIRING = {
    "version": "4",
    "groupKey": '{}:{alertname="OrderServiceErrors"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "responder",
    "groupLabels": {"alertname": "OrderServiceErrors"},
    "commonLabels": {"alertname": "OrderServiceErrors", "severity": "critical"},
    "commonAnnotations": {"summary": "Order service 5xx above 50%"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "OrderServiceErrors",
                "severity": "critical",
                "instance": "order-1",
            },
            "annotations": {
                "summary": "Order service 5xx above 50%",
                "description": "HTTP 500 on POST /api/orders",
            },
            "startsAt": "2026-11-26T01:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "c5b1d1f2a3e4f567",
        }
    ],
}


def resolved(payload):
    body = copy.deepcopy(payload)
    body["status"] = "resolved"
    for alert in body["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2026-11-26T02:10:00Z"
    return body


@pytest.fixture
def integration(platform):
    integration, token = alerts.integration_create(name="prometheus", team=platform)
    integration.token = token
    return integration


@pytest.fixture
def api():
    return APIClient()


def post(api, token, payload, **headers):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return api.post(
        f"/api/v1/alerts/{token}/", body, content_type="application/json", headers=headers
    )


def test_it_files_one_incident_from_a_firing_alertmanager_payload(clock, api, integration):
    response = post(api, integration.token, AM_FIRING)

    assert response.status_code == 200
    [result] = response.json()["incidents"]
    assert result["created"] is True
    incident = Incident.objects.get(pk=result["id"])
    assert incident.source == "monitoring"
    assert incident.team == integration.team
    assert incident.reporter is None
    assert incident.severity == "P1"  # severity=critical
    assert incident.title == "OrderServiceErrors — Order service 5xx above 50%"
    assert "instance=order-1" in incident.symptoms
    assert incident.occurred_at.isoformat() == "2026-11-26T01:55:00+00:00"
    assert Alert.objects.get().labels["instance"] == "order-1"


def test_it_folds_repeats_and_resolution_into_one_incident(clock, api, integration):
    post(api, integration.token, AM_FIRING)
    clock.shift(timedelta(minutes=5))
    assert post(api, integration.token, AM_FIRING).json()["incidents"][0]["created"] is False
    clock.shift(timedelta(minutes=5))
    response = post(api, integration.token, resolved(AM_FIRING))

    assert response.status_code == 200
    incident = Incident.objects.get()
    assert incident.state == "new"  # a person verifies; monitoring never closes it
    alert = Alert.objects.get()
    assert alert.events == 2  # the repeat of an unchanged firing is no event
    assert alert.status == "resolved"
    notes = list(incident.log_entries.values_list("kind", "text"))
    assert len(notes) == 1
    assert notes[0][0] == LogEntry.Kind.NOTE
    assert "resolved at the source" in notes[0][1]
    assert incident.events.filter(kind="logged").count() == 1


def test_it_adds_a_new_alert_of_the_group_to_the_open_incident(clock, api, integration):
    post(api, integration.token, AM_FIRING)
    second = copy.deepcopy(AM_FIRING)
    second["alerts"][0]["fingerprint"] = "another"
    second["alerts"][0]["labels"]["instance"] = "order-2"
    post(api, integration.token, second)

    incident = Incident.objects.get()
    assert incident.alerts.count() == 2
    assert "Another alert of this group fired" in incident.log_entries.get().text


def test_it_files_a_new_incident_when_the_group_fires_after_closing(
    clock, api, integration, lead, owner
):
    post(api, integration.token, AM_FIRING)
    first = Incident.objects.get()
    from incidents import services

    services.incident_cancel(incident=first, actor=lead, reason="false alarm")
    clock.shift(timedelta(hours=1))
    response = post(api, integration.token, AM_FIRING)

    assert response.json()["incidents"][0]["created"] is True
    assert Incident.objects.count() == 2


def test_it_only_updates_the_alert_of_an_incident_people_already_resolved(
    clock, api, integration, lead, owner, tester
):
    post(api, integration.token, AM_FIRING)
    incident = Incident.objects.get()
    from incidents import services

    services.incident_acknowledge(incident=incident, actor=lead)
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    services.incident_resolve(incident=incident, actor=owner, fix="restarted")
    services.incident_verify(
        incident=incident, actor=tester, functional_ok=True, regression_ok=True, monitoring_ok=True
    )
    entries, version = incident.log_entries.count(), Incident.objects.get().version
    post(api, integration.token, resolved(AM_FIRING))

    incident.refresh_from_db()
    assert incident.state == "resolved"
    assert incident.version == version
    # A closed incident absorbs nothing: its alert row says resolved, no note is written.
    assert incident.log_entries.count() == entries
    assert incident.alerts.get().status == "resolved"


def test_it_files_nothing_for_a_resolved_alert_it_never_saw(clock, api, integration):
    response = post(api, integration.token, resolved(AM_FIRING))

    assert response.status_code == 200
    assert response.json() == {"incidents": []}
    assert Incident.objects.count() == 0


def test_it_accepts_the_generic_json(clock, api, integration):
    payload = {
        "title": "数据库连接池耗尽",
        "dedup_key": "db-pool",
        "severity": "P0",
        "description": "500/500 connections",
        "labels": {"service": "db"},
        "impact_scope": "all APIs",
        "affected_users": 900,
    }
    assert post(api, integration.token, payload).status_code == 200
    assert post(api, integration.token, payload).status_code == 200

    incident = Incident.objects.get()
    assert incident.severity == "P0"
    assert incident.affected_users == 900
    assert incident.impact_scope == "all APIs"


@pytest.mark.parametrize(
    ("labels", "rules", "expected"),
    [
        ({"severity": "critical"}, [], "P1"),
        ({"severity": "warning"}, [], "P2"),
        ({"severity": "info"}, [], "P3"),
        ({"severity": "P0"}, [], "P0"),
        ({"priority": "p1"}, [], "P1"),
        ({}, [], "P2"),
        (
            {"severity": "critical", "tier": "core"},
            [{"label": "tier", "equals": ["core"], "severity": "P0"}],
            "P0",
        ),
        ({"severity": "critical"}, [{"label": "x", "equals": "y", "severity": "P3"}], "P1"),
    ],
)
def test_it_maps_labels_to_a_level(integration, labels, rules, expected):
    integration.severity_rules = rules
    parsed = alerts.ParsedAlert(
        group_key="g", fingerprint="f", status="firing", title="t", description="", labels=labels
    )
    assert alerts.map_severity(integration, parsed) == expected


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        b"null",
        {"version": "3", "alerts": [{"status": "firing"}]},
        {"version": "4", "groupKey": "g", "alerts": []},
        {"version": "4", "alerts": [{"status": "exploded", "labels": {}}]},
        {"version": "4", "alerts": [{"status": "firing", "labels": ["a"]}]},
        {"version": "4", "alerts": [{"status": "firing", "startsAt": "yesterday"}]},
        {"title": "x"},
        {"dedup_key": "k"},
        {"title": "x", "dedup_key": "k", "affected_users": -1},
        {"title": "x", "dedup_key": "k", "category": "weather"},
    ],
)
def test_it_refuses_bad_payloads_and_writes_nothing(clock, api, integration, payload):
    response = post(api, integration.token, payload)

    assert response.status_code == 400
    assert response.json()
    assert Incident.objects.count() == 0
    assert Alert.objects.count() == 0


def test_it_answers_404_for_unknown_and_revoked_tokens(clock, api, integration):
    assert post(api, "not-a-token", AM_FIRING).status_code == 404
    alerts.integration_revoke(integration=integration)
    response = post(api, integration.token, AM_FIRING)

    assert response.status_code == 404
    assert Incident.objects.count() == 0


def test_it_rate_limits_per_integration(clock, api, integration, platform):
    integration.rate_limit_per_minute = 2
    integration.save()
    other, other_token = alerts.integration_create(name="other", team=platform)
    generic = {"title": "x", "dedup_key": "k"}

    assert post(api, integration.token, generic).status_code == 200
    assert post(api, integration.token, generic).status_code == 200
    limited = post(api, integration.token, generic)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert post(api, other_token, generic).status_code == 200
    clock.shift(timedelta(minutes=1))
    assert post(api, integration.token, generic).status_code == 200


def test_it_checks_the_hmac_signature_and_refuses_replays(clock, api, platform):
    integration, token = alerts.integration_create(
        name="signed", team=platform, signing_secret="s3cret"
    )
    body = json.dumps({"title": "x", "dedup_key": "k"}).encode()
    now = int(time.time())

    assert post(api, token, body).status_code == 401
    bad = post(
        api,
        token,
        body,
        **{"X-Responder-Timestamp": str(now), "X-Responder-Signature": "sha256=00"},
    )
    assert bad.status_code == 401
    old = now - 301
    replay = post(
        api,
        token,
        body,
        **{
            "X-Responder-Timestamp": str(old),
            "X-Responder-Signature": alerts.sign("s3cret", old, body),
        },
    )
    assert replay.status_code == 401
    assert Incident.objects.count() == 0
    good = post(
        api,
        token,
        body,
        **{
            "X-Responder-Timestamp": str(now),
            "X-Responder-Signature": alerts.sign("s3cret", now, body),
        },
    )
    assert good.status_code == 200
    assert Incident.objects.count() == 1


def test_it_answers_503_when_the_database_fails(clock, api, integration):
    with mock.patch.object(alerts, "alerts_receive", side_effect=OperationalError("down")):
        response = post(api, integration.token, AM_FIRING)

    assert response.status_code == 503
    assert response["Retry-After"]


def test_it_stores_only_a_hash_of_the_token(platform):
    out = io.StringIO()
    call_command("create_integration", "grafana", "--team", "platform", stdout=out)
    token = out.getvalue().splitlines()[2]
    integration = AlertIntegration.objects.get(name="grafana")

    assert len(token) >= 40
    assert token not in integration.token_hash
    assert integration.token_hash == alerts.hash_token(token)
    assert alerts.integration_for_token(token) == integration


def test_its_commands_refuse_unknown_teams_and_revoke(platform):
    with pytest.raises(CommandError, match="no team"):
        call_command("create_integration", "x", "--team", "nope", stdout=io.StringIO())
    out = io.StringIO()
    call_command("create_integration", "x", "--team", "platform", stdout=out)
    token = out.getvalue().splitlines()[2]
    call_command("revoke_integration", "x", stdout=io.StringIO())

    assert alerts.integration_for_token(token) is None
    with pytest.raises(CommandError, match="exists"):
        call_command("create_integration", "x", "--team", "platform", stdout=io.StringIO())


def test_it_never_writes_a_timeline_event_for_refused_alerts(clock, api, integration):
    post(api, integration.token, b"{broken")
    assert TimelineEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_files_one_incident_for_simultaneous_deliveries_of_a_group(platform):
    import threading

    from django.db import connection

    integration, token = alerts.integration_create(name="ha", team=platform)
    barrier = threading.Barrier(3)
    codes = []

    def deliver():
        try:
            barrier.wait()
            codes.append(post(APIClient(), token, AM_FIRING).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert codes == [200, 200, 200]
    assert Incident.objects.count() == 1
    assert Alert.objects.get().events == 1  # the later deliveries repeat it: no events


@pytest.mark.parametrize("name", ["", "a\u0000b", "\ud800", "x" * 201, "tab\there"])
def test_it_refuses_label_names_the_database_cannot_store(clock, api, integration, name):
    payload = copy.deepcopy(AM_FIRING)
    payload["alerts"][0]["labels"][name] = "v"
    body = json.dumps(payload)  # json.dumps escapes a lone surrogate as \\ud800

    response = post(api, integration.token, body)

    assert response.status_code == 400
    assert Incident.objects.count() == 0


def signed(secret, body, ts=None):
    ts = int(time.time()) if ts is None else ts
    return {
        "X-Responder-Timestamp": str(ts),
        "X-Responder-Signature": alerts.sign(secret, ts, body),
    }


def test_it_refuses_a_replayed_signed_request(clock, api, platform):
    _, token = alerts.integration_create(name="signed", team=platform, signing_secret="s3cret")
    body = json.dumps({"title": "x", "dedup_key": "k"}).encode()
    headers = signed("s3cret", body)

    assert post(api, token, body, **headers).status_code == 200
    replay = post(api, token, body, **headers)

    assert replay.status_code == 401
    assert "replay" in replay.json()["detail"]


def test_it_answers_401_not_500_for_a_non_hex_signature(clock, api, platform):
    _, token = alerts.integration_create(name="signed", team=platform, signing_secret="s3cret")
    body = b'{"title": "x", "dedup_key": "k"}'
    headers = {"X-Responder-Timestamp": str(int(time.time())), "X-Responder-Signature": "sha256=é"}

    assert post(api, token, body, **headers).status_code == 401
    assert Incident.objects.count() == 0


def test_it_does_not_count_forged_requests_against_the_rate_limit(clock, api, platform):
    integration, token = alerts.integration_create(
        name="signed", team=platform, signing_secret="s3cret", rate_limit_per_minute=2
    )
    body = json.dumps({"title": "x", "dedup_key": "k"}).encode()
    forged = {"X-Responder-Timestamp": str(int(time.time())), "X-Responder-Signature": "0" * 64}
    for _ in range(5):
        assert post(api, token, body, **forged).status_code == 401

    assert post(api, token, body, **signed("s3cret", body)).status_code == 200


def test_it_files_nothing_for_an_integration_revoked_mid_request(clock, integration):
    stale = AlertIntegration.objects.get(pk=integration.pk)
    alerts.integration_revoke(integration=AlertIntegration.objects.get(pk=integration.pk))
    parsed = alerts.from_generic({"title": "x", "dedup_key": "k"})

    with pytest.raises(alerts.IntegrationRevoked):
        alerts.alerts_receive(integration=stale, alerts=parsed)
    assert Incident.objects.count() == 0
