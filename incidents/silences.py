"""Maintenance windows mirrored as Alertmanager silences (ALERTMANAGER_URL).

While a window runs, Prometheus Alertmanager holds a silence for it (API v2,
`createdBy` "responder", the window's matchers, a comment with its title and
link), so the alerts it covers are muted at the source as well as here. The
window is the truth and the silence follows it: `silence_sync` makes
Alertmanager agree with the window (creates, replaces or expires the silence)
and is idempotent. It runs on commit of every change to a window
(`window_changed`) and, for every window that runs or has a silence or an
error, every ALERTMANAGER_SYNC_SECONDS (`silences_sync_all`, the beat job),
which is what retries a failure and re-creates a silence someone deleted by
hand. A deleted window's silence is expired by a task that retries with
backoff (`window_deleted`); should it never get through, the silence still
ends when the occurrence was planned to end.

An Alertmanager silence needs at least one matcher: a window's services become
`service=~"slug|slug"` (the label the windows themselves match services by);
a window with neither matchers nor services covers every alert of its team,
which Alertmanager cannot express, so it gets no silence and says so in its
`silence_error`.
"""

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from common.queue import enqueue
from incidents.maintenance.schedule import current_occurrence
from incidents.maintenance.selectors import may_run_q
from incidents.models import MaintenanceWindow

# The tasks (incidents.tasks) by the names they are registered under: this
# module hands work on by name, the tasks call this module.
SYNC_SILENCE = "incidents.tasks.sync_silence"
EXPIRE_SILENCE = "incidents.tasks.expire_silence"
SYNC_SILENCES = "incidents.tasks.sync_silences"

CREATED_BY = "responder"
SERVICE_LABEL = "service"
TIMEOUT_SECONDS = 10
# Alertmanager keeps times to the millisecond; a stored end this close to the
# wanted one is the same end.
SAME_END = timedelta(seconds=1)


class AlertmanagerError(Exception):
    """Alertmanager could not be reached or refused the request; the message
    says which, readably (it is shown on the window)."""


class _Missing(Exception):
    """Alertmanager does not know the silence."""


class Alertmanager:
    """The few calls of Alertmanager's v2 API that silences need."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_SECONDS):
        self.url = url.rstrip("/")
        self.timeout = timeout
        # Once it could not be reached, this client fails at once: one sync of
        # many windows waits for one timeout, not one per window.
        self.unreachable: AlertmanagerError | None = None

    def create(self, silence: dict) -> str:
        """POST /api/v2/silences → the silence's id. With an `id`, Alertmanager
        updates that silence, or expires it and answers a new id when the change
        cannot be made in place (e.g. other matchers)."""
        answer = self._request("POST", "/api/v2/silences", silence)
        silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
        if not silence_id or not isinstance(silence_id, str):
            raise AlertmanagerError(_("Alertmanager answered without a silence ID."))
        return silence_id

    def get(self, silence_id: str) -> dict | None:
        """GET /api/v2/silence/{id}; None when Alertmanager does not know it."""
        try:
            answer = self._request("GET", f"/api/v2/silence/{urllib.parse.quote(silence_id)}")
        except _Missing:
            return None
        if not isinstance(answer, dict):
            raise AlertmanagerError(_("Alertmanager's answer was not a silence."))
        return answer

    def expire(self, silence_id: str) -> None:
        """DELETE /api/v2/silence/{id}; a silence Alertmanager does not know is
        as good as expired."""
        with contextlib.suppress(_Missing):
            self._request("DELETE", f"/api/v2/silence/{urllib.parse.quote(silence_id)}")

    def _request(self, method: str, path: str, payload: dict | None = None):
        if self.unreachable is not None:
            raise AlertmanagerError(str(self.unreachable))
        url = self.url + path
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise AlertmanagerError(_("ALERTMANAGER_URL is not an http(s) URL."))
        data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        request = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            # The scheme is checked above: no file:// or custom handlers.
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310
                body = response.read(1 << 20)
        except urllib.error.HTTPError as exc:
            text = exc.read(2000).decode("utf-8", "replace").strip()
            # Unknown silence: 404 (newer Alertmanagers) or 500 "silence not found" (0.25).
            if exc.code == 404 or (exc.code == 500 and "not found" in text.lower()):
                raise _Missing from exc
            raise AlertmanagerError(
                _("Alertmanager answered %(status)s to %(method)s %(path)s: %(text)s")
                % {"status": exc.code, "method": method, "path": path, "text": text[:300]}
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            self.unreachable = AlertmanagerError(
                _("Could not reach Alertmanager at %(url)s: %(reason)s")
                % {"url": self.url, "reason": reason}
            )
            raise self.unreachable from exc
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except ValueError as exc:
            raise AlertmanagerError(
                _("Alertmanager's answer to %(method)s %(path)s was not JSON.")
                % {"method": method, "path": path}
            ) from exc


def client() -> Alertmanager | None:
    """The configured Alertmanager, or None when ALERTMANAGER_URL is empty."""
    url = settings.ALERTMANAGER_URL
    return Alertmanager(url) if url else None


def window_changed(window: MaintenanceWindow) -> None:
    """A window was created, edited or ended: bring its silence in line (on commit)."""
    if not settings.ALERTMANAGER_URL:
        return
    window_id = window.pk
    transaction.on_commit(lambda: enqueue(SYNC_SILENCE, window_id))


def window_deleted(window: MaintenanceWindow) -> None:
    """A window is being deleted: expire its silence (on commit; the row is gone then,
    so the task carries the silence's id). The id is read from the row, which a
    sync may have changed since the caller loaded `window`."""
    if not settings.ALERTMANAGER_URL:
        return
    stored = MaintenanceWindow.objects.filter(pk=window.pk).values_list("silence_id", flat=True)
    silence_id = stored.first() or window.silence_id
    if not silence_id:
        return
    transaction.on_commit(lambda: enqueue(EXPIRE_SILENCE, silence_id))


def silence_wanted(
    window: MaintenanceWindow, occurrence: tuple[datetime, datetime], now: datetime
) -> dict | None:
    """The silence that mirrors `occurrence` of `window` (API v2 body), or None
    when the window has neither matchers nor services."""
    matchers = [
        {
            "name": str(matcher.get("name", "")),
            "value": str(matcher.get("value", "")),
            "isRegex": bool(matcher.get("is_regex")),
            "isEqual": True,
        }
        for matcher in window.matchers or ()
    ]
    # Slugs are [-a-zA-Z0-9_]: nothing in them a regex reads specially.
    slugs = sorted(service.slug for service in window.services.all())
    if slugs:
        matchers.append(
            {
                "name": SERVICE_LABEL,
                "value": "|".join(slugs),
                "isRegex": len(slugs) > 1,
                "isEqual": True,
            }
        )
    if not matchers:
        return None
    start, end = occurrence
    return {
        "matchers": matchers,
        "startsAt": rfc3339(max(now, start)),
        "endsAt": rfc3339(end),
        "createdBy": CREATED_BY,
        "comment": f"{window.title} — {settings.SITE_URL}/maintenance/{window.pk}/",
    }


def silence_sync(
    window: MaintenanceWindow, now: datetime, *, alertmanager: Alertmanager | None = None
) -> None:
    """Make Alertmanager agree with `window` at `now` (idempotent; no-op without
    ALERTMANAGER_URL).

    Running: its silence exists, is active (or pending) and has the wanted
    matchers, end and comment, else a new one is made and its id stored.
    Not running: a stored silence is expired and its id cleared. A failure is
    stored in `silence_error` (with the time) and retried by the next sync;
    success clears it. `silence_checked_at` records every sync. `alertmanager`
    (default: ALERTMANAGER_URL's) lets a sync of many windows share one client.
    """
    alertmanager = alertmanager or client()
    if alertmanager is None:
        return
    stored = window.silence_id
    silence_id, error = stored, ""
    try:
        occurrence = current_occurrence(window, now)
        wanted = silence_wanted(window, occurrence, now) if occurrence else None
        if occurrence and wanted is None:
            error = _(
                "This window covers every alert of its team, and an Alertmanager silence "
                "needs at least one matcher: add a matcher or a service to mirror it there."
            )
        if wanted is None:
            if stored:
                alertmanager.expire(stored)
                silence_id = ""
        else:
            silence_id = _ensure(alertmanager, stored, wanted)
    except AlertmanagerError as exc:
        error = _("%(at)s: %(error)s") % {"at": _local(now), "error": exc}
    _store(window, stored, silence_id, error, now, alertmanager)


def silence_expire(silence_id: str) -> None:
    """Expire one silence by id (a deleted window's); raises AlertmanagerError so
    the task retries. No-op without ALERTMANAGER_URL."""
    alertmanager = client()
    if alertmanager is not None and silence_id:
        alertmanager.expire(silence_id)


def silences_sync_all(now: datetime) -> int:
    """Sync every window that may run now, has a silence or shows an error; the
    number synced. Without ALERTMANAGER_URL it reads nothing."""
    if not settings.ALERTMANAGER_URL:
        return 0
    windows = (
        MaintenanceWindow.objects.filter(may_run_q(now) | ~Q(silence_id="") | ~Q(silence_error=""))
        .select_related("team")
        .prefetch_related("services")
        .order_by("id")
    )
    alertmanager = client()
    count = 0
    for window in windows:
        silence_sync(window, now, alertmanager=alertmanager)
        count += 1
    return count


def _ensure(alertmanager: Alertmanager, stored: str, wanted: dict) -> str:
    """The id of a silence in Alertmanager that is `wanted`, making one if needed."""
    current = alertmanager.get(stored) if stored else None
    state = ((current or {}).get("status") or {}).get("state")
    if current is None or state not in ("active", "pending"):
        return alertmanager.create(wanted)  # vanished or expired (by hand, or ended)
    if _same(current, wanted):
        return stored
    # Changed: replace it. Keeping a running silence's start lets Alertmanager
    # update it in place; when it cannot (other matchers), it expires the old
    # one and answers a new id.
    if state == "active" and current.get("startsAt"):
        wanted = {**wanted, "startsAt": current["startsAt"]}
    return alertmanager.create({**wanted, "id": stored})


def _same(current: dict, wanted: dict) -> bool:
    def matcher_set(matchers) -> set[tuple]:
        return {
            (m.get("name"), m.get("value"), bool(m.get("isRegex")), m.get("isEqual", True))
            for m in matchers or ()
        }

    current_end = parse_datetime(str(current.get("endsAt", "")))
    wanted_end = parse_datetime(wanted["endsAt"])
    return (
        matcher_set(current.get("matchers")) == matcher_set(wanted["matchers"])
        and current_end is not None
        and abs(current_end - wanted_end) < SAME_END
        and current.get("comment") == wanted["comment"]
        and current.get("createdBy") == wanted["createdBy"]
    )


def _store(
    window: MaintenanceWindow,
    stored: str,
    silence_id: str,
    error: str,
    now: datetime,
    alertmanager: Alertmanager,
) -> None:
    """Record the outcome only if nobody changed the stored id meanwhile (a
    conditional UPDATE): a silence made for a window deleted, or re-synced by
    another worker, during this sync must not linger, so it is expired."""
    written = MaintenanceWindow.objects.filter(pk=window.pk, silence_id=stored).update(
        silence_id=silence_id, silence_error=error, silence_checked_at=now
    )
    if written:
        window.silence_id, window.silence_error, window.silence_checked_at = silence_id, error, now
    elif silence_id and silence_id != stored:
        try:
            alertmanager.expire(silence_id)
        except AlertmanagerError:
            enqueue(EXPIRE_SILENCE, silence_id)


def rfc3339(moment: datetime) -> str:
    """An aware time as Alertmanager writes it: UTC, milliseconds, "Z"."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _local(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
