"""Monitoring alert intake: integrations, payload parsing, grouping into incidents.

Two payloads are accepted at POST /api/v1/alerts/<token>/: the Prometheus
Alertmanager webhook, version 4, and the generic JSON documented in the API
schema (both validated by incidents.api.alerts). An `Alert` is one fingerprint
under one integration; it belongs to an incident, or waits without one
(pending, or held by a maintenance window).

- Grouping: an integration's `group_by` labels name an alert's group (default:
  Alertmanager's group key; the generic `group`, default its `dedup_key`).
  Alerts of a group join its open incident — with `group_window_minutes`, only
  one received within that many minutes; an older one takes no more and the
  next firing files a new incident.
- A resolved or archived incident absorbs nothing: a firing files a new
  incident whose `recurrence_of` names the group's earlier one, which is left
  untouched. A resolution with no open incident to take it updates its alert
  row only (no note); one for an alert never seen is dropped. Monitoring never
  closes an incident — a person verifies.
- Storms: when an incident's alerts reach each of the integration's
  `storm_thresholds` (10, 100, 1000) its tech leads get one notice
  (escalation.deadlines.storm, unique per level) and the incident one entry;
  past the first, new alerts are no longer noted one by one.
- Flapping: an alert whose state changes `flap_changes` times within
  `flap_window_minutes` flaps: one entry says so, its changes are noted no
  more, and one entry says when it has been stable `flap_settle_minutes`
  (alerts_settle, run by the sweep, and at each delivery of its group).
- Open after N: with `open_after`, a group files an incident only at its Nth
  firing alert within `open_after_minutes` (an alert counts once, from when it
  last started firing; older firings do not count). Until then its alerts are
  pending; the Nth files the incident and every pending alert of the group
  joins it.
- Maintenance windows: an alert under an active `suppress` window is recorded,
  held by it (no incident, no notice; the window counts it once);
  alerts_release takes in the ones still firing when the window ends. Under a
  `mark` window the incident an alert files names the window, whose clocks
  escalation holds.
- Idempotency: an event is a change in what the source reports — the alert's
  status, startsAt or endsAt. A repeat (an Alertmanager retry resends the same
  delivery) is no event: it does not count in `events`, writes no note, moves
  no count, threshold or flapping state, and changes no row.

A delivery's notes on one incident share one log entry, and its cost grows
with its groups, not its alerts (one query reads its groups, one its rows, one
upsert writes them, counts are F() updates per incident). Deliveries wait only
for deliveries of the same groups (PostgreSQL advisory locks per group; see
intake._lock_groups); the rate limit is one upsert; the integration's
last_used_at is written at most once a minute.
"""

from incidents.alerts.intake import (
    NOTE_LINES,
    IntakeResult,
    alerts_receive,
    alerts_release,
    alerts_settle,
)
from incidents.alerts.integrations import (
    HEX64,
    SIGNATURE_MAX_AGE,
    TOKEN_BYTES,
    BadSignature,
    IntegrationRevoked,
    RateLimited,
    check_rate,
    check_signature,
    hash_token,
    integration_create,
    integration_for_token,
    integration_revoke,
    sign,
)
from incidents.alerts.payloads import (
    DEFAULT_SEVERITY_RULES,
    ParsedAlert,
    from_alertmanager,
    from_generic,
    group_key,
    is_alertmanager,
    map_severity,
)

__all__ = [
    "DEFAULT_SEVERITY_RULES",
    "HEX64",
    "NOTE_LINES",
    "SIGNATURE_MAX_AGE",
    "TOKEN_BYTES",
    "BadSignature",
    "IntakeResult",
    "IntegrationRevoked",
    "ParsedAlert",
    "RateLimited",
    "alerts_receive",
    "alerts_release",
    "alerts_settle",
    "check_rate",
    "check_signature",
    "from_alertmanager",
    "from_generic",
    "group_key",
    "hash_token",
    "integration_create",
    "integration_for_token",
    "integration_revoke",
    "is_alertmanager",
    "map_severity",
    "sign",
]
