"""Periodic and queued jobs of the escalation engine.

Tasks take ids, re-read state and are safe to run twice.
"""

from datetime import timedelta

from celery import shared_task
from django.db import transaction

from common import clock
from escalation import jobs
from escalation.channels import CHANNELS
from escalation.engine import sweep_due_deadlines, touch_heartbeat
from escalation.messages import payload, recipient_language, render
from escalation.models import Delivery
from escalation.roster import sweep as roster_sweep

MAX_ATTEMPTS = 6


@shared_task(name=jobs.RECORD_HEARTBEAT, ignore_result=True)
def record_heartbeat(name: str = "beat") -> None:
    """Beat → broker → worker → database is alive (read by /healthz)."""
    touch_heartbeat(name, clock.now())


@shared_task(name=jobs.SWEEP, ignore_result=True)
def sweep() -> int:
    """Turn due deadlines into notices (idempotent: notices are unique per level),
    then wake again for the next deadline if it falls before beat's next sweep."""
    result = sweep_due_deadlines()
    jobs.sweep_at(result.next_due)
    return len(result.notices)


@shared_task(name=jobs.SWEEP_ROSTERS, ignore_result=True)
def sweep_rosters() -> int:
    """Handover and coverage-gap notices of the duty rosters (each exactly once)."""
    result = roster_sweep.sweep_rosters()
    touch_heartbeat("rosters", clock.now())
    return len(result.handovers) + len(result.gaps)


@shared_task(
    name=jobs.DELIVER,
    bind=True,
    ignore_result=True,
    acks_late=True,
    max_retries=MAX_ATTEMPTS - 1,
)
def deliver(self, delivery_id: int) -> None:
    """Send one delivery; retried with exponential backoff, then marked failed."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notice__incident", "user__profile", "team_channel")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != Delivery.Status.PENDING:
            return  # already sent or given up: running twice changes nothing
        delivery.attempts += 1
        try:
            language, zone = recipient_language(delivery.user)
            subject, body = render(delivery.notice, language=language, zone=zone)
            channel = CHANNELS.get(delivery.channel)
            if channel is None:
                raise ValueError(f"unknown channel {delivery.channel}")
            channel.send(
                address=delivery.address,
                secret=delivery.team_channel.secret if delivery.team_channel_id else "",
                subject=subject,
                body=body,
                payload=payload(delivery.notice),
            )
        except Exception as exc:
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            final = delivery.attempts >= MAX_ATTEMPTS
            delivery.status = Delivery.Status.FAILED if final else Delivery.Status.PENDING
            delivery.save(update_fields=["attempts", "last_error", "status"])
            delay = min(600, 5 * 2 ** (delivery.attempts - 1))  # 5 s, 10 s, 20 s ... 10 min
            delivery.next_attempt_at = None if final else clock.now() + timedelta(seconds=delay)
            delivery.save(update_fields=["next_attempt_at"])
            if not final:
                transaction.on_commit(lambda: jobs.deliver([delivery_id], countdown=delay))
            return
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = clock.now()
        delivery.last_error = ""
        delivery.next_attempt_at = None
        delivery.save(
            update_fields=["attempts", "status", "sent_at", "last_error", "next_attempt_at"]
        )
