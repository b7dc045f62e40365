"""The one seam between the engine and the worker: the queued jobs, by name.

The engine and the incident services hand work to the worker through these
functions; escalation.tasks registers the tasks under the same names. Neither
side imports the other, so the engine knows no task and the tasks call the
engine, as every task calls a service.
"""

from collections.abc import Iterable

from common.queue import enqueue

RECORD_HEARTBEAT = "escalation.tasks.record_heartbeat"
SWEEP = "escalation.tasks.sweep"
DELIVER = "escalation.tasks.deliver"


def sweep_soon() -> bool:
    """Ask the worker for a sweep now; with the broker down the next beat sweep does it."""
    return enqueue(SWEEP)


def deliver(delivery_ids: Iterable[int], *, countdown: float | None = None) -> bool:
    """Hand deliveries to the worker; False at the first one the broker refused.

    It stops there: with the broker down the rest would fail too, and the
    sweep's stalled-delivery re-queue hands them on later.
    """
    return all(enqueue(DELIVER, pk, countdown=countdown) for pk in delivery_ids)
