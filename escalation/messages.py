"""What a notice says: the incident, its level, what is overdue and by how long."""

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common import clock
from escalation.models import Clock, Notice
from incidents.models import LogEntry

WHAT = {
    Clock.RESPOND: gettext_lazy("response overdue"),
    Clock.RESOLVE: gettext_lazy("resolution overdue"),
    Clock.UPDATE: gettext_lazy("progress update overdue"),
    Clock.WARNING: gettext_lazy("resolution deadline approaching"),
    Clock.PAGE: gettext_lazy("urgent P0: tech lead paged"),
    Clock.BLOCKER: gettext_lazy("blocker reported: the tech lead is needed"),
    Clock.ACTION: gettext_lazy("improvement action overdue"),
    Clock.PAUSE: gettext_lazy("SLA paused for a long time"),
}


def overdue_text(delta: timedelta) -> str:
    return clock.duration_text(delta)


def recipient_language(user) -> tuple[str, str]:
    """(language, time zone name) a notice to `user` is written in; a team
    channel (no user) gets the site's."""
    language, zone = settings.LANGUAGE_CODE, settings.TIME_ZONE
    profile = getattr(user, "profile", None) if user is not None else None
    if profile is not None:
        language = profile.language or language
        zone = profile.time_zone or zone
    return language, zone


def render(notice: Notice, *, language: str | None = None, zone: str | None = None):
    """(subject, body) of a notice, in `language` with times in `zone`
    (default: the site's)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        return _render(notice, _zone(zone))


def _zone(name):
    return clock.zone_named(name) or zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _at(value, zone) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _render(notice: Notice, zone) -> tuple[str, str]:
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
    elif notice.clock == Clock.ACTION:
        from knowledge.models import ActionItem

        item = ActionItem.objects.filter(pk=notice.cycle).first()
        if item is not None:
            lines.append(
                _("Action: %(text)s (due %(due)s)")
                % {"text": item.text, "due": item.due_date.isoformat()}
            )
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
    if notice.late:
        lines.append(_("Sent late, after an interruption of the escalation service."))
    lines.append(link)
    return subject, "\n".join(lines)


def payload(notice: Notice) -> dict:
    """The notice as data, for the generic JSON webhook."""
    incident = notice.incident
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
        },
    }
