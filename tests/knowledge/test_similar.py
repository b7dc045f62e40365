"""Similar past incidents on the intake form (htmx) and in the workspace."""

import pytest

from knowledge import search
from tests.factories import archived_incident, in_progress_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def past(clock, lead, owner, tester):
    return {
        "pool": archived_incident(
            lead=lead,
            owner=owner,
            tester=tester,
            title="订单库连接池耗尽导致下单超时",
            symptoms="Checkout requests time out; the database connection pool is exhausted.",
        ),
        "fonts": archived_incident(
            lead=lead,
            owner=owner,
            tester=tester,
            title="报表页面字体错位",
            symptoms="Report fonts are misaligned in Safari.",
        ),
        "disk": archived_incident(
            lead=lead,
            owner=owner,
            tester=tester,
            title="日志磁盘写满",
            symptoms="The log disk on db-2 is full.",
        ),
    }


def test_it_ranks_the_most_similar_first(past, engineer):
    results = search.similar(user=engineer, text="支付库连接池又耗尽了 connection pool exhausted")
    assert results[0].object_id == past["pool"].pk


def test_it_leaves_out_incidents_sharing_no_word(past, engineer):
    # The factory gives every past incident the same English fix text; Chinese only here.
    results = search.similar(user=engineer, text="支付库连接池又耗尽了")
    assert [d.object_id for d in results] == [past["pool"].pk]


def test_it_finds_nothing_similar_for_unrelated_text(past, engineer):
    assert search.similar(user=engineer, text="打印机卡纸 printer jammed") == []


def test_it_returns_at_most_five(clock, lead, owner, tester, engineer):
    for n in range(7):
        archived_incident(lead=lead, owner=owner, tester=tester, title=f"连接池耗尽 {n}")
    assert len(search.similar(user=engineer, text="连接池耗尽")) == 5


def test_the_intake_form_suggests_them_as_you_type(client, past, onduty):
    client.force_login(onduty)
    page = client.get("/incidents/new/").content.decode()
    assert 'hx-post="/knowledge/similar/"' in page  # long symptoms do not fit in a URL

    fragment = client.post(
        "/knowledge/similar/", {"title": "连接池耗尽", "symptoms": ""}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert past["pool"].number in fragment
    assert "Connection pool size raised and alerting added." in fragment  # its fix
    assert "<nav" not in fragment


def test_the_workspace_shows_them(client, past, lead, owner):
    current = in_progress_incident(
        lead=lead, owner=owner, title="支付库连接池耗尽", symptoms="pool exhausted again"
    )
    client.force_login(owner)
    body = client.get(f"/incidents/{current.pk}/").content.decode()
    section = body.split('id="similar"')[1].split("</section>")[0]
    # Loaded after the page: the section asks for its list.
    assert f'hx-get="/incidents/{current.pk}/similar/"' in section
    assert past["pool"].number not in section

    fragment = client.get(
        f"/incidents/{current.pk}/similar/", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert past["pool"].number in fragment
    assert current.number not in fragment
    assert "<nav" not in fragment
    # Without htmx (the section's link) it is a page of its own.
    page = client.get(f"/incidents/{current.pk}/similar/").content.decode()
    assert "<nav" in page
    assert past["pool"].number in page


def test_the_workspace_list_says_when_nothing_is_similar(client, lead, owner):
    current = in_progress_incident(lead=lead, owner=owner, title="打印机卡纸 printer jammed")
    client.force_login(owner)
    fragment = client.get(f"/incidents/{current.pk}/similar/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "No similar archived incidents." in fragment.content.decode()


def test_the_workspace_list_is_404_for_an_incident_the_user_cannot_see(
    client, lead, owner, django_user_model
):
    current = in_progress_incident(lead=lead, owner=owner, title="支付库连接池耗尽")
    stranger = django_user_model.objects.create_user("stranger")
    client.force_login(stranger)
    assert client.get(f"/incidents/{current.pk}/similar/").status_code == 404


def test_the_intake_form_posts_long_chinese_symptoms_with_its_csrf_token(past, onduty):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(onduty)
    page = client.get("/incidents/new/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    assert "#intake-form [name=csrfmiddlewaretoken]" in page  # htmx sends it along

    response = client.post(
        "/knowledge/similar/",
        {"title": "", "symptoms": "支付库连接池又耗尽了，" * 50, "csrfmiddlewaretoken": token},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert past["pool"].number in response.content.decode()
    # The token is required: the same POST without it is refused.
    refused = client.post(
        "/knowledge/similar/", {"title": "", "symptoms": "连接池"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 403
