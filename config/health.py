"""/healthz: the database, the beat → worker chain and the escalation sweep.

Here, not in common/, because it reads escalation's models: config is wiring and
may import every app; common imports none.
"""

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Min
from django.http import JsonResponse
from django.utils import translation
from django.views.decorators.http import require_GET

from common import clock
from escalation.calendars import holiday_data_warnings
from escalation.models import Deadline, Delivery, Heartbeat


def _age(now, then) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 1)


@require_GET
def healthz(request):
    """Liveness of the database, the beat → worker chain and the escalation sweep.

    503 when the database is unreachable, when beat's heartbeat or the last
    sweep is older than three intervals plus 30 s (beat or worker stopped), or
    when a due deadline has waited that long without its notice.

    `warnings` lists what needs an administrator soon but leaves the status code
    alone: a business calendar without holiday data for this year (or, from
    1 November, for the next).
    """
    now = clock.now()
    body: dict = {"time": now.isoformat(), "warnings": []}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        beats = {h.name: h for h in Heartbeat.objects.filter(name__in=["beat", "sweep"])}
        oldest_due = Deadline.objects.filter(next_at__lte=now).aggregate(m=Min("next_at"))["m"]
        failed = Delivery.objects.filter(status=Delivery.Status.FAILED).count()
        # In English whatever the prober's language: monitoring matches on the text.
        with translation.override("en"):
            warnings = holiday_data_warnings()
    except DatabaseError as exc:
        return JsonResponse({**body, "ok": False, "database": f"error: {exc}"}, status=503)
    body["database"] = "ok"
    body["warnings"] = warnings
    problems = []
    heartbeat_limit = 3 * settings.HEARTBEAT_SECONDS + 30
    sweep_limit = 3 * settings.ESCALATION_SWEEP_SECONDS + 30
    beat, sweep = beats.get("beat"), beats.get("sweep")
    body["heartbeat"] = (
        {"last_seen": beat.last_seen.isoformat(), "age_seconds": _age(now, beat.last_seen)}
        if beat
        else None
    )
    body["sweep"] = (
        {"last_run": sweep.last_seen.isoformat(), "age_seconds": _age(now, sweep.last_seen)}
        if sweep
        else None
    )
    body["oldest_due_unnotified_seconds"] = _age(now, oldest_due)
    body["failed_deliveries"] = failed
    if beat is None:
        problems.append("no heartbeat recorded yet")
    elif body["heartbeat"]["age_seconds"] > heartbeat_limit:
        problems.append("beat or worker stopped: heartbeat is stale")
    if sweep is None:
        problems.append("no escalation sweep has run yet")
    elif body["sweep"]["age_seconds"] > sweep_limit:
        problems.append("escalation sweep is stale")
    if oldest_due is not None and body["oldest_due_unnotified_seconds"] > sweep_limit:
        problems.append("a due deadline is waiting for its notice")
    body["ok"] = not problems
    if problems:
        body["problem"] = "; ".join(problems)
    return JsonResponse(body, status=200 if body["ok"] else 503)
