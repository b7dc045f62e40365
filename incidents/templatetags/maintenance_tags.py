"""`{% maintenance_banner %}`: the dashboard's notice of maintenance in progress
on the user's teams, and of the next window starting within 24 hours.

One small query when the teams have no window in the next day (most views),
two when they have (those windows; the banner names no services), none for a
user in no team.
"""

from datetime import timedelta

from django import template

from common import clock
from incidents import rules
from incidents.maintenance import any_upcoming, upcoming

register = template.Library()

AHEAD = timedelta(hours=24)


@register.inclusion_tag("incidents/maintenance/_banner.html", takes_context=True)
def maintenance_banner(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"running": [], "next": None}
    team_ids = rules.context(user).team_ids
    if not team_ids:
        return {"running": [], "next": None}
    now = clock.now()
    if not any_upcoming(team_ids=team_ids, since=now, until=now + AHEAD):
        return {"running": [], "next": None}
    rows = upcoming(team_ids=team_ids, since=now, until=now + AHEAD, services=False)
    running, seen = [], set()
    for window, start, end in rows:
        if start <= now < end and window.pk not in seen:
            seen.add(window.pk)
            running.append({"window": window, "end": end})
    later = next(
        ({"window": w, "start": s} for w, s, _e in rows if s > now and w.pk not in seen), None
    )
    return {"running": running, "next": later}
