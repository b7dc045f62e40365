"""Writes to a team's duty roster: rotations, overrides, handover notes, calendar
feeds, and rotations following team changes (run by the roster's sweep).

Every change is checked against incidents.rules and written with a RosterEvent
in the same transaction: the roster's timeline says who changed what, when.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from common import clock as wall
from escalation.calendars import zone
from escalation.roster.arithmetic import Roster
from escalation.roster.models import (
    ALL_WEEKDAYS,
    CalendarFeed,
    HandoverNote,
    Layer,
    Override,
    RosterEvent,
    Rotation,
    RotationMember,
)
from escalation.roster.selectors import describe, people_ids, roster_for
from incidents import rules
from incidents.models import Team

# An override may reach this far ahead.
OVERRIDE_REACH = timedelta(days=366)
# A rotation's start date lies within this of today: further, and nothing it says
# could matter (and far dates overflow the arithmetic).
DATE_REACH = timedelta(days=3653)


def _event(team: Team, actor, kind: str, **data) -> RosterEvent:
    """The roster's timeline entry: the facts in `data`, shown in each reader's
    language (describe); `summary` keeps them in English for the admin."""
    event = RosterEvent(team=team, at=wall.now(), actor=actor, kind=kind, data=data)
    with translation.override("en"):
        event.summary = describe(event)[:500]
    event.save()
    return event


def _rotation_facts(rotation: Rotation, users) -> dict:
    return {
        "name": rotation.name,
        "layer": rotation.layer,
        "people": [u.username for u in users],
        "shift_days": rotation.shift_days,
        "start": rotation.start_date.isoformat(),
        "at": f"{rotation.handoff_time:%H:%M}",
        "weekdays": rotation.weekdays,
        "window": (
            f"{rotation.day_start:%H:%M}–{rotation.day_end:%H:%M}"
            if rotation.day_start is not None
            else ""
        ),
    }


def _participants(rotation: Rotation) -> list:
    return [m.user for m in rotation.members.select_related("user").order_by("position")]


def _span(zone, start: datetime, end: datetime) -> str:
    """A stretch in the team's zone, as the roster page shows it."""
    a, b = start.astimezone(zone), end.astimezone(zone)
    until = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    return f"{a:%Y-%m-%d %H:%M}–{until} {a.tzname()}"


# ---------------------------------------------------------------- rotations


def not_lead(team: Team) -> str:
    return _("Only a tech lead of %(team)s may change its rotations.") % {"team": team.name}


@dataclass
class RotationSpec:
    """What a tech lead sets on a rotation (the rotation form fills it)."""

    name: str
    layer: str
    participants: list  # users, in order
    shift_days: int = 7
    handoff_time: time = time(9, 0)
    start_date: date | None = None
    weekdays: str = ALL_WEEKDAYS
    day_start: time | None = None
    day_end: time | None = None


def _check_rotation(team: Team, spec: RotationSpec) -> None:
    errors = {}
    if not spec.name.strip():
        errors["name"] = _("Name the rotation.")
    if spec.layer not in Layer.values:
        errors["layer"] = _("Choose primary or secondary.")
    if not spec.participants:
        errors["participants"] = _("Name at least one participant.")
    people = people_ids([team.pk])[team.pk]
    twice = sorted({u.username for u in spec.participants if spec.participants.count(u) > 1})
    if twice:
        errors["participants"] = _("Name each participant once: %(names)s.") % {
            "names": ", ".join(twice)
        }
    strangers = [u.username for u in spec.participants if u.pk not in people]
    if strangers:
        errors["participants"] = _("Not active members of %(team)s: %(names)s.") % {
            "team": team.name,
            "names": ", ".join(strangers),
        }
    if not 1 <= spec.shift_days <= 28:
        errors["shift_days"] = _("A shift lasts 1 to 28 days.")
    if spec.start_date is None:
        errors["start_date"] = _("Give the day the first shift begins.")
    elif abs((spec.start_date - wall.now().date()).days) > DATE_REACH.days:
        errors["start_date"] = _("Give a date within ten years of today.")
    if not spec.weekdays or set(spec.weekdays) - set(ALL_WEEKDAYS):
        errors["weekdays"] = _("Choose at least one weekday.")
    elif len(set(spec.weekdays)) != len(spec.weekdays):
        errors["weekdays"] = _("Give each weekday once.")
    if (spec.day_start is None) != (spec.day_end is None):
        errors["day_end"] = _("Give both ends of the daily window, or neither.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def rotation_save(
    *, actor, team: Team, spec: RotationSpec, rotation: Rotation | None = None
) -> Rotation:
    """Create or change a rotation; only the team's tech leads (and admins) may."""
    if not rules.edits_roster(actor, team):
        raise PermissionDenied(not_lead(team))
    if rotation is not None and rotation.team_id != team.pk:
        raise PermissionDenied(_("This rotation belongs to another team."))
    _check_rotation(team, spec)
    now = wall.now()
    before = None
    if rotation is None:
        rotation = Rotation(team=team, created_at=now)
        held = (None, None, [])
    else:
        before = _rotation_facts(rotation, _participants(rotation))
        current = roster_for(team)
        loaded = next(r for r in current.rotations if r.pk == rotation.pk)
        held = (*current.holder(loaded, now), current.members.get(rotation.pk, []))
        _keep_past(current, loaded, now)
        rotation.begins_at = loaded.begins_at
    rotation.name = spec.name.strip()
    rotation.layer = spec.layer
    rotation.shift_days = spec.shift_days
    rotation.handoff_time = spec.handoff_time
    rotation.start_date = spec.start_date
    rotation.weekdays = "".join(sorted(set(spec.weekdays)))
    rotation.day_start, rotation.day_end = spec.day_start, spec.day_end
    rotation.updated_at = now
    _anchor(rotation, team, now, *held, people=spec.participants)
    rotation.save()
    RotationMember.objects.filter(rotation=rotation).delete()
    RotationMember.objects.bulk_create(
        [
            RotationMember(rotation=rotation, user=u, position=i)
            for i, u in enumerate(spec.participants)
        ]
    )
    after = _rotation_facts(rotation, spec.participants)
    if before is None:
        _event(team, actor, RosterEvent.Kind.ROTATION_CREATED, rotation=rotation.pk, after=after)
    else:
        _event(
            team,
            actor,
            RosterEvent.Kind.ROTATION_CHANGED,
            rotation=rotation.pk,
            before=before,
            after=after,
        )
    return rotation


def _arithmetic(team: Team) -> Roster:
    """A roster with nothing loaded: for a rotation's own arithmetic in the team's zone."""
    return Roster(team=team, zone=zone(team.time_zone), rotations=[], overrides=[], people=set())


def _keep_past(roster: Roster, rotation: Rotation, now: datetime) -> None:
    """Before `rotation` (as loaded in `roster`) changes at `now`, keep what it said
    until now: an ended copy of its settings, turns and participants replaces it
    until `now`, and the rotation itself covers from `now`. Nothing is kept of a
    rotation that has not begun."""
    first = rotation.begins_at or roster.boundary(rotation, 0)
    if first >= now:
        return
    copy = Rotation.objects.get(pk=rotation.pk)
    copy.pk = None
    copy._state.adding = True
    copy.replaces_id, copy.ends_at = rotation.pk, now
    copy.save()
    RotationMember.objects.bulk_create(
        [
            RotationMember(rotation=copy, user=u, position=i)
            for i, u in enumerate(roster.members.get(rotation.pk, []))
        ]
    )
    rotation.begins_at = now
    Rotation.objects.filter(pk=rotation.pk).update(begins_at=now)


def _anchor(rotation: Rotation, team: Team, now: datetime, turn, holder, order, *, people):
    """Set where `rotation`'s turns stand so that the change being made does not change
    who holds it now: `holder` (who held turn `turn` before it, in the old `order`)
    keeps the turn that holds `now` under the new settings, and the turns go on from
    the person after them in the new order. If `holder` is no longer a participant,
    the next one of the old order who still is takes over at once. A rotation that
    has not begun (before or after the change) starts from its first participant.
    """
    rotation.anchor_people = [u.pk for u in people]
    new_turn = _arithmetic(team).current_turn(rotation, now)
    if new_turn is None or holder is None:
        rotation.anchor_turn, rotation.anchor_user = 0, people[0]
        return
    kept = {u.pk for u in people}
    if holder.pk not in kept:
        at = next((i for i, u in enumerate(order) if u.pk == holder.pk), -1)
        after = order[at + 1 :] + order[: at + 1]
        holder = next((u for u in after if u.pk in kept), people[0])
    rotation.anchor_turn, rotation.anchor_user = new_turn, holder


def follow_team_changes(roster: Roster, now: datetime) -> list[RosterEvent]:
    """Rotations whose participants left the team (or came back) since their turns
    were last set go round the people who may be on call now, from whoever holds the
    turn now: someone who left is replaced at once by the next person, who goes on
    from there. Each change is on the roster's timeline. Run by the roster sweep."""
    events = []
    for rotation in roster.rotations:
        members = roster.members.get(rotation.pk, [])
        here = [u for u in members if roster.eligible(u)]
        going_round = roster.cycle(rotation)
        if not here or {u.pk for u in here} == {u.pk for u in going_round}:
            continue
        turn, holder = roster.holder(rotation, now)
        _keep_past(roster, rotation, now)
        if turn is None or holder is None:
            rotation.anchor_turn, rotation.anchor_user = 0, here[0]
        else:
            rotation.anchor_turn, rotation.anchor_user = turn, holder
        rotation.anchor_people = [u.pk for u in here]
        rotation.save(update_fields=["anchor_turn", "anchor_user", "anchor_people", "begins_at"])
        was = {u.pk for u in going_round}
        events.append(
            _event(
                roster.team,
                None,
                RosterEvent.Kind.TURNS_MOVED,
                rotation=rotation.pk,
                name=rotation.name,
                left=[u.username for u in going_round if not roster.eligible(u)],
                back=[u.username for u in here if u.pk not in was],
                people=[u.username for u in here],
                holder=rotation.anchor_user.username,
            )
        )
    return events


@transaction.atomic
def rotation_delete(*, actor, rotation: Rotation) -> None:
    team = rotation.team
    if not rules.edits_roster(actor, team):
        raise PermissionDenied(not_lead(team))
    facts = _rotation_facts(rotation, _participants(rotation))
    _event(team, actor, RosterEvent.Kind.ROTATION_DELETED, rotation=rotation.pk, after=facts)
    now = wall.now()
    if (rotation.begins_at or _arithmetic(team).boundary(rotation, 0)) < now:
        # It has begun: its past stays in the schedule, as history.
        rotation.ends_at = now
        rotation.save(update_fields=["ends_at"])
    else:
        rotation.delete()


# ---------------------------------------------------------------- overrides


def _may_override(actor, team: Team, user, covered: list) -> bool:
    """The person covering, the person covered, a tech lead or a manager."""
    if rules.manages_roster(actor, team):
        return True
    return rules.sees_roster(actor, team) and (
        actor.pk == user.pk or any(u.pk == actor.pk for u in covered)
    )


@transaction.atomic
def override_create(
    *, actor, team: Team, layer: str, user, start: datetime, end: datetime, note: str = ""
) -> Override:
    """`user` is on call in `layer` over [start, end) instead of whoever the rotations say.

    Made by `user`, by someone on call in that stretch (asking to be covered), by
    a tech lead or a manager. Refused: a stretch that has ended, is empty or
    reaches beyond a year, and someone outside the team.
    """
    errors = {}
    now = wall.now()
    if layer not in Layer.values:
        errors["layer"] = _("Choose primary or secondary.")
    if start is None or end is None:
        errors["end"] = _("Give when the override starts and ends.")
    elif end <= start:
        errors["end"] = _("The override must end after it starts.")
    elif end <= now:
        errors["end"] = _("This stretch is over already.")
    elif end - now > OVERRIDE_REACH:
        errors["end"] = _("An override can reach at most a year ahead.")
    elif now - start > OVERRIDE_REACH:
        errors["start"] = _("An override can begin at most a year back.")
    roster = roster_for(team)
    if user is None or not roster.eligible(user):
        errors["user"] = _("Choose an active member of %(team)s.") % {"team": team.name}
    if len(note) > 200:
        errors["note"] = _("Keep the note under 200 characters.")
    if errors:
        raise ValidationError(errors)
    covered = [s.user for s in roster.shifts(start, end).get(layer, []) if s.user.pk != user.pk]
    if not _may_override(actor, team, user, covered):
        raise PermissionDenied(
            _(
                "Only the person covering, the person covered, a tech lead or a manager "
                "may add this override."
            )
        )
    override = Override.objects.create(
        team=team,
        layer=layer,
        user=user,
        start=start,
        end=end,
        note=note.strip(),
        created_by=actor,
        created_at=now,
    )
    _event(
        team,
        actor,
        RosterEvent.Kind.OVERRIDE_CREATED,
        override=override.pk,
        user=user.username,
        covers=[u.username for u in {u.pk: u for u in covered}.values()],
        layer=layer,
        span=_span(roster.zone, start, end),
        note=override.note,
    )
    return override


@transaction.atomic
def override_delete(*, actor, override: Override) -> None:
    team = override.team
    if not (
        rules.manages_roster(actor, team) or actor.pk in (override.user_id, override.created_by_id)
    ):
        raise PermissionDenied(
            _("Only who made it, who covers, a tech lead or a manager may remove this override.")
        )
    roster = roster_for(team)
    # Whom it covered: what its own shifts lay over (the schedule with it in place).
    shifts = roster.shifts(override.start, override.end).get(override.layer, [])
    covered = {u.username for s in shifts if s.override == override for u in s.covers}
    _event(
        team,
        actor,
        RosterEvent.Kind.OVERRIDE_DELETED,
        override=override.pk,
        user=override.user.username,
        covers=sorted(covered - {override.user.username}),
        layer=override.layer,
        span=_span(roster.zone, override.start, override.end),
        note=override.note,
    )
    override.delete()


# ---------------------------------------------------------------- handover notes


@transaction.atomic
def handover_note_add(*, actor, team: Team, layer: str, text: str) -> HandoverNote:
    """Whoever is on call in `layer` (or a tech lead) leaves a note for the next person;
    it goes out with the next handover notice of that layer."""
    text = (text or "").strip()
    if layer not in Layer.values:
        raise ValidationError({"layer": _("Choose primary or secondary.")})
    if not text:
        raise ValidationError({"text": _("Write the note.")})
    if len(text) > 2000:
        raise ValidationError({"text": _("Keep the note under 2000 characters.")})
    now = wall.now()
    on_call = roster_for(team).on_call(now, layer).user
    if not ((on_call is not None and on_call.pk == actor.pk) or rules.edits_roster(actor, team)):
        raise PermissionDenied(
            _("Only who is on call now (or a tech lead) leaves the handover note.")
        )
    note = HandoverNote.objects.create(
        team=team, layer=layer, author=actor, text=text, created_at=now
    )
    _event(team, actor, RosterEvent.Kind.NOTE_ADDED, note=note.pk, layer=layer, text=text[:200])
    return note


# ---------------------------------------------------------------- calendar feeds


@transaction.atomic
def feed_create(*, user, team: Team | None = None) -> CalendarFeed:
    """A new private address for `user`'s shifts (no team) or `team`'s schedule; the
    previous one of the same kind stops working (a reset)."""
    if team is not None and not rules.sees_roster(user, team):
        raise PermissionDenied(_("You do not see this team's roster."))
    now = wall.now()
    CalendarFeed.objects.filter(user=user, team=team, revoked_at__isnull=True).update(
        revoked_at=now
    )
    feed = CalendarFeed.made(user=user, team=team, created_at=now)
    feed.save()
    return feed


@transaction.atomic
def feed_for(*, user, team: Team) -> CalendarFeed:
    """The user's private address of `team`'s schedule: the one they have (not
    revoked), or a new one. Unlike feed_create it never resets an address."""
    if not rules.sees_roster(user, team):
        raise PermissionDenied(_("You do not see this team's roster."))
    # Two first calls at once make one address: they queue on the user's row.
    users = CalendarFeed._meta.get_field("user").related_model
    users.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
    # An address made before secrets were derivable cannot be shown again: it keeps
    # working, and a showable one is made beside it.
    mine = CalendarFeed.objects.filter(user=user, team=team, revoked_at__isnull=True)
    feed = mine.exclude(nonce="").order_by("-created_at", "-id").first()
    if feed is not None:
        return feed
    feed = CalendarFeed.made(user=user, team=team, created_at=wall.now())
    feed.save()
    return feed


@transaction.atomic
def feed_revoke(*, user, feed: CalendarFeed) -> None:
    if feed.user_id != user.pk:
        raise PermissionDenied(_("This calendar address is someone else's."))
    if feed.revoked_at is None:
        feed.revoked_at = wall.now()
        feed.save(update_fields=["revoked_at"])
