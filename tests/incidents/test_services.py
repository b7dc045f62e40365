"""incidents.services: the state machine of DESIGN.md, its refusals and its input checks."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from common.errors import StaleVersion, TransitionNotAllowed
from incidents import services
from incidents.models import (
    OPEN_STATES,
    Grading,
    Incident,
    IncidentSequence,
    LogEntry,
    Resolution,
    Severity,
    Source,
    State,
    TimelineEvent,
    UserFeedback,
    UserNotification,
    Verification,
)
from incidents.workflow import ALLOWED_IN, PROCESS_ACTIONS, Action, action_label
from knowledge import services as knowledge_services
from tests.conftest import NOW
from tests.factories import (
    STATE_FOR_ACTION,
    IncidentFactory,
    acknowledged_incident,
    assigned_incident,
    in_progress_incident,
    incident_in_state,
    incident_snapshot,
    new_incident,
    perform,
    ready_for,
    resolved_incident,
    verifying_incident,
)

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


def last_event(incident: Incident) -> TimelineEvent:
    return TimelineEvent.objects.filter(incident=incident).order_by("-created_at", "-id").first()


def reload(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


# ---------------------------------------------------------------- filing


def test_it_files_a_new_incident_into_the_reporters_team(clock, onduty, platform):
    incident = services.incident_create(
        actor=onduty,
        title="  Checkout returns 502  ",
        symptoms="502 on /pay",
        severity=Severity.P1,
        source=Source.USER_COMPLAINT,
        impact_scope="Checkout",
        affected_users=40,
    )

    row = reload(incident)
    assert row.state == State.NEW
    assert row.title == "Checkout returns 502"
    assert row.team == platform
    assert row.reporter == onduty
    assert row.severity == row.initial_severity == Severity.P1
    assert row.received_at == NOW
    assert row.version == 1
    assert row.acknowledged_at is None
    events = list(row.events.all())
    assert len(events) == 1
    assert events[0].kind == TimelineEvent.Kind.CREATED
    assert (events[0].from_state, events[0].to_state) == ("", State.NEW)
    assert events[0].actor == onduty
    assert events[0].created_at == NOW


def test_it_accepts_a_received_at_in_the_past(clock, onduty):
    three_hours_ago = NOW - timedelta(hours=3)

    incident = IncidentFactory(actor=onduty, received_at=three_hours_ago)

    assert reload(incident).received_at == three_hours_ago


def test_it_takes_a_received_at_slightly_ahead_as_now(clock, onduty):
    incident = IncidentFactory(actor=onduty, received_at=NOW + timedelta(seconds=30))

    assert reload(incident).received_at == NOW


def test_it_lets_a_manager_file_into_any_team(clock, manager, payments):
    incident = IncidentFactory(actor=manager, team=payments)

    assert reload(incident).team == payments


def test_it_records_the_urgent_phone_call(clock, onduty):
    incident = IncidentFactory(actor=onduty, urgent=True, phone_call_to="lead")

    row = reload(incident)
    assert row.phone_call_made is True
    assert row.phone_call_at == NOW
    assert list(row.events.values_list("kind", flat=True)) == [
        TimelineEvent.Kind.CREATED,
        TimelineEvent.Kind.PHONE_CALL,
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"severity": "P7"}, "severity"),
        ({"affected_users": -1}, "affected_users"),
        ({"received_at": NOW + timedelta(minutes=5)}, "received_at"),
        ({"occurred_at": NOW + timedelta(minutes=5)}, "occurred_at"),
        (
            {"received_at": NOW - timedelta(hours=2), "occurred_at": NOW - timedelta(hours=1)},
            "occurred_at",
        ),
        ({"title": "   "}, "title"),
        ({"source": "carrier pigeon"}, "source"),
        ({"received_at": datetime(2026, 11, 26, 1, 0)}, "received_at"),  # naive
        ({"occurred_at": datetime(2026, 11, 26, 1, 0)}, "occurred_at"),  # naive
    ],
    ids=[
        "unknown-severity",
        "negative-affected-users",
        "future-received-at",
        "future-occurred-at",
        "occurred-after-received",
        "empty-title",
        "unknown-source",
        "naive-received-at",
        "naive-occurred-at",
    ],
)
def test_it_refuses_bad_intake_and_writes_nothing(clock, onduty, overrides, field):
    with pytest.raises(ValidationError) as exc:
        IncidentFactory(actor=onduty, **overrides)

    assert field in exc.value.message_dict
    assert Incident.objects.count() == 0
    assert TimelineEvent.objects.count() == 0
    assert IncidentSequence.objects.count() == 0


def test_it_refuses_filing_into_a_team_the_reporter_is_not_in(clock, onduty, payments):
    with pytest.raises(ValidationError) as exc:
        IncidentFactory(actor=onduty, team=payments)

    assert "team" in exc.value.message_dict
    assert Incident.objects.count() == 0
    assert TimelineEvent.objects.count() == 0


# ---------------------------------------------------------------- numbers

NUMBER = re.compile(r"^INC-\d{8}-\d{4}$")


def test_it_numbers_incidents_by_local_day_and_counts_up(onduty):
    # 23:50 on the 26th in Shanghai (15:50 UTC).
    with time_machine.travel(datetime(2026, 11, 26, 15, 50, tzinfo=UTC), tick=False) as t:
        first = IncidentFactory(actor=onduty)
        second = IncidentFactory(actor=onduty)
        # 00:10 on the 27th in Shanghai, still the 26th in UTC.
        t.shift(timedelta(minutes=20))
        third = IncidentFactory(actor=onduty)
        fourth = IncidentFactory(actor=onduty)

    numbers = [reload(i).number for i in (first, second, third, fourth)]
    assert all(NUMBER.match(n) for n in numbers)
    assert numbers == [
        "INC-20261126-0001",
        "INC-20261126-0002",
        "INC-20261127-0001",
        "INC-20261127-0002",
    ]


def test_it_does_not_use_up_a_number_on_refused_intake(clock, onduty):
    with pytest.raises(ValidationError):
        IncidentFactory(actor=onduty, affected_users=-5)

    incident = IncidentFactory(actor=onduty)

    assert incident.number == "INC-20261126-0001"


# ---------------------------------------------------------------- legal transitions


def test_it_acknowledges_a_new_incident(clock, onduty, lead):
    incident = new_incident(reporter=onduty)
    clock.shift(3 * MINUTE)

    services.incident_acknowledge(incident=incident, actor=lead, note="On it")

    row = reload(incident)
    assert row.state == State.ACKNOWLEDGED
    assert row.acknowledged_at == NOW + 3 * MINUTE
    assert row.version == 2
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.ACKNOWLEDGED
    assert (event.from_state, event.to_state) == (State.NEW, State.ACKNOWLEDGED)
    assert event.actor == lead
    assert event.message == "On it"
    assert event.created_at == NOW + 3 * MINUTE


def test_it_assigns_an_acknowledged_incident(clock, onduty, lead, owner, helper):
    incident = acknowledged_incident(lead=lead, reporter=onduty)
    clock.shift(10 * MINUTE)

    services.incident_assign(
        incident=incident,
        actor=lead,
        owner=owner,
        helpers=[helper],
        external_contacts=[{"name": "Ann", "organisation": "CloudCo", "owes": "LB logs"}],
    )

    row = reload(incident)
    assert row.state == State.ASSIGNED
    assert row.assigned_at == NOW + 10 * MINUTE
    assert row.owner == owner
    assert list(row.helpers.all()) == [helper]
    assert row.time_limit == row.resolve_by
    assert row.goal.startswith("P2: restore within 8 h")
    assert row.assignments.get().owner == owner
    assert row.external_contacts.get().name == "Ann"
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.ASSIGNED
    assert (event.from_state, event.to_state) == (State.ACKNOWLEDGED, State.ASSIGNED)
    assert event.actor == lead
    assert event.changes["owner"] == [None, "owner"]


def test_it_keeps_the_history_when_reassigning(clock, lead, owner, helper):
    incident = assigned_incident(lead=lead, owner=owner)
    clock.shift(MINUTE)

    services.incident_assign(incident=incident, actor=lead, owner=helper)

    row = reload(incident)
    assert row.state == State.ASSIGNED
    assert row.assigned_at == NOW  # the first assignment
    assert row.owner == helper
    assert [a.owner for a in row.assignments.all()] == [owner, helper]
    event = last_event(row)
    assert (event.from_state, event.to_state) == ("", "")
    assert event.changes["owner"] == ["owner", "helper"]


@pytest.mark.parametrize("worker", ["owner", "helper"])
def test_it_starts_work_on_the_first_log_entry_by_a_worker(
    request, clock, lead, owner, helper, worker
):
    incident = assigned_incident(lead=lead, owner=owner, helpers=[helper])
    author = request.getfixturevalue(worker)
    clock.shift(7 * MINUTE)

    entry = services.incident_log(
        incident=incident, actor=author, kind=LogEntry.Kind.ACTION, text="Restarted pods"
    )

    row = reload(incident)
    assert row.state == State.IN_PROGRESS
    assert row.started_at == NOW + 7 * MINUTE
    assert entry.author == author
    assert entry.happened_at == NOW + 7 * MINUTE
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.LOGGED
    assert (event.from_state, event.to_state) == (State.ASSIGNED, State.IN_PROGRESS)
    assert event.actor == author


def test_it_does_not_start_work_on_a_leads_log_entry(clock, lead, owner):
    incident = assigned_incident(lead=lead, owner=owner)

    services.incident_log(
        incident=incident, actor=lead, kind=LogEntry.Kind.NOTE, text="Vendor ticket opened"
    )

    row = reload(incident)
    assert row.state == State.ASSIGNED
    assert row.started_at is None
    assert row.log_entries.count() == 1
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.LOGGED
    assert (event.from_state, event.to_state) == ("", "")
    assert event.actor == lead


def test_it_does_not_restart_work_on_later_log_entries(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    clock.shift(MINUTE)

    services.incident_log(incident=incident, actor=owner, kind=LogEntry.Kind.NOTE, text="More")

    row = reload(incident)
    assert row.state == State.IN_PROGRESS
    assert row.started_at == NOW
    assert (last_event(row).from_state, last_event(row).to_state) == ("", "")


@pytest.mark.parametrize("from_state", [State.ASSIGNED, State.IN_PROGRESS])
def test_it_submits_a_resolution_for_verification(clock, lead, owner, from_state):
    incident = incident_in_state(from_state, lead=lead, owner=owner)
    clock.shift(30 * MINUTE)

    services.incident_resolve(incident=incident, actor=owner, workaround="Failover", fix="")

    row = reload(incident)
    assert row.state == State.VERIFYING
    assert row.resolution_submitted_at == NOW + 30 * MINUTE
    assert row.started_at == (NOW + 30 * MINUTE if from_state == State.ASSIGNED else NOW)
    assert row.restored_at is None
    resolution = row.resolutions.get()
    assert resolution.outcome == Resolution.Outcome.PENDING
    assert resolution.workaround == "Failover"
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.RESOLUTION_SUBMITTED
    assert (event.from_state, event.to_state) == (from_state, State.VERIFYING)
    assert event.actor == owner


def test_it_resolves_when_every_check_passes(clock, lead, owner, tester):
    incident = verifying_incident(lead=lead, owner=owner)
    clock.shift(20 * MINUTE)

    services.incident_verify(
        incident=incident,
        actor=tester,
        functional_ok=True,
        regression_ok=True,
        monitoring_ok=True,
    )

    row = reload(incident)
    assert row.state == State.RESOLVED
    assert row.resolved_at == NOW + 20 * MINUTE
    assert row.restored_at == NOW
    assert row.resolutions.get().outcome == Resolution.Outcome.PASSED
    verification = row.verifications.get()
    assert verification.passed is True
    assert verification.verifier == tester
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.VERIFICATION_PASSED
    assert (event.from_state, event.to_state) == (State.VERIFYING, State.RESOLVED)
    assert event.actor == tester


@pytest.mark.parametrize("failing", ["functional_ok", "regression_ok", "monitoring_ok"])
def test_it_sends_a_failed_verification_back_to_work(clock, lead, owner, tester, failing):
    incident = verifying_incident(lead=lead, owner=owner)
    checks = {"functional_ok": True, "regression_ok": True, "monitoring_ok": True}
    checks[failing] = False
    clock.shift(20 * MINUTE)

    services.incident_verify(incident=incident, actor=tester, **checks, notes="Still 502 on retry")

    row = reload(incident)
    assert row.state == State.IN_PROGRESS
    assert row.resolved_at is None
    assert row.restored_at is None
    assert row.resolution_submitted_at is None
    assert row.resolutions.get().outcome == Resolution.Outcome.FAILED
    assert row.verifications.get().passed is False
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.VERIFICATION_FAILED
    assert (event.from_state, event.to_state) == (State.VERIFYING, State.IN_PROGRESS)
    assert event.actor == tester
    assert "Still 502 on retry" in event.message


def test_it_records_notification_and_feedback_on_a_resolved_incident(clock, lead, owner, onduty):
    incident = resolved_incident(lead=lead, owner=owner)

    services.incident_notify_users(incident=incident, actor=onduty, message="Fixed, sorry")
    services.incident_record_feedback(
        incident=incident, actor=onduty, text="Works now", satisfied=True
    )

    row = reload(incident)
    assert row.state == State.RESOLVED
    assert UserNotification.objects.get(incident=row).notified_by == onduty
    assert UserFeedback.objects.get(incident=row).satisfied is True
    kinds = list(row.events.order_by("-id").values_list("kind", "actor__username")[:2])
    assert kinds == [
        (TimelineEvent.Kind.FEEDBACK_RECORDED, "onduty"),
        (TimelineEvent.Kind.USERS_NOTIFIED, "onduty"),
    ]


def test_it_archives_a_resolved_incident(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner)
    clock.shift(MINUTE)

    knowledge_services.incident_archive(
        incident=incident, actor=lead, summary="  Pool exhausted.  "
    )

    row = reload(incident)
    assert row.state == State.ARCHIVED
    assert row.archived_at == NOW + MINUTE
    assert row.archive_summary == "Pool exhausted."
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.ARCHIVED
    assert (event.from_state, event.to_state) == (State.RESOLVED, State.ARCHIVED)
    assert event.actor == lead


@pytest.mark.parametrize("from_state", [State.RESOLVED, State.ARCHIVED])
def test_it_reopens_a_closed_incident(clock, lead, owner, from_state):
    incident = incident_in_state(from_state, lead=lead, owner=owner)
    clock.shift(2 * 60 * MINUTE)

    services.incident_reopen(incident=incident, actor=lead, reason="502s are back")

    row = reload(incident)
    assert row.state == State.IN_PROGRESS
    assert row.reopen_count == 1
    assert row.restored_at is None
    assert row.resolved_at is None
    assert row.archived_at is None
    assert row.resolution_submitted_at is None
    assert row.owner == owner
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.REOPENED
    assert (event.from_state, event.to_state) == (from_state, State.IN_PROGRESS)
    assert event.actor == lead
    assert event.message == "502s are back"


@pytest.mark.parametrize("from_state", sorted(OPEN_STATES))
def test_it_cancels_an_open_incident_with_a_reason(clock, lead, owner, from_state):
    incident = incident_in_state(from_state, lead=lead, owner=owner)
    clock.shift(MINUTE)

    services.incident_cancel(incident=incident, actor=lead, reason="Duplicate of INC-7")

    row = reload(incident)
    assert row.state == State.CANCELLED
    assert row.cancelled_at == NOW + MINUTE
    assert row.cancel_reason == "Duplicate of INC-7"
    assert not row.is_open
    assert not row.resolutions.filter(outcome=Resolution.Outcome.PENDING).exists()
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.CANCELLED
    assert (event.from_state, event.to_state) == (from_state, State.CANCELLED)
    assert event.actor == lead
    assert event.message == "Duplicate of INC-7"


def test_it_withdraws_a_pending_resolution_on_cancel(clock, lead, owner):
    incident = verifying_incident(lead=lead, owner=owner)

    services.incident_cancel(incident=incident, actor=lead, reason="False alarm")

    assert reload(incident).resolutions.get().outcome == Resolution.Outcome.WITHDRAWN


def test_it_grades_without_changing_state(clock, lead):
    incident = acknowledged_incident(lead=lead)

    services.incident_grade(
        incident=incident, actor=lead, severity=Severity.P1, diagnosis="DB failover"
    )

    row = reload(incident)
    assert row.state == State.ACKNOWLEDGED
    assert row.severity == Severity.P1
    assert row.initial_severity == Severity.P2
    grading = row.gradings.get()
    assert (grading.previous_severity, grading.severity) == (Severity.P2, Severity.P1)
    assert grading.graded_by == lead
    event = last_event(row)
    assert event.kind == TimelineEvent.Kind.GRADED
    assert (event.from_state, event.to_state) == ("", "")
    assert event.changes["severity"] == ["P2", "P1"]


def test_it_walks_the_whole_process_bumping_the_version_each_step(clock, lead, owner, tester):
    incident = resolved_incident(lead=lead, owner=owner, tester=tester)

    row = reload(incident)
    # created, acknowledged, assigned, logged, resolution_submitted, verification_passed
    assert row.version == 6
    assert list(row.events.values_list("kind", flat=True)) == [
        TimelineEvent.Kind.CREATED,
        TimelineEvent.Kind.ACKNOWLEDGED,
        TimelineEvent.Kind.ASSIGNED,
        TimelineEvent.Kind.LOGGED,
        TimelineEvent.Kind.RESOLUTION_SUBMITTED,
        TimelineEvent.Kind.VERIFICATION_PASSED,
    ]
    transitions = [
        (e.from_state, e.to_state) for e in row.events.exclude(to_state="").order_by("id")
    ]
    assert transitions == [
        ("", State.NEW),
        (State.NEW, State.ACKNOWLEDGED),
        (State.ACKNOWLEDGED, State.ASSIGNED),
        (State.ASSIGNED, State.IN_PROGRESS),
        (State.IN_PROGRESS, State.VERIFYING),
        (State.VERIFYING, State.RESOLVED),
    ]


# ---------------------------------------------------------------- refused transitions

OPEN = {State.NEW, State.ACKNOWLEDGED, State.ASSIGNED, State.IN_PROGRESS, State.VERIFYING}
# DESIGN.md "States", written out independently of workflow.ALLOWED_IN.
DESIGNED = {
    Action.ACKNOWLEDGE: {State.NEW},
    Action.GRADE: OPEN,  # "at any point before resolved"
    Action.ASSIGN: OPEN - {State.NEW},
    Action.LOG: OPEN,
    Action.RESOLVE: {State.ASSIGNED, State.IN_PROGRESS},
    Action.VERIFY: {State.VERIFYING},
    Action.NOTIFY_USERS: {State.RESOLVED},
    Action.FEEDBACK: {State.RESOLVED, State.ARCHIVED},
    Action.ARCHIVE: {State.RESOLVED},
    Action.REOPEN: {State.RESOLVED, State.ARCHIVED},
    Action.CANCEL: OPEN,
    # Paused once the team has taken it (the respond clock is never paused).
    Action.PAUSE: OPEN - {State.NEW},
    Action.RESUME: OPEN,
}


def test_it_allows_each_action_in_the_states_the_design_names():
    assert set(OPEN_STATES) == OPEN
    assert {action: set(ALLOWED_IN[action]) for action in PROCESS_ACTIONS} == DESIGNED


FORBIDDEN = [
    (action, state)
    for action in PROCESS_ACTIONS
    for state in State
    if state not in ALLOWED_IN[action]
]


@pytest.mark.parametrize(
    ("action", "state"), FORBIDDEN, ids=[f"{a.value}-in-{s.value}" for a, s in FORBIDDEN]
)
def test_it_refuses_a_transition_the_state_forbids(clock, lead, owner, tester, action, state):
    incident = incident_in_state(state, lead=lead, owner=owner, tester=tester)
    before = incident_snapshot(incident)
    clock.shift(MINUTE)

    with pytest.raises(TransitionNotAllowed) as exc:
        perform(action, incident=incident, actor=lead)

    # Not paused: of pause and resume, only pause is offered.
    offered = [a for a in PROCESS_ACTIONS if state in ALLOWED_IN[a] and a != Action.RESUME]
    assert exc.value.state == state
    assert exc.value.allowed == [a.value for a in offered]
    message = str(exc.value)
    assert incident.number in message
    assert f"while it is {State(state).label}" in message
    labels = [action_label(a) for a in offered]
    assert message.endswith(f"Allowed now: {', '.join(labels) or 'nothing'}.")
    assert incident_snapshot(incident) == before


# ---------------------------------------------------------------- bad input

BAD_INPUT = [
    (Action.GRADE, State.ACKNOWLEDGED, {"diagnosis": "   "}, "diagnosis"),
    (Action.GRADE, State.ACKNOWLEDGED, {"severity": "P5"}, "severity"),
    (Action.ASSIGN, State.ACKNOWLEDGED, {"owner": None}, "owner"),
    (Action.LOG, State.IN_PROGRESS, {"kind": "gossip"}, "kind"),
    (Action.LOG, State.IN_PROGRESS, {"text": ""}, "text"),
    (Action.LOG, State.IN_PROGRESS, {"happened_at": NOW + timedelta(hours=1)}, "happened_at"),
    (Action.RESOLVE, State.IN_PROGRESS, {"workaround": "  ", "fix": ""}, "fix"),
    (Action.VERIFY, State.VERIFYING, {"monitoring_ok": None}, "monitoring_ok"),
    (Action.NOTIFY_USERS, State.RESOLVED, {"message": ""}, "message"),
    (Action.FEEDBACK, State.RESOLVED, {"text": " "}, "text"),
    (Action.ARCHIVE, State.RESOLVED, {"summary": ""}, "summary"),
    (Action.REOPEN, State.RESOLVED, {"reason": "  "}, "reason"),
    (Action.REOPEN, State.ARCHIVED, {"reason": ""}, "reason"),
    (Action.CANCEL, State.NEW, {"reason": ""}, "reason"),
    (Action.CANCEL, State.VERIFYING, {"reason": "   "}, "reason"),
]


@pytest.mark.parametrize(
    ("action", "state", "overrides", "field"),
    BAD_INPUT,
    ids=[f"{a.value}-{f}-in-{s.value}" for a, s, _, f in BAD_INPUT],
)
def test_it_refuses_bad_input_and_writes_nothing(
    clock, lead, owner, action, state, overrides, field
):
    incident = incident_in_state(state, lead=lead, owner=owner)
    before = incident_snapshot(incident)

    with pytest.raises(ValidationError) as exc:
        perform(action, incident=incident, actor=lead, **overrides)

    assert field in exc.value.message_dict
    assert incident_snapshot(incident) == before


# ---------------------------------------------------------------- optimistic lock


@pytest.mark.parametrize("action", PROCESS_ACTIONS, ids=[a.value for a in PROCESS_ACTIONS])
def test_it_refuses_a_stale_version_and_writes_nothing(clock, lead, owner, action):
    incident = ready_for(
        action, incident_in_state(STATE_FOR_ACTION[action], lead=lead, owner=owner)
    )
    before = incident_snapshot(incident)
    stale = incident.version - 1

    with pytest.raises(StaleVersion) as exc:
        perform(action, incident=incident, actor=lead, expected_version=stale)

    assert (exc.value.expected, exc.value.current) == (stale, incident.version)
    assert incident.number in str(exc.value)
    assert incident_snapshot(incident) == before


@pytest.mark.parametrize("action", PROCESS_ACTIONS, ids=[a.value for a in PROCESS_ACTIONS])
def test_it_accepts_the_current_version_and_bumps_it(clock, lead, owner, action):
    incident = ready_for(
        action, incident_in_state(STATE_FOR_ACTION[action], lead=lead, owner=owner)
    )
    events = incident.events.count()

    perform(action, incident=incident, actor=lead, expected_version=incident.version)

    row = reload(incident)
    assert row.version == incident.version + 1
    assert row.events.count() == events + 1


def test_it_refuses_the_second_of_two_edits_from_the_same_version(clock, lead):
    incident = new_incident(reporter=lead)
    version = incident.version
    services.incident_grade(
        incident=incident,
        actor=lead,
        severity=Severity.P0,
        diagnosis="Full outage",
        expected_version=version,
    )

    with pytest.raises(StaleVersion):
        services.incident_grade(
            incident=incident,
            actor=lead,
            severity=Severity.P3,
            diagnosis="Cosmetic",
            expected_version=version,
        )

    row = reload(incident)
    assert row.severity == Severity.P0
    assert Grading.objects.filter(incident=row).count() == 1
    assert Verification.objects.count() == 0


def test_it_counts_verification_attempts_and_failures(clock, lead, owner, tester):
    from tests.factories import verifying_incident

    incident = verifying_incident(lead=lead, owner=owner)
    services.incident_verify(
        incident=incident,
        actor=tester,
        functional_ok=True,
        regression_ok=False,
        monitoring_ok=True,
        regression_evidence="Payments broke.",
    )
    services.incident_resolve(incident=incident, actor=owner, fix="Fixed payments too.")
    services.incident_verify(
        incident=incident, actor=tester, functional_ok=True, regression_ok=True, monitoring_ok=True
    )
    incident.refresh_from_db()
    assert (incident.verification_count, incident.failed_verification_count) == (2, 1)


def test_it_keeps_a_decided_respond_deadline_on_regrade(clock, lead):
    from tests.factories import acknowledged_incident

    incident = acknowledged_incident(lead=lead, severity="P3")  # respond within 2 h: met
    respond_by = incident.respond_by
    resolve_by = incident.resolve_by
    graded = services.incident_grade(
        incident=incident, actor=lead, severity="P0", diagnosis="Worse than reported."
    )
    assert graded.respond_by == respond_by
    assert graded.resolve_by < resolve_by  # still pending: moved to P0's 2 h
