from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.http import require_GET

from common import clock
from escalation.models import Heartbeat


@require_GET
def healthz(request):
    """Liveness of the database and of the beat → worker chain, as JSON.

    503 when the database is unreachable or no heartbeat was recorded for
    three beat intervals plus 30 s (beat or worker stopped).
    """
    now = clock.now()
    body: dict = {"time": now.isoformat()}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        beat = Heartbeat.objects.filter(name="beat").first()
    except DatabaseError as exc:
        return JsonResponse({**body, "ok": False, "database": f"error: {exc}"}, status=503)
    body["database"] = "ok"
    limit = timedelta(seconds=3 * settings.HEARTBEAT_SECONDS + 30)
    if beat is None:
        body.update(ok=False, heartbeat=None, problem="no heartbeat recorded yet")
        return JsonResponse(body, status=503)
    age = (now - beat.last_seen).total_seconds()
    body["heartbeat"] = {"last_seen": beat.last_seen.isoformat(), "age_seconds": round(age, 1)}
    body["ok"] = age <= limit.total_seconds()
    if not body["ok"]:
        body["problem"] = "beat or worker stopped: heartbeat is stale"
    return JsonResponse(body, status=200 if body["ok"] else 503)


def not_found(request, exception=None):
    """JSON 404 under /api/ (clients parse it), the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)
