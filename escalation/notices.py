"""Notices reach people: one Delivery per recipient and channel.

`write_deliveries` is shared by the escalation sweep and the roster sweep. A failed
verification is told at once rather than by a sweep: `notify_verification_failed`
(called through `escalation.deadlines`, the incident services' one way in).
"""

from datetime import datetime

from django.db import transaction

from escalation import jobs, unread
from escalation.models import ROSTER_CLOCKS, Clock, Delivery, Notice, TeamChannel
from incidents.models import Incident, UserProfile


def notify_verification_failed(
    incident: Incident, verification, facts: dict, now: datetime
) -> Notice | None:
    """Tell the owner and the helpers that a verification failed and why (`facts`:
    the failed checks with their evidence, the notes), in their inbox and through
    their channels. One notice per attempt (its cycle is the verification's id);
    the verifier is not told about their own verdict. Deliveries go out on commit."""
    people = [incident.owner, *incident.helpers.order_by("username")]
    names = list(
        {
            u.username: u
            for u in people
            if u is not None and u.is_active and u.pk != verification.verifier_id
        }
    )
    if not names:
        return None
    verifier = verification.verifier.username if verification.verifier_id else None
    notice, created = Notice.objects.get_or_create(
        incident=incident,
        clock=Clock.VERIFY,
        cycle=verification.pk,
        level=1,
        defaults={
            "deadline": now,
            "due_at": now,
            "created_at": now,
            "recipients": names,
            "details": {"verifier": verifier, **facts},
        },
    )
    if created:
        pending = write_deliveries([notice], now)
        if pending:
            transaction.on_commit(lambda: jobs.deliver(pending))
    return notice


def notify_storm(
    incident: Incident, *, level: int, threshold: int, alerts: int, now: datetime
) -> Notice | None:
    """An alert storm: the incident's alerts reached `threshold` (the `level`-th of its
    integration's thresholds). The team's tech leads hear of it once per threshold,
    however many alerts cross it (the notice is unique on its level)."""
    names = sorted({u.username for u in incident.team.tech_leads.all() if u.is_active})
    if not names:
        return None
    notice, created = Notice.objects.get_or_create(
        incident=incident,
        clock=Clock.STORM,
        cycle=0,
        level=level,
        defaults={
            "deadline": now,
            "due_at": now,
            "created_at": now,
            "recipients": names,
            "details": {"threshold": threshold, "alerts": alerts},
        },
    )
    if created:
        pending = write_deliveries([notice], now)
        if pending:
            transaction.on_commit(lambda: jobs.deliver(pending))
    return notice


def write_deliveries(notices: list[Notice], now: datetime) -> list[int]:
    """One Delivery per recipient and chosen channel, plus the team channels; returns
    the ids still to send (the in-app one is delivered by being written)."""
    from django.contrib.auth import get_user_model

    names = {name for n in notices for name in n.recipients}
    users = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
    profiles = {p.user_id: p for p in UserProfile.objects.filter(user__in=users.values())}
    channels: dict[int, list[TeamChannel]] = {}
    team_ids = {team_id_of(n) for n in notices}
    for channel in TeamChannel.objects.filter(team_id__in=team_ids, active=True):
        channels.setdefault(channel.team_id, []).append(channel)
    rows = []
    for notice in notices:
        for name in notice.recipients:
            user = users.get(name)
            if user is None:
                continue
            profile = profiles.get(user.pk) or UserProfile(user=user)
            if profile.inapp_notices:
                rows.append(
                    Delivery(
                        notice=notice,
                        channel="inapp",
                        user=user,
                        status=Delivery.Status.SENT,
                        attempts=1,
                        sent_at=now,
                    )
                )
            if profile.email_notices and user.email:
                rows.append(
                    Delivery(
                        notice=notice,
                        channel="email",
                        user=user,
                        address=user.email,
                        next_attempt_at=now,
                    )
                )
        # An overdue improvement action is its owner's business, not the team room's;
        # a handover or a coverage gap is the roster's people's; a failed
        # verification the owner's and the helpers'.
        personal = notice.clock in (Clock.ACTION, Clock.VERIFY) or notice.clock in ROSTER_CLOCKS
        team_channels = [] if personal else channels.get(team_id_of(notice), [])
        for channel in team_channels:
            rows.append(
                Delivery(
                    notice=notice,
                    channel=channel.kind,
                    team_channel=channel,
                    address=channel.url,
                    next_attempt_at=now,
                )
            )
    with transaction.atomic(savepoint=False):  # the rows and the unread counters together
        created = Delivery.objects.bulk_create(rows, batch_size=1000)
        unread.added(created)
    return [d.pk for d in created if d.status == Delivery.Status.PENDING]


def team_id_of(notice: Notice) -> int:
    return notice.team_id if notice.incident_id is None else notice.incident.team_id
