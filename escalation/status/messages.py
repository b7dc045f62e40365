"""Telling the subscribers: one message per subscriber and public update, sent by
the worker with retries like the notices' deliveries.

- `fan_out(update_id)`: one StatusMessage for each confirmed subscriber whose
  components meet the publication's (or who chose none: every component); the
  update's `fanned_out_at` marks it done, so running it twice writes nothing
  twice (and the unique key would refuse a second message anyway).
- `send(message_id)`: one attempt at one message, recorded on its row: sent; or
  failed, to be retried with backoff up to `max_attempts`; or, for a chat robot
  with no message left this minute, held to the next minute without counting an
  attempt (escalation.channels.take_slot, shared with the notices' robots).
- `sweep(now)`: updates never handed out and messages whose task was lost.

What they say is the public's words only: the publication's public title, the
update's status, impact and message, the components' names, and links to the
page. Mail goes out in the subscriber's language, times in settings.TIME_ZONE
with their offset. Every mail has a one-click unsubscribe link and the RFC 8058
headers; a `resolved` mail also carries the reader's personal feedback link.
Generic webhooks get JSON, signed when a secret is set:
`X-Responder-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
with `X-Responder-Timestamp: <unix seconds>`.
"""

import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from common import clock
from escalation import jobs
from escalation.channels import (
    CHANNELS,
    TIMEOUT_SECONDS,
    DeliveryError,
    next_minute,
    robot_limit,
    take_slot,
)
from escalation.status.feedback import feedback_request_for
from escalation.status.models import (
    Impact,
    PublicStatus,
    PublicUpdate,
    StatusMessage,
    Subscriber,
)
from escalation.status.subscriptions import absolute, confirm_url, unsubscribe_url

SWEEP_LIMIT = 500
ROBOTS = (Subscriber.Kind.WECOM, Subscriber.Kind.DINGTALK, Subscriber.Kind.FEISHU)


# ---------------------------------------------------------------- fan-out


def subscribers_of(update: PublicUpdate):
    """The confirmed subscribers an update reaches: those following one of its
    publication's components, and those following none (everything)."""
    follows = Subscriber.components.through.objects.filter(subscriber_id=OuterRef("pk"))
    components = update.publication.components.through.objects.filter(
        publication_id=update.publication_id
    ).values("component_id")
    return Subscriber.objects.filter(confirmed_at__isnull=False).filter(
        Q(Exists(follows.filter(component_id__in=components))) | ~Q(Exists(follows))
    )


@transaction.atomic
def fan_out(update_id: int, *, now: datetime | None = None) -> list[int]:
    """Write the update's messages and hand them to the worker on commit; returns
    their ids (none when it was done before, or the update is gone)."""
    update = (
        PublicUpdate.objects.select_for_update(of=("self",))
        .select_related("publication")
        .filter(pk=update_id)
        .first()
    )
    if update is None or update.fanned_out_at is not None:
        return []
    now = now or clock.now()
    recipients = subscribers_of(update).values_list("pk", flat=True)
    StatusMessage.objects.bulk_create(
        [
            StatusMessage(
                subscriber_id=pk,
                kind=StatusMessage.Kind.UPDATE,
                update=update,
                created_at=now,
                next_attempt_at=now,
            )
            for pk in recipients
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    update.fanned_out_at = now
    update.save(update_fields=["fanned_out_at"])
    ids = list(
        StatusMessage.objects.filter(update=update, status=StatusMessage.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ids:
        transaction.on_commit(lambda: jobs.send_status_messages(ids))
    return ids


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; `retry_in`: seconds until the next (None: no next)."""

    status: str  # sent | retry | held | failed | skipped
    retry_in: float | None = None


def send(message_id: int, *, max_attempts: int) -> Outcome:
    """Make one attempt at one message (idempotent: a message sent or given up on
    is left alone). A failure is recorded (`last_error`) and retried after 5 s,
    10 s, 20 s … at most 10 min, and marked failed at the `max_attempts`th."""
    now = clock.now()
    room = _robot_room(message_id, now)
    with transaction.atomic():
        message = (
            StatusMessage.objects.select_for_update(of=("self",))
            .select_related("subscriber", "update__publication")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.status != StatusMessage.Status.PENDING:
            return Outcome("skipped")
        if room is False:
            wait = next_minute(now)
            message.next_attempt_at = wait
            message.save(update_fields=["next_attempt_at"])
            return Outcome("held", retry_in=(wait - now).total_seconds())
        message.attempts += 1
        try:
            deliver(message)
        except Exception as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            final = message.attempts >= max_attempts
            delay = min(600, 5 * 2 ** (message.attempts - 1))
            message.status = StatusMessage.Status.FAILED if final else StatusMessage.Status.PENDING
            message.next_attempt_at = None if final else clock.now() + timedelta(seconds=delay)
            message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            return Outcome("failed") if final else Outcome("retry", retry_in=delay)
        message.status = StatusMessage.Status.SENT
        message.sent_at = clock.now()
        message.last_error = ""
        message.next_attempt_at = None
        message.save(
            update_fields=["attempts", "status", "sent_at", "last_error", "next_attempt_at"]
        )
        return Outcome("sent")


def _robot_room(message_id: int, now: datetime) -> bool | None:
    """Take one of the robot's messages of this minute (None: not a limited robot),
    in its own statement before the message is locked, as the notices do."""
    subscriber = (
        Subscriber.objects.filter(
            messages__pk=message_id, messages__status=StatusMessage.Status.PENDING
        )
        .only("kind", "address")
        .first()
    )
    limit = robot_limit(subscriber.kind) if subscriber is not None else None
    if limit is None:
        return None
    return take_slot(address=subscriber.address, limit=limit, now=now)


def deliver(message: StatusMessage) -> None:
    """Send `message` its subscriber's way; raises on any failure."""
    subscriber = message.subscriber
    with translation.override(subscriber.language):
        if subscriber.kind == Subscriber.Kind.EMAIL:
            email(message).send(fail_silently=False)
            return
        if subscriber.kind == Subscriber.Kind.WEBHOOK:
            post_webhook(subscriber.address, subscriber.secret, webhook_payload(message))
            return
        subject, body = text(message, robot=True)
        CHANNELS[subscriber.kind].send(
            address=subscriber.address,
            secret=subscriber.secret,
            subject=subject,
            body=body,
            payload={},
        )


def _local(value: datetime | None) -> str:
    """A time as the public page shows it: the site's zone, with its offset."""
    if value is None:
        return ""
    local = value.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def context(message: StatusMessage, *, robot: bool) -> dict:
    """What a message's templates may show: public words and links, nothing else."""
    subscriber = message.subscriber
    data = {
        "status_url": absolute(reverse("status")),
        "subscribe_url": absolute(reverse("status-subscribe")),
        "robot": robot,
        "confirm_hours": int(settings.STATUS_CONFIRM_HOURS),
    }
    if subscriber.kind == Subscriber.Kind.EMAIL:
        data["unsubscribe_url"] = unsubscribe_url(subscriber)
    if message.kind == StatusMessage.Kind.CONFIRM:
        data["confirm_url"] = confirm_url(subscriber)
        return data
    update = message.update
    publication = update.publication
    data.update(
        title=publication.public_title,
        status=update.status,
        status_label=PublicStatus(update.status).label,
        impact_label=Impact(update.impact).label,
        resolved=update.status == PublicStatus.RESOLVED,
        message=update.message,
        posted_at=_local(update.posted_at),
        components=[c.name for c in publication.components.all()],
    )
    if data["resolved"] and subscriber.kind == Subscriber.Kind.EMAIL:
        request = feedback_request_for(incident=publication.incident, subscriber=subscriber)
        data["feedback_url"] = absolute(reverse("status-feedback", args=[request.token]))
    return data


def text(message: StatusMessage, *, robot: bool = False) -> tuple[str, str]:
    """(subject, body) of a message in the active language."""
    name = "confirm" if message.kind == StatusMessage.Kind.CONFIRM else "update"
    data = context(message, robot=robot)
    subject = render_to_string(f"status/mail/{name}_subject.txt", data)
    body = render_to_string(f"status/mail/{name}_body.txt", data)
    return " ".join(subject.split()), body.strip() + "\n"


def email(message: StatusMessage) -> EmailMessage:
    """The mail of a message to an email subscriber, with the RFC 8058 headers."""
    subject, body = text(message)
    return EmailMessage(
        subject=subject,
        body=body,
        to=[message.subscriber.address],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url(message.subscriber)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def webhook_payload(message: StatusMessage) -> dict:
    """The generic webhook's JSON: the update in public words, and the text."""
    subject, body = text(message, robot=True)
    data = {"event": f"status.{message.kind}", "subject": subject, "text": body}
    if message.kind == StatusMessage.Kind.UPDATE:
        update, publication = message.update, message.update.publication
        data["publication"] = {
            "id": publication.pk,
            "title": publication.public_title,
            "status": publication.status,
            "impact": publication.impact,
            "components": [{"slug": c.slug, "name": c.name} for c in publication.components.all()],
            "published_at": publication.published_at.isoformat(),
            "resolved_at": publication.resolved_at.isoformat() if publication.resolved_at else None,
        }
        data["update"] = {
            "status": update.status,
            "impact": update.impact,
            "message": update.message,
            "posted_at": update.posted_at.isoformat(),
        }
        data["url"] = absolute(reverse("status"))
    return data


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def post_webhook(url: str, secret: str, payload: dict) -> None:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"not an http(s) URL: {url[:80]}")
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if secret:
        timestamp = str(int(time.time()))
        headers["X-Responder-Timestamp"] = timestamp
        headers["X-Responder-Signature"] = webhook_signature(secret, timestamp, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    # The scheme is checked above: no file:// or custom handlers. Non-2xx raises.
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # nosec B310
        response.read(65536)


# ---------------------------------------------------------------- sweep


@dataclass
class SweepResult:
    updates: list[int]
    messages: list[int]


def sweep(*, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> SweepResult:
    """Hand the worker again what it lost: public updates not fanned out
    DELIVERY_STALL_SECONDS after they were posted, and pending messages whose
    attempt is that overdue (each then marked as handed on now, so the next
    sweep waits as long again)."""
    now = now or clock.now()
    stalled_since = now - timedelta(seconds=settings.DELIVERY_STALL_SECONDS)
    with transaction.atomic():
        updates = list(
            PublicUpdate.objects.filter(fanned_out_at__isnull=True, posted_at__lte=stalled_since)
            .order_by("posted_at")
            .values_list("pk", flat=True)[:limit]
        )
        messages = list(
            StatusMessage.objects.filter(
                status=StatusMessage.Status.PENDING, next_attempt_at__lte=stalled_since
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        StatusMessage.objects.filter(pk__in=messages).update(next_attempt_at=now)

        def hand_on():
            for pk in updates:
                jobs.fan_out_update(pk)
            jobs.send_status_messages(messages)

        if updates or messages:
            transaction.on_commit(hand_on)
    return SweepResult(updates=updates, messages=messages)
