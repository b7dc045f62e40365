"""Monitoring alert intake: integrations, payload parsing, deduplication.

Two payloads are accepted at POST /api/v1/alerts/<token>/:

- Prometheus Alertmanager webhook, version 4 (`{"version": "4", "groupKey": …,
  "alerts": [{"status", "labels", "annotations", "startsAt", "fingerprint"}]}`);
- the generic JSON documented in the API schema (both validated by the
  serializers in incidents.api.alerts, which also document them) (`{"title", "dedup_key",
  "status", "severity", "description", "labels", …}`).

Alerts of one group (Alertmanager's group key, or the generic `dedup_key`)
go into one open incident: the first firing alert files it (source
`monitoring`, level from the labels), later alerts add to it, a resolved alert
adds a log entry and never closes it — a person verifies. A delivery's notes on
one incident share one log entry, and its cost grows with its groups, not with
its alerts (one query reads the fingerprints, bulk writes).
"""

import hashlib
import hmac
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common import clock
from incidents import services
from incidents.models import (
    OPEN_STATES,
    Alert,
    AlertIntegration,
    AlertRateWindow,
    Category,
    Incident,
    Severity,
    SignatureSeen,
    Source,
    Team,
)

TOKEN_BYTES = 32
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
SIGNATURE_MAX_AGE = timedelta(minutes=5)

# Applied after an integration's own rules. Values compare case-insensitively.
DEFAULT_SEVERITY_RULES = [
    {"label": "severity", "equals": ["p0", "disaster", "page", "fatal"], "severity": "P0"},
    {"label": "severity", "equals": ["p1", "critical", "high"], "severity": "P1"},
    {
        "label": "severity",
        "equals": ["p2", "warning", "error", "major", "medium"],
        "severity": "P2",
    },
    {"label": "severity", "equals": ["p3", "info", "minor", "low", "none"], "severity": "P3"},
    {"label": "priority", "equals": ["p0"], "severity": "P0"},
    {"label": "priority", "equals": ["p1"], "severity": "P1"},
    {"label": "priority", "equals": ["p2"], "severity": "P2"},
    {"label": "priority", "equals": ["p3"], "severity": "P3"},
]


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"rate limit exceeded; retry after {retry_after} s")
        self.retry_after = retry_after


class BadSignature(Exception):
    pass


class IntegrationRevoked(Exception):
    pass


# ---------------------------------------------------------------- integrations


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def integration_create(
    *,
    name: str,
    team: Team,
    rate_limit_per_minute: int = 120,
    signing_secret: str = "",
    default_severity: str = Severity.P2,
) -> tuple[AlertIntegration, str]:
    """Create an integration; returns it and its token, which is never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    integration = AlertIntegration(
        name=name.strip(),
        team=team,
        token_hash=hash_token(token),
        token_hint=token[:6],
        rate_limit_per_minute=rate_limit_per_minute,
        signing_secret=signing_secret,
        default_severity=default_severity,
    )
    integration.full_clean()
    integration.save()
    return integration, token


def integration_revoke(*, integration: AlertIntegration) -> AlertIntegration:
    if integration.revoked_at is None:
        integration.revoked_at = clock.now()
        integration.save(update_fields=["revoked_at"])
    return integration


def integration_for_token(token: str) -> AlertIntegration | None:
    """The active integration with this token, or None (unknown or revoked)."""
    if not token or len(token) > 200:
        return None
    integration = (
        AlertIntegration.objects.select_related("team").filter(token_hash=hash_token(token)).first()
    )
    if integration is None or not integration.is_active:
        return None
    return integration


def check_signature(
    integration: AlertIntegration, *, body: bytes, timestamp: str | None, signature: str | None
) -> None:
    """Refuse unsigned, badly signed or replayed (older than 5 min) requests."""
    if not integration.signing_secret:
        return
    if not timestamp or not signature:
        raise BadSignature(
            _("This integration requires X-Responder-Timestamp and X-Responder-Signature.")
        )
    try:
        sent = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadSignature(_("X-Responder-Timestamp must be Unix seconds.")) from exc
    if abs(clock.now() - sent) > SIGNATURE_MAX_AGE:
        raise BadSignature(_("The signed timestamp is more than 5 minutes away from now."))
    expected = hmac.new(
        integration.signing_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    given = signature.removeprefix("sha256=").strip()
    if not HEX64.match(given) or not hmac.compare_digest(expected, given.lower()):
        raise BadSignature(_("The signature does not match the body."))
    try:
        with transaction.atomic():
            SignatureSeen.objects.filter(seen_at__lt=clock.now() - 2 * SIGNATURE_MAX_AGE).delete()
            SignatureSeen.objects.create(
                integration=integration, signature=expected, seen_at=clock.now()
            )
    except IntegrityError as exc:
        raise BadSignature(_("This signed request was received before (replay).")) from exc


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Responder-Signature value a sender puts on `body` (for senders and tests)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def check_rate(integration: AlertIntegration) -> None:
    """Count this request in the current minute; RateLimited past the limit."""
    now = clock.now()
    window = now.replace(second=0, microsecond=0)
    with transaction.atomic():
        AlertRateWindow.objects.bulk_create(
            [AlertRateWindow(integration=integration, window_start=window, count=0)],
            ignore_conflicts=True,
        )
        AlertRateWindow.objects.filter(integration=integration, window_start=window).update(
            count=F("count") + 1
        )
        count = AlertRateWindow.objects.get(integration=integration, window_start=window).count
        AlertRateWindow.objects.filter(
            integration=integration, window_start__lt=window - timedelta(hours=1)
        ).delete()
    if count > integration.rate_limit_per_minute:
        raise RateLimited(retry_after=max(1, 60 - now.second))


# ---------------------------------------------------------------- payloads


@dataclass
class ParsedAlert:
    group_key: str
    fingerprint: str
    status: str
    title: str
    description: str
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    severity: str | None = None  # explicit level (generic payload)
    impact_scope: str = ""
    affected_users: int = 0
    category: str = Category.PRODUCTION


def _not_before_epoch(value: datetime | None) -> datetime | None:
    # Alertmanager sends 0001-01-01T00:00:00Z for "no end time".
    return None if value is None or value.year < 1970 else value


def from_alertmanager(payload: dict) -> list[ParsedAlert]:
    """A validated Alertmanager v4 payload → one ParsedAlert per alert."""
    common_labels = payload.get("commonLabels", {})
    common_annotations = payload.get("commonAnnotations", {})
    parsed = []
    for alert in payload["alerts"]:
        labels = {**common_labels, **alert.get("labels", {})}
        annotations = {**common_annotations, **alert.get("annotations", {})}
        fingerprint = (alert.get("fingerprint") or "").strip()
        if not fingerprint:
            fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
        name = labels.get("alertname", "")
        summary = annotations.get("summary") or annotations.get("message") or ""
        title = " — ".join(p for p in (name, summary) if p) or _("Monitoring alert")
        parsed.append(
            ParsedAlert(
                group_key=payload["groupKey"],
                fingerprint=fingerprint,
                status=alert["status"],
                title=title[:200],
                description=annotations.get("description", summary),
                labels=labels,
                annotations=annotations,
                starts_at=_not_before_epoch(alert.get("startsAt")),
                ends_at=_not_before_epoch(alert.get("endsAt")),
                impact_scope=annotations.get("impact", ""),
            )
        )
    return parsed


def from_generic(payload: dict) -> list[ParsedAlert]:
    """A validated generic alert → one ParsedAlert."""
    return [
        ParsedAlert(
            group_key=payload["dedup_key"].strip(),
            fingerprint=payload["dedup_key"].strip(),
            status=payload.get("status", Alert.Status.FIRING),
            title=payload["title"].strip(),
            description=payload.get("description", ""),
            labels=payload.get("labels", {}),
            starts_at=_not_before_epoch(payload.get("occurred_at")),
            severity=payload.get("severity"),
            impact_scope=payload.get("impact_scope", "").strip(),
            affected_users=payload.get("affected_users", 0),
            category=payload.get("category", Category.PRODUCTION),
        )
    ]


def is_alertmanager(data) -> bool:
    return (
        isinstance(data, dict)
        and "dedup_key" not in data
        and ("alerts" in data or "groupKey" in data)
    )


def map_severity(integration: AlertIntegration, alert: ParsedAlert) -> str:
    """The level of a new incident: explicit, then the integration's rules, then defaults."""
    explicit = (alert.severity or "").strip()
    if explicit.upper() in Severity.values:
        return explicit.upper()
    labels = {k: v.lower() for k, v in alert.labels.items()}
    if explicit:
        labels.setdefault("severity", explicit.lower())
    rules = list(integration.severity_rules or []) + DEFAULT_SEVERITY_RULES
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        value = labels.get(str(rule.get("label", "")))
        wanted = rule.get("equals", [])
        wanted = [wanted] if isinstance(wanted, str) else wanted
        if not isinstance(wanted, list) or rule.get("severity") not in Severity.values:
            continue
        if value is not None and value in [str(w).lower() for w in wanted]:
            return rule["severity"]
    return integration.default_severity


# ---------------------------------------------------------------- intake


@dataclass
class IntakeResult:
    incident: Incident
    created: bool
    alerts: int = 0


def _symptoms(alert: ParsedAlert) -> str:
    lines = [alert.description or alert.title]
    if alert.labels:
        lines.append("")
        lines += [f"{k}={v}" for k, v in sorted(alert.labels.items())]
    return "\n".join(lines)[:20000]


def _group_incidents(integration: AlertIntegration, group_key: str) -> QuerySet[Incident]:
    """The incidents holding alerts of this group, latest received first.

    Their ids are read first: a group has a few, and from a join or a subquery
    PostgreSQL may choose to walk every incident, newest first, to find them.
    """
    ids = (
        Alert.objects.filter(integration=integration, group_key=group_key)
        .order_by()
        .values_list("incident_id", flat=True)
        .distinct()
    )
    return Incident.objects.filter(pk__in=list(ids)).order_by("-received_at", "-pk")


def _file(integration: AlertIntegration, alert: ParsedAlert, now: datetime) -> Incident:
    occurred = alert.starts_at if alert.starts_at and alert.starts_at <= now else None
    return services.incident_create(
        actor=None,
        team=integration.team,
        title=alert.title,
        symptoms=_symptoms(alert),
        severity=map_severity(integration, alert),
        source=Source.MONITORING,
        category=alert.category,
        impact_scope=alert.impact_scope
        or _("Reported by monitoring (%(name)s); assess the impact.") % {"name": integration.name},
        affected_users=alert.affected_users,
        occurred_at=occurred,
    )


@transaction.atomic
def alerts_receive(
    *, integration: AlertIntegration, alerts: list[ParsedAlert]
) -> list[IntakeResult]:
    """Fold alerts into incidents; one open incident per group key.

    The first firing alert of a group with no open incident files one; a
    resolved alert is noted on the open incident, else on the group's latest
    (even a closed one), else dropped. An alert is one row per (incident,
    fingerprint); a repeat updates it. The batch's notes on an incident go
    into one log entry.

    The integration row is locked before the groups are read, so two
    deliveries of the same group (Alertmanager retries, several replicas)
    cannot file two incidents. What runs under that lock costs a few queries
    per group and per incident touched, never per alert.
    """
    locked = AlertIntegration.objects.select_for_update().filter(pk=integration.pk).first()
    if locked is None or not locked.is_active:
        raise IntegrationRevoked(_("This integration was revoked."))
    now = clock.now()
    routed = _route(integration, alerts, now)
    for incident, notes in _record(integration, routed, now).items():
        services.incident_note_from_monitoring(incident=incident, text=_note_text(notes))
    AlertIntegration.objects.filter(pk=integration.pk).update(last_used_at=now)
    results: dict[int, IntakeResult] = {}
    for _alert, incident, created in routed:
        result = results.setdefault(incident.pk, IntakeResult(incident=incident, created=created))
        result.alerts += 1
    return list(results.values())


def _route(
    integration: AlertIntegration, alerts: list[ParsedAlert], now: datetime
) -> list[tuple[ParsedAlert, Incident, bool]]:
    """Each alert's incident, in order, filing new ones: (alert, incident, filed by it).

    Per group, a query for its incidents' ids, one for its open incident, and
    one more for its latest incident if a resolved alert finds none open.
    """
    groups: dict[str, QuerySet[Incident]] = {}
    open_incident: dict[str, Incident | None] = {}
    latest: dict[str, Incident | None] = {}
    routed = []
    for alert in alerts:
        key = alert.group_key
        if key not in groups:
            groups[key] = _group_incidents(integration, key)
            open_incident[key] = groups[key].filter(state__in=OPEN_STATES).first()
        incident = open_incident[key]
        if incident is None and alert.status == Alert.Status.RESOLVED:
            # The incident may be resolved or archived by now: note it there.
            if key not in latest:
                latest[key] = groups[key].first()
            incident = latest[key]
            if incident is None:
                continue  # nothing to annotate; a resolved-only alert files nothing
        created = incident is None
        if created:
            incident = open_incident[key] = latest[key] = _file(integration, alert, now)
        routed.append((alert, incident, created))
    return routed


def _record(
    integration: AlertIntegration,
    routed: list[tuple[ParsedAlert, Incident, bool]],
    now: datetime,
) -> dict[Incident, list[str]]:
    """Write the alert rows, the notes per incident: one query reads the rows, one upsert
    writes them (Django's bulk_update builds a CASE per row and field: slower)."""
    filed = {incident.pk for _alert, incident, created in routed if created}
    stored = {
        (row.incident_id, row.fingerprint): row
        for row in Alert.objects.filter(
            incident__in={i.pk for _a, i, _c in routed if i.pk not in filed},
            fingerprint__in={a.fingerprint for a, _i, _c in routed},
        ).order_by()
    }
    rows: dict[tuple[int, str], Alert] = {}
    notes: dict[Incident, list[str]] = {}
    for alert, incident, created in routed:
        key = (incident.pk, alert.fingerprint)
        row = rows.get(key) or stored.get(key)
        note = None
        if row is None:
            row = Alert(
                integration=integration,
                group_key=alert.group_key,
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
            )
            if not created:
                note = _("Another alert of this group fired: %(title)s") % {"title": alert.title}
                if alert.status == Alert.Status.RESOLVED:
                    note = _("Alert resolved at the source: %(title)s") % {"title": alert.title}
        else:
            if row.status != alert.status:
                if alert.status == Alert.Status.RESOLVED:
                    note = _("Alert resolved at the source: %(title)s (ended %(at)s)") % {
                        "title": alert.title,
                        "at": (alert.ends_at or now).isoformat(timespec="seconds"),
                    }
                else:
                    note = _("Alert fired again: %(title)s") % {"title": alert.title}
            row.status = alert.status
            row.labels = alert.labels
            row.annotations = alert.annotations
            row.ends_at = alert.ends_at
            row.last_seen = now
            row.events += 1
        rows[key] = row
        if note:
            notes.setdefault(incident, []).append(note)
    Alert.objects.bulk_create(
        rows.values(),
        update_conflicts=True,
        unique_fields=["incident", "fingerprint"],
        update_fields=["status", "labels", "annotations", "ends_at", "last_seen", "events"],
    )
    return notes


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
