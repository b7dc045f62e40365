"""What a notice says: the incident, its level, what is overdue and by how long."""

import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from common import clock
from common.people import display_name
from escalation import registry
from escalation.models import Clock, Notice
from incidents.models import LogEntry, State
from incidents.timeline import verification_lines

WHAT = {
    Clock.RESPOND: gettext_lazy("response overdue"),
    Clock.RESOLVE: gettext_lazy("resolution overdue"),
    Clock.UPDATE: gettext_lazy("progress update overdue"),
    Clock.WARNING: gettext_lazy("resolution deadline approaching"),
    Clock.PAGE: gettext_lazy("urgent P0: on-call paged"),
    Clock.BLOCKER: gettext_lazy("blocker reported: the tech lead is needed"),
    Clock.ACTION: gettext_lazy("improvement action overdue"),
    Clock.PAUSE: gettext_lazy("SLA paused for a long time"),
    Clock.HANDOVER: gettext_lazy("you are on call: handover"),
    Clock.GAP: gettext_lazy("nobody on call in the next 24 hours"),
    Clock.VERIFY: gettext_lazy("verification failed: back in progress"),
    Clock.STORM: gettext_lazy("alert storm"),
    Clock.MAINTENANCE: gettext_lazy("maintenance starts in 3 hours"),
}
LAYER_NAMES = {"primary": gettext_lazy("primary"), "secondary": gettext_lazy("secondary")}


def overdue_text(delta: timedelta) -> str:
    return clock.duration_text(delta)


def recipient_language(user) -> tuple[str, str]:
    """(language, time zone name) a notice to `user` is written in: the language
    they chose, else the one their browser asked for at their last sign-in; a team
    channel (no user) gets the site's."""
    language, zone = settings.LANGUAGE_CODE, settings.TIME_ZONE
    profile = getattr(user, "profile", None) if user is not None else None
    if profile is not None:
        language = profile.language or profile.browser_language or language
        zone = profile.time_zone or zone
    return language, zone


def people_names(notices) -> dict[str, str]:
    """username → name of everyone the notices' facts mention (who was on call, who
    filed, who verified, who wrote a handover note), in one query for them all. The
    facts keep usernames; the words show names. A deleted user is not in the map:
    their username stands in (see `_name`)."""
    usernames = set().union(*(_mentioned(n) for n in notices))
    if not usernames:
        return {}
    users = get_user_model().objects.filter(username__in=usernames)
    return {u.username: display_name(u) for u in users.only("username", "first_name", "last_name")}


def _mentioned(notice: Notice) -> set[str]:
    details = notice.details or {}
    found = {details.get("verifier"), details.get("filed_by")}
    found |= {entry.get("user") for entry in details.get("oncall", [])}
    if notice.incident_id is None:  # a handover's notes; a verification's are its text
        found |= {note.get("author") for note in details.get("notes", [])}
    return {name for name in found if name}


def _name(names: dict[str, str], username: str) -> str:
    return names.get(username, username)


def render(
    notice: Notice,
    *,
    language: str | None = None,
    zone: str | None = None,
    names: dict[str, str] | None = None,
):
    """(subject, body) of a notice, in `language` with times in `zone`
    (default: the site's); `names`: people_names of a batch it belongs to (else
    looked up for this notice alone)."""
    if names is None:
        names = people_names([notice])
    with translation.override(language or settings.LANGUAGE_CODE):
        return _render(notice, _zone(zone), names)


def _zone(name):
    return clock.zone_named(name) or zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _at(value, zone) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _render(notice: Notice, zone, names: dict[str, str]) -> tuple[str, str]:
    if notice.incident_id is None:
        return _render_roster(notice, zone, names)
    incident = notice.incident
    what = str(WHAT.get(notice.clock, notice.clock))
    link = f"{settings.SITE_URL}/incidents/{incident.pk}/"
    subject = f"[Responder] {incident.number} {incident.severity} {what} (L{notice.level})"
    lines = [f"{incident.number} — {incident.title}", f"{incident.severity} · {what}"]
    if notice.clock in (Clock.RESPOND, Clock.RESOLVE, Clock.UPDATE):
        lines.append(
            _("Deadline %(at)s, overdue by %(by)s.")
            % {
                "at": _at(notice.deadline, zone),
                "by": overdue_text(notice.created_at - notice.deadline),
            }
        )
    elif (owned := registry.detail(notice)) is not None:
        lines.append(owned)  # a clock another app owns (escalation.registry)
    elif notice.clock == Clock.BLOCKER:
        entry = LogEntry.objects.filter(pk=notice.cycle, incident=incident).first()
        if entry is not None:
            lines.append(_("Blocker: %(text)s") % {"text": entry.text})
    elif notice.clock == Clock.WARNING:
        lines.append(_("Resolve by %(at)s.") % {"at": _at(incident.resolve_by, zone)})
    elif notice.clock == Clock.PAUSE:
        lines.append(
            _("Paused since %(at)s, waiting on %(party)s: %(reason)s")
            % {
                "at": _at(incident.paused_at or notice.deadline, zone),
                "party": incident.pause_waiting_on or "—",
                "reason": incident.pause_reason or "—",
            }
        )
    lines += oncall_lines(notice, names)
    if notice.late:
        lines.append(_late_text(notice))
    lines.append(link)
    return subject, "\n".join(lines)


def _late_text(notice: Notice) -> str:
    """Why a notice went out late, as far as the engine knew (older notices: either)."""
    by = {"by": clock.duration_text(timedelta(seconds=notice.late_seconds))}
    reason = (notice.details or {}).get("late_reason")
    if reason == "filed_late":
        return _("Sent %(by)s late: the incident was filed after this deadline had passed.") % by
    if reason == "interrupted":
        return _("Sent %(by)s late: the escalation service was interrupted.") % by
    return (
        _(
            "Sent %(by)s late: the escalation service was interrupted, or the incident "
            "was filed after its deadline."
        )
        % by
    )


def oncall_lines(notice: Notice, names: dict[str, str] | None = None) -> list[str]:
    """Who was on call for an on-call step and whether it fell back to the leads, who
    filed a page (never paged about it), which levels a catch-up stands for, and why
    a verification failed: what the e-mail, the inbox and the workspace all say of a
    notice. People by name: pass `names` (people_names of the whole page) to look
    them up once for many notices."""
    if names is None:
        names = people_names([notice])
    lines = []
    details = notice.details or {}
    if notice.clock == Clock.VERIFY:
        lines.append(
            _(
                "%(user)s verified the fix and it does not hold yet; the incident is back "
                "in progress."
            )
            % {
                "user": _name(names, details["verifier"])
                if details.get("verifier")
                else _("system")
            }
        )
        lines += verification_lines(details)
    if notice.clock == Clock.STORM:
        lines.append(
            _(
                "%(alerts)s alerts in this incident (threshold %(threshold)s): an alert "
                "storm. Their notes are grouped; look at the alerts table."
            )
            % {"alerts": details.get("alerts"), "threshold": details.get("threshold")}
        )
    filed_by = details.get("filed_by")
    said_who_filed = False
    for entry in details.get("oncall", []):
        layer = str(LAYER_NAMES.get(entry["layer"], entry["layer"]))
        user = _name(names, entry["user"]) if entry["user"] else ""
        if entry["user"] and entry["user"] == filed_by:
            lines.append(
                _("On call (%(layer)s): %(user)s, who filed it: not paged.")
                % {"layer": layer, "user": user}
            )
            said_who_filed = True
        elif entry["user"]:
            lines.append(_("On call (%(layer)s): %(user)s.") % {"layer": layer, "user": user})
        else:
            lines.append(
                _("Nobody is on call (%(layer)s) now: sent to the team's tech leads instead.")
                % {"layer": layer}
            )
    if filed_by and not said_who_filed:  # else the on-call line said it already
        lines.append(
            _("Filed by %(user)s, who is not paged about it.") % {"user": _name(names, filed_by)}
        )
    if len(details.get("levels", [])) > 1:
        lines.append(
            _("Catching up: this notice also stands for %(levels)s.")
            % {"levels": ", ".join(f"L{n}" for n in details["levels"][:-1])}
        )
    return lines


def _render_roster(notice: Notice, zone, names: dict[str, str]) -> tuple[str, str]:
    """A handover to whoever comes on call, or a coverage gap for the tech leads."""
    team = notice.team
    what = str(WHAT.get(notice.clock, notice.clock))
    details = notice.details or {}
    if notice.clock == Clock.MAINTENANCE:
        return _render_window(notice, zone)
    layer = str(LAYER_NAMES.get(details.get("layer"), details.get("layer", "")))
    link = f"{settings.SITE_URL}/oncall/{team.slug}/"
    subject = f"[Responder] {team.name} {what} ({layer})"
    span = {"from": _at(notice.deadline, zone), "until": _at(notice.due_at, zone)}
    if notice.clock == Clock.GAP:
        lines = [
            f"{team.name} · {what}",
            _("Nobody is on call (%(layer)s) from %(from)s until %(until)s.")
            % {"layer": layer, **span},
            _("Add an override or fix the rotation:"),
        ]
    else:
        lines = [
            f"{team.name} · {what}",
            _("You are on call (%(layer)s) from %(from)s until %(until)s.")
            % {"layer": layer, **span},
            "",
            _("Open incidents (%(count)s):") % {"count": details.get("open_incidents", 0)},
        ]
        lines += [
            f"- {i['number']} {i['severity']} {_state(i['state'])}: {i['title']}"
            for i in details.get("incidents", [])
        ] or ["- " + _("none")]
        lines += ["", _("Deadlines in your shift (and already missed):")]
        lines += [
            f"- {d['number']} {_due(d, notice.deadline, zone)}"
            for d in details.get("deadlines", [])
        ] or ["- " + _("none")]
        lines += ["", _("Open blockers:")]
        lines += [f"- {b['number']}: {b['text']}" for b in details.get("blockers", [])] or [
            "- " + _("none")
        ]
        for note in details.get("notes", []):
            lines += [
                "",
                _("Handover note from %(user)s:") % {"user": _name(names, note["author"])},
                note["text"],
            ]
        lines.append("")
    if notice.late:
        lines.append(_("Sent late, after an interruption of the escalation service."))
    lines.append(link)
    return subject, "\n".join(lines)


def _render_window(notice: Notice, zone) -> tuple[str, str]:
    """A maintenance window starts in 3 hours: the team knows what will be quiet."""
    team, details = notice.team, notice.details or {}
    title = details.get("title", "")
    subject = f"[Responder] {team.name} {WHAT[Clock.MAINTENANCE]}: {title}"
    span = {"from": _at(notice.deadline, zone), "until": _at(notice.due_at, zone)}
    if details.get("mode") == "mark":
        effect = _("Matching alerts open incidents marked with the window, their clocks held.")
    else:
        effect = _("Matching alerts are recorded but open no incident and page nobody.")
    lines = [
        f"{team.name} · {title}",
        _("Maintenance from %(from)s until %(until)s.") % span,
        effect,
        _("Incidents filed by hand still page as usual."),
        f"{settings.SITE_URL}/maintenance/{details.get('window', '')}/",
    ]
    return subject, "\n".join(lines)


WHAT_DUE = {
    "respond": gettext_lazy("response due"),
    "resolve": gettext_lazy("resolution due"),
    "update": gettext_lazy("progress update due"),
}


def _state(value: str) -> str:
    return str(State(value).label) if value in State.values else value


def _due(deadline: dict, shift_start, zone) -> str:
    """'resolution due <time>', or 'overdue since' for one already missed at the handoff."""
    at = _parse(deadline["at"])
    what = str(WHAT_DUE.get(deadline["clock"], deadline["clock"]))
    if at < shift_start:
        return _("%(what)s, overdue since %(at)s") % {"what": what, "at": _at(at, zone)}
    return f"{what} {_at(at, zone)}"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def payload(notice: Notice) -> dict:
    """The notice as data, for the generic JSON webhook."""
    incident = notice.incident
    if incident is None:
        return {
            "team": {"slug": notice.team.slug, "name": notice.team.name},
            "notice": {
                "clock": notice.clock,
                "level": notice.level,
                "from": notice.deadline.isoformat(),
                "until": notice.due_at.isoformat(),
                "created_at": notice.created_at.isoformat(),
                "late": notice.late,
                "recipients": notice.recipients,
                "details": notice.details,
            },
        }
    return {
        "incident": {
            "id": incident.pk,
            "number": incident.number,
            "title": incident.title,
            "severity": incident.severity,
            "state": incident.state,
            "team": incident.team.slug,
            "url": f"{settings.SITE_URL}/incidents/{incident.pk}/",
        },
        "notice": {
            "clock": notice.clock,
            "level": notice.level,
            "deadline": notice.deadline.isoformat(),
            "created_at": notice.created_at.isoformat(),
            "late": notice.late,
            "late_seconds": notice.late_seconds,
            "recipients": notice.recipients,
            "oncall": (notice.details or {}).get("oncall", []),
        },
    }


def render_digest(
    notices: list[Notice],
    *,
    per_minute: int,
    max_bytes: int,
    language: str | None = None,
    zone: str | None = None,
) -> tuple[str, str]:
    """(subject, body) of a chat robot's digest: the notices held back by its limit
    of `per_minute` messages, one line each (incident number, severity, what, level,
    title), most severe first. Cut to `max_bytes` (UTF-8, subject and body as the
    robot shows them) with "…and N more": every notice is counted."""
    with translation.override(language or settings.LANGUAGE_CODE):
        count = len(notices)
        subject = "[Responder] " + ngettext(
            "%(count)s notice held back by this chat's message limit",
            "%(count)s notices held back by this chat's message limit",
            count,
        ) % {"count": count}
        intro = _(
            "This chat's robot takes %(limit)s messages a minute; these notices waited "
            "for it and come together:"
        ) % {"limit": per_minute}
        link = f"{settings.SITE_URL}/dashboard/"
        ordered = sorted(notices, key=lambda n: (_digest_severity(n), n.created_at, n.pk))
        lines = [_digest_line(n) for n in ordered]
        used = len(f"{subject}\n{intro}\n{link}".encode())
        shown: list[str] = []
        for i, line in enumerate(lines):
            rest = len(lines) - i - 1
            more = ("\n" + _("…and %(count)s more.") % {"count": rest}) if rest else ""
            if used + len(f"\n{line}{more}".encode()) > max_bytes:
                break
            shown.append(line)
            used += len(f"\n{line}".encode())
        body = [intro, *shown]
        if len(shown) < len(lines):
            body.append(_("…and %(count)s more.") % {"count": len(lines) - len(shown)})
        body.append(link)
        return subject, "\n".join(body)


def _digest_severity(notice: Notice) -> str:
    return notice.incident.severity if notice.incident_id else "P9"


def _digest_line(notice: Notice) -> str:
    what = str(WHAT.get(notice.clock, notice.clock))
    if notice.incident_id is None:
        return f"- {notice.team.name} · {what}"
    incident = notice.incident
    title = incident.title if len(incident.title) <= 60 else incident.title[:59] + "…"
    return f"- {incident.number} {incident.severity} {what} (L{notice.level}): {title}"
