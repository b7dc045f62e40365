"""The audit trail's one writer: every service records its events through here.

It imports no service, so any app's services (knowledge's post-mortems too)
write timeline events without importing incidents.services back.
"""

from datetime import datetime
from typing import Any

from common import clock
from incidents.models import Incident, TimelineEvent


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value)
    return value


def record_event(
    incident: Incident,
    actor,
    kind: str,
    *,
    from_state: str = "",
    to_state: str = "",
    changes: dict | None = None,
    message: str = "",
    at: datetime | None = None,
) -> TimelineEvent:
    """Append one event; call it inside the transaction of the change it records."""
    return TimelineEvent.objects.create(
        incident=incident,
        actor=actor,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        changes={k: [_jsonable(a), _jsonable(b)] for k, (a, b) in (changes or {}).items()},
        message=message,
        created_at=at or clock.now(),
    )
