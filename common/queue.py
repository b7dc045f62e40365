"""Hand a task to the broker without letting a broker outage fail the caller.

Everything Responder enqueues is also in the database: a due deadline is found
again by the next beat sweep, a pending delivery is re-queued by the sweep once
it has stalled for DELIVERY_STALL_SECONDS. So when Redis is down, a publish that
fails is logged and dropped, and the web request, API call or task that asked
for it carries on. The settings (CELERY_TASK_PUBLISH_RETRY_POLICY, the socket
timeouts in CELERY_BROKER_TRANSPORT_OPTIONS) make that failure quick.
"""

import logging

from celery import Task, current_app
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue(task: Task | str, *args, countdown: float | None = None) -> bool:
    """Publish `task(*args)`; False (and a warning) when the broker cannot take it.

    `task` is a task or the name it is registered under (escalation.jobs hands
    work on by name, so the engine need not import the tasks that call it).
    """
    if isinstance(task, str):
        task = current_app.tasks[task]
    try:
        task.apply_async(args, countdown=countdown)
    except OperationalError as exc:
        logger.warning(
            "broker unavailable, %s%r not queued (the sweep picks the work up again): %s",
            task.name,
            args,
            exc,
        )
        return False
    return True
