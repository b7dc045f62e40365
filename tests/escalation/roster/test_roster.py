"""The roster's writes (who may), its timeline, and its sweep: a handover notice once
per handoff, a coverage-gap notice once per gap; escalation routed to who is on call."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from escalation import messages
from escalation.engine import sweep_due_deadlines
from escalation.models import Delivery, HandoverNote, Notice, RosterEvent
from escalation.roster import selectors as roster_selectors
from escalation.roster import services as roster_services
from escalation.roster import sweep as roster_sweep
from incidents import services
from tests.conftest import NOW
from tests.factories import IncidentFactory, in_progress_incident, make_rotation

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
# The weekly rotations below hand over on Mondays at 09:00 Shanghai (01:00 UTC).
NEXT_MONDAY = datetime(2026, 11, 30, 1, tzinfo=UTC)


def handovers(team=None):
    qs = Notice.objects.filter(clock="handover").order_by("created_at", "id")
    return [(n.level, n.recipients, n.deadline, n.late) for n in qs]


def sweep(clock, at):
    clock.move_to(at)
    return roster_sweep.sweep_rosters()


# ---------------------------------------------------------------- who may change what


def test_only_a_tech_lead_sets_up_rotations(clock, platform, lead, engineer):
    with pytest.raises(PermissionDenied):
        make_rotation(actor=engineer, team=platform, people=[engineer])
    rotation = make_rotation(actor=lead, team=platform, people=[engineer])

    event = RosterEvent.objects.get()
    assert (event.kind, event.actor, event.data["rotation"]) == (
        "rotation_created",
        lead,
        rotation.pk,
    )
    assert event.summary == (
        "primary rotation (primary): engineer; shifts of 7 days from 2026-11-23 09:00"
    )
    with translation.override("zh-hans"):
        assert roster_selectors.describe(event) == (
            "primary rotation（主值班）：engineer；每班 7 天，自 2026-11-23 09:00 起"
        )


def test_it_refuses_a_participant_from_another_team(clock, platform, lead, pay_engineer):
    with pytest.raises(ValidationError) as error:
        make_rotation(actor=lead, team=platform, people=[pay_engineer])
    assert "pay-engineer" in str(error.value.message_dict["participants"])
    assert not platform.rotations.exists()
    assert not RosterEvent.objects.exists()


def test_a_change_is_on_the_timeline_with_before_and_after(clock, platform, lead, engineer, onduty):
    rotation = make_rotation(actor=lead, team=platform, people=[engineer])
    spec = roster_services.RotationSpec(
        name="Weekly",
        layer="primary",
        participants=[onduty, engineer],
        shift_days=1,
        start_date=date(2026, 11, 23),
    )
    roster_services.rotation_save(actor=lead, team=platform, spec=spec, rotation=rotation)

    changed = RosterEvent.objects.filter(kind="rotation_changed").get()
    assert changed.summary == (
        "primary rotation (primary): engineer; shifts of 7 days from 2026-11-23 09:00"
        " → Weekly (primary): onduty → engineer; shifts of 1 day from 2026-11-23 09:00"
    )


def test_anyone_may_cover_themselves_or_ask_to_be_covered(
    clock, platform, lead, engineer, onduty, tester
):
    make_rotation(actor=lead, team=platform, people=[engineer])
    # onduty covers engineer's shift; engineer asks tester to cover another stretch.
    roster_services.override_create(
        actor=onduty, team=platform, layer="primary", user=onduty, start=NOW, end=NOW + H
    )
    roster_services.override_create(
        actor=engineer,
        team=platform,
        layer="primary",
        user=tester,
        start=NOW + 2 * H,
        end=NOW + 3 * H,
    )
    # tester may not put onduty in someone else's shift.
    with pytest.raises(PermissionDenied):
        roster_services.override_create(
            actor=tester,
            team=platform,
            layer="primary",
            user=onduty,
            start=NOW + 5 * H,
            end=NOW + 6 * H,
        )
    assert RosterEvent.objects.filter(kind="override_created").count() == 2


def test_it_refuses_an_override_outside_the_team_or_in_the_past(
    clock, platform, lead, manager, pay_engineer, engineer, pay_lead
):
    def add(**kw):
        args = {"actor": manager, "team": platform, "layer": "primary", "user": engineer}
        args.update(start=NOW + H, end=NOW + 2 * H)
        args.update(kw)
        return roster_services.override_create(**args)

    with pytest.raises(ValidationError) as error:
        add(user=pay_engineer)
    assert "user" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        add(start=NOW - 3 * H, end=NOW - H)
    assert "over already" in str(error.value.message_dict["end"])
    with pytest.raises(ValidationError):
        add(end=NOW + H)  # ends as it starts
    with pytest.raises(PermissionDenied):
        add(actor=pay_lead)  # a lead, but of another team
    assert add().created_by == manager  # a manager may


def test_only_the_people_concerned_remove_an_override(clock, platform, lead, engineer, tester):
    made = roster_services.override_create(
        actor=lead, team=platform, layer="primary", user=engineer, start=NOW, end=NOW + H
    )
    with pytest.raises(PermissionDenied):
        roster_services.override_delete(actor=tester, override=made)
    roster_services.override_delete(actor=engineer, override=made)
    assert RosterEvent.objects.filter(kind="override_deleted", actor=engineer).exists()


# ---------------------------------------------------------------- handover


def test_it_sends_one_handover_notice_per_handoff(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty])

    sweep(clock, NOW + H)  # mid-shift: the rotation began before it existed
    assert handovers() == []
    for after in (timedelta(seconds=10), MIN, 30 * MIN):
        sweep(clock, NEXT_MONDAY + after)
    assert handovers() == [(1, ["onduty"], NEXT_MONDAY, False)]

    sweep(clock, NEXT_MONDAY + 7 * D + MIN)
    assert handovers()[-1] == (1, ["engineer"], NEXT_MONDAY + 7 * D, False)
    assert len(handovers()) == 2


def test_after_an_outage_it_sends_only_the_current_handoff_marked_late(
    clock, platform, lead, engineer, onduty
):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty], shift_days=1)

    # Down from Thursday until Saturday 11:00: three handoffs passed, one notice.
    sweep(clock, datetime(2026, 11, 28, 3, tzinfo=UTC))

    # Mon engineer, Tue onduty ... Sat onduty.
    assert handovers() == [(1, ["onduty"], datetime(2026, 11, 28, 1, tzinfo=UTC), True)]


def test_the_handover_lists_incidents_deadlines_blockers_and_the_outgoing_note(
    clock, platform, lead, engineer, onduty, owner
):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty])
    busy = in_progress_incident(lead=lead, owner=owner, severity="P2", title="Disk full on db-3")
    services.incident_log(
        incident=busy, actor=owner, kind="blocker", text="Waiting for the storage team"
    )
    quiet = IncidentFactory(actor=lead, severity="P3", title="Typo on the status page")
    roster_services.handover_note_add(
        actor=engineer, team=platform, layer="primary", text="db-3 needs a look at 10:00"
    )
    with pytest.raises(PermissionDenied):  # not on call now, not a lead
        roster_services.handover_note_add(actor=onduty, team=platform, layer="primary", text="hi")

    sweep(clock, NEXT_MONDAY + MIN)

    notice = Notice.objects.get(clock="handover")
    d = notice.details
    assert {i["number"] for i in d["incidents"]} == {busy.number, quiet.number}
    assert {(x["number"], x["clock"]) for x in d["deadlines"]} >= {(busy.number, "resolve")}
    assert d["blockers"] == [{"number": busy.number, "text": "Waiting for the storage team"}]
    assert [n["text"] for n in d["notes"]] == ["db-3 needs a look at 10:00"]
    assert HandoverNote.objects.get().notice == notice  # not sent again next time
    subject, body = messages.render(notice, language="en")
    assert "You are on call (primary) from 2026-11-30 09:00 CST" in body
    assert "Disk full on db-3" in body
    assert "Waiting for the storage team" in body
    assert "Handover note from Engineer:" in body
    assert f"- {busy.number} P2 In progress: Disk full on db-3" in body
    # Missed before the handoff (the update, due an hour after NOW): said so.
    assert f"- {busy.number} progress update due, overdue since 2026-11-26 11:00 CST" in body
    zh_subject, zh_body = messages.render(notice, language="zh-hans")
    assert "交接" in zh_subject
    assert "db-3 needs a look" in zh_body
    assert Delivery.objects.filter(notice=notice, user=onduty, channel="inapp").exists()


def test_an_override_hands_over_from_its_first_minute(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[engineer])
    roster_services.override_create(
        actor=onduty, team=platform, layer="primary", user=onduty, start=NOW, end=NOW + 4 * H
    )

    sweep(clock, NOW + MIN)
    sweep(clock, NOW + 4 * H + MIN)  # engineer takes it back

    assert [(h[1], h[2]) for h in handovers()] == [
        (["onduty"], NOW),
        (["engineer"], NOW + 4 * H),
    ]


# ---------------------------------------------------------------- coverage gap


def gaps():
    return [(n.recipients, n.deadline) for n in Notice.objects.filter(clock="gap").order_by("id")]


def test_it_tells_the_leads_once_of_a_gap_in_the_next_24_hours(clock, platform, lead, engineer):
    make_rotation(actor=lead, team=platform, people=[engineer], weekdays="01234")
    # Friday's stretch runs to the hand-off: the gap begins on Saturday at 09:00.
    saturday = datetime(2026, 11, 28, 1, tzinfo=UTC)  # 09:00 Saturday in Shanghai

    sweep(clock, NOW)  # Thursday 10:00: the gap is more than 24 h away
    assert gaps() == []
    for at in (saturday - 20 * H, saturday - 10 * H, saturday + 5 * H, saturday + 40 * H):
        sweep(clock, at)

    assert gaps() == [(["lead"], saturday)]
    subject, body = messages.render(Notice.objects.get(clock="gap"), language="en")
    assert "Nobody is on call (primary) from 2026-11-28 09:00 CST" in body


def test_a_team_without_a_primary_rotation_has_no_gap(clock, platform, lead, engineer):
    make_rotation(actor=lead, team=platform, people=[engineer], layer="secondary")
    sweep(clock, NOW + H)
    assert gaps() == []


# ---------------------------------------------------------------- escalation routed


def pages(incident, clock_name="page"):
    qs = Notice.objects.filter(incident=incident, clock=clock_name).order_by("level")
    return [(n.level, sorted(n.recipients), n.details) for n in qs]


def test_an_urgent_p0_pages_the_leads_and_primary_at_once_then_the_secondary(
    clock, platform, lead, onduty, engineer, tester
):
    # Changed meaning: the tech leads are paged at level 1 with the primary, not at
    # level 3 ten minutes later (DESIGN: "pages the tech leads at once").
    make_rotation(actor=lead, team=platform, people=[engineer])
    make_rotation(actor=lead, team=platform, people=[tester], layer="secondary")
    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")

    sweep_due_deadlines()
    assert pages(incident) == [
        (
            1,
            ["engineer", "lead"],
            {"oncall": [{"layer": "primary", "user": "engineer"}], "filed_by": "onduty"},
        )
    ]
    clock.move_to(NOW + 5 * MIN)
    sweep_due_deadlines()
    clock.move_to(NOW + 10 * MIN)
    sweep_due_deadlines()
    sweep_due_deadlines()

    assert [(lvl, who) for lvl, who, _d in pages(incident)] == [
        (1, ["engineer", "lead"]),
        (2, ["tester"]),
    ]
    _s, body = messages.render(Notice.objects.get(incident=incident, clock="page", level=2))
    assert "On call (secondary): Tester." in body


def test_an_acknowledged_page_goes_no_further(clock, platform, lead, onduty, engineer):
    make_rotation(actor=lead, team=platform, people=[engineer])
    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")
    sweep_due_deadlines()
    clock.move_to(NOW + 2 * MIN)
    services.incident_acknowledge(incident=incident, actor=lead)

    clock.move_to(NOW + 30 * MIN)
    sweep_due_deadlines()

    assert [lvl for lvl, _w, _d in pages(incident)] == [1]


def test_a_missed_response_goes_to_primary_then_leads_then_manager(
    clock, platform, lead, onduty, engineer, manager
):
    make_rotation(actor=lead, team=platform, people=[engineer])
    incident = IncidentFactory(actor=onduty, severity="P1")  # respond within 15 min
    for minutes in (15, 20, 30):
        clock.move_to(NOW + minutes * MIN + 1 * MIN)
        sweep_due_deadlines()

    assert [(lvl, who) for lvl, who, _d in pages(incident, "respond")] == [
        (1, ["engineer"]),
        (2, ["lead"]),
        (3, ["manager"]),
    ]


def test_with_nobody_on_call_the_step_falls_back_to_the_leads_and_says_so(
    clock, platform, lead, onduty
):
    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")

    sweep_due_deadlines()

    [(level, who, details)] = pages(incident)
    assert (level, who) == (1, ["lead"])
    assert details == {
        "oncall": [{"layer": "primary", "user": None}],
        "fallback": True,
        "filed_by": "onduty",
    }
    _s, body = messages.render(Notice.objects.get(incident=incident, clock="page"))
    assert "Nobody is on call (primary) now: sent to the team's tech leads instead." in body
    _s, zh = messages.render(
        Notice.objects.get(incident=incident, clock="page"), language="zh-hans"
    )
    assert "技术负责人" in zh


def test_an_override_decides_who_is_paged(clock, platform, lead, onduty, engineer, tester):
    make_rotation(actor=lead, team=platform, people=[engineer])
    roster_services.override_create(
        actor=lead, team=platform, layer="primary", user=tester, start=NOW, end=NOW + H
    )
    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")

    sweep_due_deadlines()

    assert pages(incident)[0][1] == ["lead", "tester"]


def test_the_handoff_time_matters_to_who_is_paged(clock, platform, lead, onduty, engineer, tester):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty], handoff_time=time(10, 30))
    # Monday 30th 10:29 Shanghai: still engineer's week; 10:31: onduty's.
    for minute, expected in ((29, "engineer"), (31, "onduty")):
        clock.move_to(datetime(2026, 11, 30, 2, minute, tzinfo=UTC))
        incident = IncidentFactory(actor=tester, severity="P0", urgent=True, phone_call_to="x")
        sweep_due_deadlines()
        assert pages(incident)[0][1] == sorted([expected, "lead"])


def test_a_removed_override_names_whom_it_covered(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[engineer])
    made = roster_services.override_create(
        actor=lead, team=platform, layer="primary", user=onduty, start=NOW, end=NOW + H
    )

    roster_services.override_delete(actor=lead, override=made)

    event = RosterEvent.objects.get(kind="override_deleted")
    assert event.data["covers"] == ["engineer"]
    assert event.summary == "onduty covers engineer (primary) 2026-11-26 10:00–11:00 CST"


def test_it_refuses_far_dates_that_would_break_the_arithmetic(clock, platform, lead, engineer):
    with pytest.raises(ValidationError) as error:
        make_rotation(actor=lead, team=platform, people=[engineer], start_date=date(9999, 1, 4))
    assert "start_date" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        roster_services.override_create(
            actor=lead,
            team=platform,
            layer="primary",
            user=engineer,
            start=datetime(1545, 12, 16, tzinfo=UTC),
            end=NOW + H,
        )
    assert error.value.message_dict["start"] == ["An override can begin at most a year back."]
    assert not platform.rotations.exists()
    assert not platform.overrides.exists()


def test_it_refuses_a_participant_or_a_weekday_named_twice(clock, platform, lead, engineer, tester):
    with pytest.raises(ValidationError) as error:
        make_rotation(actor=lead, team=platform, people=[engineer, tester, engineer])
    assert error.value.message_dict["participants"] == ["Name each participant once: engineer."]
    with pytest.raises(ValidationError) as error:
        make_rotation(actor=lead, team=platform, people=[engineer], weekdays="000")
    assert error.value.message_dict["weekdays"] == ["Give each weekday once."]
    assert not platform.rotations.exists()
