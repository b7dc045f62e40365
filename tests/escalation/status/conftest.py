"""Status page fixtures: components of platform, an incident published on them."""

import pytest

from escalation.status import services
from escalation.status.models import Impact
from incidents.models import Service
from tests.factories import in_progress_incident


@pytest.fixture
def website(platform, lead):
    service = Service.objects.create(team=platform, slug="web", name="Web frontend")
    return services.component_create(
        actor=lead, slug="website", name="Website", team=platform, order=1, services=[service]
    )


@pytest.fixture
def api_component(platform, lead):
    return services.component_create(
        actor=lead, slug="api", name="Public API", team=platform, order=2
    )


@pytest.fixture
def published(lead, owner, website):
    """An incident in progress, published on the website as a partial outage."""
    incident = in_progress_incident(lead=lead, owner=owner)
    services.incident_publish(
        incident=incident,
        actor=lead,
        components=[website],
        impact=Impact.PARTIAL_OUTAGE,
        public_title="Checkout is slow",
        message="We are looking into slow checkouts.",
    )
    return incident
