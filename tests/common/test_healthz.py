from datetime import timedelta

import time_machine
from django.utils import timezone

from escalation.models import Heartbeat
from escalation.tasks import record_heartbeat


def test_it_is_unhealthy_before_any_heartbeat(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["heartbeat"] is None


def test_it_is_healthy_with_a_fresh_heartbeat(client, db):
    record_heartbeat()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["heartbeat"]["age_seconds"] < 5


def test_it_reports_a_stale_heartbeat(client, db, settings):
    settings.HEARTBEAT_SECONDS = 10
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        record_heartbeat()
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        assert client.get("/healthz").status_code == 200
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert "stale" in response.json()["problem"]


def test_it_counts_heartbeats_and_only_moves_forward(db):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        record_heartbeat()
    with time_machine.travel(start + timedelta(seconds=10), tick=False):
        record_heartbeat()
    beat = Heartbeat.objects.get(name="beat")
    assert beat.count == 2
    assert beat.last_seen == start + timedelta(seconds=10)


def test_it_needs_no_login_and_refuses_post(client, db):
    assert client.post("/healthz").status_code == 405
