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

Nothing here reads the database: escalation.roster.selectors loads a Roster
(rosters_for, roster_for), and Roster.on_call is the one way to ask who is on call.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from math import gcd

from django.utils.translation import gettext as _

from common import clock as wall
from common.people import display_name
from escalation.roster.models import LAYER_ORDER, Layer, Override, Rotation
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


_UNSET = object()


class OnCall:
    """Who is on call in one layer at `at` (Roster.on_call): `user` (None: nobody);
    `now`, their whole stretch (back-to-back shifts of the same person joined), and
    `next`, the stretch that follows it (None: nobody within REACH).

    Each is worked out when first read, and what it needs once for every layer of
    the answer: `user` alone needs only the shifts around `at` (the escalation
    sweep and the dashboard ask just that); `now` and `next` need the stretches
    within REACH either side, and then `user` comes from them.
    """

    # Slots and plain properties: the sweep reads `user` of every team it pages
    # for, and functools.cached_property (a lock per read on 3.11) costs more.
    __slots__ = ("_around", "_next", "_now", "_user", "layer")

    def __init__(self, layer: str, around: "_Around"):
        self.layer, self._around = layer, around
        self._user = self._now = self._next = _UNSET

    def __repr__(self):
        return f"OnCall({self.layer!r}, at={self.at.isoformat()})"

    @property
    def at(self) -> datetime:
        return self._around.at

    @property
    def user(self):
        if self._user is _UNSET:
            if self._around.has_stretches:
                self._user = self.now.user if self.now is not None else None
            else:
                at = self._around.at
                items = self._around.pieces()[self.layer]
                self._user = next((s.user for s in items if s.start <= at), None)
        return self._user

    @property
    def now(self) -> Shift | None:
        if self._now is _UNSET:
            at, items = self._around.at, self._around.stretches()[self.layer]
            self._now = next((s for s in items if s.start <= at < s.end), None)
        return self._now

    @property
    def next(self) -> Shift | None:
        if self._next is _UNSET:
            at, items = self._around.at, self._around.stretches()[self.layer]
            self._next = next((s for s in items if s.start > at), None)
        return self._next


class _Around:
    """What the OnCalls of one answer share, each part worked out once when first
    needed: the shifts over [at, at + 1 s), and the stretches within REACH of `at`."""

    __slots__ = ("_pieces", "_stretches", "at", "roster")

    def __init__(self, roster: "Roster", at: datetime):
        self.roster, self.at = roster, at
        self._pieces = self._stretches = None

    @property
    def has_stretches(self) -> bool:
        return self._stretches is not None

    def pieces(self) -> dict[str, list[Shift]]:
        if self._pieces is None:
            at = self.at
            self._pieces = self.roster.shifts(at, at + timedelta(seconds=1), merge=False)
        return self._pieces

    def stretches(self) -> dict[str, list[Shift]]:
        if self._stretches is None:
            self._stretches = self.roster.stretches(self.at - REACH, self.at + REACH)
        return self._stretches


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
        # Each boundary worked out once: one shift's end is the next one's start.
        s = self.boundary(rotation, k)
        while s < end:
            e = self.boundary(rotation, k + 1)
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
            k, s = k + 1, e
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
        someone really goes on and off call (what OnCall.now and handovers mean)."""
        return {
            layer: _merge(items, by_source=False)
            for layer, items in self.shifts(start, end).items()
        }

    def on_call(self, at: datetime, layer: str | None = None):
        """Who is on call at `at`: layer → OnCall (every layer, in order), or with
        `layer` that layer's OnCall alone. The one way to ask it; nothing is worked
        out until an OnCall is read (see OnCall: reading only `user` stays cheap).
        """
        around = _Around(self, at)
        if layer is not None:
            return OnCall(layer, around)
        return {name: OnCall(name, around) for name in LAYERS}

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
