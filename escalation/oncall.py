"""Who is on call: a team's schedule worked out from its rotations and overrides.

All arithmetic runs on UTC instants. A rotation covers stretches, one per day:
from the handoff time to the next day's handoff time, or the day's window; a
stretch belongs to the weekday it starts on, and the weekdays filter keeps the
stretches of the chosen days. Shift k runs from the handoff time on
`start_date + k × shift_days` (in the team's zone: across a DST change the
handoff keeps its local time and that shift is an hour shorter or longer; a
skipped handoff time happens at the first instant after the gap) to the next,
and covers the kept stretches' time inside it. A shift that covers no time
takes no turn. Whose turn is whose is anchored on the rotation (turn
`anchor_turn` is `anchor_user`'s), which edits and team changes move so that
they never change who is on call at that moment. A participant who has left
the team (or whose account is inactive) is replaced at once by the next one,
and the roster warns about it.

Layering, in each layer: rotations in the order they were defined, each later
one painted over the earlier ones where they overlap; then overrides, in the
order they were made, painted over everything (so an override inside an
override wins where it lies).
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from math import gcd

from django.db.models import Prefetch, Q
from django.utils.translation import gettext as _

from common import clock as wall
from common.people import display_name
from escalation.calendars import zone
from escalation.models import Layer, Override, Rotation, RotationMember
from escalation.models.roster import LAYER_ORDER
from incidents import rules
from incidents.models import Team

LAYERS = sorted(Layer.values, key=lambda v: LAYER_ORDER[v])
# How far back the first shift of a window is looked for, and how far ahead
# "next" is: a shift is at most 28 days long.
REACH = timedelta(days=29)


@dataclass(frozen=True)
class Shift:
    """Someone on call in one layer over [start, end)."""

    layer: str
    user: object
    start: datetime
    end: datetime
    rotation: Rotation | None = None
    override: Override | None = None
    covers: tuple = ()  # overrides: who would have been on call (users)
    index: int | None = None  # a rotation's shift number (0: the first from start_date)
    part: int = 0  # which stretch of that shift (a shift may cover several)

    @property
    def is_override(self) -> bool:
        return self.override is not None

    @property
    def source_key(self) -> tuple:
        rotation = self.rotation.identity if self.rotation else None
        return (rotation, self.override.pk if self.override else None)


@dataclass
class Skipped:
    """A participant the rotation skips, and why: the roster's warning."""

    rotation: Rotation
    user: object  # the participant skipped
    reason: str  # "left" (not in the team any more) or "inactive"

    def __str__(self):
        if self.reason == "inactive":
            text = _(
                "%(user)s in rotation “%(rotation)s” is inactive: their shifts go to "
                "the next person."
            )
        else:
            text = _(
                "%(user)s in rotation “%(rotation)s” has left the team: their shifts go to "
                "the next person."
            )
        return text % {"user": self.user.username, "rotation": self.rotation.name}


@dataclass(frozen=True)
class DoubleDuty:
    """Someone on call in both layers over [start, end): allowed (an override can do
    it), but then nobody backs them up: the roster's warning."""

    user: object
    start: datetime
    end: datetime
    zone: object

    def __str__(self):
        a, b = self.start.astimezone(self.zone), self.end.astimezone(self.zone)
        return _(
            "%(user)s is primary and secondary at once from %(start)s until %(end)s: "
            "nobody backs them up then."
        ) % {
            "user": display_name(self.user),
            "start": f"{a:%m-%d %H:%M}",
            "end": f"{b:%m-%d %H:%M}",
        }


@dataclass
class Roster:
    """One team's rotations and overrides, with everything the arithmetic needs loaded."""

    team: Team
    zone: object
    rotations: list[Rotation]
    overrides: list[Override]
    people: set[int]  # ids of the team's active members, leads and manager
    members: dict[int, list] = field(default_factory=dict)  # rotation id → users in order
    # Every row the schedule is worked out from: the running rotations and earlier
    # versions of them (ended); empty: just `rotations`.
    versions: list[Rotation] = field(default_factory=list)

    # ------------------------------------------------------------ rotations

    def eligible(self, user) -> bool:
        return user.is_active and user.pk in self.people

    def warnings(self) -> list[Skipped]:
        found = []
        for rotation in self.rotations:
            for user in self.members.get(rotation.pk, []):
                if not self.eligible(user):
                    reason = "inactive" if not user.is_active else "left"
                    found.append(Skipped(rotation, user, reason))
        return found

    def boundary(self, rotation: Rotation, k: int) -> datetime:
        """When shift k of `rotation` begins (UTC)."""
        day = rotation.start_date + timedelta(days=k * rotation.shift_days)
        return _instant(day, rotation.handoff_time, self.zone)

    def shift_at(self, rotation: Rotation, at: datetime) -> int:
        """The index of the shift of `rotation` that `at` falls in (negative: before
        the first)."""
        days = (at.astimezone(self.zone).date() - rotation.start_date).days
        k = days // rotation.shift_days
        while self.boundary(rotation, k) > at:
            k -= 1
        while self.boundary(rotation, k + 1) <= at:
            k += 1
        return k

    def turn(self, rotation: Rotation, k: int) -> int:
        """How many turns shifts 0 … k-1 took: a shift that covers no time takes none."""
        pattern = turn_pattern(rotation)
        whole, rest = divmod(k, len(pattern))
        return whole * sum(pattern) + sum(pattern[:rest])

    def takes_turn(self, rotation: Rotation, k: int) -> bool:
        pattern = turn_pattern(rotation)
        return pattern[k % len(pattern)]

    def current_turn(self, rotation: Rotation, at: datetime) -> int | None:
        """The turn that holds `at`: the shift's around it, or if that shift covers no
        time, the last one before that did; None before the first turn."""
        k = self.shift_at(rotation, at)
        if k < 0:
            return None
        turn = self.turn(rotation, k)
        if self.takes_turn(rotation, k):
            return turn
        return turn - 1 if turn > 0 else None

    def cycle(self, rotation: Rotation) -> list:
        """The participants the turns go round, in order (see Rotation.anchor_people)."""
        people = self.members.get(rotation.pk, [])
        kept = set(rotation.anchor_people or [])
        cycle = [u for u in people if u.pk in kept] if kept else list(people)
        return cycle or list(people)

    def participant(self, rotation: Rotation, turn: int):
        """Who takes `turn`: its participant by the anchor, or, if they have left the
        team or are inactive, the next one who has not (they take over at once)."""
        cycle = self.cycle(rotation)
        if not cycle:
            return None
        ids = [u.pk for u in cycle]
        first = ids.index(rotation.anchor_user_id) if rotation.anchor_user_id in ids else 0
        nominal = (first + turn - rotation.anchor_turn) % len(cycle)
        if rotation.ends_at is not None:
            # An earlier version: the people it went round were all here while it
            # was in force (a team change ends a version), whoever has left since.
            return cycle[nominal]
        for i in range(len(cycle)):
            user = cycle[(nominal + i) % len(cycle)]
            if self.eligible(user):
                return user
        # Everyone the turns went round has gone: anyone of the rotation still here.
        return next((u for u in self.members.get(rotation.pk, []) if self.eligible(u)), None)

    def holder(self, rotation: Rotation, at: datetime):
        """(turn, user) holding the rotation at `at` (see current_turn), or (None, None)."""
        turn = self.current_turn(rotation, at)
        if turn is None:
            return None, None
        return turn, self.participant(rotation, turn)

    def rotation_shifts(self, rotation: Rotation, start: datetime, end: datetime) -> list[Shift]:
        """The shifts of one rotation overlapping [start, end): for each shift that takes
        a turn, the time of its stretches, clipped to the window."""
        if not self.members.get(rotation.pk):
            return []
        k = max(0, self.shift_at(rotation, start))
        shifts = []
        while True:
            s, e = self.boundary(rotation, k), self.boundary(rotation, k + 1)
            if s >= end:
                break
            if e > start and self.takes_turn(rotation, k):
                user = self.participant(rotation, self.turn(rotation, k))
                parts = self._covered(rotation, s, e) if user is not None else []
                for part, (a, b) in enumerate(parts):
                    if b <= start or a >= end:
                        continue
                    a, b = max(a, start), min(b, end)
                    shifts.append(
                        Shift(rotation.layer, user, a, b, rotation=rotation, index=k, part=part)
                    )
            k += 1
        return shifts

    def _covered(self, rotation: Rotation, start: datetime, end: datetime):
        """The time of [start, end) inside the rotation's kept stretches, joined where
        back to back."""
        if rotation.whole_days:
            return [(start, end)] if end > start else []
        days = {int(d) for d in rotation.weekdays}
        parts: list[tuple[datetime, datetime]] = []
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        while day <= last:
            if day.weekday() in days:
                a, b = (_instant(d, t, self.zone) for d, t in stretch(rotation, day))
                a, b = max(a, start), min(b, end)
                if b > a:
                    if parts and parts[-1][1] >= a:
                        parts[-1] = (parts[-1][0], max(parts[-1][1], b))
                    else:
                        parts.append((a, b))
            day += timedelta(days=1)
        return parts

    # ------------------------------------------------------------ the schedule

    def shifts(
        self, start: datetime, end: datetime, *, merge: bool = True
    ) -> dict[str, list[Shift]]:
        """Layer → the schedule over [start, end), in time order, clipped to it.

        `merge` joins back-to-back pieces of the same person from the same rotation
        or override; without it each piece is one stretch of one shift (or of one
        override), as the calendar feeds list them.
        """
        layers: dict[str, list[Shift]] = {layer: [] for layer in LAYERS}
        # Each rotation in the order it was defined (its versions one after another),
        # each version over the time it was in force.
        versions = sorted(
            self.versions or self.rotations,
            key=lambda r: (r.identity, r.begins_at or datetime.min.replace(tzinfo=UTC)),
        )
        for rotation in versions:
            a = max(start, rotation.begins_at or start)
            b = min(end, rotation.ends_at or end)
            if a >= b:
                continue
            for shift in self.rotation_shifts(rotation, a, b):
                layers[rotation.layer] = _paint(layers[rotation.layer], shift)
        for override in self.overrides:
            if override.end <= start or override.start >= end:
                continue
            a, b = max(override.start, start), min(override.end, end)
            under = layers[override.layer]
            covers = tuple({s.user.pk: s.user for s in under if s.start < b and s.end > a}.values())
            shift = Shift(override.layer, override.user, a, b, override=override, covers=covers)
            layers[override.layer] = _paint(under, shift)
        if not merge:
            return layers
        return {layer: _merge(items, by_source=True) for layer, items in layers.items()}

    def stretches(self, start: datetime, end: datetime) -> dict[str, list[Shift]]:
        """Like shifts(), with back-to-back shifts of the same person joined: when
        someone really goes on and off call (what "now" and handovers mean)."""
        return {
            layer: _merge(items, by_source=False)
            for layer, items in self.shifts(start, end).items()
        }

    def who(self, at: datetime) -> dict[str, object]:
        """Layer → the user on call at `at`, or None. Only the shifts around `at` are
        worked out (the sweep and the dashboard ask this; on_call gives bounds)."""
        around = self.shifts(at, at + timedelta(seconds=1))
        return {layer: items[0].user if items else None for layer, items in around.items()}

    def on_call(self, at: datetime) -> dict[str, Shift | None]:
        """Layer → who is on call at `at` (their whole stretch), or None."""
        found = {}
        for layer, items in self.stretches(at - REACH, at + REACH).items():
            found[layer] = next((s for s in items if s.start <= at < s.end), None)
        return found

    def now_and_next(self, at: datetime) -> tuple[list[Shift], list[Shift]]:
        """Who is on call at `at` in each layer, and who comes next."""
        now, upcoming = [], []
        for items in self.stretches(at - REACH, at + REACH).values():
            current = next((s for s in items if s.start <= at < s.end), None)
            if current is not None:
                now.append(current)
            later = next((s for s in items if s.start > at), None)
            if later is not None:
                upcoming.append(later)
        return now, upcoming

    def double_duty(self, start: datetime, end: datetime, user=None) -> list[DoubleDuty]:
        """The stretches of [start, end) where one person (`user`, or anyone) is on
        call as primary and secondary at once, in time order."""
        layers = self.stretches(start, end)
        found = []
        for first in layers[Layer.PRIMARY]:
            if user is not None and first.user.pk != user.pk:
                continue
            for second in layers[Layer.SECONDARY]:
                a, b = max(first.start, second.start), min(first.end, second.end)
                if first.user.pk == second.user.pk and a < b:
                    found.append(DoubleDuty(first.user, a, b, self.zone))
        return sorted(found, key=lambda d: d.start)

    def first_gap(self, start: datetime, end: datetime, layer: str = Layer.PRIMARY):
        """(from, until) of the first stretch of [start, end) with nobody on call in
        `layer`, or None."""
        cursor = start
        for shift in self.stretches(start, end)[layer]:
            if shift.start > cursor:
                return cursor, shift.start
            cursor = max(cursor, shift.end)
        return (cursor, end) if cursor < end else None

    def gap_began(self, at: datetime, anchor: datetime) -> datetime:
        """When the uncovered stretch around `at` began: the end of the last primary
        shift before it, or `anchor` (when the roster was set up) if none."""
        cursor = at
        while cursor > anchor:
            since = max(anchor, cursor - REACH)
            before = [s for s in self.stretches(since, cursor)[Layer.PRIMARY] if s.end <= at]
            if before:
                return before[-1].end
            cursor = since
        return anchor


def stretch(rotation: Rotation, day: date) -> tuple[tuple[date, time], tuple[date, time]]:
    """The stretch of `day` as ((day, local time), (day, local time)): from the hand-off
    to the next day's hand-off, or the day's window (overnight when it ends before it
    starts, 24 hours when it ends when it starts)."""
    if rotation.day_start is None:
        return (day, rotation.handoff_time), (day + timedelta(days=1), rotation.handoff_time)
    overnight = rotation.day_end <= rotation.day_start
    return (day, rotation.day_start), (day + timedelta(days=overnight), rotation.day_end)


def turn_pattern(rotation: Rotation) -> tuple[bool, ...]:
    """Whether shift k takes a turn, for k = 0 … P-1; the pattern repeats every P
    shifts (P × shift_days is a whole number of weeks). Worked out on wall-clock
    times, so a DST change never adds or drops a turn."""
    key = (
        rotation.start_date,
        rotation.shift_days,
        rotation.handoff_time,
        rotation.weekdays,
        rotation.day_start,
        rotation.day_end,
    )
    return _turn_pattern(key)


@lru_cache(maxsize=1024)
def _turn_pattern(key) -> tuple[bool, ...]:
    start_date, shift_days, handoff, weekdays, day_start, day_end = key
    probe = Rotation(
        start_date=start_date,
        shift_days=shift_days,
        handoff_time=handoff,
        weekdays=weekdays,
        day_start=day_start,
        day_end=day_end,
    )
    days = {int(d) for d in weekdays}
    period = 7 // gcd(7, shift_days)
    pattern = []
    for k in range(period):
        first = start_date + timedelta(days=k * shift_days)
        a = datetime.combine(first, handoff)
        b = datetime.combine(first + timedelta(days=shift_days), handoff)
        covered = False
        for offset in range(-1, shift_days + 1):
            day = first + timedelta(days=offset)
            if day.weekday() not in days:
                continue
            (d1, t1), (d2, t2) = stretch(probe, day)
            if min(b, datetime.combine(d2, t2)) > max(a, datetime.combine(d1, t1)):
                covered = True
                break
        pattern.append(covered)
    return tuple(pattern)


def midnight(day: date, zone) -> datetime:
    """The start of `day` in `zone`, as a UTC instant."""
    return _instant(day, datetime.min.time(), zone)


def _instant(day: date, at, zone) -> datetime:
    """`day` at local time `at` in `zone`, as a UTC instant: a skipped time is the
    first instant after the gap, a repeated one its first occurrence."""
    return wall.local_instant(day, at, zone)


def _paint(items: list[Shift], new: Shift) -> list[Shift]:
    """`items` with `new` laid over them: what it covers is cut out."""
    kept = []
    for s in items:
        if s.end <= new.start or s.start >= new.end:
            kept.append(s)
            continue
        if s.start < new.start:
            kept.append(replace(s, end=new.start))
        if s.end > new.end:
            kept.append(replace(s, start=new.end))
    kept.append(new)
    kept.sort(key=lambda s: s.start)
    return kept


def _merge(items: list[Shift], *, by_source: bool) -> list[Shift]:
    """Join back-to-back shifts of the same person (and, `by_source`, of the same
    rotation or override)."""
    merged: list[Shift] = []
    for s in items:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.end == s.start
            and last.user.pk == s.user.pk
            and (not by_source or last.source_key == s.source_key)
        ):
            covers = {u.pk: u for u in (*last.covers, *s.covers)}
            merged[-1] = replace(last, end=s.end, covers=tuple(covers.values()))
        else:
            merged.append(s)
    return merged


def load(teams, *, since: datetime | None = None) -> dict[int, Roster]:
    """Team id → its Roster, for `teams` (Team objects); overrides ending before
    `since` are left out. A constant number of queries for any number of teams."""
    teams = list(teams)
    ids = [t.pk for t in teams]
    since = since or (wall.now() - REACH)
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
        .select_related("user", "created_by")
        .order_by("id")
    )
    people = people_ids(ids)
    rosters = {}
    for team in teams:
        mine = [r for r in rotations if r.team_id == team.pk]
        rosters[team.pk] = Roster(
            team=team,
            zone=zone(team.time_zone),
            rotations=[r for r in mine if r.ends_at is None],
            versions=mine,
            overrides=[o for o in overrides if o.team_id == team.pk],
            people=people.get(team.pk, set()),
            members={r.pk: [m.user for m in r.members.all()] for r in mine},
        )
    return rosters


def roster_for(team: Team, *, since: datetime | None = None) -> Roster:
    return load([team], since=since)[team.pk]


def people_ids(team_ids) -> dict[int, set[int]]:
    """Team id → ids of its active members, tech leads and manager: who may be on
    call for it."""
    found: dict[int, set[int]] = {t: set() for t in team_ids}
    for through in (Team.members.through, Team.tech_leads.through):
        rows = through.objects.filter(team_id__in=team_ids, user__is_active=True)
        for team_id, user_id in rows.values_list("team_id", "user_id"):
            found[team_id].add(user_id)
    managers = Team.objects.filter(pk__in=team_ids, manager__is_active=True)
    for team_id, user_id in managers.values_list("pk", "manager_id"):
        found[team_id].add(user_id)
    return found


def viewer_on_call(user, now: datetime) -> list[tuple[Team, list[tuple[str, object]]]]:
    """(team, who is on call now by layer) for each team the user belongs to that
    keeps a roster: the dashboard's header line."""
    ids = rules.context(user).team_ids
    if not ids:
        return []
    teams = Team.objects.filter(pk__in=ids).filter(
        Q(rotations__isnull=False) | Q(overrides__end__gt=now)
    )
    teams = list(teams.distinct().order_by("name"))
    if not teams:
        return []
    rosters = load(teams, since=now)
    found = []
    for team in teams:
        who = rosters[team.pk].who(now)
        found.append((team, [(layer, u) for layer, u in who.items() if u is not None]))
    return found
