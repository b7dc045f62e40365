"""Queued and periodic jobs of the incidents app: Alertmanager silences.

Tasks take ids, re-read state and are safe to run twice.
"""

from celery import shared_task

from common import clock
from incidents import silences
from incidents.models import MaintenanceWindow

EXPIRE_ATTEMPTS = 8


@shared_task(name=silences.SYNC_SILENCE, ignore_result=True)
def sync_silence(window_id: int) -> None:
    """Bring one window's silence in line; a failure stays on the window and the
    periodic sync retries it."""
    window = (
        MaintenanceWindow.objects.select_related("team")
        .prefetch_related("services")
        .filter(pk=window_id)
        .first()
    )
    if window is not None:
        silences.silence_sync(window, clock.now())


@shared_task(
    name=silences.EXPIRE_SILENCE,
    bind=True,
    ignore_result=True,
    max_retries=EXPIRE_ATTEMPTS - 1,
)
def expire_silence(self, silence_id: str) -> None:
    """Expire a deleted window's silence; no row is left to retry from, so the
    task retries itself with backoff (5 s, 10 s, 20 s ... 10 min)."""
    try:
        silences.silence_expire(silence_id)
    except silences.AlertmanagerError as exc:
        raise self.retry(exc=exc, countdown=min(600, 5 * 2**self.request.retries)) from exc


@shared_task(name=silences.SYNC_SILENCES, ignore_result=True)
def sync_silences() -> int:
    """Every window that runs, has a silence or shows an error, re-synced."""
    return silences.silences_sync_all(clock.now())
