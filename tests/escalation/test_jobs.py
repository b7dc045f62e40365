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
    ],
)
def test_it_names_registered_tasks(name, task):
    assert app.tasks[name] is task._get_current_object()  # shared_task gives a proxy


def test_the_beat_schedule_runs_the_seams_jobs(settings):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {jobs.SWEEP, jobs.RECORD_HEARTBEAT}


def test_it_hands_each_delivery_on(monkeypatch):
    sent = []
    monkeypatch.setattr(
        tasks.deliver, "apply_async", lambda args, countdown=None: sent.append((args, countdown))
    )
    assert jobs.deliver([3, 5], countdown=10) is True
    assert sent == [((3,), 10), ((5,), 10)]
