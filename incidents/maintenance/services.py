"""Writes to maintenance windows, and the one validation of what a window may be.

Only a team's tech leads (and admins) plan, change, end or delete its windows
(incidents.rules.edits_windows). Every write tells incidents.silences, which
mirrors the window as an Alertmanager silence once the transaction commits.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common import clock
from common.errors import DomainError
from escalation import deadlines
from incidents import rules, silences
from incidents.maintenance.schedule import (
    RuleError,
    check_rule,
    current_occurrence,
    parse_rule,
    team_zone,
)
from incidents.models import MaintenanceWindow, Service, Team

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
MAX_DURATION_MINUTES = 7 * 24 * 60
MAX_MATCHERS = 50
MAX_MATCHER_VALUE = 1000
# Times further than this from now are typing mistakes (and far years overflow).
REACH = timedelta(days=3653)

FIELDS = (
    "title",
    "description",
    "starts_at",
    "ends_at",
    "recurrence",
    "duration_minutes",
    "matchers",
    "services",
    "mode",
    "calendar",
    "public",
)
SCHEDULE = ("starts_at", "ends_at", "recurrence", "duration_minutes", "calendar")


class WindowNotActive(DomainError):
    """Ending a window that is not running now (API 409)."""


@dataclass
class WindowSpec:
    """A window as it will be stored, once validate_window accepted it."""

    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    recurrence: str = ""
    duration_minutes: int | None = None
    matchers: list | tuple = ()
    services: list | tuple = ()
    mode: str = MaintenanceWindow.Mode.SUPPRESS
    calendar: str = MaintenanceWindow.Calendar.ANY
    public: bool = False
    description: str = ""


def not_lead(team: Team) -> str:
    return _("Only a tech lead of %(team)s may change its maintenance windows.") % {
        "team": team.name
    }


def validate_window(team: Team, spec: WindowSpec) -> WindowSpec:
    """The spec cleaned (title trimmed, services as the team's Service rows,
    matchers as {name, value, is_regex}), or ValidationError with every field's
    error: a one-off window has an end after its start; a recurring one a single
    RRULE (no DTSTART; UNTIL or COUNT allowed, at most hourly) and 1 to 10080
    minutes; matchers name Prometheus labels and regexes compile; services are
    the team's."""
    errors: dict[str, str] = {}
    title = (spec.title or "").strip()
    if not title:
        errors["title"] = _("Give the window a title.")
    elif len(title) > 200:
        errors["title"] = _("At most 200 characters.")
    now = clock.now()
    if not isinstance(spec.starts_at, datetime):
        errors["starts_at"] = _("Give the start.")
    elif timezone.is_naive(spec.starts_at):
        errors["starts_at"] = _("Give a time zone with the time.")
    elif not now - REACH <= spec.starts_at <= now + REACH:
        errors["starts_at"] = _("Give a time within ten years of now.")
    recurrence = (spec.recurrence or "").strip()
    if recurrence.upper().startswith("RRULE:"):
        recurrence = recurrence[6:].strip()
    if recurrence and spec.ends_at is not None:
        errors["recurrence"] = _("Give either an end or a recurrence, not both.")
    elif not recurrence and spec.ends_at is None:
        errors["ends_at"] = _("Give an end, or a recurrence with a duration.")
    elif recurrence:
        _check_recurrence(team, spec, recurrence, errors)
    else:
        _check_one_off(spec, errors)
    matchers = _check_matchers(spec.matchers, errors)
    services = _check_services(team, spec.services, errors)
    if spec.mode not in MaintenanceWindow.Mode.values:
        errors["mode"] = _("Choose suppress or mark.")
    if (spec.calendar or "") not in MaintenanceWindow.Calendar.values:
        errors["calendar"] = _("Choose workdays, restdays or leave it empty.")
    elif spec.calendar and not recurrence:
        errors["calendar"] = _("A calendar only filters the occurrences of a recurring window.")
    if errors:
        raise ValidationError(errors)
    return WindowSpec(
        title=title,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at if not recurrence else None,
        recurrence=recurrence,
        duration_minutes=spec.duration_minutes if recurrence else None,
        matchers=matchers,
        services=services,
        mode=spec.mode,
        calendar=spec.calendar or "",
        public=bool(spec.public),
        description=spec.description or "",
    )


def _check_one_off(spec: WindowSpec, errors: dict) -> None:
    if spec.duration_minutes is not None:
        errors["duration_minutes"] = _("A duration goes with a recurrence; give ends_at instead.")
    if not isinstance(spec.ends_at, datetime):
        errors["ends_at"] = _("Give the end.")
    elif timezone.is_naive(spec.ends_at):
        errors["ends_at"] = _("Give a time zone with the time.")
    elif isinstance(spec.starts_at, datetime) and not timezone.is_naive(spec.starts_at):
        if spec.ends_at <= spec.starts_at:
            errors["ends_at"] = _("The end must come after the start.")
        elif spec.ends_at - spec.starts_at > REACH:
            errors["ends_at"] = _("Give an end within ten years of the start.")


def _check_recurrence(team: Team, spec: WindowSpec, recurrence: str, errors: dict) -> None:
    minutes = spec.duration_minutes
    if minutes is None:
        errors["duration_minutes"] = _("Give how long each occurrence lasts, in minutes.")
    elif isinstance(minutes, bool) or not isinstance(minutes, int):
        errors["duration_minutes"] = _("A whole number of minutes.")
    elif not 1 <= minutes <= MAX_DURATION_MINUTES:
        errors["duration_minutes"] = _("From 1 to %(max)s minutes (a week).") % {
            "max": MAX_DURATION_MINUTES
        }
    if len(recurrence) > 500:
        errors["recurrence"] = _("At most 500 characters.")
        return
    if "starts_at" in errors or not isinstance(spec.starts_at, datetime):
        return
    zone = team_zone(team)
    try:
        check_rule(parse_rule(recurrence, spec.starts_at, zone), spec.starts_at, zone)
    except RuleError as exc:
        errors["recurrence"] = str(exc)


def _check_matchers(matchers, errors: dict) -> list[dict]:
    if matchers is None:
        matchers = []
    if not isinstance(matchers, (list, tuple)):
        errors["matchers"] = _("A list of {name, value, is_regex}.")
        return []
    if len(matchers) > MAX_MATCHERS:
        errors["matchers"] = _("At most %(max)s matchers.") % {"max": MAX_MATCHERS}
        return []
    cleaned, problems = [], []
    for n, matcher in enumerate(matchers, start=1):
        problem = _matcher_problem(matcher)
        if problem:
            problems.append(_("Matcher %(n)s: %(problem)s") % {"n": n, "problem": problem})
        else:
            cleaned.append(
                {
                    "name": matcher["name"],
                    "value": matcher.get("value", ""),
                    "is_regex": bool(matcher.get("is_regex", False)),
                }
            )
    if problems:
        errors["matchers"] = " ".join(problems)
    return cleaned


def _matcher_problem(matcher) -> str:
    if not isinstance(matcher, dict) or set(matcher) - {"name", "value", "is_regex"}:
        return _("give name, value and is_regex only.")
    name, value = matcher.get("name"), matcher.get("value", "")
    if not isinstance(name, str) or not LABEL_NAME.fullmatch(name):
        return _("“%(name)s” is not a label name (letters, digits and _, not first a digit).") % {
            "name": name
        }
    if not isinstance(value, str) or len(value) > MAX_MATCHER_VALUE:
        return _("the value is text of at most %(max)s characters.") % {"max": MAX_MATCHER_VALUE}
    if not isinstance(matcher.get("is_regex", False), bool):
        return _("is_regex is true or false.")
    if matcher.get("is_regex"):
        try:
            re.compile(value)
        except re.error as exc:
            return _("“%(value)s” is not a valid regular expression: %(error)s") % {
                "value": value,
                "error": exc,
            }
    return ""


def _check_services(team: Team, given, errors: dict) -> list[Service]:
    given = list(given or ())
    if not given:
        return []
    slugs = [item.slug if isinstance(item, Service) else item for item in given]
    foreign = [item.slug for item in given if isinstance(item, Service) and item.team_id != team.pk]
    known = {s.slug: s for s in Service.objects.filter(team=team, slug__in=slugs)}
    unknown = [slug for slug in dict.fromkeys(slugs) if slug not in known] + foreign
    if unknown:
        errors["services"] = _("%(team)s has no service %(slugs)s.") % {
            "team": team.name,
            "slugs": ", ".join(str(s) for s in dict.fromkeys(unknown)),
        }
        return []
    return list({known[slug].pk: known[slug] for slug in slugs}.values())


def _store(window: MaintenanceWindow, spec: WindowSpec) -> None:
    for field in FIELDS:
        if field != "services":
            setattr(window, field, getattr(spec, field))
    window.save()
    window.services.set(spec.services)


@transaction.atomic
def window_create(
    *,
    actor,
    team: Team,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    recurrence: str = "",
    duration_minutes: int | None = None,
    matchers=(),
    services=(),
    mode: str = MaintenanceWindow.Mode.SUPPRESS,
    calendar: str = MaintenanceWindow.Calendar.ANY,
    public: bool = False,
    description: str = "",
) -> MaintenanceWindow:
    """Plan a window for `team`; only its tech leads (and admins) may. Nothing is
    stored unless validate_window accepts every field."""
    if not rules.edits_windows(actor, team):
        raise PermissionDenied(not_lead(team))
    spec = validate_window(
        team,
        WindowSpec(
            title=title,
            starts_at=starts_at,
            ends_at=ends_at,
            recurrence=recurrence,
            duration_minutes=duration_minutes,
            matchers=matchers,
            services=services,
            mode=mode,
            calendar=calendar,
            public=public,
            description=description,
        ),
    )
    window = MaintenanceWindow(team=team, created_by=actor)
    _store(window, spec)
    silences.window_changed(window)
    if window.public:
        deadlines.public_window_changed()
    return window


def spec_of(window: MaintenanceWindow) -> WindowSpec:
    """What `window` is now, as a spec to apply changes to."""
    values = {field: getattr(window, field) for field in FIELDS if field != "services"}
    return WindowSpec(**values, services=list(window.services.all()))


def _lock(window: MaintenanceWindow) -> MaintenanceWindow:
    return (
        MaintenanceWindow.objects.select_for_update(of=("self",))
        .select_related("team")
        .get(pk=window.pk)
    )


@transaction.atomic
def window_update(*, window: MaintenanceWindow, actor, **changes) -> MaintenanceWindow:
    """Change some of a window's fields (the others stay); only its team's tech
    leads (and admins) may, and the result must pass validate_window. A window
    stays with its team. A new schedule forgets an occurrence ended early."""
    if not rules.edits_windows(actor, window.team):
        raise PermissionDenied(not_lead(window.team))
    unknown = set(changes) - set(FIELDS) - {"team"}
    if unknown:
        raise TypeError(f"window_update() got unknown fields: {sorted(unknown)}")
    team = changes.pop("team", window.team)
    if team != window.team:
        raise ValidationError({"team": _("A window stays with its team; plan a new one.")})
    locked = _lock(window)
    current = spec_of(locked)
    spec = validate_window(locked.team, WindowSpec(**{**current.__dict__, **changes}))
    rescheduled = any(getattr(spec, f) != getattr(current, f) for f in SCHEDULE)
    if rescheduled:
        locked.ended_at = None
        locked.ended_occurrence = None
    was_public = locked.public
    _store(locked, spec)
    silences.window_changed(locked)
    if was_public or locked.public:
        deadlines.public_window_changed()
    return locked


@transaction.atomic
def window_delete(*, window: MaintenanceWindow, actor) -> None:
    """Delete a window (its Alertmanager silence expires); only its team's tech
    leads (and admins) may."""
    if not rules.edits_windows(actor, window.team):
        raise PermissionDenied(not_lead(window.team))
    window = _lock(window)
    silences.window_deleted(window)
    if window.public:
        deadlines.public_window_changed()
    window.delete()


@transaction.atomic
def window_end(
    *, window: MaintenanceWindow, actor, now: datetime | None = None
) -> MaintenanceWindow:
    """End the running occurrence now: a one-off window ends for good (ended_at); a
    recurring one cuts this occurrence (ended_occurrence is its start) and keeps
    the later ones. Only its team's tech leads (and admins) may; a window not
    running now is refused (WindowNotActive)."""
    if not rules.edits_windows(actor, window.team):
        raise PermissionDenied(not_lead(window.team))
    now = now or clock.now()
    locked = _lock(window)
    running = current_occurrence(locked, now)
    if running is None:
        raise WindowNotActive(
            _("“%(title)s” is not running now: there is nothing to end.") % {"title": locked.title}
        )
    locked.ended_at = now
    locked.ended_occurrence = running[0] if locked.recurrence else None
    locked.save(update_fields=["ended_at", "ended_occurrence", "updated_at"])
    silences.window_changed(locked)
    if locked.public:
        deadlines.public_window_changed()
    return locked
