"""The maintenance windows' pages (/maintenance/): the list with the calendar of
the next four weeks, a window's page, the form with its live preview.

Every write goes through incidents.maintenance.services; reads through its
selectors and schedule. Who sees a window: rules.sees_window (else 404); who
writes: rules.edits_windows (else 403).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import clock
from incidents import rules
from incidents.maintenance import schedule, selectors, services
from incidents.maintenance.forms import WindowForm, default_times
from incidents.models import (
    OPEN_STATES,
    Alert,
    Incident,
    MaintenanceWindow,
    Service,
    Team,
    TeamEvent,
)
from incidents.selectors import visible_teams

CALENDAR_DAYS = 28
# A one-off window ended longer ago than this leaves the list (it stays in the API).
LIST_ENDED_DAYS = 30
PREVIEW_ALERTS = 500  # open alerts looked at by the preview (the newest)
PREVIEW_SHOWN = 20


# ---------------------------------------------------------------- helpers


def _window_or_404(user, pk: int) -> MaintenanceWindow:
    window = (
        MaintenanceWindow.objects.filter(pk=pk)
        .select_related("team", "created_by")
        .prefetch_related("services")
        .first()
    )
    if window is None or not rules.sees_window(user, window):
        raise Http404(_("No such maintenance window."))
    return window


def _led_teams(user) -> list[Team]:
    """The teams whose windows the user may write (tech leads: theirs; admins: all)."""
    return [team for team in visible_teams(user) if rules.edits_windows(user, team)]


def _status(window: MaintenanceWindow, now: datetime) -> dict:
    """Whether the window runs now (and until when) and when it runs next."""
    running = schedule.current_occurrence(window, now)
    upcoming = schedule.next_occurrences(window, now, n=1)
    return {
        "active": running is not None,
        "until": running[1] if running else None,
        "next": upcoming[0] if upcoming else None,
        "over": running is None and not upcoming,
    }


@dataclass
class Day:
    day: date
    today: bool
    past: bool
    weekend: bool
    entries: list = field(default_factory=list)


def _calendar(rows, now: datetime, zone) -> list[list[Day]]:
    """Weeks (Monday first) from this week to the one holding day 28 ahead, each
    day with the occurrences overlapping it (the running ones first), in `zone`."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=today.weekday())
    last = today + timedelta(days=CALENDAR_DAYS - 1)
    last += timedelta(days=6 - last.weekday())
    days = []
    day = first
    while day <= last:
        days.append(Day(day=day, today=day == today, past=day < today, weekend=day.weekday() >= 5))
        day += timedelta(days=1)
    for window, start, end in rows:
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        active = start <= now < end
        for cell in days:
            if cell.past:
                continue
            begin = datetime.combine(cell.day, datetime.min.time(), tzinfo=zone)
            finish = datetime.combine(
                cell.day + timedelta(days=1), datetime.min.time(), tzinfo=zone
            )
            if end <= begin or start >= finish:
                continue
            cell.entries.append(
                {
                    "window": window,
                    "start": local_start,
                    "end": local_end,
                    "starts_here": start >= begin,
                    "ends_here": end <= finish,
                    "active": active,
                }
            )
    for cell in days:
        cell.entries.sort(key=lambda e: (not e["active"], e["start"]))
    return [days[i : i + 7] for i in range(0, len(days), 7)]


# ---------------------------------------------------------------- the list and calendar


@login_required
@require_GET
def maintenance_index(request):
    """The windows the user sees (running ones first) and the next four weeks."""
    user = request.user
    now = clock.now()
    zone = timezone.get_current_timezone()
    recent = now - timedelta(days=LIST_ENDED_DAYS)
    windows = list(
        selectors.windows_visible_to(user)
        .filter(~Q(recurrence="") | Q(ends_at__gt=recent))
        .select_related("team")
        .prefetch_related("services")
        .order_by("starts_at", "id")
    )
    for window in windows:
        window.status = _status(window, now)
    active = [w for w in windows if w.status["active"]]
    scheduled = sorted(
        (w for w in windows if not w.status["active"] and w.status["next"]),
        key=lambda w: w.status["next"],
    )
    ended = [w for w in windows if w.status["over"]][::-1]
    team_ids = {w.team_id for w in windows}
    rows = (
        selectors.upcoming(team_ids=team_ids, since=now, until=now + timedelta(days=CALENDAR_DAYS))
        if team_ids
        else []
    )
    context = {
        "now": now,
        "zone": zone,
        "active": active,
        "scheduled": scheduled,
        "ended": ended,
        "weeks": _calendar(rows, now, zone),
        "may_create": bool(rules.context(user).led_team_ids) or rules.context(user).is_admin,
    }
    return render(request, "incidents/maintenance/index.html", context)


# ---------------------------------------------------------------- one window


@login_required
@require_GET
def maintenance_detail(request, pk: int):
    """A window: when it runs next, what it held back, its Alertmanager silence,
    its starts and ends on the team's timeline; end and delete for its leads."""
    window = _window_or_404(request.user, pk)
    now = clock.now()
    context = {
        "window": window,
        "now": now,
        "zone": timezone.get_current_timezone(),
        "status": _status(window, now),
        "current": schedule.current_occurrence(window, now),
        "next_occurrences": [
            (start, start + _length(window)) for start in schedule.next_occurrences(window, now, 10)
        ],
        "held_alerts": window.held_alerts.count(),
        "marked_incidents": Incident.objects.filter(maintenance_window=window).count(),
        "events": list(TeamEvent.objects.filter(window=window).order_by("-at", "-id")[:20]),
        "editable": rules.edits_windows(request.user, window.team),
        "services_list": list(window.services.all()),
    }
    return render(request, "incidents/maintenance/detail.html", context)


def _length(window: MaintenanceWindow) -> timedelta:
    if window.recurrence:
        return timedelta(minutes=window.duration_minutes or 0)
    return (window.ends_at or window.starts_at) - window.starts_at


@login_required
@require_POST
def maintenance_end(request, pk: int):
    window = _window_or_404(request.user, pk)
    try:
        services.window_end(window=window, actor=request.user)
    except services.WindowNotActive as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("“%(title)s” ended: alerts page as usual again.") % {"title": window.title},
        )
    return redirect("maintenance-detail", pk=window.pk)


@login_required
@require_POST
def maintenance_delete(request, pk: int):
    window = _window_or_404(request.user, pk)
    services.window_delete(window=window, actor=request.user)
    messages.success(
        request, _("Maintenance window “%(title)s” deleted.") % {"title": window.title}
    )
    return redirect("maintenance")


# ---------------------------------------------------------------- the form


def _form_page(request, *, window=None):
    user = request.user
    if window is not None:
        if not rules.edits_windows(user, window.team):
            raise PermissionDenied(services.not_lead(window.team))
        teams = [window.team]
    else:
        teams = _led_teams(user)
        if not teams:
            raise PermissionDenied(_("Only tech leads plan maintenance windows."))
    status = 200
    preview = None
    if request.method == "POST":
        form = WindowForm(request.POST, teams=teams, window=window)
        if "preview" in request.POST:
            form.is_valid()
            preview = _preview(form)
        elif form.is_valid():
            fields = form.window_fields()
            try:
                if window is None:
                    saved = services.window_create(
                        actor=user, team=form.cleaned_data["team"], **fields
                    )
                else:
                    saved = services.window_update(window=window, actor=user, **fields)
            except ValidationError as error:
                form.add_service_errors(
                    error.message_dict
                    if hasattr(error, "error_dict")
                    else {"__all__": error.messages}
                )
                status = 400
            else:
                messages.success(
                    request, _("Maintenance window “%(title)s” saved.") % {"title": saved.title}
                )
                return redirect("maintenance-detail", pk=saved.pk)
        else:
            status = 400
    else:
        if window is not None:
            form = WindowForm(initial=WindowForm.initial_for(window), teams=teams, window=window)
        else:
            start, end = default_times(clock.now())
            wanted = request.GET.get("team", "")
            team = next((t for t in teams if t.slug == wanted), teams[0])
            form = WindowForm(
                initial={"team": team.slug, "starts_at": start, "ends_at": end},
                teams=teams,
            )
    context = {
        "form": form,
        "window": window,
        "preview": preview,
        "zone": timezone.get_current_timezone(),
    }
    return render(request, "incidents/maintenance/form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def maintenance_new(request):
    """A tech lead plans a window for one of their teams (403 for anyone else)."""
    return _form_page(request)


@login_required
@require_http_methods(["GET", "POST"])
def maintenance_edit(request, pk: int):
    return _form_page(request, window=_window_or_404(request.user, pk))


# ---------------------------------------------------------------- the live preview


class _Candidate:
    """A window not stored yet, shaped as selectors.matches reads one (its matchers
    and `services.all()`), so the preview asks the one matching rule."""

    def __init__(self, matchers, services_chosen):
        self.matchers = matchers
        self._services = list(services_chosen)

    @property
    def services(self):
        return self

    def all(self):
        return self._services


def open_alerts(team: Team) -> list[Alert]:
    """The team's alerts firing now that page someone or wait to: of an open
    incident, or pending (waiting for "open after N"); the newest first."""
    return list(
        Alert.objects.filter(integration__team=team, status=Alert.Status.FIRING)
        .filter(Q(pending=True) | Q(incident__state__in=OPEN_STATES))
        .select_related("incident")
        .order_by("-last_seen", "-id")[:PREVIEW_ALERTS]
    )


def alerts_matching(team: Team, matchers, services_chosen) -> tuple[list[Alert], int]:
    """(the open alerts a window of `team` with these matchers and services would
    match, how many open alerts there are) — selectors.matches decides."""
    candidate = _Candidate(matchers, services_chosen)
    alerts = open_alerts(team)
    return [a for a in alerts if selectors.matches(candidate, a.labels or {})], len(alerts)


def services_matching(team: Team, matchers, services_chosen) -> tuple[list[Service], int]:
    """(the team's services the window covers, how many the team has): the ones
    chosen (none: all), kept when the matchers on the `service` label allow them."""
    everything = list(Service.objects.filter(team=team).order_by("name"))
    on_service = [m for m in matchers if m.get("name") == "service"]
    candidate = _Candidate(on_service, services_chosen)
    found = [s for s in everything if selectors.matches(candidate, {"service": s.slug})]
    return found, len(everything)


@dataclass
class Preview:
    team: Team | None
    errors: list = field(default_factory=list)
    alerts: list = field(default_factory=list)
    alerts_total: int = 0
    services: list = field(default_factory=list)
    services_total: int = 0
    everything: bool = False

    def as_json(self) -> dict:
        return {
            "team": self.team.slug if self.team else None,
            "errors": [str(e) for e in self.errors],
            "matches_everything": self.everything,
            "alerts": {
                "count": len(self.alerts),
                "of": self.alerts_total,
                "items": [
                    {
                        "id": a.pk,
                        "fingerprint": a.fingerprint,
                        "labels": a.labels,
                        "summary": a.summary,
                        "incident": a.incident.number if a.incident else None,
                        "pending": a.pending,
                    }
                    for a in self.alerts[:PREVIEW_SHOWN]
                ],
            },
            "services": {
                "count": len(self.services),
                "of": self.services_total,
                "items": [{"slug": s.slug, "name": s.name} for s in self.services],
            },
        }


def _preview(form: WindowForm) -> Preview:
    """What the form's team, matchers and services would match now. A bad matcher
    (the form's parse or validate_window's check) is an error, not a match."""
    data = form.cleaned_data if hasattr(form, "cleaned_data") else {}
    team = data.get("team")
    if team is None:
        return Preview(team=None, errors=form.errors.get("team", []) or [_("Choose a team.")])
    errors = list(form.errors.get("matchers", [])) + list(form.errors.get("services", []))
    if errors:
        return Preview(team=team, errors=errors)
    matchers, chosen = data.get("matchers") or [], data.get("services") or []
    now = clock.now()
    try:
        spec = services.validate_window(
            team,
            services.WindowSpec(
                title="preview",
                starts_at=now,
                ends_at=now + timedelta(hours=1),
                matchers=matchers,
                services=chosen,
            ),
        )
    except ValidationError as error:
        found = error.message_dict
        return Preview(team=team, errors=found.get("matchers", []) + found.get("services", []))
    alerts, alerts_total = alerts_matching(team, spec.matchers, spec.services)
    covered, services_total = services_matching(team, spec.matchers, spec.services)
    return Preview(
        team=team,
        alerts=alerts,
        alerts_total=alerts_total,
        services=covered,
        services_total=services_total,
        everything=not spec.matchers and not spec.services,
    )


@login_required
@require_http_methods(["GET", "POST"])
def maintenance_preview(request):
    """The form's preview: JSON, or the HTML fragment the form shows (?format=html).
    Takes the form's fields; only for the teams whose windows the user writes."""
    data = request.POST if request.method == "POST" else request.GET
    teams = _led_teams(request.user)
    if not teams:
        raise PermissionDenied(_("Only tech leads plan maintenance windows."))
    window = None
    if data.get("window"):
        try:
            window = _window_or_404(request.user, int(data["window"]))
        except ValueError as error:
            raise Http404(_("No such maintenance window.")) from error
        if not rules.edits_windows(request.user, window.team):
            raise PermissionDenied(services.not_lead(window.team))
        teams = [window.team]
    form = WindowForm(data, teams=teams, window=window)
    form.is_valid()
    preview = _preview(form)
    if data.get("format") == "html":
        html = render_to_string(
            "incidents/maintenance/_preview.html", {"preview": preview}, request=request
        )
        return HttpResponse(html)
    return JsonResponse(preview.as_json())
