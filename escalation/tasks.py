"""Periodic jobs run by Celery beat.

Until the escalation sweep lands, beat records a heartbeat through the worker,
which proves the whole chain (beat → broker → worker → database) is alive.
"""

from celery import shared_task
from django.db.models import F

from common import clock
from escalation.models import Heartbeat


@shared_task(name="escalation.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat(name: str = "beat") -> None:
    """Idempotent: the last-seen time only moves forward."""
    now = clock.now()
    updated = Heartbeat.objects.filter(name=name).update(last_seen=now, count=F("count") + 1)
    if not updated:
        Heartbeat.objects.get_or_create(name=name, defaults={"last_seen": now, "count": 1})
