import io
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from common import clock
from incidents import rules
from incidents.models import Incident, Severity, State, Team, TimelineEvent

User = get_user_model()
DEMO_USERNAMES = ["onduty", "engineer", "tester", "lead", "manager", "admin", "pay-engineer"]


def seed():
    call_command("seed_demo", stdout=io.StringIO())


def test_it_creates_the_demo_users_and_teams(db):
    seed()
    for username in DEMO_USERNAMES:
        user = User.objects.get(username=username)
        assert user.email == f"{username}@example.com"
        assert user.check_password(settings.DEMO_PASSWORD)
        assert user.profile.email_notices
        assert user.profile.inapp_notices
    assert set(Team.objects.values_list("slug", flat=True)) == {"platform", "payments"}
    assert User.objects.get(username="pay-engineer").teams.get().slug == "payments"
    assert Team.objects.get(slug="platform").tech_leads.get().username == "lead"
    assert rules.has_role(User.objects.get(username="tester"), rules.Role.TESTER)


def test_it_covers_every_state_and_level_with_some_overdue(db):
    seed()
    incidents = Incident.objects.all()
    assert 10 <= incidents.count() <= 16
    assert set(incidents.values_list("state", flat=True)) == set(State.values)
    assert set(incidents.values_list("severity", flat=True)) == set(Severity.values)
    now = clock.now()
    overdue = [
        i
        for i in incidents
        if (i.respond_clock_running and i.respond_by < now)
        or (i.resolve_clock_running and i.resolve_by < now)
        or (i.update_clock_running and i.next_update_by < now)
    ]
    assert len(overdue) >= 3
    assert incidents.filter(team__slug="payments").exists()
    # Histories are written by the services: every incident has its filing event.
    assert TimelineEvent.objects.filter(kind="created").count() == incidents.count()
    assert any("数据库连接池耗尽" in i.title for i in incidents)


def test_it_is_idempotent(db):
    from escalation.status.models import Component, Publication, PublicUpdate, StatusPage
    from incidents.models import MaintenanceWindow

    def counted():
        return [
            m.objects.count()
            for m in (User, Incident, TimelineEvent, Component, Publication, PublicUpdate)
        ] + [MaintenanceWindow.objects.count()]

    seed()
    counts = counted()
    version = StatusPage.objects.get().version
    User.objects.filter(username="lead").update(password="changed")
    seed()
    assert counted() == counts
    assert counts[3:] == [3, 1, 2, 1]
    # Nothing the public sees changed: every cached copy of the page stays good.
    assert StatusPage.objects.get().version == version
    assert User.objects.get(username="lead").check_password(settings.DEMO_PASSWORD)


def test_it_makes_only_the_administrator_staff_even_on_an_older_database(db):
    seed()
    # A database seeded before /admin/ was for administrators only.
    User.objects.filter(username__in=["lead", "manager"]).update(is_staff=True)

    seed()

    assert list(User.objects.filter(is_staff=True).values_list("username", flat=True)) == ["admin"]
    assert list(User.objects.filter(is_superuser=True).values_list("username", flat=True)) == [
        "admin"
    ]
    admins = [u for u in DEMO_USERNAMES if rules.uses_admin(User.objects.get(username=u))]
    assert admins == ["admin"]


def test_it_numbers_incidents_in_the_order_they_were_received(db):
    seed()
    numbers = list(Incident.objects.order_by("received_at").values_list("number", flat=True))
    assert numbers == sorted(numbers)


def test_it_shows_an_incident_paused_while_it_waits_on_a_vendor(db):
    seed()
    paused = Incident.objects.get(title__startswith="第三方短信接口无响应")
    assert paused.paused_at is not None
    assert paused.pause_waiting_on == "某短信服务商 SMS vendor"
    assert paused.overdue_clocks(clock.now()) == []  # its resolve and update clocks are held


def test_it_seeds_notices_that_tell_a_realistic_story(db):
    """A fresh `make run` shows escalation working: notices sent on time as their
    levels fell due, one late for a stated reason, the ones acted on read."""
    from escalation.engine import late_grace, sweep_due_deadlines
    from escalation.messages import render
    from escalation.models import Delivery, Notice

    seed()
    sweep_due_deadlines()  # the first sweep of `make run`

    notices = list(Notice.objects.filter(incident__isnull=False).select_related("incident"))
    assert len(notices) >= 8
    late = [n for n in notices if n.late]
    assert [n.incident.title[:6] for n in late] == ["对账文件缺失"]
    assert late[0].details["late_reason"] == "filed_late"
    assert "filed after" in render(late[0], language="en")[1]
    for notice in notices:
        if not notice.late:
            assert notice.due_at <= notice.created_at <= notice.due_at + late_grace(), notice
        assert notice.created_at >= notice.incident.created_at, notice  # filed first
    # Who acted on an incident after a notice had read it in their inbox by then.
    assert Delivery.objects.filter(channel="inapp", read_at__isnull=False).count() >= 3
    assert Delivery.objects.filter(channel="inapp", read_at__isnull=True).exists()
    # History is history: no e-mail of the past waits to go out at start-up.
    assert not Delivery.objects.filter(status="pending").exists()


def test_it_publishes_one_incident_in_public_words_with_a_follow_up(db):
    from escalation.status.models import Component, Publication

    seed()

    assert list(Component.objects.values_list("slug", "team__slug")) == [
        ("website", "platform"),
        ("ordering", "platform"),
        ("reports", "platform"),
    ]
    assert Component.objects.get(slug="ordering").services.count() == 2
    publication = Publication.objects.get()  # one, and only one
    incident = publication.incident
    assert incident.title.startswith("数据库连接池耗尽")
    assert list(publication.components.values_list("slug", flat=True)) == ["ordering"]
    updates = list(publication.updates.order_by("posted_at"))
    assert [(u.status, u.impact) for u in updates] == [
        ("investigating", "major_outage"),
        ("identified", "partial_outage"),
    ]
    assert (publication.status, publication.impact) == ("identified", "partial_outage")
    assert publication.is_open
    # Published while it was being fixed, in the past, as the timeline says.
    assert incident.created_at < publication.published_at < updates[1].posted_at < clock.now()
    assert publication.updated_at == updates[1].posted_at
    kinds = TimelineEvent.objects.filter(incident=incident, kind__in=["published", "public_update"])
    assert list(kinds.order_by("created_at").values_list("kind", flat=True)) == [
        "published",
        "public_update",
    ]
    # Public words only: nothing of the incident's title, symptoms, number or people.
    words = " ".join([publication.public_title, *(u.message for u in updates)])
    internal = [incident.number, incident.title, incident.impact_scope]
    internal += incident.symptoms.splitlines()
    internal += [w for u in User.objects.all() for w in (u.username, u.last_name, u.email)]
    assert [w for w in internal if w and w in words] == []


def test_it_plans_one_public_maintenance_window_ahead(db):
    from incidents.models import MaintenanceWindow

    seed()

    window = MaintenanceWindow.objects.get(public=True)
    assert MaintenanceWindow.objects.count() == 1
    assert window.team.slug == "platform"
    assert clock.now() < window.starts_at < window.ends_at
    assert list(window.services.values_list("slug", flat=True)) == ["reporting"]


def test_it_plans_the_window_again_once_the_last_is_over(db):
    import time_machine

    from incidents.models import MaintenanceWindow

    seed()
    first = MaintenanceWindow.objects.get()
    with time_machine.travel(first.ends_at + timedelta(minutes=1), tick=False):
        seed()
        ahead = MaintenanceWindow.objects.filter(public=True, starts_at__gt=clock.now())
        assert ahead.count() == 1
    assert MaintenanceWindow.objects.count() == 2
