"""/api/v1/status/components/: read, add, change and remove status page components."""

from datetime import timedelta

import pytest
import yaml

from escalation.status import services
from escalation.status.models import Component, Impact, StatusPage
from incidents.maintenance.services import window_create
from incidents.models import Service
from tests.conftest import NOW
from tests.factories import in_progress_incident

LIST_URL = "/api/v1/status/components/"


def detail_url(slug: str) -> str:
    return f"{LIST_URL}{slug}/"


def body(**fields) -> dict:
    data = {"slug": "checkout", "name": "Checkout", "team": "platform"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not ...}


def version() -> int:
    page = StatusPage.objects.filter(pk=1).first()
    return page.version if page else 0


def make_components(lead, team, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        service = Service.objects.create(team=team, slug=f"svc-{n}", name=f"Service {n}")
        services.component_create(
            actor=lead, slug=f"part-{n}", name=f"Part {n}", team=team, order=n, services=[service]
        )


# ---------------------------------------------------------------- reads


def test_it_lists_components_in_order_with_their_status(
    clock, token_client, engineer, website, api_component, published
):
    response = token_client(engineer).get(LIST_URL)

    assert response.status_code == 200, response.data
    assert response.data["count"] == 2
    assert response.data["results"] == [
        {
            "slug": "website",
            "name": "Website",
            "team": "platform",
            "description": "",
            "order": 1,
            "services": ["web"],
            "status": "partial_outage",
        },
        {
            "slug": "api",
            "name": "Public API",
            "team": "platform",
            "description": "",
            "order": 2,
            "services": [],
            "status": "operational",
        },
    ]


def test_it_shows_the_worst_open_impact(clock, token_client, engineer, lead, owner, website):
    for impact in (Impact.DEGRADED, Impact.MAJOR_OUTAGE, Impact.PARTIAL_OUTAGE):
        incident = in_progress_incident(lead=lead, owner=owner)
        services.incident_publish(
            incident=incident,
            actor=lead,
            components=[website],
            impact=impact,
            public_title="Slow",
            message="Looking into it.",
        )

    response = token_client(engineer).get(detail_url("website"))

    assert response.status_code == 200
    assert response.data["status"] == "major_outage"


def test_it_shows_maintenance_while_a_public_window_runs(
    clock, token_client, engineer, lead, platform, website, api_component
):
    window_create(
        actor=lead,
        team=platform,
        title="Web deploy",
        starts_at=NOW - timedelta(minutes=5),
        ends_at=NOW + timedelta(hours=1),
        services=list(Service.objects.filter(slug="web")),
        public=True,
    )

    response = token_client(engineer).get(LIST_URL)

    assert {c["slug"]: c["status"] for c in response.data["results"]} == {
        "website": "maintenance",
        "api": "operational",
    }


def test_it_shows_operational_once_the_incident_is_resolved(
    clock, token_client, engineer, lead, website, published
):
    services.incident_public_update(
        incident=published, actor=lead, status="resolved", message="Fixed."
    )

    response = token_client(engineer).get(detail_url("website"))

    assert response.data["status"] == "operational"


def test_it_lets_another_team_read_components(clock, token_client, pay_engineer, website):
    response = token_client(pay_engineer).get(detail_url("website"))

    assert response.status_code == 200
    assert response.data["slug"] == "website"


def test_it_answers_404_for_an_unknown_component(clock, token_client, engineer, website):
    response = token_client(engineer).get(detail_url("nope"))

    assert response.status_code == 404
    assert response.data["detail"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_anonymous_callers(client, db, website, method):
    response = getattr(client, method)(LIST_URL)

    assert response.status_code == 401


def test_it_pins_the_list_query_count(
    clock, token_client, engineer, lead, platform, published, django_assert_num_queries
):
    make_components(lead, platform, 2)
    window_create(
        actor=lead,
        team=platform,
        title="Deploy",
        starts_at=NOW - timedelta(minutes=5),
        ends_at=NOW + timedelta(hours=1),
        services=list(Service.objects.filter(slug="svc-0")),
        public=True,
    )
    client = token_client(engineer)
    client.get(LIST_URL)  # warm the role cache as every later request finds it

    # token, count, page, services; the statuses: components, their services,
    # open publications, their components, public windows, their services
    with django_assert_num_queries(10):
        response = client.get(LIST_URL)
    assert response.data["count"] == 3

    make_components(lead, platform, 10, start=2)
    with django_assert_num_queries(10):
        response = client.get(LIST_URL)
    assert response.data["count"] == 13
    assert len(response.data["results"]) == 13
    statuses = {c["slug"]: c["status"] for c in response.data["results"]}
    assert (statuses["website"], statuses["part-0"]) == ("partial_outage", "maintenance")


def test_it_pages_the_list(clock, token_client, engineer, lead, platform):
    make_components(lead, platform, 3)

    response = token_client(engineer).get(LIST_URL, {"page_size": 2, "page": 2})

    assert response.status_code == 200
    assert [c["slug"] for c in response.data["results"]] == ["part-2"]
    assert token_client(engineer).get(LIST_URL, {"page_size": "x"}).status_code == 400


# ---------------------------------------------------------------- create


def test_it_adds_a_component(clock, token_client, lead, platform):
    Service.objects.create(team=platform, slug="pay", name="Payment service")
    before = version()

    response = token_client(lead).post(
        LIST_URL,
        body(description="Paying for an order.", order=3, services=["pay"]),
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response["Location"].endswith(detail_url("checkout"))
    assert response.data == {
        "slug": "checkout",
        "name": "Checkout",
        "team": "platform",
        "description": "Paying for an order.",
        "order": 3,
        "services": ["pay"],
        "status": "operational",
    }
    component = Component.objects.get(slug="checkout")
    assert component.team == platform
    assert [s.slug for s in component.services.all()] == ["pay"]
    assert version() == before + 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"slug": "no spaces"}, "slug"),
        ({"slug": "website"}, "slug"),
        ({"slug": 12}, "slug"),
        ({"slug": ...}, "slug"),
        ({"name": ...}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"team": "nope"}, "team"),
        ({"team": ...}, "team"),
        ({"services": ["nope"]}, "services"),
        ({"services": ["pay-gw"]}, "services"),
        ({"services": "web"}, "services"),
        ({"order": -1}, "order"),
        ({"order": "1"}, "order"),
        ({"order": 2**31}, "order"),
        ({"description": 5}, "description"),
        ({"status": "major_outage"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_it_refuses_bad_input_with_field_errors(
    clock, token_client, lead, payments, website, fields, field
):
    Service.objects.create(team=payments, slug="pay-gw", name="Gateway")

    response = token_client(lead).post(LIST_URL, body(**fields), format="json")

    assert response.status_code == 400
    assert field in response.data, response.data
    assert list(Component.objects.values_list("slug", flat=True)) == ["website"]


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("lead", 201),
        ("admin", 201),
        ("pay_lead", 403),
        ("engineer", 403),
        ("onduty", 403),
        ("manager", 403),
    ],
)
def test_it_lets_only_the_teams_tech_leads_and_admins_add(
    request, clock, token_client, platform, who, code
):
    response = token_client(request.getfixturevalue(who)).post(LIST_URL, body(), format="json")

    assert response.status_code == code, response.data
    assert Component.objects.exists() == (code == 201)
    if code == 403:
        assert "Platform" in response.data["detail"]


def test_it_refuses_a_non_lead_before_checking_the_services(
    clock, token_client, pay_lead, platform
):
    response = token_client(pay_lead).post(LIST_URL, body(services=["nope"]), format="json")

    assert response.status_code == 403


# ---------------------------------------------------------------- change


def test_it_changes_a_component(clock, token_client, lead, platform, website):
    Service.objects.create(team=platform, slug="cdn", name="CDN")
    before = version()

    response = token_client(lead).patch(
        detail_url("website"),
        {"name": "Web shop", "order": 7, "services": ["cdn"], "slug": "shop"},
        format="json",
    )

    assert response.status_code == 200, response.data
    assert (response.data["slug"], response.data["name"], response.data["order"]) == (
        "shop",
        "Web shop",
        7,
    )
    assert response.data["services"] == ["cdn"]
    assert response.data["description"] == ""
    assert Component.objects.get().slug == "shop"
    assert version() == before + 1


def test_it_keeps_what_a_patch_leaves_out(clock, token_client, lead, website):
    response = token_client(lead).patch(
        detail_url("website"), {"description": "The shop."}, format="json"
    )

    assert response.status_code == 200
    assert response.data["services"] == ["web"]
    assert response.data["order"] == 1


def test_it_lets_an_admin_move_a_component_to_another_team(
    clock, token_client, admin, payments, api_component
):
    response = token_client(admin).patch(detail_url("api"), {"team": "payments"}, format="json")

    assert response.status_code == 200, response.data
    assert response.data["team"] == "payments"
    assert Component.objects.get().team == payments


def test_it_refuses_a_move_to_a_team_the_lead_does_not_lead(
    clock, token_client, lead, payments, api_component
):
    response = token_client(lead).patch(detail_url("api"), {"team": "payments"}, format="json")

    assert response.status_code == 403
    assert "Payments" in response.data["detail"]
    assert Component.objects.get().team.slug == "platform"


def test_it_refuses_a_move_that_leaves_services_behind(
    clock, token_client, admin, payments, website
):
    response = token_client(admin).patch(detail_url("website"), {"team": "payments"}, format="json")

    assert response.status_code == 400
    assert "services" in response.data
    assert Component.objects.get().team.slug == "platform"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"slug": "api"}, "slug"),
        ({"name": ""}, "name"),
        ({"team": "nope"}, "team"),
        ({"services": ["nope"]}, "services"),
        ({"status": "operational"}, "status"),
        ({"order": None}, "order"),
    ],
)
def test_it_refuses_bad_changes(clock, token_client, lead, website, api_component, fields, field):
    response = token_client(lead).patch(detail_url("website"), fields, format="json")

    assert response.status_code == 400
    assert field in response.data, response.data
    assert Component.objects.get(pk=website.pk).name == "Website"


@pytest.mark.parametrize("who", ["pay_lead", "engineer", "onduty"])
def test_it_refuses_changes_by_others_whatever_the_input(
    request, clock, token_client, website, who
):
    client = token_client(request.getfixturevalue(who))

    assert client.patch(detail_url("website"), {"name": "X"}, format="json").status_code == 403
    assert client.patch(detail_url("website"), {"name": ""}, format="json").status_code == 403
    assert Component.objects.get().name == "Website"


def test_it_answers_404_for_changes_to_an_unknown_component(clock, token_client, lead):
    response = token_client(lead).patch(detail_url("nope"), {"name": "X"}, format="json")

    assert response.status_code == 404


# ---------------------------------------------------------------- delete


def test_it_removes_a_component_and_keeps_the_publication(
    clock, token_client, lead, website, api_component, published
):
    services.incident_public_update(
        incident=published,
        actor=lead,
        status="identified",
        message="Found it.",
        components=[website, api_component],
    )
    before = version()

    response = token_client(lead).delete(detail_url("website"))

    assert response.status_code == 204
    assert list(Component.objects.values_list("slug", flat=True)) == ["api"]
    assert [c.slug for c in published.publication.components.all()] == ["api"]
    assert version() == before + 1


@pytest.mark.parametrize(("who", "code"), [("admin", 204), ("pay_lead", 403), ("engineer", 403)])
def test_it_lets_only_leads_and_admins_remove(request, clock, token_client, website, who, code):
    response = token_client(request.getfixturevalue(who)).delete(detail_url("website"))

    assert response.status_code == code
    assert Component.objects.exists() == (code != 204)


def test_it_answers_404_when_removing_an_unknown_component(clock, token_client, lead):
    assert token_client(lead).delete(detail_url("nope")).status_code == 404


# ---------------------------------------------------------------- schema


def test_it_documents_the_status_endpoints(client, db):
    paths = yaml.safe_load(client.get("/api/schema/").content)["paths"]
    expected = {
        "/api/v1/status/components/": {
            "get": {"200", "400", "401", "404"},
            "post": {"201", "400", "401", "403"},
        },
        "/api/v1/status/components/{slug}/": {
            "get": {"200", "401", "404"},
            "patch": {"200", "400", "401", "403", "404"},
            "delete": {"204", "401", "403", "404"},
        },
        "/api/v1/incidents/{id}/publish/": {"post": {"201", "400", "401", "403", "404", "409"}},
        "/api/v1/incidents/{id}/public-updates/": {
            "post": {"201", "400", "401", "403", "404", "409"}
        },
    }
    for path, operations in expected.items():
        assert set(paths[path]) == set(operations), path
        for method, codes in operations.items():
            operation = paths[path][method]
            assert operation["summary"], (path, method)
            assert set(operation["responses"]) == codes, (path, method)
    for path in ("/api/v1/incidents/{id}/publish/", "/api/v1/incidents/{id}/public-updates/"):
        assert paths[path]["post"]["requestBody"]["content"]["application/json"]["examples"]
