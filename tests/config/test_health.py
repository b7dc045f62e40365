from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.utils import timezone

from escalation.engine import sweep_due_deadlines
from escalation.models import BusinessCalendar, CalendarDay, Delivery, Heartbeat
from escalation.tasks import record_heartbeat
from tests.factories import IncidentFactory


def alive():
    record_heartbeat()
    sweep_due_deadlines()


def test_it_is_unhealthy_before_any_heartbeat_or_sweep(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["heartbeat"] is None
    assert body["sweep"] is None
    assert "no heartbeat" in body["problem"]
    assert "no escalation sweep" in body["problem"]


def test_it_is_healthy_with_a_fresh_heartbeat_and_sweep(client, db):
    alive()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["heartbeat"]["age_seconds"] < 5
    assert body["sweep"]["age_seconds"] < 5
    assert body["oldest_due_unnotified_seconds"] is None
    assert body["failed_deliveries"] == 0


def test_it_reports_a_stale_heartbeat(client, db, settings):
    settings.HEARTBEAT_SECONDS = 10
    settings.ESCALATION_SWEEP_SECONDS = 10
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        alive()
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        assert client.get("/healthz").status_code == 200
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert "stale" in response.json()["problem"]


def test_it_reports_a_due_deadline_nobody_swept(client, db, onduty, settings):
    settings.ESCALATION_SWEEP_SECONDS = 10
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        IncidentFactory(actor=onduty, severity="P0")  # respond due in 5 min
        alive()
    with time_machine.travel(start + timedelta(minutes=7), tick=False):
        record_heartbeat()
        # the sweep "ran" (heartbeat touched) but this deadline is still waiting
        Heartbeat.objects.filter(name="sweep").update(last_seen=timezone.now())
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["oldest_due_unnotified_seconds"] == 120.0
    assert "waiting" in response.json()["problem"]


def test_it_counts_failed_deliveries(client, db, onduty, lead):
    IncidentFactory(actor=onduty, severity="P0")
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        alive()
        Delivery.objects.update(status="failed")
        body = client.get("/healthz").json()
    assert body["failed_deliveries"] == Delivery.objects.count() > 0


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


SHANGHAI = ZoneInfo("Asia/Shanghai")
NO_2027 = (
    "Calendar “Mainland China working days” has no holiday data for 2027: import the "
    "year's holidays and working weekend days."
)


def test_it_lists_a_year_without_holiday_data_as_a_warning_and_stays_healthy(client, db):
    with time_machine.travel(datetime(2026, 10, 31, 12, tzinfo=SHANGHAI), tick=False):
        alive()
        body = client.get("/healthz").json()
    assert body["warnings"] == []  # the library knows 2026; 2027 is not due yet
    with time_machine.travel(datetime(2026, 12, 5, 12, tzinfo=SHANGHAI), tick=False):
        alive()
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["ok"] is True
        assert response.json()["warnings"] == [NO_2027]
        calendar = BusinessCalendar.objects.get(name="Mainland China working days")
        CalendarDay.objects.create(calendar=calendar, day=date(2027, 2, 6), kind="holiday")
        assert client.get("/healthz").json()["warnings"] == []


def test_it_keeps_its_warnings_when_unhealthy(client, db):
    with time_machine.travel(datetime(2027, 3, 1, 12, tzinfo=SHANGHAI), tick=False):
        response = client.get("/healthz")  # no heartbeat yet: 503, and the warning
    assert response.status_code == 503
    assert response.json()["warnings"] == [NO_2027]


def test_it_words_its_warnings_in_english_for_every_prober(client, db):
    with time_machine.travel(datetime(2026, 12, 5, 12, tzinfo=SHANGHAI), tick=False):
        alive()
        body = client.get("/healthz", headers={"accept-language": "zh-hans"}).json()
    assert body["warnings"] == [NO_2027]
