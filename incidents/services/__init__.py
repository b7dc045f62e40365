"""Every write to an incident: one function per step of the process.

Each service is keyword-only and atomic. It locks the incident row, checks the
actor's role (incidents.rules), the version they saw and the state
(incidents.workflow) — `base.begin()` —, then the input, changes the incident,
saves it with its clocks through the one seam (`base.save()` →
escalation.deadlines.sync) and writes a TimelineEvent in the same transaction. A
refusal raises before anything is written:

- PermissionDenied: the actor's role may not do this;
- TransitionNotAllowed: the incident's state forbids it;
- ValidationError: the input is wrong (field → messages);
- StaleVersion: `expected_version` is older than the stored version.

`actor=None` means the system itself (alert intake, tasks); it skips the role
check, never the state and input checks.

By step: `intake` (1), `triage` (2 and 3), `handling` (4), `verification` (5),
`exits` (reopen, cancel). Archiving (6) is knowledge.services.incident_archive.
"""

from incidents.services.base import begin, required, save, set_root_cause
from incidents.services.exits import available_actions, incident_cancel, incident_reopen
from incidents.services.handling import (
    incident_hold_for_window,
    incident_log,
    incident_note_from_monitoring,
    incident_pause,
    incident_release_from_window,
    incident_resolve,
    incident_resume,
)
from incidents.services.intake import (
    EDITABLE_FIELDS,
    incident_create,
    incident_update,
    intake_time_errors,
)
from incidents.services.triage import incident_acknowledge, incident_assign, incident_grade
from incidents.services.verification import (
    incident_notify_users,
    incident_record_feedback,
    incident_verify,
)

__all__ = [
    "EDITABLE_FIELDS",
    "available_actions",
    "begin",
    "incident_acknowledge",
    "incident_assign",
    "incident_cancel",
    "incident_create",
    "incident_grade",
    "incident_hold_for_window",
    "incident_log",
    "incident_note_from_monitoring",
    "incident_notify_users",
    "incident_pause",
    "incident_release_from_window",
    "incident_record_feedback",
    "incident_reopen",
    "incident_resolve",
    "incident_resume",
    "incident_update",
    "incident_verify",
    "intake_time_errors",
    "required",
    "save",
    "set_root_cause",
]
