from datetime import UTC

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _

from common import clock

register = template.Library()


# The one duration formatter (common.clock), as a filter.
register.filter("duration_text", clock.duration_text)


@register.filter
def state_label(value: str) -> str:
    """A stored state ("in_progress") as its label ("In progress")."""
    from incidents.models import State

    return State(value).label if value in State.values else value


@register.filter
def channel_label(code: str) -> str:
    """A delivery channel's name for people ("inapp" → "in-app")."""
    from escalation.models import TeamChannel

    labels = {"email": _("email"), "inapp": _("in-app"), **dict(TeamChannel.Kind.choices)}
    return str(labels.get(code, code))


@register.filter
def who(user, empty: str = "—") -> str:
    """A person's full name, else their username; `empty` when there is none."""
    if user is None:
        return empty
    return user.get_full_name() or user.username


@register.simple_tag
def paused(incident):
    """A held clock's cell: since when, and whom the incident waits on."""
    return format_html(
        '<span class="clock-paused" title="{}">{} {}<small>{}</small></span>',
        incident.pause_reason,
        _("paused since"),
        dateformat.format(timezone.localtime(incident.paused_at), "m-d H:i"),
        (_("waiting on %(party)s") % {"party": incident.pause_waiting_on})
        if incident.pause_waiting_on
        else incident.pause_reason[:80],
    )


@register.simple_tag
def deadline(at, running, now):
    """A deadline cell: its countdown (responder.js keeps it ticking) and local
    time, "overdue" once past, "stopped" when its clock is not running.

    A tag rather than an included template: dashboards render it 300 times.
    """
    if not running:
        return format_html('<span class="clock-stopped">{}</span>', _("stopped"))
    if not at:
        return "—"
    overdue = at < now
    return format_html(
        '<span data-deadline="{}" class="{}"><span class="countdown">{}</span>'
        "<small>{}</small></span>",
        at.astimezone(UTC).isoformat(timespec="seconds"),
        "overdue" if overdue else "",
        _("overdue") if overdue else timeuntil(at, now),
        dateformat.format(timezone.localtime(at), "m-d H:i"),
    )
