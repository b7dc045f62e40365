"""Reads of the duty roster: a team's Roster loaded for the arithmetic, who may be
on call, who is on call for the dashboard's viewer, the roster log's texts and the
calendar feed an address names."""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Prefetch, Q
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common import clock as wall
from common import sql
from common.people import display_name
from escalation.calendars import zone
from escalation.messages import LAYER_NAMES
from escalation.roster import arithmetic
from escalation.roster.models import (
    ALL_WEEKDAYS,
    CalendarFeed,
    Override,
    RosterEvent,
    Rotation,
    RotationMember,
)
from incidents import rules
from incidents.models import Team

# ---------------------------------------------------------------- who is on call


def rosters_for(teams, *, since: datetime | None = None) -> dict[int, arithmetic.Roster]:
    """Team id → its Roster, for `teams` (Team objects); overrides ending before
    `since` are left out. A constant number of queries for any number of teams."""
    teams = list(teams)
    ids = [t.pk for t in teams]
    since = since or (wall.now() - arithmetic.REACH)
    # Every rotation running, and the earlier versions of rotations that ended after
    # `since` (the schedule of the past is worked out from what was set then).
    rotations = list(
        Rotation.objects.filter(team_id__in=ids)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=since))
        .order_by("id")
        .prefetch_related(
            Prefetch(
                "members",
                queryset=RotationMember.objects.select_related("user").order_by("position"),
            )
        )
    )
    overrides = list(
        Override.objects.filter(team_id__in=ids, end__gt=since)
        .select_related("user")  # who made one: the team page asks (views._attach_users)
        .order_by("id")
    )
    people = people_ids(ids)
    rosters = {}
    for team in teams:
        mine = [r for r in rotations if r.team_id == team.pk]
        rosters[team.pk] = arithmetic.Roster(
            team=team,
            zone=zone(team.time_zone),
            rotations=[r for r in mine if r.ends_at is None],
            versions=mine,
            overrides=[o for o in overrides if o.team_id == team.pk],
            people=people.get(team.pk, set()),
            members={r.pk: [m.user for m in r.members.all()] for r in mine},
        )
    return rosters


def roster_for(team: Team, *, since: datetime | None = None) -> arithmetic.Roster:
    """The team's Roster (see rosters_for)."""
    return rosters_for([team], since=since)[team.pk]


def people_ids(team_ids) -> dict[int, set[int]]:
    """Team id → ids of its active members, tech leads and manager: who may be on
    call for it."""
    found: dict[int, set[int]] = {t: set() for t in team_ids}
    if not found:
        return found
    # One round trip for the three relations (the sweep and every roster page ask),
    # written out: the ORM took a millisecond to build its union of three querysets,
    # five times the statement's own time.
    users = get_user_model()._meta.db_table
    within = ", ".join(["%s"] * len(found))
    parts = [
        f"SELECT r.{f.m2m_column_name()}, r.{f.m2m_reverse_name()} FROM {f.m2m_db_table()} r "  # nosec B608: table and column names from the models
        f"JOIN {users} u ON u.id = r.{f.m2m_reverse_name()} "
        f"WHERE u.is_active AND r.{f.m2m_column_name()} IN ({within})"
        for f in (Team.members.field, Team.tech_leads.field)
    ]
    parts.append(
        f"SELECT t.id, t.manager_id FROM {Team._meta.db_table} t "  # nosec B608: table names from the models
        f"JOIN {users} u ON u.id = t.manager_id WHERE u.is_active AND t.id IN ({within})"
    )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), list(found) * 3)  # nosec B608
        for team_id, user_id in cursor.fetchall():
            found[team_id].add(user_id)
    return found


# The dashboard's header line is kept this long at most: a handoff (or a change
# of a team's members in the admin) shows within a minute; a roster edit at once,
# because every edit writes a RosterEvent and the newest one's id is in the key.
ON_CALL_HEADER_SECONDS = 60


def viewer_on_call(user, now: datetime) -> list[tuple[Team, list[tuple[str, object]]]]:
    """(team, who is on call now by layer) for each team the user belongs to that
    keeps a roster: the dashboard's header line, worked out at most once a minute
    per set of teams and roster version (ON_CALL_HEADER_SECONDS)."""
    ids = sorted(rules.context(user).team_ids)
    if not ids:
        return []
    # Written out: the dashboard asks on every view.
    ((newest,),) = sql.rows(
        f"SELECT MAX(id) FROM {sql.table(RosterEvent)} "  # nosec B608
        f"WHERE {sql.column(RosterEvent, 'team')} IN ({sql.among(ids)})",
        ids,
    )
    key = f"oncall-header:{','.join(map(str, ids))}:{newest}"
    kept = cache.get(key)
    if kept is not None and kept[0] <= now < kept[1]:
        return kept[2]
    found = _on_call_now(ids, now)
    until = now + timedelta(seconds=ON_CALL_HEADER_SECONDS)
    cache.set(key, (now, until, found), ON_CALL_HEADER_SECONDS)
    return found


def _on_call_now(ids, now: datetime) -> list[tuple[Team, list[tuple[str, object]]]]:
    teams = Team.objects.filter(pk__in=ids).filter(
        Q(rotations__isnull=False) | Q(overrides__end__gt=now)
    )
    teams = list(teams.distinct().order_by("name"))
    if not teams:
        return []
    rosters = rosters_for(teams, since=now)
    found = []
    for team in teams:
        answer = rosters[team.pk].on_call(now)
        found.append((team, [(layer, a.user) for layer, a in answer.items() if a.user is not None]))
    return found


# ---------------------------------------------------------------- the roster log


def describe(event: RosterEvent, names: dict[str, str] | None = None) -> str:
    """What changed, in the active language. The facts keep usernames; `names`
    (people_names of the page's events) shows them as people's names, a deleted
    user by the username kept. Without it (the English summary): usernames."""
    d = event.data
    names = names or {}

    def who(usernames) -> str:
        return ", ".join(names.get(u, u) for u in usernames)

    if (
        event.kind
        in (
            RosterEvent.Kind.ROTATION_CREATED,
            RosterEvent.Kind.ROTATION_CHANGED,
            RosterEvent.Kind.ROTATION_DELETED,
        )
        and "after" in d
    ):
        text = _rotation_text(d["after"], names)
        if d.get("before") and d["before"] != d["after"]:
            text = f"{_rotation_text(d['before'], names)} → {text}"
        return text
    if event.kind in (RosterEvent.Kind.OVERRIDE_CREATED, RosterEvent.Kind.OVERRIDE_DELETED) and (
        "user" in d
    ):
        text = _("%(user)s covers %(covers)s (%(layer)s) %(span)s") % {
            "user": who([d["user"]]),
            "covers": who(d["covers"]) or "—",
            "layer": _layer(d["layer"]),
            "span": d["span"],
        }
        if d.get("note"):
            return _("%(label)s: %(text)s") % {"label": text, "text": d["note"]}
        return text
    if event.kind == RosterEvent.Kind.TURNS_MOVED and "people" in d:
        changes = []
        if d["left"]:
            changes.append(_("%(users)s left") % {"users": who(d["left"])})
        if d["back"]:
            changes.append(_("%(users)s back") % {"users": who(d["back"])})
        return _(
            "%(name)s follows a team change (%(changes)s): turns go round %(people)s, "
            "from %(user)s now"
        ) % {
            "name": d["name"],
            "changes": "; ".join(changes),
            "people": " → ".join(names.get(u, u) for u in d["people"]),
            "user": who([d["holder"]]),
        }
    if event.kind == RosterEvent.Kind.NOTE_ADDED and "text" in d:
        return f"{_layer(d['layer'])}: {d['text']}"
    return event.summary  # a row written before the facts were kept


def people_names(events, known=()) -> dict[str, str]:
    """username → name of everyone the events' facts mention, in one query for all
    of them, none when the users `known` (loaded already) name them all; a deleted
    user is left out (describe keeps their username)."""
    usernames = set()
    for event in events:
        d = event.data
        for facts in (d.get("before"), d.get("after")):
            usernames.update((facts or {}).get("people", []))
        usernames.update(d.get(key) for key in ("user", "holder"))
        for key in ("covers", "left", "back", "people"):
            usernames.update(d.get(key) or [])
    usernames.discard(None)
    names = {u.username: display_name(u) for u in known if u.username in usernames}
    missing = usernames - names.keys()
    if missing:
        users = get_user_model().objects.filter(username__in=missing)
        names.update(
            (u.username, display_name(u)) for u in users.only("username", "first_name", "last_name")
        )
    return names


def _layer(value: str) -> str:
    return str(LAYER_NAMES.get(value, value))


def _rotation_text(f: dict, names: dict[str, str]) -> str:
    text = ngettext(
        "%(name)s (%(layer)s): %(people)s; shifts of %(days)s day from %(start)s %(at)s",
        "%(name)s (%(layer)s): %(people)s; shifts of %(days)s days from %(start)s %(at)s",
        f["shift_days"],
    ) % {
        "name": f["name"],
        "layer": _layer(f["layer"]),
        "people": " → ".join(names.get(u, u) for u in f["people"]),
        "days": f["shift_days"],
        "start": f["start"],
        "at": f["at"],
    }
    if f["weekdays"] != ALL_WEEKDAYS:
        text += "; " + ", ".join(str(WEEKDAYS_ABBR[int(d)]) for d in f["weekdays"])
    if f["window"]:
        text += "; " + _("daily %(window)s") % {"window": f["window"]}
    return text


# ---------------------------------------------------------------- calendar feeds


def feed_usable(feed: CalendarFeed | None) -> bool:
    """An address works while it is not revoked and its owner may still see it."""
    if feed is None or feed.revoked_at is not None or not feed.user.is_active:
        return False
    return feed.team is None or rules.sees_roster(feed.user, feed.team)


def feed_by_token(token: str) -> CalendarFeed | None:
    """The feed whose address holds `token`, if that address still works (feed_usable)."""
    feed = CalendarFeed.find(token)
    return feed if feed_usable(feed) else None


def feeds_of(user, team: Team) -> dict[bool, CalendarFeed]:
    """The user's working addresses the team's roster page shows: True → of the
    team's schedule, False → of their own shifts (the newest of each kind)."""
    feeds = (
        CalendarFeed.objects.filter(user=user, revoked_at__isnull=True)
        .filter(Q(team=team) | Q(team__isnull=True))
        .order_by("created_at", "id")  # the newest of each kind wins
    )
    return {(f.team_id is not None): f for f in feeds}
