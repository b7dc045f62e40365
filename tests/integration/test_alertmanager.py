"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager, which `make
alertmanager` installs and `make test` runs first), both ways: Responder's
maintenance windows as silences in it, and its webhooks into Responder.

Each test starts /usr/bin/prometheus-alertmanager on a free port with its own
configuration and storage in tmp_path (clustering off) and stops it at the end.
Alertmanager delivers webhooks on its own schedule, so the webhook test polls
the database (up to WAIT_SECONDS) for what it expects to arrive.
"""

import json
import socket
import subprocess
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents import alerts, silences, tasks
from incidents.maintenance import services as maintenance_services
from incidents.models import Alert, MaintenanceWindow, Service

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
WAIT_SECONDS = 30

pytestmark = pytest.mark.alertmanager


class RealAlertmanager:
    def __init__(self, directory: Path, receiver: dict):
        if not ALERTMANAGER.exists():
            pytest.fail(
                f"{ALERTMANAGER} is missing: run `make alertmanager` to install Debian's "
                "prometheus-alertmanager (`make test` does)."
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = directory / "alertmanager.yml"
        config.write_text(
            json.dumps(  # YAML reads JSON
                {
                    "route": {
                        "receiver": "responder",
                        "group_by": ["alertname"],
                        "group_wait": "0s",
                        "group_interval": "1s",
                        "repeat_interval": "1h",
                    },
                    "receivers": [{"name": "responder", **receiver}],
                }
            )
        )
        self.log = directory / "alertmanager.log"
        self.args = [
            str(ALERTMANAGER),
            f"--config.file={config}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # no gossip: one instance
        ]
        self.start()

    def start(self):
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.ready, "Alertmanager to answer /-/ready", log=self.log)

    def ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"Alertmanager exited ({self.process.returncode}):\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def request(self, method: str, path: str, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body.strip() else None

    def active_silences(self) -> list[dict]:
        return [
            s for s in self.request("GET", "/api/v2/silences") if s["status"]["state"] == "active"
        ]

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, what: str, *, log: Path | None = None, seconds: float = WAIT_SECONDS):
    """Poll `check` until it answers something true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            pytest.fail(f"waited {seconds} s for {what}\n{tail}")
        time.sleep(0.1)


@pytest.fixture
def start_alertmanager(tmp_path):
    started = []

    def start(receiver: dict | None = None) -> RealAlertmanager:
        directory = tmp_path / f"alertmanager-{len(started)}"
        directory.mkdir()
        instance = RealAlertmanager(directory, receiver or {})
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


# ---------------------------------------------------------------- Responder's silences into it


@pytest.fixture
def synced(settings, start_alertmanager, django_capture_on_commit_callbacks):
    """A real Alertmanager as ALERTMANAGER_URL; `synced(service, **kwargs)` runs a
    maintenance service and, on its commit, the silence sync it asks for."""
    alertmanager = start_alertmanager()
    settings.ALERTMANAGER_URL = alertmanager.url
    settings.SITE_URL = "https://responder.example.com"

    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    run.alertmanager = alertmanager
    return run


def matchers_of(silence: dict) -> list[tuple]:
    return sorted((m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in silence["matchers"])


@pytest.mark.django_db
def test_it_mirrors_a_running_window_as_a_silence_until_it_ends(platform, lead, synced):
    alertmanager = synced.alertmanager
    db = Service.objects.create(team=platform, slug="db", name="Database")
    now = timezone.now()
    window = synced(
        maintenance_services.window_create,
        actor=lead,
        team=platform,
        title="DB upgrade",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        matchers=[{"name": "cluster", "value": "db-(main|replica)", "is_regex": True}],
        services=[db],
    )
    window.refresh_from_db()
    [silence] = alertmanager.active_silences()
    assert silence["id"] == window.silence_id
    assert silence["createdBy"] == "responder"
    assert matchers_of(silence) == [
        ("cluster", "db-(main|replica)", True, True),
        ("service", "db", False, True),
    ]
    assert silence["comment"] == (
        f"DB upgrade — https://responder.example.com/maintenance/{window.pk}/"
    )
    assert abs(parse_datetime(silence["endsAt"]) - window.ends_at) < timedelta(seconds=1)

    # Deleted by hand in Alertmanager: the periodic sync makes it again.
    alertmanager.request("DELETE", f"/api/v2/silence/{window.silence_id}")
    assert alertmanager.active_silences() == []
    tasks.sync_silences()
    window.refresh_from_db()
    [again] = alertmanager.active_silences()
    assert again["id"] == window.silence_id != silence["id"]
    assert matchers_of(again) == matchers_of(silence)
    assert window.silence_error == ""

    synced(maintenance_services.window_end, window=window, actor=lead)
    window.refresh_from_db()
    assert alertmanager.active_silences() == []
    assert window.silence_id == ""
    assert alertmanager.request("GET", f"/api/v2/silence/{again['id']}")["status"] == {
        "state": "expired"
    }


@pytest.mark.django_db
def test_it_replaces_the_silence_of_an_edited_window_and_expires_a_deleted_ones(
    platform, lead, synced
):
    alertmanager = synced.alertmanager
    now = timezone.now()
    window = synced(
        maintenance_services.window_create,
        actor=lead,
        team=platform,
        title="Cache flush",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        matchers=[{"name": "cluster", "value": "cache-a", "is_regex": False}],
    )
    synced(
        maintenance_services.window_update,
        window=window,
        actor=lead,
        matchers=[{"name": "cluster", "value": "cache-b", "is_regex": False}],
        ends_at=now + timedelta(hours=2),
    )
    window.refresh_from_db()
    [silence] = alertmanager.active_silences()
    assert silence["id"] == window.silence_id
    assert matchers_of(silence) == [("cluster", "cache-b", False, True)]

    synced(maintenance_services.window_delete, window=window, actor=lead)
    assert not MaintenanceWindow.objects.filter(pk=window.pk).exists()
    assert alertmanager.active_silences() == []


@pytest.mark.django_db
def test_it_shows_on_the_window_that_alertmanager_is_down_and_catches_up(platform, lead, synced):
    alertmanager = synced.alertmanager
    alertmanager.stop()
    now = timezone.now()
    window = synced(
        maintenance_services.window_create,
        actor=lead,
        team=platform,
        title="Network work",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        matchers=[{"name": "site", "value": "dc1", "is_regex": False}],
    )
    window.refresh_from_db()
    assert window.silence_id == ""
    assert f"Could not reach Alertmanager at {alertmanager.url}" in window.silence_error

    alertmanager.start()  # same port and storage
    tasks.sync_silences()
    window.refresh_from_db()
    [silence] = alertmanager.active_silences()
    assert (window.silence_id, window.silence_error) == (silence["id"], "")


# ---------------------------------------------------------------- its webhooks into Responder


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_files_alertmanagers_webhooks_and_records_the_resolve(
    platform, live_server, start_alertmanager
):
    integration, token = alerts.integration_create(name="Alertmanager", team=platform)
    port = live_server.thread.port
    alertmanager = start_alertmanager(
        {
            "webhook_configs": [
                {
                    "url": f"http://127.0.0.1:{port}/api/v1/alerts/{token}/",
                    "send_resolved": True,
                }
            ]
        }
    )
    firing = {
        "labels": {
            "alertname": "OrderServiceErrors",
            "severity": "critical",
            "instance": "order-1",
        },
        "annotations": {"summary": "Order service 5xx above 50%"},
        "startsAt": silences.rfc3339(timezone.now() - timedelta(minutes=1)),
        "generatorURL": "http://prometheus.example.com/graph",
    }
    alertmanager.request("POST", "/api/v2/alerts", [firing])

    def filed():
        return (
            Alert.objects.filter(
                integration=integration, incident__isnull=False, status=Alert.Status.FIRING
            )
            .select_related("incident")
            .first()
        )

    alert = wait_for(filed, "the firing alert's incident", log=alertmanager.log)
    incident = alert.incident
    assert incident.source == "monitoring"
    assert incident.team == platform
    assert alert.labels["alertname"] == "OrderServiceErrors"
    assert alert.labels["instance"] == "order-1"
    assert "Order service 5xx above 50%" in incident.title

    alertmanager.request(
        "POST", "/api/v2/alerts", [{**firing, "endsAt": silences.rfc3339(timezone.now())}]
    )

    def resolved():
        return Alert.objects.filter(pk=alert.pk, status=Alert.Status.RESOLVED).first()

    done = wait_for(resolved, "the resolved webhook", log=alertmanager.log)
    assert done.incident_id == incident.pk
    assert done.ends_at is not None
    assert Alert.objects.filter(integration=integration).count() == 1
