"""escalation.jobs, the seam between the engine and the worker: every job it hands
on by name is a registered task, and what it hands on arrives."""

import pytest

from config.celery_app import app
from escalation import jobs, tasks


@pytest.mark.parametrize(
    ("name", "task"),
    [
        (jobs.SWEEP, tasks.sweep),
        (jobs.DELIVER, tasks.deliver),
        (jobs.RECORD_HEARTBEAT, tasks.record_heartbeat),
        (jobs.SWEEP_ROSTERS, tasks.sweep_rosters),
        (jobs.SWEEP_MAINTENANCE, tasks.sweep_maintenance),
        (jobs.STATUS_FAN_OUT, tasks.status_fan_out),
        (jobs.STATUS_SEND, tasks.status_send),
        (jobs.SWEEP_STATUS, tasks.sweep_status),
    ],
)
def test_it_names_registered_tasks(name, task):
    assert app.tasks[name] is task._get_current_object()  # shared_task gives a proxy


def test_the_beat_schedule_runs_the_seams_jobs(settings):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {
        jobs.SWEEP,
        jobs.RECORD_HEARTBEAT,
        jobs.SWEEP_ROSTERS,
        jobs.SWEEP_MAINTENANCE,
        jobs.SWEEP_STATUS,
        "incidents.tasks.sync_silences",
    }


def test_it_hands_each_delivery_on(monkeypatch):
    sent = []
    monkeypatch.setattr(
        tasks.deliver, "apply_async", lambda args, countdown=None: sent.append((args, countdown))
    )
    assert jobs.deliver([3, 5], countdown=10) is True
    assert sent == [((3,), 10), ((5,), 10)]


# ---------------------------------------------------------------- waking for the next deadline


@pytest.fixture
def queued(monkeypatch, settings):
    """Sweeps handed to the broker (as the worker would get them), not run eagerly."""
    from config.celery_app import app as celery

    settings.ESCALATION_SWEEP_SECONDS = 5
    celery.conf.update(task_always_eager=False)
    sent = []
    monkeypatch.setattr(
        tasks.sweep, "apply_async", lambda args, countdown=None: sent.append(countdown)
    )
    yield sent
    celery.conf.update(task_always_eager=True)


def test_it_wakes_for_a_deadline_before_beats_next_sweep(clock, queued):
    from datetime import timedelta

    from common import clock as wall

    assert jobs.sweep_at(wall.now() + timedelta(seconds=1.5)) is True
    assert queued == [1.5]


def test_it_leaves_a_later_deadline_to_beat(clock, queued):
    from datetime import timedelta

    from common import clock as wall

    assert jobs.sweep_at(wall.now() + timedelta(seconds=5)) is False
    assert jobs.sweep_at(None) is False
    assert queued == []


def test_it_sweeps_at_once_for_a_deadline_already_due(clock, queued):
    from datetime import timedelta

    from common import clock as wall

    assert jobs.sweep_at(wall.now() - timedelta(seconds=3)) is True
    assert queued == [0.0]


def test_it_never_waits_eagerly(clock, monkeypatch):
    # Eager (the test settings): a countdown cannot be honoured, so no wake-up at all.
    from datetime import timedelta

    from common import clock as wall

    ran = []
    monkeypatch.setattr(tasks.sweep, "apply_async", lambda *a, **k: ran.append(a))
    assert jobs.sweep_at(wall.now() + timedelta(seconds=1)) is False
    assert ran == []


@pytest.mark.django_db
def test_the_sweep_task_wakes_for_the_next_level(clock, queued, lead, onduty):
    # A P0 filed now: respond by +5 min. A sweep 4 min 58 s later wakes for it in 2 s.
    from datetime import timedelta

    from incidents.models import Severity
    from tests.factories import new_incident

    new_incident(reporter=onduty, severity=Severity.P0)
    clock.shift(timedelta(minutes=4, seconds=58))
    tasks.sweep()
    assert queued == [2.0]
