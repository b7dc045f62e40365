"""Who may be on call for a team (selectors.people_ids, one statement for any number
of teams), and the team page's handover form, laid out once per language and layer."""

import pytest

from escalation.roster import selectors as roster_selectors
from tests.factories import make_rotation, make_user

pytestmark = pytest.mark.django_db


def test_it_finds_members_leads_and_the_manager_of_each_team_in_one_query(
    platform, payments, engineer, lead, manager, pay_engineer, django_assert_num_queries
):
    leaver = make_user("engineer", platform, is_active=False)
    outside_lead = make_user("tech lead")  # leads payments without being a member
    payments.tech_leads.add(outside_lead)

    with django_assert_num_queries(1):
        found = roster_selectors.people_ids([platform.pk, payments.pk])

    assert {engineer.pk, lead.pk, manager.pk} <= found[platform.pk]
    assert leaver.pk not in found[platform.pk]
    assert found[payments.pk] >= {pay_engineer.pk, outside_lead.pk}
    assert manager.pk not in found[payments.pk]


def test_it_asks_nothing_for_no_team(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert roster_selectors.people_ids([]) == {}


def test_the_handover_form_speaks_each_viewers_language(client, clock, platform, lead, engineer):
    make_rotation(actor=lead, team=platform, people=[engineer])
    client.force_login(engineer)  # on call now: may leave a note

    english = client.get("/oncall/platform/").content.decode()
    client.post("/accounts/language/", {"language": "zh-hans"})
    chinese = client.get("/oncall/platform/").content.decode()

    assert "Goes to whoever comes on call next" in english
    assert "随未关闭事件清单一起发给下一位值班人。" in chinese
    assert "Goes to whoever comes on call next" not in chinese


def test_a_refused_handover_note_shows_its_error_and_what_was_typed(
    client, clock, platform, lead, engineer
):
    make_rotation(actor=lead, team=platform, people=[engineer])
    client.force_login(engineer)
    client.get("/oncall/platform/")  # the empty form laid out (and kept) first

    response = client.post("/oncall/platform/handover-note/", {"layer": "primary", "text": ""})
    body = response.content.decode()

    assert response.status_code == 400
    assert "This field is required." in body
    assert 'name="text"' in body
    assert "is-invalid" in body


# The rotation list as oncall_team.html wrote it before grid.rotations_html did.
TEMPLATE_LIST = """{% load i18n responder %}{% for rotation in rotations %}
    <li class="list-group-item" data-rotation="{{ rotation.pk }}">
      <div class="d-flex"><strong class="me-auto">{{ rotation.name }}</strong><span class="badge text-bg-secondary">{{ rotation.get_layer_display }}</span></div>
      <div>{% blocktranslate count days=rotation.shift_days with at=rotation.handoff_time|time:"H:i" start=rotation.start_date|date:"Y-m-d" %}Shifts of {{ days }} day, handed over at {{ at }}, from {{ start }}{% plural %}Shifts of {{ days }} days, handed over at {{ at }}, from {{ start }}{% endblocktranslate %}{% if rotation.weekday_names %}; {{ rotation.weekday_names }}{% endif %}{% if rotation.day_start %}; {% if rotation.day_start == rotation.day_end %}{% blocktranslate with a=rotation.day_start|time:"H:i" %}24 h from {{ a }} each day{% endblocktranslate %}{% else %}{% blocktranslate with a=rotation.day_start|time:"H:i" b=rotation.day_end|time:"H:i" %}daily {{ a }}–{{ b }}{% endblocktranslate %}{% endif %}{% endif %}</div>
      <div class="text-body-secondary">{% for m in rotation.members.all %}{{ forloop.counter }}. {{ m.user|who }}{% if not forloop.last %} → {% endif %}{% endfor %}</div>
      {% if editable %}<div class="mt-1 d-flex gap-2"><a class="btn btn-sm btn-outline-primary" href="{% url 'oncall-rotation' team.slug rotation.pk %}">{% translate "Edit" %}</a>
        <form method="post" action="{% url 'oncall-rotation-delete' team.slug rotation.pk %}" data-confirm="{% translate 'Delete this rotation?' %}">{% csrf_token %}<button class="btn btn-sm btn-outline-danger" type="submit">{% translate "Delete" %}</button></form></div>{% endif %}
    </li>
  {% endfor %}"""  # noqa: E501


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("editable", [True, False])
def test_the_rotation_list_is_the_markup_the_template_wrote(
    clock, platform, lead, engineer, onduty, language, editable
):
    from datetime import time

    from django.template import engines
    from django.utils import translation

    from escalation.roster.grid import rotations_html

    engineer.first_name = "<b>Eng & co"
    engineer.save()
    make_rotation(actor=lead, team=platform, people=[engineer, onduty], name="Weekly <primary>")
    make_rotation(
        actor=lead,
        team=platform,
        people=[onduty],
        layer="secondary",
        name="Daily",
        shift_days=1,
        weekdays="024",
        day_start=time(9, 0),
        day_end=time(18, 30),
    )
    make_rotation(
        actor=lead,
        team=platform,
        people=[engineer],
        name="Round",
        day_start=time(8, 0),
        day_end=time(8, 0),
    )
    roster = roster_selectors.roster_for(platform)
    csrf = '<input type="hidden" name="csrfmiddlewaretoken" value="TOKEN">'

    with translation.override(language):
        expected = (
            engines["django"]
            .from_string(TEMPLATE_LIST)
            .render(
                {
                    "rotations": roster.rotations,
                    "team": platform,
                    "editable": editable,
                    "csrf_token": "TOKEN",
                }
            )
        )
        written = rotations_html(
            roster.rotations,
            roster.members,
            slug=platform.slug,
            csrf_input=csrf if editable else None,
        )

    assert written == expected
    assert "&lt;b&gt;Eng &amp; co" in written
    assert "Weekly &lt;primary&gt;" in written


def test_the_team_page_names_whoever_made_an_override_and_wrote_the_log(
    client, clock, platform, lead, engineer, onduty, manager
):
    from datetime import timedelta

    from common.people import display_name
    from escalation.roster import services as roster_services
    from tests.conftest import NOW

    make_rotation(actor=lead, team=platform, people=[engineer])
    start = NOW + timedelta(days=1)
    roster_services.override_create(
        actor=manager,  # on no rotation: named by the one query for the others
        team=platform,
        layer="primary",
        user=onduty,
        start=start,
        end=start + timedelta(hours=2),
    )
    client.force_login(engineer)

    body = client.get("/oncall/platform/").content.decode()

    overrides = body.split('id="overrides"')[1].split("</section>")[0]
    timeline = body.split('id="roster-timeline"')[1].split("</section>")[0]
    assert f"made by {display_name(manager)}" in overrides
    assert f"<strong>{display_name(manager)}</strong>" in timeline
    assert f"<strong>{display_name(lead)}</strong>" in timeline
