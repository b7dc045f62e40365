"""The one seam between the engine and the worker: the queued jobs, by name.

The engine and the incident services hand work to the worker through these
functions; escalation.tasks registers the tasks under the same names. Neither
side imports the other, so the engine knows no task and the tasks call the
engine, as every task calls a service.
"""

from collections.abc import Iterable
from datetime import datetime

from celery import current_app
from django.conf import settings

from common import clock
from common.queue import enqueue

RECORD_HEARTBEAT = "escalation.tasks.record_heartbeat"
SWEEP = "escalation.tasks.sweep"
DELIVER = "escalation.tasks.deliver"
SWEEP_ROSTERS = "escalation.tasks.sweep_rosters"
SWEEP_MAINTENANCE = "escalation.tasks.sweep_maintenance"
STATUS_FAN_OUT = "escalation.tasks.status_fan_out"
STATUS_SEND = "escalation.tasks.status_send"
SWEEP_STATUS = "escalation.tasks.sweep_status"


def sweep_soon() -> bool:
    """Ask the worker for a sweep now; with the broker down the next beat sweep does it."""
    return enqueue(SWEEP)


def sweep_at(due: datetime | None) -> bool:
    """Wake the worker for a sweep when `due` comes, if it comes before beat's next
    sweep: a breach then gets its notice within the broker's latency, not up to
    a whole sweep interval later. Beat keeps sweeping on its own, so a wake-up
    lost with the broker changes nothing but the delay; a sweep that runs twice
    writes nothing twice.
    """
    if due is None or current_app.conf.task_always_eager:
        # An eager task (the tests) cannot wait for its countdown: it would sweep
        # again at once, and again, before `due` ever came.
        return False
    wait = (due - clock.now()).total_seconds()
    if wait >= settings.ESCALATION_SWEEP_SECONDS:
        return False  # beat's own sweep comes first
    return enqueue(SWEEP, countdown=max(0.0, wait))


def deliver(delivery_ids: Iterable[int], *, countdown: float | None = None) -> bool:
    """Hand deliveries to the worker; False at the first one the broker refused.

    It stops there: with the broker down the rest would fail too, and the
    sweep's stalled-delivery re-queue hands them on later.
    """
    return all(enqueue(DELIVER, pk, countdown=countdown) for pk in delivery_ids)


def fan_out_update(update_id: int) -> bool:
    """Have the worker write one message per subscriber of a public update and
    send them (escalation.status.messages); a lost job is found again by the sweep."""
    return enqueue(STATUS_FAN_OUT, update_id)


def send_status_messages(message_ids: Iterable[int], *, countdown: float | None = None) -> bool:
    """Hand status page messages (confirmations, updates) to the worker."""
    return all(enqueue(STATUS_SEND, pk, countdown=countdown) for pk in message_ids)
