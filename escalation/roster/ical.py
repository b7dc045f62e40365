"""Calendar feeds (.ics) of on-call shifts, written with the icalendar library.

A user's feed holds their own shifts in every team they are on a roster of; a
team's feed holds its whole schedule, every layer. Both reach from 30 days
back to 90 days ahead, which is what calendar programs fetch and keep.
"""

from datetime import UTC, datetime, timedelta

import icalendar
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from common.people import display_name, display_names
from escalation.messages import LAYER_NAMES
from escalation.roster.arithmetic import REACH, Shift
from escalation.roster.models import CalendarFeed
from escalation.roster.selectors import rosters_for
from incidents.selectors import visible_teams

BACK = timedelta(days=30)
AHEAD = timedelta(days=90)
# An override that began longer ago than this is listed from here on.
OVERRIDE_LOOKBACK = timedelta(days=400)


def feed_shifts(feed: CalendarFeed, now: datetime) -> list[tuple]:
    """(team, shift, uid) of every piece a feed lists: the team's (every layer) or
    the user's own, in time order. Each piece is one stretch of one shift (or of an
    override) and is listed whole, never cut at the feed's first day, so its UID
    (see _uid) is the same on every fetch."""
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
    listed = []
    # Overrides that ended before the feed's first day are loaded too: one may have
    # cut a piece that reaches into it, and the pieces must be numbered the same.
    for roster in rosters_for(teams, since=start - OVERRIDE_LOOKBACK).values():
        # Back far enough that every piece reaching into the feed starts inside what
        # is worked out: a shift lasts at most 28 days, an override as long as it says.
        since = min([start - REACH] + [o.start for o in roster.overrides])
        since = max(since, start - OVERRIDE_LOOKBACK)
        for items in roster.shifts(since, end, merge=False).values():
            ordinal: dict[tuple, int] = {}
            for shift in items:
                key = _source(shift)
                ordinal[key] = ordinal.get(key, -1) + 1
                if shift.end <= start:
                    continue
                if feed.team is None and shift.user.pk != feed.user_id:
                    continue
                listed.append((roster.team, shift, _uid(roster.team, key, ordinal[key])))
    listed.sort(key=lambda item: (item[1].start, item[1].layer, item[0].slug))
    return listed


def _source(shift: Shift) -> tuple:
    """What a piece belongs to: (layer, "o", override) or (layer, "r", rotation, shift)."""
    if shift.override is not None:
        return (shift.layer, "o", shift.override.pk)
    return (shift.layer, "r", shift.rotation.identity, shift.index)


def _uid(team, key: tuple, ordinal: int) -> str:
    """Names the shift (rotation, shift number, layer) or the override, and which of
    its pieces this is; never the instant a window cut it at."""
    layer, kind, *ids = key
    name = f"override-{ids[0]}" if kind == "o" else f"rotation-{ids[0]}-shift-{ids[1]}-{layer}"
    return f"{team.slug}-{name}-{ordinal}@responder"


def render(feed: CalendarFeed, now: datetime, language: str | None = None) -> bytes:
    """The feed as iCalendar bytes, its texts in the user's language: the one they
    chose, else the one their browser asked for at their last sign-in (a calendar
    program fetching the feed asks for none of its own)."""
    profile = getattr(feed.user, "profile", None)
    if profile is not None:
        language = language or profile.language or profile.browser_language or None
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
        for team, shift, uid in feed_shifts(feed, now):
            layer = str(LAYER_NAMES.get(shift.layer, shift.layer))
            event = icalendar.Event()
            event.add("uid", uid)
            event.add("dtstamp", now.astimezone(UTC))
            event.add("dtstart", shift.start.astimezone(UTC))
            event.add("dtend", shift.end.astimezone(UTC))
            event.add(
                "summary",
                _("On call (%(layer)s): %(team)s — %(user)s")
                % {"layer": layer, "team": team.name, "user": display_name(shift.user)},
            )
            if shift.override is not None:
                covers = display_names(shift.covers)
                event.add("description", _("Override, covering %(users)s.") % {"users": covers})
            event.add("categories", [layer])
            event.add("url", f"{settings.SITE_URL}/oncall/{team.slug}/")
            event.add("transp", "TRANSPARENT")
            cal.add_component(event)
        return cal.to_ical()
