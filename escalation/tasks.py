"""Periodic and queued jobs of the escalation engine.

Tasks take ids, re-read state and are safe to run twice.
"""

from datetime import timedelta

from celery import current_app, shared_task
from django.db import transaction

from common import clock
from escalation import jobs, maintenance
from escalation.channels import CHANNELS, DIGEST_BYTES, next_minute, robot_limit, take_slot
from escalation.engine import sweep_due_deadlines, touch_heartbeat
from escalation.messages import payload, recipient_language, render, render_digest
from escalation.models import Delivery
from escalation.roster import sweep as roster_sweep
from escalation.status import messages as status_messages
from incidents import alerts
from incidents.maintenance import lifecycle

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


@shared_task(name=jobs.SWEEP_MAINTENANCE, ignore_result=True)
def sweep_maintenance() -> dict:
    """Maintenance windows and noisy alerts: each occurrence's reminder (3 hours
    before), start and end; at its end the alerts it held are processed and its
    marked incidents released; flapping alerts stable long enough settle."""
    now = clock.now()
    result = lifecycle.sweep_windows(now)
    result["reminded"] = maintenance.remind_windows(now)
    result["settled"] = alerts.alerts_settle(now=now)
    touch_heartbeat("maintenance", now)
    return result


@shared_task(
    name=jobs.DELIVER,
    bind=True,
    ignore_result=True,
    acks_late=True,
    max_retries=MAX_ATTEMPTS - 1,
)
def deliver(self, delivery_id: int) -> None:
    """Send one delivery; retried with exponential backoff, then marked failed.

    A chat robot (WeCom, DingTalk, Feishu) takes only so many messages a minute:
    each message first takes one of the robot's slots of this minute. With none
    left the delivery is held, neither sent nor failed, for the robot's next
    digest; a digest without a slot goes back to waiting, whole. A digest (a
    delivery whose `digest` is itself, formed by the sweep) sends every held
    delivery it carries in one message, and they are sent (or finally failed)
    with it.
    """
    now = clock.now()
    room = _robot_room(delivery_id, now)
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notice__incident", "user__profile", "team_channel")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != Delivery.Status.PENDING:
            return  # already sent or given up: running twice changes nothing
        is_digest = delivery.digest_id == delivery.pk
        if room is False:
            _hold(delivery, now, is_digest=is_digest)
            return
        delivery.attempts += 1
        try:
            language, zone = recipient_language(delivery.user)
            if is_digest:
                subject, body = _digest_text(delivery, language=language, zone=zone)
            else:
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
            if final and is_digest:
                # What the digest carried fails with it: shown as failed, never lost.
                delivery.digested.exclude(pk=delivery.pk).update(
                    status=Delivery.Status.FAILED,
                    last_error=delivery.last_error,
                    next_attempt_at=None,
                )
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
        if is_digest:
            delivery.digested.exclude(pk=delivery.pk).update(
                status=Delivery.Status.SENT,
                sent_at=delivery.sent_at,
                last_error="",
                next_attempt_at=None,
            )


def _robot_room(delivery_id: int, now) -> bool | None:
    """Take one of the robot's messages of this minute for the delivery: None when
    it is no limited robot's (or is not waiting to be sent). Taken before the
    delivery is locked, in its own statement, so a slow robot never holds the
    count's row locked while it answers; a slot taken for a delivery another worker
    sent meanwhile is lost, which errs on the side of the limit."""
    delivery = (
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING)
        .only("channel", "address", "digest_id")
        .first()
    )
    limit = robot_limit(delivery.channel) if delivery is not None else None
    if limit is None:
        return None
    is_digest = delivery.digest_id == delivery.pk
    # While held deliveries wait for this robot, keep a slot back for their digest.
    waiting = (
        not is_digest
        and Delivery.objects.filter(
            status=Delivery.Status.HELD, channel=delivery.channel, address=delivery.address
        ).exists()
    )
    return take_slot(address=delivery.address, limit=limit, now=now, spare=1 if waiting else 0)


def _hold(delivery: Delivery, now, *, is_digest: bool) -> None:
    """No slot left this minute: the delivery waits for the robot's next digest (a
    digest waits whole, to be formed again with whatever joined it)."""
    wait = next_minute(now)
    if is_digest:
        delivery.digested.update(digest=None, status=Delivery.Status.HELD, next_attempt_at=wait)
        return
    delivery.status = Delivery.Status.HELD
    delivery.next_attempt_at = wait
    delivery.save(update_fields=["status", "next_attempt_at"])


def _digest_text(delivery: Delivery, *, language: str, zone: str) -> tuple[str, str]:
    """(subject, body) of the digest `delivery` carries: one line per held notice,
    cut to what one message of the robot takes."""
    carried = (
        Delivery.objects.filter(digest_id=delivery.pk)
        .select_related("notice__incident", "notice__team")
        .order_by("pk")
    )
    notices = list({d.notice_id: d.notice for d in carried}.values())
    return render_digest(
        notices,
        per_minute=robot_limit(delivery.channel) or 0,
        max_bytes=DIGEST_BYTES.get(delivery.channel, 2048),
        language=language,
        zone=zone,
    )


# ---------------------------------------------------------------- status page


@shared_task(name=jobs.STATUS_FAN_OUT, ignore_result=True, acks_late=True)
def status_fan_out(update_id: int) -> int:
    """Write one message per subscriber of a public update (once) and send them."""
    return len(status_messages.fan_out(update_id))


@shared_task(name=jobs.STATUS_SEND, ignore_result=True, acks_late=True)
def status_send(message_id: int) -> str:
    """Send one status page message; retried with exponential backoff like
    `deliver`, then marked failed with its error. A robot with no message left
    this minute gets it next minute, without an attempt counted."""
    outcome = status_messages.send(message_id, max_attempts=MAX_ATTEMPTS)
    held_eagerly = outcome.status == "held" and current_app.conf.task_always_eager
    # An eager task (the tests) cannot wait for its countdown: a held message would
    # be tried again at once, in the same minute, for ever. The sweep takes it then.
    if outcome.retry_in is not None and not held_eagerly:
        delay = outcome.retry_in
        transaction.on_commit(lambda: jobs.send_status_messages([message_id], countdown=delay))
    return outcome.status


@shared_task(name=jobs.SWEEP_STATUS, ignore_result=True)
def sweep_status() -> dict:
    """Public updates never handed out and stalled messages go to the worker again."""
    result = status_messages.sweep()
    return {"updates": len(result.updates), "messages": len(result.messages)}
