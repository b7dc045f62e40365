"""Paging reaches the right person: an urgent P0 pages the tech leads and the on-call
primary at once, never the person who filed it; a catch-up notice reaches every
level it jumps over, late from the first of them."""

from datetime import timedelta

import pytest

from escalation import messages
from escalation.engine import sweep_due_deadlines
from escalation.models import Delivery, Notice
from tests.conftest import NOW
from tests.factories import IncidentFactory, make_rotation

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)


def notices(incident, clock_name):
    qs = Notice.objects.filter(incident=incident, clock=clock_name).order_by("level")
    return [(n.level, sorted(n.recipients), n.late, n.late_seconds) for n in qs]


def test_an_urgent_p0_pages_the_leads_and_the_primary_at_the_first_sweep(
    clock, platform, lead, onduty, engineer
):
    make_rotation(actor=lead, team=platform, people=[engineer])

    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")
    sweep_due_deadlines()

    assert notices(incident, "page") == [(1, ["engineer", "lead"], False, 0)]
    sent = Delivery.objects.filter(notice__clock="page", channel="inapp")
    assert sorted(d.user.username for d in sent) == ["engineer", "lead"]


def test_nobody_is_paged_about_an_incident_they_filed(clock, platform, lead, onduty, engineer):
    # As in the demo: the on-duty reporter is the on-call primary.
    make_rotation(actor=lead, team=platform, people=[onduty, engineer])

    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")
    sweep_due_deadlines()

    [notice] = Notice.objects.filter(incident=incident, clock="page")
    assert notice.recipients == ["lead"]
    assert notice.details["filed_by"] == "onduty"
    assert notice.details["oncall"] == [{"layer": "primary", "user": "onduty"}]
    _subject, body = messages.render(notice, language="en")
    # Said once: on call, filed it, not paged (by name, not username).
    assert "On call (primary): Onduty, who filed it: not paged." in body
    assert body.count("Onduty") == 1
    assert "Filed by" not in body
    _subject, zh = messages.render(notice, language="zh-hans")
    assert zh.count("Onduty") == 1
    assert "Filed by" not in zh


def test_a_lead_who_files_an_urgent_p0_pages_the_others(
    clock, platform, lead, onduty, engineer, manager
):
    make_rotation(actor=lead, team=platform, people=[engineer])

    incident = IncidentFactory(actor=lead, severity="P0", urgent=True, phone_call_to="x")
    sweep_due_deadlines()

    assert notices(incident, "page") == [(1, ["engineer"], False, 0)]


def test_a_page_with_only_the_reporter_to_tell_goes_to_the_manager(clock, platform, lead, manager):
    make_rotation(actor=lead, team=platform, people=[lead])

    incident = IncidentFactory(actor=lead, severity="P0", urgent=True, phone_call_to="x")
    sweep_due_deadlines()

    assert notices(incident, "page") == [(1, ["manager"], False, 0)]


def test_a_catch_up_notice_reaches_the_levels_it_jumps_over_and_is_late_from_the_first(
    clock, platform, lead, onduty, engineer
):
    make_rotation(actor=lead, team=platform, people=[engineer])
    # A P0 received ten minutes ago: its 5-minute response deadline passed 5 minutes ago.
    incident = IncidentFactory(actor=onduty, severity="P0", received_at=NOW - 10 * MIN)

    sweep_due_deadlines()

    # One notice at level 2 (the tech leads, due now), which also tells the on-call
    # primary of level 1 (due 5 minutes ago): late by those 5 minutes.
    assert notices(incident, "respond") == [(2, ["engineer", "lead"], True, 300)]
    notice = Notice.objects.get(incident=incident, clock="respond")
    assert notice.details["levels"] == [1, 2]
    _subject, body = messages.render(notice, language="en")
    assert "Catching up: this notice also stands for L1." in body
    assert "Sent 5 min late" in body


def test_after_a_long_outage_one_notice_tells_every_level_once(
    clock, platform, lead, onduty, engineer, manager
):
    make_rotation(actor=lead, team=platform, people=[lead])  # lead is primary and a lead
    incident = IncidentFactory(actor=onduty, severity="P1")  # respond within 15 min

    clock.move_to(NOW + 2 * 60 * MIN)
    sweep_due_deadlines()

    [(level, who, late, late_seconds)] = notices(incident, "respond")
    assert (level, who, late) == (3, ["lead", "manager"], True)
    assert late_seconds == (120 - 15) * 60
    assert Delivery.objects.filter(notice__clock="respond", user=lead, channel="inapp").count() == 1
    clock.move_to(NOW + 3 * 60 * MIN)
    sweep_due_deadlines()
    assert len(notices(incident, "respond")) == 1  # never a burst


def test_the_inbox_and_the_workspace_say_who_filed_a_page(
    client, clock, platform, lead, onduty, engineer
):
    make_rotation(actor=lead, team=platform, people=[onduty])
    incident = IncidentFactory(actor=onduty, severity="P0", urgent=True, phone_call_to="lead")
    sweep_due_deadlines()
    client.force_login(lead)

    for url in ("/notifications/", f"/incidents/{incident.pk}/"):
        page = client.get(url).content.decode()

        # onduty was on call but not paged: the notice must not read as if they were,
        # and says so once.
        assert "On call (primary): Onduty, who filed it: not paged." in page, url
        assert "Filed by Onduty, who is not paged" not in page, url
