"""Step 5: verification (a failure sends the incident back), telling the affected
users, and their feedback."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from common import clock
from escalation import deadlines
from incidents.models import (
    Incident,
    Resolution,
    State,
    TimelineEvent,
    UserFeedback,
    UserNotification,
    Verification,
)
from incidents.services.base import begin, end_pause, required, save
from incidents.timeline import record_event
from incidents.workflow import Action


@transaction.atomic
def incident_verify(
    *,
    incident: Incident,
    actor,
    functional_ok: bool,
    regression_ok: bool,
    monitoring_ok: bool,
    functional_evidence: str = "",
    regression_evidence: str = "",
    monitoring_evidence: str = "",
    notes: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Record a verification attempt (step 5).

    All three checks passed → `resolved`, and the resolve clock stops at the
    submission that passed. Any failure → back to `in_progress` for the owner,
    the clock never stopped, the reasons go on the timeline, and the owner and
    the helpers are told at once (not the verifier: they know).
    """
    incident = begin(incident, actor, Action.VERIFY, expected_version)
    checks = {
        "functional_ok": functional_ok,
        "regression_ok": regression_ok,
        "monitoring_ok": monitoring_ok,
    }
    missing = {k: _("Say whether this check passed.") for k, v in checks.items() if v is None}
    if missing:
        raise ValidationError(missing)
    now = clock.now()
    resolution = incident.resolutions.filter(outcome=Resolution.Outcome.PENDING).last()
    if resolution is None:  # data from before resolutions were recorded
        resolution = Resolution.objects.create(
            incident=incident,
            submitted_by=actor,
            submitted_at=incident.resolution_submitted_at or now,
        )
    passed = all(checks.values())
    verification = Verification.objects.create(
        incident=incident,
        resolution=resolution,
        functional_ok=functional_ok,
        functional_evidence=functional_evidence.strip(),
        regression_ok=regression_ok,
        regression_evidence=regression_evidence.strip(),
        monitoring_ok=monitoring_ok,
        monitoring_evidence=monitoring_evidence.strip(),
        notes=notes.strip(),
        passed=passed,
        verifier=actor,
        verified_at=now,
    )
    resolution.outcome = Resolution.Outcome.PASSED if passed else Resolution.Outcome.FAILED
    resolution.save(update_fields=["outcome"])
    incident.verification_count += 1
    incident.failed_verification_count += 0 if passed else 1
    evidence = {
        "functional": functional_evidence,
        "regression": regression_evidence,
        "monitoring": monitoring_evidence,
    }
    data = {}
    if passed:
        incident.state = State.RESOLVED
        ended = end_pause(incident, actor, now)
        incident.restored_at = resolution.submitted_at
        incident.resolve_sla = deadlines.sla_time(
            incident, incident.received_at, incident.restored_at, less_pauses=True
        )
        incident.resolved_at = now
        fields = ["state", "restored_at", "resolve_sla", "resolved_at"]
        fields += ended
        fields += ["verification_count", "failed_verification_count"]
        kind = TimelineEvent.Kind.VERIFICATION_PASSED
        message = notes.strip()
    else:
        incident.state = State.IN_PROGRESS
        incident.resolution_submitted_at = None
        fields = ["state", "resolution_submitted_at"]
        fields += ["verification_count", "failed_verification_count"]
        kind = TimelineEvent.Kind.VERIFICATION_FAILED
        message = ""
        data = {
            "failed": [
                {"check": check, "evidence": text.strip()}
                for check, text in evidence.items()
                if not checks[f"{check}_ok"]
            ],
            "notes": notes.strip(),
        }
    save(incident, fields, now)
    record_event(
        incident,
        actor,
        kind,
        from_state=State.VERIFYING,
        to_state=incident.state,
        message=message,
        data=data,
    )
    if not passed:
        deadlines.verification_failed(incident, verification, data, now)
    return incident


@transaction.atomic
def incident_notify_users(
    *, incident: Incident, actor, message: str, expected_version: int | None = None
) -> Incident:
    """Record that the affected users were told the problem is fixed."""
    incident = begin(incident, actor, Action.NOTIFY_USERS, expected_version)
    message = required(message, "message", _("Write what the users were told."))
    now = clock.now()
    UserNotification.objects.create(
        incident=incident, message=message, notified_by=actor, notified_at=now
    )
    save(incident, [], now)
    record_event(incident, actor, TimelineEvent.Kind.USERS_NOTIFIED, message=message)
    return incident


@transaction.atomic
def incident_record_feedback(
    *,
    incident: Incident,
    actor,
    text: str,
    satisfied: bool | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Record what affected users said after the fix."""
    incident = begin(incident, actor, Action.FEEDBACK, expected_version)
    text = required(text, "text", _("Write down the users' feedback."))
    UserFeedback.objects.create(
        incident=incident,
        text=text,
        satisfied=satisfied,
        recorded_by=actor,
        recorded_at=clock.now(),
    )
    save(incident, [])
    record_event(incident, actor, TimelineEvent.Kind.FEEDBACK_RECORDED, message=text)
    return incident


@transaction.atomic
def incident_affected_user_feedback(
    *,
    incident: Incident,
    rating: int,
    comment: str = "",
    feedback: UserFeedback | None = None,
) -> UserFeedback:
    """Record an affected user's own answer (a rating 1–5 and a comment) from the
    status page's feedback link as the incident's user feedback; with `feedback`,
    change that answer instead. The first answer writes one timeline entry; a change
    writes none (the answer is edited in place, never counted twice). No person
    signs in for it, so there is no role to check: the caller holds the link."""
    if rating not in range(1, 6):
        raise ValidationError({"rating": _("Choose a rating from 1 to 5.")})
    comment = (comment or "").strip()
    now = clock.now()
    if feedback is not None:
        feedback.rating, feedback.text, feedback.updated_at = rating, comment, now
        feedback.satisfied = rating >= 4
        feedback.save(update_fields=["rating", "text", "satisfied", "updated_at"])
        return feedback
    incident = begin(incident, None, Action.VIEW)
    feedback = UserFeedback.objects.create(
        incident=incident,
        text=comment,
        rating=rating,
        satisfied=rating >= 4,
        by_affected_user=True,
        recorded_at=now,
        updated_at=now,
    )
    record_event(
        incident,
        None,
        TimelineEvent.Kind.FEEDBACK_RECORDED,
        data={"rating": rating, "comment": comment},
        at=now,
    )
    return feedback
