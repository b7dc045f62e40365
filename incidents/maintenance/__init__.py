"""Maintenance windows: planned work during which matching alerts page nobody.

`schedule` answers when a window runs, `selectors` which windows run and which
one an alert falls under (both re-exported here), `services` every write with
the one validation the API, the admin and the pages share, `lifecycle` what the
periodic sweep does at each start and end. Services and lifecycle are not
re-exported: incidents.silences (which the services call) and incidents.alerts
(which the lifecycle calls) import this package.
"""

from incidents.maintenance.schedule import (
    current_occurrence,
    is_active,
    next_occurrences,
    occurrences,
)
from incidents.maintenance.selectors import (
    active_windows,
    any_upcoming,
    upcoming,
    window_matching,
    windows_visible_to,
)

__all__ = [
    "active_windows",
    "any_upcoming",
    "current_occurrence",
    "is_active",
    "next_occurrences",
    "occurrences",
    "upcoming",
    "window_matching",
    "windows_visible_to",
]
