"""Folding alerts into incidents: grouping, recurrences, storms, flapping, open
after N, maintenance windows (the rules are in the package docstring)."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common import clock
from escalation import deadlines
from incidents import maintenance, services
from incidents.alerts.integrations import IntegrationRevoked
from incidents.alerts.payloads import ParsedAlert, group_key, map_severity
from incidents.models import (
    OPEN_STATES,
    Alert,
    AlertIntegration,
    Incident,
    MaintenanceWindow,
    Source,
    State,
)

# Where one alert of a delivery goes.
JOIN = "join"  # into an incident (open, or filed by it)
QUIET = "quiet"  # its stored row only: its group has no open incident
PENDING = "pending"  # waits for its group's Nth firing
HELD = "held"  # a `suppress` maintenance window holds it

CLOSED_STATES = (State.RESOLVED, State.ARCHIVED)
# The fields an upsert of an alert row writes (everything but its identity).
ROW_FIELDS = [
    "incident",
    "held_by",
    "group_key",
    "status",
    "summary",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "last_seen",
    "events",
    "changes",
    "flapping",
    "changed_at",
    "pending",
]


@dataclass
class IntakeResult:
    incident: Incident
    created: bool
    alerts: int = 0


@dataclass
class _Step:
    alert: ParsedAlert
    key: str
    dest: str
    incident: Incident | None = None
    created: bool = False
    window: MaintenanceWindow | None = None


@dataclass
class _Group:
    """What one delivery knows of one group (read once, then kept up to date)."""

    key: str
    ids: list[int]
    open: Incident | None  # the incident new alerts join (open, within the window)
    latest: object = None  # the group's latest incident, read when needed
    latest_read: bool = False
    pending: dict[str, Alert] | None = None  # open after N: the group's pending rows
    counted: set[str] = field(default_factory=set)  # firing fingerprints within W
    opened: Incident | None = None  # filed by its Nth firing in this delivery


@dataclass
class _Tally:
    before: int  # the incident's alerts before this delivery
    alerts: int = 0  # rows it gained
    events: int = 0
    notes: list[str] = field(default_factory=list)


def _symptoms(alert: ParsedAlert) -> str:
    lines = [alert.description or alert.title]
    if alert.labels:
        lines.append("")
        lines += [f"{k}={v}" for k, v in sorted(alert.labels.items())]
    return "\n".join(lines)[:20000]


def _stamp(at: datetime) -> str:
    return at.isoformat()


def _since(changes: list, start: datetime) -> list[str]:
    return [c for c in changes or [] if isinstance(c, str) and datetime.fromisoformat(c) > start]


class _Intake:
    def __init__(self, integration: AlertIntegration, now: datetime, skip_window=None):
        self.integration = integration
        self.now = now
        self.groups: dict[str, _Group] = {}
        self.surveyed: dict[str, list[int]] = {}  # group → its incidents (survey())
        self.windows = [
            w
            for w in maintenance.active_windows(team_id=integration.team_id, at=now)
            if skip_window is None or w.pk != skip_window.pk
        ]
        first = sorted(
            t for t in integration.storm_thresholds or [] if isinstance(t, int) and t > 0
        )
        self.thresholds = first
        self.flap_window = timedelta(minutes=integration.flap_window_minutes)

    # ------------------------------------------------------------ routing

    def survey(self, keys) -> set[str]:
        """Read the delivery's groups in one query: the incidents each group's
        alerts are in (for group()), and the groups with flapping alerts unchanged
        for a minute or more (returned: the caller settles them)."""
        self.surveyed = {key: [] for key in keys}
        settle = set()
        rows = (
            Alert.objects.filter(integration=self.integration, group_key__in=keys)
            .values_list("group_key", "incident_id")
            .annotate(
                flaps=Count(
                    "pk", filter=Q(flapping=True, changed_at__lte=self.now - timedelta(minutes=1))
                )
            )
            .order_by()
        )
        for key, incident_id, flaps in rows:
            if incident_id is not None:
                self.surveyed[key].append(incident_id)
            if flaps:
                settle.add(key)
        return settle

    def group(self, key: str) -> _Group:
        if key not in self.groups:
            if key in self.surveyed:
                ids = list(self.surveyed[key])
            else:
                ids = list(
                    Alert.objects.filter(integration=self.integration, group_key=key)
                    .exclude(incident=None)
                    .order_by()
                    .values_list("incident_id", flat=True)
                    .distinct()
                )
            incident = None
            if ids:
                incident = (
                    Incident.objects.filter(pk__in=ids, state__in=OPEN_STATES)
                    .order_by("-received_at", "-pk")
                    .first()
                )
            minutes = self.integration.group_window_minutes
            if (
                incident is not None
                and minutes is not None
                and incident.received_at < self.now - timedelta(minutes=minutes)
            ):
                incident = None  # too old to gather more: the next firing files anew
            self.groups[key] = _Group(key=key, ids=ids, open=incident)
        return self.groups[key]

    def latest(self, group: _Group) -> Incident | None:
        if not group.latest_read:
            group.latest_read = True
            group.latest = (
                Incident.objects.filter(pk__in=group.ids).order_by("-received_at", "-pk").first()
                if group.ids
                else None
            )
        return group.latest

    def pending_rows(self, group: _Group) -> dict[str, Alert]:
        if group.pending is None:
            rows = Alert.objects.filter(
                integration=self.integration, group_key=group.key, incident=None, pending=True
            )
            group.pending = {row.fingerprint: row for row in rows}
            since = self.now - timedelta(minutes=self.integration.open_after_minutes)
            group.counted = {
                row.fingerprint
                for row in group.pending.values()
                if row.status == Alert.Status.FIRING and (row.changed_at or row.first_seen) >= since
            }
        return group.pending

    def route(self, alerts: list[ParsedAlert]) -> list[_Step]:
        steps = []
        for alert in alerts:
            key = group_key(self.integration, alert)
            window = maintenance.window_matching(self.windows, labels=alert.labels)
            if window is not None and window.mode == MaintenanceWindow.Mode.SUPPRESS:
                steps.append(_Step(alert, key, HELD, window=window))
                continue
            group = self.group(key)
            if group.open is not None:
                steps.append(_Step(alert, key, JOIN, incident=group.open))
            elif alert.status == Alert.Status.RESOLVED:
                # Nothing open takes it: its stored row is updated, nothing more.
                steps.append(_Step(alert, key, QUIET, incident=self.latest(group)))
            elif self.integration.open_after and not self.reaches_n(group, alert):
                steps.append(_Step(alert, key, PENDING))
            else:
                incident = self.file(group, alert, window)
                steps.append(_Step(alert, key, JOIN, incident=incident, created=True))
        for step in steps:
            opened = self.groups[step.key].opened if step.key in self.groups else None
            if step.dest == PENDING and opened is not None:
                step.dest, step.incident = JOIN, opened
        return steps

    def reaches_n(self, group: _Group, alert: ParsedAlert) -> bool:
        """Whether this firing is its group's Nth within W (a repeat of an unchanged
        pending firing is not counted again)."""
        row = self.pending_rows(group).get(alert.fingerprint)
        if row is None or row.status != Alert.Status.FIRING or row.starts_at != alert.starts_at:
            group.counted.add(alert.fingerprint)
        return len(group.counted) >= self.integration.open_after

    def file(self, group: _Group, alert: ParsedAlert, window) -> Incident:
        latest = self.latest(group)
        occurred = alert.starts_at if alert.starts_at and alert.starts_at <= self.now else None
        incident = services.incident_create(
            actor=None,
            team=self.integration.team,
            title=alert.title,
            symptoms=_symptoms(alert),
            severity=map_severity(self.integration, alert),
            source=Source.MONITORING,
            category=alert.category,
            impact_scope=alert.impact_scope
            or _("Reported by monitoring (%(name)s); assess the impact.")
            % {"name": self.integration.name},
            affected_users=alert.affected_users,
            occurred_at=occurred,
        )
        if latest is not None and latest.state in CLOSED_STATES:
            Incident.objects.filter(pk=incident.pk).update(recurrence_of=latest)
            incident.recurrence_of = latest
        if window is not None:  # a `mark` window: opened marked, its clocks held
            incident = services.incident_hold_for_window(
                incident=incident, window=window, now=self.now
            )
        group.open = group.latest = incident
        group.latest_read = True
        group.ids.append(incident.pk)
        if self.integration.open_after:
            group.opened = incident
        return incident

    # ------------------------------------------------------------ recording

    def record(self, steps: list[_Step]) -> list[IntakeResult]:
        """Write the rows (one read, one upsert), the counts, the notes and the storms."""
        fingerprints = {s.alert.fingerprint for s in steps}
        filed = {s.incident.pk for s in steps if s.created}
        known = {s.incident.pk for s in steps if s.incident is not None} - filed
        stored, loose = {}, {}
        # The fingerprints in each branch: the loose ones are then found through
        # the (integration, fingerprint) index of unattached alerts.
        for row in Alert.objects.filter(
            Q(incident__in=known, fingerprint__in=fingerprints)
            | Q(integration=self.integration, incident__isnull=True, fingerprint__in=fingerprints)
        ).order_by():
            if row.incident_id is None:
                loose[row.fingerprint] = row
            else:
                stored[(row.incident_id, row.fingerprint)] = row
        tallies: dict[int, _Tally] = {}
        incidents: dict[int, Incident] = {}
        results: dict[int, IntakeResult] = {}
        written: dict[int, Alert] = {}
        fresh: dict[int, Alert] = {}
        held_new: Counter = Counter()
        for step in steps:
            alert = step.alert
            if step.dest in (HELD, PENDING) or step.dest == QUIET and alert.fingerprint in loose:
                # Unattached (pending, held): the row stays so; a resolution updates it.
                row = loose.get(alert.fingerprint)
                before = (row.pending, row.held_by_id) if row is not None else None
                row, _event, _changed = self.apply(row, alert, step.key, None)
                if step.dest != QUIET:
                    row.pending = step.dest == PENDING
                    row.held_by = step.window
                    if (row.pending, row.held_by_id) != before:
                        row._dirty = True
                    if step.dest == HELD and (before is None or before[1] is None):
                        held_new[step.window.pk] += 1
                loose[alert.fingerprint] = row
                self.keep(row, written, fresh)
                continue
            incident = step.incident
            if incident is None:
                continue  # a resolution of a group never seen
            row = stored.get((incident.pk, alert.fingerprint))
            attached = row is None and alert.fingerprint in loose
            if attached:
                row = loose.pop(alert.fingerprint)
            if step.dest == QUIET and row is None:
                continue  # nothing stored to update
            tally = tallies.setdefault(
                incident.pk, _Tally(before=0 if step.created else incident.alert_count)
            )
            incidents[incident.pk] = incident
            result = results.setdefault(
                incident.pk, IntakeResult(incident=incident, created=incident.pk in filed)
            )
            result.alerts += 1
            new = row is None
            was_flapping = row is not None and row.flapping
            events_before = 0 if new or attached else row.events
            row, event, changed = self.apply(row, alert, step.key, incident)
            stored[(incident.pk, alert.fingerprint)] = row
            self.keep(row, written, fresh)
            if new or attached:
                tally.alerts += 1
                tally.events += row.events
            else:
                tally.events += row.events - events_before
            if step.dest == QUIET or step.created:
                continue  # the filing alert is the incident; a quiet one writes nothing
            note = self.note(row, alert, new or attached, changed, was_flapping, tally)
            if note:
                tally.notes.append(note)
        self.attach_opened(stored, tallies, incidents, results)
        self.write(written, fresh, tallies, held_new)
        for pk, tally in tallies.items():
            incident = incidents[pk]
            if tally.notes:
                services.incident_note_from_monitoring(
                    incident=incident, text=_note_text(tally.notes)
                )
            self.storm(incident, tally)
        return list(results.values())

    def keep(self, row: Alert, written: dict, fresh: dict) -> None:
        if getattr(row, "_dirty", False):
            if row.pk is None:
                fresh[id(row)] = row
            else:
                written[row.pk] = row

    def apply(self, row: Alert | None, alert: ParsedAlert, key: str, incident):
        """Fold one event into its row: (row, counted as an event, state changed).
        A repeat of what the row already says is no event and changes nothing."""
        now = self.now
        if row is None:
            row = Alert(
                integration=self.integration,
                group_key=key,
                fingerprint=alert.fingerprint,
                incident=incident,
                status=alert.status,
                summary=alert.title,
                labels=alert.labels,
                annotations=alert.annotations,
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                first_seen=now,
                last_seen=now,
                events=1,
                changes=[],
                changed_at=now,
            )
            row._dirty = True
            return row, True, False
        dirty = False
        if row.incident_id != (incident.pk if incident is not None else None):
            row.incident = incident
            row.pending = False
            row.held_by = None
            dirty = True
        for name, value in (
            ("labels", alert.labels),
            ("annotations", alert.annotations),
            ("summary", alert.title),
        ):
            if getattr(row, name) != value:
                setattr(row, name, value)
                dirty = True
        changed = row.status != alert.status
        event = changed or row.starts_at != alert.starts_at or row.ends_at != alert.ends_at
        if event:
            dirty = True
            row.starts_at, row.ends_at = alert.starts_at, alert.ends_at
            row.last_seen = now
            row.events += 1
        if changed:
            row.status = alert.status
            row.changes = [*_since(row.changes, now - self.flap_window), _stamp(now)]
            row.changed_at = now
            if not row.flapping and len(row.changes) >= self.integration.flap_changes:
                row.flapping = True
        row._dirty = getattr(row, "_dirty", False) or dirty
        return row, event, changed

    def note(self, row, alert, joined, changed, was_flapping, tally) -> str | None:
        title = alert.title
        if joined:
            if alert.status == Alert.Status.RESOLVED:
                return _("Alert resolved at the source: %(title)s") % {"title": title}
            if self.thresholds and tally.before + tally.alerts >= self.thresholds[0]:
                return None  # a storm: the alerts table lists them, the storm entry says so
            return _("Another alert of this group fired: %(title)s") % {"title": title}
        if not changed or was_flapping:
            return None
        if row.flapping:
            return _(
                "Alert is flapping (%(changes)s state changes within %(minutes)s minutes): "
                "%(title)s. Its changes are not noted until it is stable."
            ) % {
                "changes": len(row.changes),
                "minutes": self.integration.flap_window_minutes,
                "title": title,
            }
        if alert.status == Alert.Status.RESOLVED:
            return _("Alert resolved at the source: %(title)s (ended %(at)s)") % {
                "title": title,
                "at": (alert.ends_at or self.now).isoformat(timespec="seconds"),
            }
        return _("Alert fired again: %(title)s") % {"title": title}

    def attach_opened(self, stored, tallies, incidents, results) -> None:
        """The pending alerts of a group its Nth firing opened join that incident."""
        for group in self.groups.values():
            if group.opened is None or not group.pending:
                continue
            incident = group.opened
            rows = [r for r in group.pending.values() if (incident.pk, r.fingerprint) not in stored]
            if not rows:
                continue
            Alert.objects.filter(pk__in=[r.pk for r in rows], incident=None).update(
                incident=incident, pending=False
            )
            tally = tallies.setdefault(incident.pk, _Tally(before=0))
            tally.alerts += len(rows)
            tally.events += sum(r.events for r in rows)
            incidents[incident.pk] = incident
            result = results.setdefault(incident.pk, IntakeResult(incident=incident, created=True))
            result.alerts += len(rows)

    def write(self, written: dict, fresh: dict, tallies: dict, held_new: Counter) -> None:
        rows = [*fresh.values(), *written.values()]
        if rows:
            # One upsert on the id: stored rows are updated, new ones inserted.
            Alert.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["id"], update_fields=ROW_FIELDS
            )
        for pk, tally in tallies.items():
            if tally.alerts or tally.events:
                Incident.objects.filter(pk=pk).update(
                    alert_count=F("alert_count") + tally.alerts,
                    event_count=F("event_count") + tally.events,
                )
        for window_pk, count in held_new.items():
            MaintenanceWindow.objects.filter(pk=window_pk).update(
                suppressed_alerts=F("suppressed_alerts") + count
            )

    def storm(self, incident: Incident, tally: _Tally) -> None:
        """Each threshold crossed by this delivery: one notice to the tech leads and
        one entry, however many alerts crossed it."""
        after = tally.before + tally.alerts
        for level, threshold in enumerate(self.thresholds, start=1):
            if tally.before < threshold <= after:
                deadlines.storm(
                    incident, level=level, threshold=threshold, alerts=after, now=self.now
                )
                services.incident_note_from_monitoring(
                    incident=incident,
                    text=_(
                        "Alert storm: %(count)s alerts in this incident (threshold %(threshold)s); "
                        "the tech leads were told. New alerts are listed in the alerts table, "
                        "not noted one by one."
                    )
                    % {"count": after, "threshold": threshold},
                )


# More groups than this in one delivery lock the whole integration instead (each
# advisory lock takes a slot of PostgreSQL's shared lock table until the commit).
GROUP_LOCKS_MAX = 64
# last_used_at is written at most this often (it is the integration's one hot row).
LAST_USED_EVERY = timedelta(minutes=1)


def _current(integration: AlertIntegration) -> AlertIntegration:
    """The integration as stored now (a plain read: the locks are advisory, below)."""
    current = AlertIntegration.objects.filter(pk=integration.pk).first()  # team: when filing
    if current is None or not current.is_active:
        raise IntegrationRevoked(_("This integration was revoked."))
    return current


def _advisory(names: list[str], *, shared: bool = False) -> None:
    """Take PostgreSQL transaction-level advisory locks on `names`, in the order
    given (callers sort them: a total order, so no two takers deadlock)."""
    # The function is one of two names written here; the lock names are parameters.
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    sql = f"SELECT {function}(hashtextextended(name, 0)) FROM unnest(%s::text[]) AS name"  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [names])


def _lock_groups(integration: AlertIntegration, keys) -> None:
    """Serialise the deliveries of each group, not of the integration.

    On PostgreSQL a delivery takes the integration's advisory lock shared and one
    exclusive advisory lock per group it touches, sorted, before it reads a group:
    two deliveries of one group (retries, Alertmanager replicas) file one incident,
    while deliveries of other groups go on in parallel. A delivery of more than
    GROUP_LOCKS_MAX groups takes the integration's lock exclusive instead, as do
    the sweep's settle and a window's release (_lock_integrations). Every taker
    takes the integration lock first, then groups in sorted order: no deadlock.
    SQLite needs none of this: its transactions are IMMEDIATE (config.settings),
    one writer at a time.
    """
    if connection.vendor != "postgresql":
        return
    keys = sorted(set(keys))
    if len(keys) > GROUP_LOCKS_MAX:
        _lock_integrations([integration.pk])
        return
    _advisory([f"alert-integration:{integration.pk}"], shared=True)
    _advisory([f"alert-group:{integration.pk}:{key}" for key in keys])


def _lock_integrations(pks) -> None:
    """Every group of these integrations, exclusively (see _lock_groups)."""
    if connection.vendor == "postgresql":
        _advisory([f"alert-integration:{pk}" for pk in sorted(set(pks))])


@transaction.atomic
def alerts_receive(
    *, integration: AlertIntegration, alerts: list[ParsedAlert]
) -> list[IntakeResult]:
    """Fold one delivery's alerts into incidents (the rules: the package docstring).

    The delivery's groups are locked before they are read (_lock_groups), so two
    deliveries of the same group (Alertmanager retries, several replicas) cannot
    file two incidents, and deliveries of different groups do not wait for each
    other. What runs under the locks costs a few queries per group and per
    incident touched, never per alert.
    """
    current = _current(integration)
    keys = {group_key(current, alert) for alert in alerts}
    _lock_groups(current, keys)
    now = clock.now()
    intake = _Intake(current, now)
    settle = intake.survey(keys)
    if settle:
        _settle(Alert.objects.filter(integration=current, group_key__in=settle), now)
    results = intake.record(intake.route(alerts))
    if current.last_used_at is None or current.last_used_at <= now - LAST_USED_EVERY:
        # Conditional: of deliveries at once, the first writes it, the others skip.
        AlertIntegration.objects.filter(pk=current.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_EVERY)
        ).update(last_used_at=now)
    return results


@transaction.atomic
def alerts_release(*, window: MaintenanceWindow, now: datetime) -> list[IntakeResult]:
    """The alerts `window` held that still fire are taken in as if they had just
    arrived (grouped, filing and paging as usual); held_by is cleared. Resolved
    held alerts keep their record. A second call finds nothing more to do."""
    held = list(
        Alert.objects.filter(held_by=window, incident=None, status=Alert.Status.FIRING)
        .order_by("integration_id", "first_seen", "pk")
        .values_list("integration_id", flat=True)
        .distinct()
    )
    results: list[IntakeResult] = []
    _lock_integrations(held)  # all first, in order (_lock_groups)
    for integration in AlertIntegration.objects.filter(pk__in=held).order_by("pk"):
        locked = _current(integration)
        rows = list(
            Alert.objects.filter(
                integration=locked, held_by=window, incident=None, status=Alert.Status.FIRING
            ).order_by("first_seen", "pk")
        )
        if not rows:
            continue
        Alert.objects.filter(pk__in=[r.pk for r in rows]).update(held_by=None)
        parsed = [
            ParsedAlert(
                group_key=row.group_key,
                fingerprint=row.fingerprint,
                status=row.status,
                title=row.summary or row.fingerprint,
                description=row.annotations.get("description", row.summary),
                labels=row.labels,
                annotations=row.annotations,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
            )
            for row in rows
        ]
        intake = _Intake(locked, now, skip_window=window)
        results += intake.record(intake.route(parsed))
    return results


def alerts_settle(*, now: datetime) -> int:
    """Alerts that flap but whose state has not changed for their integration's
    flap_settle_minutes stop flapping: one entry on their (open) incident says so.
    Called by the periodic sweep; one query when nothing flaps. (A delivery
    settles the alerts of its own groups, under their locks.)"""
    with transaction.atomic():
        candidates = _candidates(Alert.objects.all(), now)
        if not candidates:
            return 0
        # Locked, read again: a delivery may have changed them meanwhile.
        _lock_integrations(a.integration_id for a in candidates)
        return _settle(Alert.objects.filter(pk__in=[a.pk for a in candidates]), now)


def _candidates(alerts, now: datetime) -> list[Alert]:
    candidates = (
        alerts.filter(flapping=True, changed_at__lte=now - timedelta(minutes=1))
        .select_related("integration", "incident")
        .order_by("incident_id", "pk")
    )
    return [
        a
        for a in candidates
        if a.changed_at <= now - timedelta(minutes=a.integration.flap_settle_minutes)
    ]


def _settle(alerts, now: datetime) -> int:
    """Settle the stable ones of `alerts` (the caller holds their groups' locks)."""
    stable = _candidates(alerts, now)
    if not stable:
        return 0
    Alert.objects.filter(pk__in=[a.pk for a in stable]).update(flapping=False, changes=[])
    notes = defaultdict(list)
    for alert in stable:
        if alert.incident is not None and alert.incident.state in OPEN_STATES:
            notes[alert.incident].append(
                _("Alert stopped flapping (stable for %(minutes)s minutes): %(title)s")
                % {"minutes": alert.integration.flap_settle_minutes, "title": alert.summary}
            )
    for incident, lines in notes.items():
        services.incident_note_from_monitoring(incident=incident, text="\n".join(lines))
    return len(stable)


NOTE_LINES = 20  # distinct notes written out in one entry; the rest are counted


def _note_text(notes: list[str]) -> str:
    """A batch's notes on one incident as one entry: each distinct note once, with
    how many alerts it stands for (a single note reads as it always did)."""
    counts = Counter(notes)
    lines = [note if n == 1 else f"{note} (×{n})" for note, n in counts.items()]
    if len(lines) > NOTE_LINES:
        more = sum(list(counts.values())[NOTE_LINES:])
        lines = lines[:NOTE_LINES] + [
            ngettext("…and %(count)s more alert.", "…and %(count)s more alerts.", more)
            % {"count": more}
        ]
    return "\n".join(lines)
