"""The audit trail's one writer: every service records its events through here.

It imports no service, so any app's services (knowledge's post-mortems too)
write timeline events without importing incidents.services back.

A text the system writes ("Filed as P0 from Monitoring alert.", the failed
checks of a verification…) is kept as facts (`data`) and put into words when it
is read, in the reader's language (describe); `message` keeps it in English for
the admin and search, as the roster's timeline does.
"""

import re
from datetime import datetime, timedelta
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common import clock
from incidents.models import Incident, LogEntry, Source, TimelineEvent

# The three checks of a verification (step 5), by the key the facts use.
VERIFICATION_CHECKS = {
    "functional": gettext_lazy("Functional test"),
    "regression": gettext_lazy("Regression test"),
    "monitoring": gettext_lazy("Monitoring observation"),
}
MONITORING = "monitoring"  # the kind of a note monitoring wrote (not a LogEntry.Kind)


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
    data: dict | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """Append one event; call it inside the transaction of the change it records.

    `data`: the facts of a text the system writes (see describe), instead of the
    text itself; `message` is then their English wording.
    """
    event = TimelineEvent(
        incident=incident,
        actor=actor,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        changes={k: [_jsonable(a), _jsonable(b)] for k, (a, b) in (changes or {}).items()},
        message=message,
        data=data or {},
        created_at=at or clock.now(),
    )
    if event.data and not message:
        with translation.override("en"):
            event.message = describe(event)
    event.save()
    return event


def describe(event: TimelineEvent) -> str:
    """What the event says, in the active language: its facts put into words, or
    (a row written before facts were kept, or a person's own words) its message."""
    words = _WORDS.get(event.kind)
    if words is not None and event.data:
        try:
            return words(event.data)
        except (KeyError, TypeError, ValueError):
            pass  # facts of a shape this version does not know: the stored text
    if event.kind == TimelineEvent.Kind.LOGGED:
        # Rows from before facts were kept: "[progress] text".
        match = _LOGGED.match(event.message)
        if match:
            return _logged({"kind": match[1], "text": match[2]})
    return event.message


_LOGGED = re.compile(r"\[(\w+)\] (.*)", re.DOTALL)


def _created(d: dict) -> str:
    source = str(Source(d["source"]).label) if d["source"] in Source.values else d["source"]
    return _("Filed as %(severity)s from %(source)s.") % {
        "severity": d["severity"],
        "source": source,
    }


def _phoned(d: dict) -> str:
    return _("Phoned %(who)s.") % {"who": d["who"]}


def _logged(d: dict) -> str:
    if d["kind"] == MONITORING:
        label = _("Monitoring")
    elif d["kind"] in LogEntry.Kind.values:
        label = LogEntry.Kind(d["kind"]).label
    else:
        label = d["kind"]
    return _("%(label)s: %(text)s") % {"label": label, "text": d["text"]}


def _resolution(d: dict) -> str:
    parts = []
    if d.get("workaround"):
        parts.append(_("Workaround: %(text)s") % {"text": d["workaround"]})
    if d.get("fix"):
        parts.append(_("Fix: %(text)s") % {"text": d["fix"]})
    return "\n".join(parts)


def verification_lines(d: dict) -> list[str]:
    """A failed verification, one line per failed check (with its evidence), then the
    verifier's notes: the timeline's words and the notice's to the owner."""
    lines = []
    for check in d["failed"]:
        label = VERIFICATION_CHECKS.get(check["check"], check["check"])
        evidence = (check.get("evidence") or "").strip()
        if evidence:
            lines.append(
                _("Failed: %(check)s — %(evidence)s") % {"check": label, "evidence": evidence}
            )
        else:
            lines.append(_("Failed: %(check)s") % {"check": label})
    if d.get("notes"):
        lines.append(_("Notes: %(notes)s") % {"notes": d["notes"]})
    return lines


def _verification_failed(d: dict) -> str:
    return "\n".join(verification_lines(d))


def _paused(d: dict) -> str:
    if d.get("waiting_on"):
        waiting = _("waiting on %(party)s") % {"party": d["waiting_on"]}
        return f"{d['reason']} ({waiting})"
    return d["reason"]


def _resumed(d: dict) -> str:
    paused = clock.duration_text(timedelta(seconds=d["paused_seconds"]))
    return _("Paused for %(duration)s.") % {"duration": paused}


def _action_item(d: dict) -> str:
    return _("%(text)s — %(owner)s, due %(due)s") % {
        "text": d["text"],
        "owner": d["owner"],
        "due": d["due"],
    }


def _acknowledged(d: dict) -> str:
    if d["by"] == "grading":
        return _("Acknowledged by grading.")
    raise ValueError(d["by"])  # not a fact this version knows: the stored text


def _published(d: dict) -> str:
    return _("Published as “%(title)s”: %(message)s") % {
        "title": d["title"],
        "message": d["message"],
    }


def _public_update(d: dict) -> str:
    return _("%(status)s: %(message)s") % {
        "status": PUBLIC_STATUS_LABELS.get(d["status"], d["status"]),
        "message": d["message"],
    }


def _affected_feedback(d: dict) -> str:
    if d.get("comment"):
        return _("An affected user rated the fix %(rating)s of 5: %(comment)s") % {
            "rating": d["rating"],
            "comment": d["comment"],
        }
    return _("An affected user rated the fix %(rating)s of 5.") % {"rating": d["rating"]}


# The status page's public statuses (escalation.status.models.PublicStatus keeps the
# stored values; incidents cannot import it).
PUBLIC_STATUS_LABELS = {
    "investigating": gettext_lazy("Investigating"),
    "identified": gettext_lazy("Identified"),
    "monitoring": gettext_lazy("Monitoring"),
    "resolved": gettext_lazy("Resolved"),
}


_WORDS = {
    TimelineEvent.Kind.PUBLISHED: _published,
    TimelineEvent.Kind.PUBLIC_UPDATE: _public_update,
    TimelineEvent.Kind.FEEDBACK_RECORDED: _affected_feedback,
    TimelineEvent.Kind.ACKNOWLEDGED: _acknowledged,
    TimelineEvent.Kind.CREATED: _created,
    TimelineEvent.Kind.PHONE_CALL: _phoned,
    TimelineEvent.Kind.LOGGED: _logged,
    TimelineEvent.Kind.RESOLUTION_SUBMITTED: _resolution,
    TimelineEvent.Kind.VERIFICATION_FAILED: _verification_failed,
    TimelineEvent.Kind.PAUSED: _paused,
    TimelineEvent.Kind.RESUMED: _resumed,
    TimelineEvent.Kind.ACTION_ITEM_ADDED: _action_item,
}
