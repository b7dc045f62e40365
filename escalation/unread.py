"""Each user's count of unread in-app notices, kept as a number (UnreadCounter).

Every page's header shows it; counting the user's Delivery rows on each request
cost a query that grew with the inbox. The counter moves in the transaction of
each write that changes it:

- written: notices.write_deliveries and the incident dump's import (`added`);
- read: `mark_read` (the inbox's buttons), `read` for other writers of `read_at`;
- deleted: a post_delete receiver (cascades from a notice, an incident or a team
  reach no service).

Moves are conditional UPDATEs with F(), so concurrent workers add up, and a
counter never goes below zero: a decrement larger than the counter (a counter
that drifted, e.g. rows written behind these functions' back) recounts that
user's rows instead. `rebuild` recounts everyone (the migration that added the
counter, and `manage.py rebuild_unread_counters`).
"""

from collections import Counter
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Case, Count, F, Value, When
from django.db.models.signals import post_delete
from django.dispatch import receiver

from escalation.models import Delivery, UnreadCounter

INAPP = "inapp"


def is_unread(delivery: Delivery) -> bool:
    return delivery.channel == INAPP and delivery.user_id is not None and delivery.read_at is None


def added(deliveries: Iterable[Delivery]) -> None:
    """Count the unread in-app ones among deliveries just written (same transaction)."""
    per_user = Counter(d.user_id for d in deliveries if is_unread(d))
    if not per_user:
        return
    users = sorted(per_user)  # one order for every writer: row locks taken without deadlock
    UnreadCounter.objects.bulk_create(
        [UnreadCounter(user_id=user_id) for user_id in users], ignore_conflicts=True
    )
    amounts = set(per_user.values())
    more = (
        Value(amounts.pop())
        if len(amounts) == 1
        else Case(*(When(user_id=u, then=Value(per_user[u])) for u in users), default=Value(0))
    )
    UnreadCounter.objects.filter(user_id__in=users).update(count=F("count") + more)


def read(user_id: int, amount: int) -> None:
    """`amount` of the user's unread in-app deliveries were just marked read."""
    if amount > 0 and not _take(user_id, amount):
        recount(user_id)


def _take(user_id: int, amount: int) -> bool:
    return bool(
        UnreadCounter.objects.filter(user_id=user_id, count__gte=amount).update(
            count=F("count") - amount
        )
    )


@transaction.atomic
def mark_read(*, user, now, delivery_id: int | None = None) -> int:
    """Mark one of the user's in-app notices read (`delivery_id`), else all of them;
    returns how many were unread. Only rows this call changed move the counter: two
    clicks at once mark (and count) each row once."""
    unread = Delivery.objects.filter(user=user, channel=INAPP, read_at__isnull=True)
    if delivery_id is not None:
        unread = unread.filter(pk=delivery_id)
    changed = unread.update(read_at=now)
    read(user.pk, changed)
    return changed


def recount(user_id: int) -> int:
    """The user's counter set from their rows (a counter found drifting)."""
    count = Delivery.objects.filter(user_id=user_id, channel=INAPP, read_at__isnull=True).count()
    UnreadCounter.objects.update_or_create(user_id=user_id, defaults={"count": count})
    return count


@transaction.atomic
def rebuild() -> int:
    """Every counter recounted from the deliveries; returns the users with unread notices.

    For the migration that adds the counters and for repairs: deliveries written
    by a worker while this runs may be counted twice or not at all, so run it
    with the workers stopped (or run it again after)."""
    counts = (
        Delivery.objects.filter(channel=INAPP, read_at__isnull=True, user__isnull=False)
        .values_list("user_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    UnreadCounter.objects.all().delete()
    rows = UnreadCounter.objects.bulk_create(
        [UnreadCounter(user_id=user_id, count=n) for user_id, n in counts], batch_size=1000
    )
    return len(rows)


@receiver(post_delete, sender=Delivery, dispatch_uid="escalation.unread.deleted")
def _deleted(sender, instance: Delivery, **kwargs) -> None:
    """An unread in-app delivery deleted (by hand in the admin, or with its notice,
    incident, team or user): one fewer unread. Bookkeeping of this derived number
    only; never a recount, which would write a counter for a user being deleted."""
    if is_unread(instance):
        _take(instance.user_id, 1)
