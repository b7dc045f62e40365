"""Reads of the escalation engine's records."""

from django.db.models import QuerySet

from escalation.models import Delivery


def inbox(*, user) -> QuerySet[Delivery]:
    """The user's in-app notices, newest first, with their incident."""
    return (
        Delivery.objects.filter(user=user, channel="inapp")
        .select_related("notice__incident", "notice__team")
        .order_by("-notice__created_at", "-id")
    )


def unread_count(*, user) -> int:
    return Delivery.objects.filter(user=user, channel="inapp", read_at__isnull=True).count()
