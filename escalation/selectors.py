"""Reads of the escalation engine's records."""

from django.db.models import QuerySet

from escalation.models import Delivery, UnreadCounter


def inbox(*, user) -> QuerySet[Delivery]:
    """The user's in-app notices, newest first, with their incident."""
    return (
        Delivery.objects.filter(user=user, channel="inapp")
        .select_related("notice__incident", "notice__team")
        .order_by("-notice__created_at", "-id")
    )


def unread_count(*, user) -> int:
    """The user's unread in-app notices: their counter (escalation.unread), loaded
    with the request's user (config.auth), else read by its key."""
    try:
        return user.unread_counter.count
    except UnreadCounter.DoesNotExist:
        return 0
