"""Calendar feeds (.ics) of on-call shifts, written with the icalendar library.

A user's feed holds their own shifts in every team they are on a roster of; a
team's feed holds its whole schedule, every layer. Both reach from 30 days
back to 90 days ahead, which is what calendar programs fetch and keep.
"""

import hashlib
from datetime import UTC, datetime, timedelta

import icalendar
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from escalation import oncall
from escalation.messages import LAYER_NAMES
from escalation.models import CalendarFeed
from incidents.selectors import visible_teams

BACK = timedelta(days=30)
AHEAD = timedelta(days=90)


def feed_shifts(feed: CalendarFeed, now: datetime) -> list[tuple]:
    """(team, shift) of every shift a feed lists: the team's (every layer) or the
    user's own, in time order."""
    start, end = now - BACK, now + AHEAD
    if feed.team is not None:
        teams = [feed.team]
    else:
        teams = list(visible_teams(feed.user).filter(rotations__isnull=False).distinct())
        teams += [
            t
            for t in visible_teams(feed.user).filter(overrides__user=feed.user).distinct()
            if t not in teams
        ]
    shifts = []
    for roster in oncall.load(teams, since=start).values():
        for items in roster.shifts(start, end).values():
            shifts += [
                (roster.team, s)
                for s in items
                if feed.team is not None or s.user.pk == feed.user_id
            ]
    shifts.sort(key=lambda pair: (pair[1].start, pair[1].layer, pair[0].slug))
    return shifts


def _uid(shift: oncall.Shift, team_slug: str) -> str:
    key = f"{team_slug}|{shift.layer}|{shift.user.username}|{shift.start.isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@responder"


def render(feed: CalendarFeed, now: datetime, language: str | None = None) -> bytes:
    """The feed as iCalendar bytes, its texts in the user's language."""
    language = language or getattr(getattr(feed.user, "profile", None), "language", "") or None
    with translation.override(language or settings.LANGUAGE_CODE):
        cal = icalendar.Calendar()
        cal.add("prodid", "-//Responder//duty roster//EN")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        name = (
            _("On call: %(team)s") % {"team": feed.team.name}
            if feed.team is not None
            else _("My on-call shifts")
        )
        cal.add("x-wr-calname", name)
        cal.add("x-published-ttl", "PT1H")
        for team, shift in feed_shifts(feed, now):
            layer = str(LAYER_NAMES.get(shift.layer, shift.layer))
            event = icalendar.Event()
            event.add("uid", _uid(shift, team.slug))
            event.add("dtstamp", now.astimezone(UTC))
            event.add("dtstart", shift.start.astimezone(UTC))
            event.add("dtend", shift.end.astimezone(UTC))
            event.add(
                "summary",
                _("On call (%(layer)s): %(team)s — %(user)s")
                % {"layer": layer, "team": team.name, "user": shift.user.username},
            )
            if shift.override is not None:
                covers = ", ".join(u.username for u in shift.covers) or "—"
                event.add("description", _("Override, covering %(users)s.") % {"users": covers})
            event.add("categories", [layer])
            event.add("url", f"{settings.SITE_URL}/oncall/{team.slug}/")
            event.add("transp", "TRANSPARENT")
            cal.add_component(event)
        return cal.to_ical()
