"""The workspace's action forms are drawn when opened (views.action_form), or
with the page when it asks for one (?open=) or shows a refused one again; its
rows are rendered once and joined from the cache, never stale."""

import re

import pytest

from escalation.models import Delivery, Notice
from incidents import services
from incidents.models import LogEntry
from tests.factories import in_progress_incident, new_incident

pytestmark = pytest.mark.django_db


def page(client, incident, query=""):
    response = client.get(f"/incidents/{incident.pk}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def box(body, key) -> str:
    """The <details> tag of the action's box."""
    return re.search(rf'<details [^>]*data-action="{key}"[^>]*>', body).group(0)


def is_open(tag: str) -> bool:
    return re.search(r"\sopen[\s>]", tag) is not None


def form_url(incident, key, version=None):
    query = f"?version={version}" if version is not None else ""
    return f"/incidents/{incident.pk}/form/{key}/{query}"


def test_it_draws_only_the_one_button_forms_with_the_page(signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    body = page(signed_in(lead), incident)
    for key in ("grade", "assign", "log", "resolve", "pause", "cancel", "edit"):
        assert not is_open(box(body, key)), key
        assert f'id="form-{key}"' not in body, key
        assert f'href="?open={key}#form-{key}"' in body, key  # the way in without JavaScript
    assert 'name="diagnosis"' not in body


def test_it_draws_acknowledge_with_the_page(signed_in, lead):
    body = page(signed_in(lead), new_incident(reporter=lead))
    assert 'id="form-acknowledge"' in body
    assert 'href="#form-acknowledge" data-opens="acknowledge"' in body


def test_it_draws_the_form_the_page_is_asked_to_open(signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    body = page(signed_in(lead), incident, "?open=grade")
    assert is_open(box(body, "grade"))
    assert 'id="form-grade"' in body
    assert 'id="form-log"' not in body  # only that one


def test_it_answers_a_form_when_its_box_opens(signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    response = signed_in(lead).get(form_url(incident, "grade", incident.version))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="form-grade"' in body
    assert f'name="version" value="{incident.version}"' in body
    assert "changed after the page was drawn" not in body


def test_it_keeps_the_version_the_page_showed_so_a_later_change_is_a_conflict(
    signed_in, lead, owner
):
    incident = in_progress_incident(lead=lead, owner=owner)
    seen = incident.version
    services.incident_log(incident=incident, actor=lead, kind=LogEntry.Kind.NOTE, text="Meanwhile")
    client = signed_in(owner)

    body = client.get(form_url(incident, "log", seen)).content.decode()
    assert f'name="version" value="{seen}"' in body
    assert "changed after the page was drawn" in body

    response = client.post(
        f"/incidents/{incident.pk}/log/", {"version": seen, "kind": "progress", "text": "Mine"}
    )
    assert response.status_code == 409
    assert not incident.log_entries.filter(text="Mine").exists()


def test_it_refuses_the_form_of_an_action_the_user_may_not_take(signed_in, lead, owner, engineer):
    incident = in_progress_incident(lead=lead, owner=owner)
    assert signed_in(engineer).get(form_url(incident, "grade")).status_code == 403


def test_it_hides_the_form_of_another_teams_incident(signed_in, lead, owner, pay_engineer):
    incident = in_progress_incident(lead=lead, owner=owner)
    assert signed_in(pay_engineer).get(form_url(incident, "log")).status_code == 404


def test_it_says_when_the_state_no_longer_allows_the_action(signed_in, lead):
    incident = new_incident(reporter=lead)
    services.incident_acknowledge(incident=incident, actor=lead)
    response = signed_in(lead).get(form_url(incident, "acknowledge"))
    assert response.status_code == 409
    reload = f'href="/incidents/{incident.pk}/?open=acknowledge#form-acknowledge"'
    assert reload in response.content.decode()


def test_it_shows_a_refused_post_in_its_open_box_with_the_errors(signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    response = signed_in(lead).post(
        f"/incidents/{incident.pk}/grade/", {"version": incident.version, "severity": "P1"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert is_open(box(body, "grade"))
    assert 'id="form-grade"' in body
    assert "is-invalid" in body.split('id="form-grade"', 1)[1].split("</form>", 1)[0]


def test_it_draws_the_details_form_when_opened(signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    body = signed_in(lead).get(form_url(incident, "edit")).content.decode()
    assert f'action="/incidents/{incident.pk}/edit/"' in body
    assert 'name="received_at"' in body  # a lead may move it


def test_it_draws_the_status_page_form_when_opened_and_says_if_an_update_came_since(
    signed_in, lead, owner
):
    incident = in_progress_incident(lead=lead, owner=owner)
    client = signed_in(lead)
    body = page(client, incident)
    assert 'data-action="publish"' in body
    assert 'id="form-publish"' not in body
    drawn = client.get(form_url(incident, "publish") + "?last_update=0").content.decode()
    assert 'id="form-publish"' in drawn
    assert 'id="status-preview"' in drawn
    assert "changed after the page was drawn" not in drawn
    behind = client.get(form_url(incident, "publish") + "?last_update=7").content.decode()
    assert 'name="last_update" value="7"' in behind
    assert "changed after the page was drawn" in behind


# ---------------------------------------------------------------- rows from the cache


def _notice(incident, owner):
    notice = Notice.objects.create(
        incident=incident,
        clock="update",
        cycle=0,
        level=1,
        deadline=incident.next_update_by,
        due_at=incident.next_update_by,
        created_at=incident.next_update_by,
        recipients=["owner"],
    )
    return Delivery.objects.create(
        notice=notice, channel="email", user=owner, status="pending", attempts=1
    )


def test_it_shows_a_deliverys_new_status_on_a_page_seen_before(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    delivery = _notice(incident, owner)
    client = signed_in(lead)
    assert "Pending" in page(client, incident).split('id="notices"', 1)[1]

    Delivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=6, last_error="550 mailbox full"
    )
    notices = page(client, incident).split('id="notices"', 1)[1]
    assert "550 mailbox full" in notices
    assert "6 attempts" in notices


def test_it_shows_the_rows_in_the_readers_language(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    services.incident_log(incident=incident, actor=owner, kind=LogEntry.Kind.BLOCKER, text="Stuck")
    client = signed_in(lead)
    assert "Blocker" in page(client, incident).split('id="log"', 1)[1]
    client.cookies["django_language"] = "zh-hans"
    log = client.get(f"/incidents/{incident.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "Blocker" not in log.content.decode().split('id="log"', 1)[1]


def test_it_shows_a_persons_new_name_on_rows_seen_before(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    services.incident_log(incident=incident, actor=owner, kind=LogEntry.Kind.NOTE, text="Noted")
    client = signed_in(lead)
    page(client, incident)
    owner.first_name, owner.last_name = "Fang", "Wang"
    owner.save()
    assert "Fang Wang" in page(client, incident).split('id="log"', 1)[1]
