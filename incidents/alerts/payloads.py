"""Alert payloads: Alertmanager v4 and the generic JSON, parsed into ParsedAlert;
the group an alert belongs to; the level of the incident it files."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _

from incidents.models import Alert, AlertIntegration, Category, Severity

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
            group_key=(payload.get("group") or "").strip() or payload["dedup_key"].strip(),
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


GROUP_KEY_MAX = 500  # Alert.group_key


def group_key(integration: AlertIntegration, alert: ParsedAlert) -> str:
    """The group an alert belongs to: the values of the integration's `group_by`
    labels (a missing label reads as ""), else the payload's own group
    (Alertmanager's group key, the generic `group` or `dedup_key`)."""
    names = [str(n) for n in integration.group_by or [] if str(n)]
    if not names:
        return alert.group_key[:GROUP_KEY_MAX]
    key = "{" + ",".join(f"{n}={json.dumps(alert.labels.get(n, ''))}" for n in names) + "}"
    if len(key) > GROUP_KEY_MAX:
        key = "{sha256:" + hashlib.sha256(key.encode()).hexdigest() + "}"
    return key


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
