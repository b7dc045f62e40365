from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration_text(value: timedelta | None) -> str:
    """A duration as teams say it: "5 min", "2 h", "1 h 30 min"."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": rest}
    if hours:
        return _("%(h)s h") % {"h": hours}
    return _("%(m)s min") % {"m": minutes}


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
