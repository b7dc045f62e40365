"""Maintenance windows mirrored as Alertmanager silences, against a fake
Alertmanager at the HTTP boundary (a real one: tests/integration/test_alertmanager.py)."""

import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.celery_app import app as celery_app
from incidents import silences, tasks
from incidents.maintenance import services as maintenance_services
from incidents.models import MaintenanceWindow, Service
from tests.conftest import NOW


class FakeAlertmanager:
    """The silence calls of Alertmanager's API v2, kept in memory, as 0.25 answers
    them (an unknown silence: 404 on GET, 500 "silence not found" on DELETE).
    `fail_next(n)` answers the next n requests with 503."""

    def __init__(self):
        self.silences: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict | None]] = []
        self.failures = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.handle(self, "GET")

            def do_POST(self):
                fake.handle(self, "POST")

            def do_DELETE(self):
                fake.handle(self, "DELETE")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def fail_next(self, count: int) -> None:
        self.failures = count

    def handle(self, handler, method):
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        self.requests.append((method, handler.path, body))
        if self.failures:
            self.failures -= 1
            return self.answer(handler, 503, {"message": "maintenance of the maintenance"})
        silence_id = handler.path.rpartition("/")[2]
        if method == "POST" and handler.path == "/api/v2/silences":
            return self.post(handler, body)
        if method == "GET" and handler.path == "/api/v2/silences":
            return self.answer(handler, 200, [self.view(s) for s in self.silences.values()])
        if handler.path.startswith("/api/v2/silence/") and silence_id in self.silences:
            if method == "DELETE":
                self.expire(silence_id)
                return self.answer(handler, 200, None)
            return self.answer(handler, 200, self.view(self.silences[silence_id]))
        if method == "DELETE":
            return self.answer(handler, 500, "silence not found")
        return self.answer(handler, 404, None)

    def post(self, handler, body):
        if not body.get("matchers"):
            return self.answer(handler, 422, {"message": "matchers must have at least 1 item"})
        previous = self.silences.get(body.get("id") or "")
        if previous and self.state(previous) != "expired":
            if (
                previous["matchers"] == body["matchers"]
                and previous["startsAt"] == body["startsAt"]
            ):
                previous.update(body)
                return self.answer(handler, 200, {"silenceID": previous["id"]})
            self.expire(previous["id"])
        silence = {**body, "id": str(uuid.uuid4())}
        self.silences[silence["id"]] = silence
        return self.answer(handler, 200, {"silenceID": silence["id"]})

    def expire(self, silence_id):
        silence = self.silences[silence_id]
        if self.state(silence) != "expired":
            silence["endsAt"] = silences.rfc3339(timezone.now())

    def state(self, silence) -> str:
        now = timezone.now()
        if parse_datetime(silence["endsAt"]) <= now:
            return "expired"
        return "pending" if parse_datetime(silence["startsAt"]) > now else "active"

    def view(self, silence) -> dict:
        return {**silence, "status": {"state": self.state(silence)}}

    def active(self) -> list[dict]:
        return [self.view(s) for s in self.silences.values() if self.state(s) == "active"]

    def answer(self, handler, status, payload):
        data = json.dumps(payload).encode() if payload is not None else b""
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def calls(self, method: str) -> list[tuple[str, str, dict | None]]:
        return [r for r in self.requests if r[0] == method]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def alertmanager(settings):
    fake = FakeAlertmanager()
    settings.ALERTMANAGER_URL = fake.url
    settings.SITE_URL = "https://responder.example.com"
    yield fake
    fake.close()


def window(team, **fields) -> MaintenanceWindow:
    """A one-off window running from an hour ago to an hour ahead, unless told."""
    services = fields.pop("services", ())
    fields.setdefault("title", "DB upgrade")
    fields.setdefault("starts_at", NOW - timedelta(hours=1))
    fields.setdefault("matchers", [{"name": "cluster", "value": "db-main", "is_regex": False}])
    if not fields.get("recurrence"):
        fields.setdefault("ends_at", NOW + timedelta(hours=1))
    row = MaintenanceWindow.objects.create(team=team, **fields)
    row.services.set(services)
    return row


def sync(row: MaintenanceWindow) -> MaintenanceWindow:
    silences.silence_sync(row, timezone.now())
    row.refresh_from_db()
    return row


# ---------------------------------------------------------------- create


def test_it_creates_the_silence_of_a_running_window(platform, clock, alertmanager):
    row = window(
        platform,
        matchers=[
            {"name": "cluster", "value": "db-main", "is_regex": False},
            {"name": "env", "value": "prod|staging", "is_regex": True},
        ],
    )
    sync(row)
    [(_method, path, body)] = alertmanager.calls("POST")
    assert path == "/api/v2/silences"
    assert body == {
        "matchers": [
            {"name": "cluster", "value": "db-main", "isRegex": False, "isEqual": True},
            {"name": "env", "value": "prod|staging", "isRegex": True, "isEqual": True},
        ],
        "startsAt": "2026-11-26T02:00:00.000Z",  # now: the occurrence began an hour ago
        "endsAt": "2026-11-26T03:00:00.000Z",
        "createdBy": "responder",
        "comment": f"DB upgrade — https://responder.example.com/maintenance/{row.pk}/",
    }
    [silence] = alertmanager.active()
    assert row.silence_id == silence["id"]
    assert row.silence_error == ""
    assert row.silence_checked_at == NOW


def test_it_silences_the_current_occurrence_of_a_recurring_window(platform, clock, alertmanager):
    # Daily 09:30–11:30 Shanghai time; NOW is 10:00 there.
    row = window(
        platform,
        starts_at=NOW - timedelta(days=3, minutes=30),
        recurrence="FREQ=DAILY",
        duration_minutes=120,
    )
    sync(row)
    [silence] = alertmanager.active()
    assert silence["endsAt"] == "2026-11-26T03:30:00.000Z"
    assert row.silence_id == silence["id"]


def test_it_matches_the_windows_services_by_their_service_label(platform, clock, alertmanager):
    db = Service.objects.create(team=platform, slug="db", name="Database")
    cache = Service.objects.create(team=platform, slug="cache", name="Cache")
    sync(window(platform, matchers=[], services=[db, cache]))
    sync(window(platform, matchers=[], services=[db]))
    bodies = [body for _m, _p, body in alertmanager.calls("POST")]
    assert bodies[0]["matchers"] == [
        {"name": "service", "value": "cache|db", "isRegex": True, "isEqual": True}
    ]
    assert bodies[1]["matchers"] == [
        {"name": "service", "value": "db", "isRegex": False, "isEqual": True}
    ]


def test_it_makes_no_silence_for_a_window_that_matches_everything(platform, clock, alertmanager):
    row = sync(window(platform, matchers=[]))
    assert alertmanager.requests == []
    assert row.silence_id == ""
    assert "at least one matcher" in row.silence_error


def test_it_leaves_a_window_that_has_not_started_alone(platform, clock, alertmanager):
    row = sync(
        window(platform, starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(hours=2))
    )
    assert alertmanager.requests == []
    assert (row.silence_id, row.silence_error, row.silence_checked_at) == ("", "", NOW)


def test_it_asks_but_changes_nothing_when_the_silence_is_in_place(platform, clock, alertmanager):
    row = sync(window(platform))
    first = row.silence_id
    clock.shift(timedelta(minutes=5))
    row = sync(row)
    assert row.silence_id == first
    assert len(alertmanager.calls("POST")) == 1
    assert alertmanager.calls("GET")[-1][1] == f"/api/v2/silence/{first}"
    assert row.silence_checked_at == NOW + timedelta(minutes=5)


def test_it_syncs_on_commit_of_a_change(
    platform, clock, alertmanager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        row = window(platform)
        silences.window_changed(row)
        assert alertmanager.requests == []  # not before the commit
    assert len(callbacks) == 1
    row.refresh_from_db()
    [silence] = alertmanager.active()
    assert row.silence_id == silence["id"]


def test_it_follows_the_window_services_create_end_and_delete(
    platform, lead, clock, alertmanager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = maintenance_services.window_create(
            actor=lead,
            team=platform,
            title="DB upgrade",
            starts_at=NOW - timedelta(minutes=5),
            ends_at=NOW + timedelta(hours=1),
            matchers=[{"name": "cluster", "value": "db-main", "is_regex": False}],
        )
    row.refresh_from_db()
    [silence] = alertmanager.active()
    assert row.silence_id == silence["id"]
    clock.shift(timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_services.window_end(window=row, actor=lead)
    row.refresh_from_db()
    assert (row.silence_id, alertmanager.active()) == ("", [])
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_services.window_update(window=row, actor=lead, ends_at=NOW + timedelta(hours=2))
    assert len(alertmanager.active()) == 1  # rescheduled: running again
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_services.window_delete(window=row, actor=lead)  # `row` holds no silence id
    assert alertmanager.active() == []


# ---------------------------------------------------------------- re-create, replace


def test_it_recreates_a_silence_that_vanished(platform, clock, alertmanager):
    row = sync(window(platform))
    lost = row.silence_id
    alertmanager.silences.clear()  # Alertmanager restarted without its storage
    row = sync(row)
    [silence] = alertmanager.active()
    assert row.silence_id == silence["id"] != lost


def test_it_recreates_a_silence_expired_by_hand(platform, clock, alertmanager):
    row = sync(window(platform))
    expired = row.silence_id
    alertmanager.expire(expired)
    clock.shift(timedelta(seconds=1))
    row = sync(row)
    [silence] = alertmanager.active()
    assert row.silence_id == silence["id"] != expired


def test_it_replaces_the_silence_when_the_matchers_change(platform, clock, alertmanager):
    row = sync(window(platform))
    old = row.silence_id
    row.matchers = [{"name": "cluster", "value": "db-replica", "is_regex": False}]
    row.save()
    row = sync(row)
    [silence] = alertmanager.active()
    assert silence["matchers"][0]["value"] == "db-replica"
    assert row.silence_id == silence["id"] != old


def test_it_moves_the_end_of_the_silence_with_the_window(platform, clock, alertmanager):
    row = sync(window(platform))
    first = row.silence_id
    row.ends_at = NOW + timedelta(hours=3)
    row.save()
    clock.shift(timedelta(minutes=10))
    row = sync(row)
    [silence] = alertmanager.active()
    assert silence["endsAt"] == "2026-11-26T05:00:00.000Z"
    assert silence["startsAt"] == "2026-11-26T02:00:00.000Z"  # kept: updated in place
    assert row.silence_id == silence["id"] == first


def test_it_renames_the_silence_with_the_window(platform, clock, alertmanager):
    row = sync(window(platform))
    row.title = "DB upgrade, part 2"
    row.save()
    row = sync(row)
    [silence] = alertmanager.active()
    assert silence["comment"].startswith("DB upgrade, part 2 — ")
    assert row.silence_id == silence["id"]


# ---------------------------------------------------------------- expire


def test_it_expires_the_silence_when_the_window_ends(platform, clock, alertmanager):
    row = sync(window(platform))
    silence_id = row.silence_id
    clock.shift(timedelta(hours=1))
    row = sync(row)
    assert ("DELETE", f"/api/v2/silence/{silence_id}", None) in alertmanager.requests
    assert row.silence_id == ""


def test_it_expires_the_silence_when_the_window_is_ended_early(platform, clock, alertmanager):
    row = sync(window(platform))
    clock.shift(timedelta(minutes=10))
    row.ended_at = timezone.now()
    row.save()
    row = sync(row)
    assert alertmanager.active() == []
    assert row.silence_id == ""


def test_it_expires_the_silence_of_a_deleted_window(
    platform, clock, alertmanager, django_capture_on_commit_callbacks
):
    row = sync(window(platform))
    silence_id = row.silence_id
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        silences.window_deleted(row)
        row.delete()
    assert alertmanager.calls("DELETE") == [("DELETE", f"/api/v2/silence/{silence_id}", None)]
    assert alertmanager.active() == []


def test_it_expires_a_silence_made_for_a_window_deleted_meanwhile(platform, clock, alertmanager):
    row = window(platform)
    MaintenanceWindow.objects.filter(pk=row.pk).delete()
    silences.silence_sync(row, timezone.now())
    assert len(alertmanager.calls("POST")) == 1
    assert alertmanager.active() == []


def test_it_keeps_one_silence_when_another_sync_stored_its_own(platform, clock, alertmanager):
    row = sync(window(platform))
    stale = MaintenanceWindow.objects.get(pk=row.pk)
    stale.silence_id = ""  # read before the other sync stored its silence
    silences.silence_sync(stale, timezone.now())
    [silence] = alertmanager.active()
    assert MaintenanceWindow.objects.get(pk=row.pk).silence_id == silence["id"] == row.silence_id


# ---------------------------------------------------------------- failures


def test_it_records_a_failure_on_the_window_and_the_next_sync_retries_it(
    platform, clock, alertmanager
):
    row = window(platform)
    alertmanager.fail_next(1)
    row = sync(row)
    assert row.silence_id == ""
    assert row.silence_error.startswith("2026-11-26 10:00:00 CST: ")
    assert "Alertmanager answered 503" in row.silence_error
    clock.shift(timedelta(minutes=1))
    assert tasks.sync_silences() == 1
    row.refresh_from_db()
    [silence] = alertmanager.active()
    assert (row.silence_id, row.silence_error) == (silence["id"], "")


def test_it_records_an_unreachable_alertmanager(platform, clock, settings, alertmanager):
    alertmanager.close()
    row = sync(window(platform))
    assert f"Could not reach Alertmanager at {alertmanager.url}" in row.silence_error
    assert row.silence_checked_at == NOW


def test_it_waits_for_an_unreachable_alertmanager_once_per_periodic_sync(
    platform, clock, alertmanager, monkeypatch
):
    rows = [window(platform, title=f"window {n}") for n in range(3)]
    alertmanager.close()
    attempts = []
    real_urlopen = silences.urllib.request.urlopen
    monkeypatch.setattr(
        silences.urllib.request,
        "urlopen",
        lambda *args, **kwargs: attempts.append(args) or real_urlopen(*args, **kwargs),
    )
    assert tasks.sync_silences() == 3
    assert len(attempts) == 1
    for row in rows:
        row.refresh_from_db()
        assert "Could not reach Alertmanager" in row.silence_error


def test_it_keeps_the_silence_id_when_expiring_fails(platform, clock, alertmanager):
    row = sync(window(platform))
    silence_id = row.silence_id
    clock.shift(timedelta(hours=1))
    alertmanager.fail_next(1)
    row = sync(row)
    assert row.silence_id == silence_id
    assert "503" in row.silence_error
    assert tasks.sync_silences() == 1  # still has a silence: retried
    row.refresh_from_db()
    assert (row.silence_id, row.silence_error) == ("", "")
    assert alertmanager.active() == []


@pytest.fixture
def eager_retries(monkeypatch):
    """Eager tasks run their retries at once (a worker would wait the countdown)
    instead of raising celery's Retry at the caller."""
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)


def test_it_retries_expiring_a_deleted_windows_silence(
    platform, clock, alertmanager, eager_retries
):
    row = sync(window(platform))
    alertmanager.fail_next(2)
    result = tasks.expire_silence.apply(args=[row.silence_id])
    assert result.state == "SUCCESS"
    assert len(alertmanager.calls("DELETE")) == 3
    assert alertmanager.active() == []


def test_it_gives_up_expiring_after_its_attempts(platform, clock, alertmanager, eager_retries):
    row = sync(window(platform))
    alertmanager.fail_next(100)
    result = tasks.expire_silence.apply(args=[row.silence_id])
    assert result.state == "FAILURE"
    assert len(alertmanager.calls("DELETE")) == tasks.EXPIRE_ATTEMPTS


# ---------------------------------------------------------------- periodic sync


def test_it_syncs_running_windows_and_those_with_a_silence_or_an_error(
    platform, clock, alertmanager
):
    running = window(platform, title="running")
    window(
        platform,
        title="later",
        starts_at=NOW + timedelta(hours=1),
        ends_at=NOW + timedelta(hours=2),
    )
    window(
        platform, title="over", starts_at=NOW - timedelta(hours=3), ends_at=NOW - timedelta(hours=2)
    )
    over_with_silence = window(
        platform,
        title="over, silence left",
        starts_at=NOW - timedelta(hours=3),
        ends_at=NOW - timedelta(hours=2),
    )
    leftover = alertmanager.silences["left"] = {
        "id": "left",
        "matchers": [{"name": "cluster", "value": "db-main", "isRegex": False, "isEqual": True}],
        "startsAt": "2026-11-26T00:00:00.000Z",
        "endsAt": "2026-11-26T04:00:00.000Z",
        "createdBy": "responder",
        "comment": "",
    }
    MaintenanceWindow.objects.filter(pk=over_with_silence.pk).update(silence_id=leftover["id"])
    assert tasks.sync_silences() == 2
    [silence] = alertmanager.active()
    running.refresh_from_db()
    assert running.silence_id == silence["id"]
    assert MaintenanceWindow.objects.get(pk=over_with_silence.pk).silence_id == ""


def test_it_costs_one_query_when_no_window_needs_syncing(
    platform, clock, alertmanager, django_assert_num_queries
):
    window(platform, starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(hours=2))
    with django_assert_num_queries(1):
        assert tasks.sync_silences() == 0
    assert alertmanager.requests == []


# ---------------------------------------------------------------- no ALERTMANAGER_URL


def test_it_does_nothing_without_an_alertmanager_url(
    platform,
    clock,
    settings,
    alertmanager,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    settings.ALERTMANAGER_URL = ""
    row = window(platform)
    row.silence_id = "kept"
    row.save()
    with django_capture_on_commit_callbacks() as callbacks:
        silences.window_changed(row)
        silences.window_deleted(row)
    assert callbacks == []
    with django_assert_num_queries(0):
        assert tasks.sync_silences() == 0
        silences.silence_sync(row, NOW)
    tasks.sync_silence(row.pk)
    row.refresh_from_db()
    assert (row.silence_id, row.silence_error, row.silence_checked_at) == ("kept", "", None)
    assert alertmanager.requests == []
