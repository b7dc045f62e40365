"""Redis down: web and API keep working, the work waits in the database.

The Celery app is pointed at a Redis port that refuses connections, with
CELERY_TASK_ALWAYS_EAGER off, so every enqueue really tries the broker. A
publish must fail fast: the tests count the connection attempts and the retry
sleeps kombu asks for (recorded, never slept), not the wall clock.
"""

import logging
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import kombu.utils.functional
import pytest
from django.conf import settings
from django.core import mail

from config.celery_app import app
from escalation.engine import sweep_due_deadlines
from escalation.models import Deadline, Delivery, Notice, TeamChannel
from escalation.tasks import deliver
from incidents.models import Incident, LogEntry
from tests.conftest import NOW
from tests.factories import IncidentFactory, incident_in_state

pytestmark = pytest.mark.django_db

MIN = timedelta(minutes=1)


@dataclass
class Broker:
    port: int
    connects: list = field(default_factory=list)  # connection attempts to the dead port
    sleeps: list = field(default_factory=list)  # retry pauses kombu asked for


@pytest.fixture
def broker_down(monkeypatch):
    """`with broker_down() as broker:` Celery publishes to a Redis that refuses
    connections (not eagerly); the app's broker, eagerness and pools come back after."""

    @contextmanager
    def down():
        # Bound but never listening: every connection to this port is refused, and
        # nothing else can take the port while the test holds it.
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", 0))
            broker = Broker(port=blocker.getsockname()[1])
            real_connect = socket.socket.connect

            def connect(sock, address):
                if address[1:2] == (broker.port,):
                    broker.connects.append(address)
                return real_connect(sock, address)

            saved_conf = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
            saved_pools = app._pool, app.amqp._producer_pool
            app._pool = app.amqp._producer_pool = None
            app.conf.update(
                broker_url=f"redis://127.0.0.1:{broker.port}/0", task_always_eager=False
            )
            with monkeypatch.context() as patch:
                patch.setattr(socket.socket, "connect", connect)
                patch.setattr(kombu.utils.functional, "sleep", broker.sleeps.append)
                try:
                    yield broker
                finally:
                    if app._pool is not None:
                        app.amqp.producer_pool.force_close_all()
                        app.pool.force_close_all()
                    app._pool, app.amqp._producer_pool = saved_pools
                    app.conf.update(saved_conf)

    return down


def one_quick_publish(broker):
    """One publish was tried: the first connection and its one immediate retry, no pause."""
    assert len(broker.connects) == 2
    assert broker.sleeps == []


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "common.queue"]


def test_it_files_an_urgent_p0_through_the_api_and_pages_on_the_next_sweep(
    clock, broker_down, token_client, onduty, lead, caplog, django_capture_on_commit_callbacks
):
    payload = {
        "title": "Checkout returns 502",
        "symptoms": "A third of checkout requests fail.",
        "severity": "P0",
        "source": "monitoring",
        "impact_scope": "Checkout",
        "affected_users": 1200,
        "urgent": True,
        "phone_call_to": "lead",
    }
    with (
        broker_down() as broker,
        caplog.at_level(logging.WARNING, logger="common.queue"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = token_client(onduty).post("/api/v1/incidents/", payload, format="json")

    assert response.status_code == 201, response.content
    incident = Incident.objects.get(pk=response.json()["id"])
    one_quick_publish(broker)
    [warning] = warnings_of(caplog)
    assert "escalation.tasks.sweep" in warning
    assert "not queued" in warning
    # Nothing swept yet; the page waits as a due deadline for the next sweep.
    assert not Notice.objects.filter(incident=incident).exists()
    assert Deadline.objects.filter(incident=incident, clock="page", next_at__lte=NOW).exists()

    sweep_due_deadlines()  # the broker is back: beat's next sweep
    assert Notice.objects.get(incident=incident, clock="page").recipients == ["lead"]


def test_it_logs_a_blocker_from_the_web_page(
    clock, broker_down, client, lead, owner, caplog, django_capture_on_commit_callbacks
):
    incident = incident_in_state("in_progress", lead=lead, owner=owner)
    incident.refresh_from_db()

    with (
        broker_down() as broker,
        caplog.at_level(logging.WARNING, logger="common.queue"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.force_login(owner)
        response = client.post(
            f"/incidents/{incident.pk}/log/",
            {"version": incident.version, "kind": "blocker", "text": "No access to the DB host."},
        )

    assert response.status_code == 302
    assert LogEntry.objects.filter(incident=incident, kind="blocker").count() == 1
    one_quick_publish(broker)
    assert len(warnings_of(caplog)) == 1
    sweep_due_deadlines()
    assert Notice.objects.filter(incident=incident, clock="blocker").count() == 1


def test_it_writes_the_notice_and_leaves_its_deliveries_to_a_later_sweep(
    clock, broker_down, onduty, lead, platform, caplog, django_capture_on_commit_callbacks
):
    lead.email = "lead@example.com"
    lead.save()
    TeamChannel.objects.create(team=platform, kind="webhook", name="ops", url="http://hook")
    incident = IncidentFactory(actor=onduty, severity="P0")
    clock.move_to(NOW + 5 * MIN)

    with (
        broker_down() as broker,
        caplog.at_level(logging.WARNING, logger="common.queue"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = sweep_due_deadlines()

    notice = Notice.objects.get(incident=incident)
    assert notice.clock == "respond"
    pending = Delivery.objects.filter(notice=notice, status="pending")
    assert sorted(pending.values_list("channel", flat=True)) == ["email", "webhook"]
    assert sorted(result.deliveries) == sorted(d.pk for d in pending)
    # The first refused publish stops the rest: one quick try, not one per delivery.
    one_quick_publish(broker)
    assert len(warnings_of(caplog)) == 1

    # The broker is back; once they have stalled, the sweep hands them on again.
    email = pending.get(channel="email")
    clock.move_to(NOW + 5 * MIN + timedelta(seconds=settings.DELIVERY_STALL_SECONDS))
    assert email.pk in sweep_due_deadlines().requeued
    deliver(email.pk)
    email.refresh_from_db()
    assert email.status == "sent"
    assert len(mail.outbox) == 1
    assert Notice.objects.filter(incident=incident).count() == 1


def test_it_keeps_a_failed_delivery_pending_when_its_retry_cannot_be_queued(
    clock, broker_down, onduty, lead, caplog, django_capture_on_commit_callbacks
):
    lead.email = "lead@example.com"
    lead.save()
    IncidentFactory(actor=onduty, severity="P0")
    clock.move_to(NOW + 5 * MIN)
    sweep_due_deadlines()
    email = Delivery.objects.get(channel="email")
    email.channel = "pigeon"  # a channel nobody can send through: the attempt fails
    email.save()

    with (
        broker_down() as broker,
        caplog.at_level(logging.WARNING, logger="common.queue"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        deliver(email.pk)

    email.refresh_from_db()
    assert email.status == "pending"
    assert email.attempts == 1
    assert email.next_attempt_at == NOW + 5 * MIN + timedelta(seconds=5)
    one_quick_publish(broker)
    [warning] = warnings_of(caplog)
    assert "escalation.tasks.deliver" in warning


def test_it_puts_the_app_back_after_the_outage(broker_down):
    with broker_down():
        assert app.conf.task_always_eager is False

    assert app.conf.task_always_eager is True
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
