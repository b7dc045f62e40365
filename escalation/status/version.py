"""The version of what the public status page shows: every write that changes it
bumps it in the writer's transaction, and every cached copy is keyed by it, so a
change is public in every process the moment it commits (escalation.status.views)."""

from django.db.models import F

from common import clock
from escalation.status.models import StatusPage


def bump_version() -> None:
    """Make every cached copy of the public page stale (in the caller's transaction)."""
    now = clock.now()
    updated = StatusPage.objects.filter(pk=1).update(version=F("version") + 1, changed_at=now)
    if not updated:
        StatusPage.objects.bulk_create(
            [StatusPage(pk=1, version=0, changed_at=now)], ignore_conflicts=True
        )
        StatusPage.objects.filter(pk=1).update(version=F("version") + 1, changed_at=now)
