"""The workspace's status page section: publishing, public updates, their preview,
bad input, conflicts and who may (incidents.views._publish)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation.status import services
from escalation.status.models import Impact, Publication, PublicStatus, PublicUpdate
from incidents.models import State
from tests.factories import cancelled_incident, in_progress_incident

pytestmark = pytest.mark.django_db

INTERNAL_TITLE = "Pool exhausted on db-7 after the gateway deploy"


@pytest.fixture
def incident(clock, lead, owner):
    return in_progress_incident(lead=lead, owner=owner, title=INTERNAL_TITLE)


def url(incident) -> str:
    return f"/incidents/{incident.pk}/publish/"


def workspace(client, incident) -> str:
    response = client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def preview_box(html: str) -> str:
    """The preview box of the workspace (it ends where its script tag starts)."""
    return html.split('id="status-preview"', 1)[1].split("js/status-preview.js", 1)[0]


def publish_data(*components, **changes) -> dict:
    return {
        "last_update": 0,
        "components": [c.pk for c in components],
        "impact": Impact.PARTIAL_OUTAGE,
        "public_title": "Checkout is slow",
        "message": "We are looking into slow checkouts.",
        **changes,
    }


def last_update(incident) -> int:
    return PublicUpdate.objects.filter(publication__incident=incident).latest("posted_at", "pk").pk


def test_it_shows_the_publish_form_to_a_lead_and_publishes(client, lead, incident, website):
    client.force_login(lead)
    page = workspace(client, incident)
    assert 'data-action="publish"' in page  # its box: the form is drawn when it opens
    assert 'id="status-not-published"' in page
    assert 'href="?open=publish#form-publish"' in page  # in "What you can do now"
    drawn = client.get(f"/incidents/{incident.pk}/form/publish/?last_update=0").content.decode()
    assert 'id="form-publish"' in drawn

    response = client.post(url(incident), publish_data(website))

    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/#status-page"
    publication = Publication.objects.get(incident=incident)
    assert publication.public_title == "Checkout is slow"
    assert publication.impact == Impact.PARTIAL_OUTAGE
    assert publication.status == PublicStatus.INVESTIGATING
    assert list(publication.components.all()) == [website]
    page = workspace(client, incident)
    assert "Published on the status page: subscribers are being told." in page
    assert 'href="/status/" id="status-page-link"' in page
    copy = page.split('id="status-public-copy"', 1)[1]
    assert "Checkout is slow" in copy
    assert "We are looking into slow checkouts." in copy
    # Shown in the site's zone with its offset: 10:00 in Shanghai.
    assert "2026-11-26 10:00 (UTC+0800)" in copy
    assert "Post a public update" in page


def test_it_posts_a_public_update_keeping_what_is_left_empty(
    client, clock, lead, published, website
):
    client.force_login(lead)
    clock.shift(timedelta(minutes=20))
    data = {
        "last_update": last_update(published),
        "status": PublicStatus.IDENTIFIED,
        "message": "We found the cause and are rolling back.",
        "impact": "",
        "public_title": "",
    }

    response = client.post(url(published), data)

    assert response.status_code == 302
    publication = Publication.objects.get(incident=published)
    assert publication.status == PublicStatus.IDENTIFIED
    assert publication.impact == Impact.PARTIAL_OUTAGE
    assert publication.public_title == "Checkout is slow"
    assert list(publication.components.all()) == [website]
    assert publication.updates.count() == 2
    page = workspace(client, published)
    assert "Public update posted: subscribers are being told." in page
    assert "We found the cause and are rolling back." in page


def test_it_changes_impact_title_and_components_with_an_update(
    client, lead, published, website, api_component
):
    client.force_login(lead)
    data = {
        "last_update": last_update(published),
        "status": PublicStatus.RESOLVED,
        "message": "Checkouts are fast again.",
        "impact": Impact.MAJOR_OUTAGE,
        "components": [website.pk, api_component.pk],
        "public_title": "Checkout and the API were slow",
    }

    assert client.post(url(published), data).status_code == 302

    publication = Publication.objects.get(incident=published)
    assert publication.status == PublicStatus.RESOLVED
    assert publication.resolved_at is not None
    assert publication.impact == Impact.MAJOR_OUTAGE
    assert publication.public_title == "Checkout and the API were slow"
    assert set(publication.components.all()) == {website, api_component}


def test_it_previews_the_public_words_without_writing(client, lead, incident, website):
    client.force_login(lead)

    response = client.post(url(incident), {**publish_data(website), "preview": "1"})

    assert response.status_code == 200
    box = preview_box(response.content.decode())
    assert "Checkout is slow" in box
    assert "We are looking into slow checkouts." in box
    assert "Partial outage" in box
    assert "Investigating" in box
    assert "Website" in box
    assert INTERNAL_TITLE not in box
    assert incident.number not in box
    assert not Publication.objects.exists()
    # The form keeps what was typed, still to publish.
    assert 'value="Checkout is slow"' in response.content.decode()


def test_it_answers_the_script_with_the_preview_alone(client, lead, owner, published):
    client.force_login(lead)
    data = {
        "last_update": last_update(published),
        "status": PublicStatus.MONITORING,
        "message": "A fix is out; we are watching.",
        "preview": "1",
        "format": "html",
    }

    response = client.post(url(published), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "A fix is out; we are watching." in html
    assert "We are looking into slow checkouts." in html  # the update before it
    assert html.index("A fix is out") < html.index("We are looking into")
    assert "Monitoring" in html
    assert "Checkout is slow" in html
    for internal in (published.title, published.number, lead.username, owner.username):
        assert internal not in html
    assert PublicUpdate.objects.count() == 1


def test_it_rerenders_bad_input_with_400_and_keeps_the_text(client, lead, incident, website):
    client.force_login(lead)
    data = publish_data(components=[], public_title="x" * 201, message="Our words stay here.")

    response = client.post(url(incident), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Our words stay here." in page
    assert 'id="form-problem"' in page
    assert "This field is required." in page  # no component ticked
    assert "Ensure this value has at most 200 characters" in page
    assert not Publication.objects.exists()


def test_it_rerenders_a_preview_of_bad_input_with_400(client, lead, incident, website):
    client.force_login(lead)
    data = {**publish_data(website, message=""), "preview": "1"}

    response = client.post(url(incident), data)

    assert response.status_code == 400
    assert "Checkout is slow" in preview_box(response.content.decode())
    assert not Publication.objects.exists()


def test_it_keeps_the_words_when_someone_published_first(client, lead, onduty, incident, website):
    client.force_login(lead)
    services.incident_publish(
        incident=incident,
        actor=onduty,
        components=[website],
        impact=Impact.DEGRADED,
        public_title="Someone else's title",
        message="Someone else's words.",
    )
    mine = publish_data(website, message="My words, typed on the old page.")

    response = client.post(url(incident), mine)

    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone published this incident while you were writing." in page
    assert "My words, typed on the old page." in page
    assert f'name="last_update" value="{last_update(incident)}"' in page
    assert Publication.objects.get(incident=incident).public_title == "Someone else's title"
    # A second submit, now an update with a status, applies them.
    again = {
        **mine,
        "last_update": last_update(incident),
        "status": PublicStatus.IDENTIFIED,
    }
    assert client.post(url(incident), again).status_code == 302
    assert PublicUpdate.objects.filter(message="My words, typed on the old page.").exists()


def test_it_keeps_the_words_when_someone_posted_an_update_first(client, lead, onduty, published):
    client.force_login(lead)
    seen = last_update(published)
    services.incident_public_update(
        incident=published, actor=onduty, status=PublicStatus.IDENTIFIED, message="Found it."
    )
    data = {"last_update": seen, "status": PublicStatus.RESOLVED, "message": "All fixed."}

    response = client.post(url(published), data)

    assert response.status_code == 409
    assert "Someone posted a public update while you were writing." in response.content.decode()
    assert "All fixed." in response.content.decode()
    assert Publication.objects.get(incident=published).status == PublicStatus.IDENTIFIED


def test_an_engineer_sees_the_public_copy_but_no_form_and_gets_403(
    client, engineer, lead, incident, published, website
):
    client.force_login(engineer)
    page = workspace(client, incident)  # not published: nothing to see
    assert 'id="status-page"' not in page
    page = workspace(client, published)
    assert 'id="status-public-copy"' in page
    assert "Checkout is slow" in page
    assert 'id="form-publish"' not in page

    assert client.post(url(incident), publish_data(website)).status_code == 403
    preview = {**publish_data(website), "preview": "1", "format": "html"}
    assert client.post(url(incident), preview).status_code == 403
    assert Publication.objects.count() == 1


def test_another_teams_lead_cannot_publish(client, pay_lead, incident, website):
    client.force_login(pay_lead)

    assert client.post(url(incident), publish_data(website)).status_code == 404
    assert not Publication.objects.exists()


def test_it_refuses_a_state_that_forbids_publishing(client, clock, lead, website):
    incident = cancelled_incident(lead=lead)
    assert incident.state == State.CANCELLED
    client.force_login(lead)
    assert 'id="form-publish"' not in workspace(client, incident)

    response = client.post(url(incident), publish_data(website))

    assert response.status_code == 303
    assert response["Location"] == f"/incidents/{incident.pk}/#status-page"
    assert not Publication.objects.exists()


def _count(client, incident) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        workspace(client, incident)
    return [q["sql"] for q in captured.captured_queries]


def test_its_query_count_does_not_grow_with_the_updates_or_components(
    client, clock, lead, onduty, incident, website, platform
):
    client.force_login(lead)
    before = _count(client, incident)
    services.incident_publish(
        incident=incident,
        actor=lead,
        components=[website],
        impact=Impact.DEGRADED,
        public_title="Slow pages",
        message="Looking into it.",
    )
    one = _count(client, incident)
    for i in range(20):
        clock.shift(timedelta(minutes=1))
        services.component_create(actor=lead, slug=f"c{i}", name=f"Component {i}", team=platform)
        services.incident_public_update(
            incident=incident, actor=onduty, status=PublicStatus.IDENTIFIED, message=f"u{i}"
        )
    many = _count(client, incident)
    assert len(many) == len(one), "\n".join(many)
    # Published: the updates and components of the publication, two queries more.
    assert len(one) == len(before) + 2, "\n".join(one)


def test_it_keeps_the_section_on_the_full_workspace_but_not_on_the_print_form(
    client, lead, published
):
    client.force_login(lead)

    full = client.get(f"/incidents/{published.pk}/?all=1").content.decode()
    assert 'data-action="publish"' in full
    printed = client.get(f"/incidents/{published.pk}/print/").content.decode()
    assert 'id="status-page"' not in printed
