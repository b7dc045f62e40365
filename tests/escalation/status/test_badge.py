"""The embeddable badge /status/badge.svg."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.core.cache import cache

from escalation.status import services
from escalation.status.models import Impact, PublicStatus
from escalation.status.views.public import BADGE_COLOURS, badge_svg

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def read(client, path="/status/badge.svg", **headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(response.content)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect") if r.get("height") == "20"]
    return response, root, texts, fills


def test_it_says_operational_in_green_when_all_is_well(clock, client, website):
    _response, root, texts, fills = read(client)

    assert texts == ["status", "Operational"]
    assert fills[-1] == BADGE_COLOURS["operational"]
    assert root.get("aria-label") == "status: Operational"
    assert root.find(f"{SVG}title").text == "status: Operational"


def test_it_shows_the_worst_status_of_the_page(clock, client, published, api_component):
    _response, _root, texts, fills = read(client)

    assert texts == ["status", "Partial outage"]
    assert fills[-1] == BADGE_COLOURS["partial_outage"]


def test_it_shows_one_component_by_slug(clock, client, published, api_component):
    _response, _root, texts, fills = read(client, "/status/badge.svg?component=api")

    assert texts == ["Public API", "Operational"]
    assert fills[-1] == BADGE_COLOURS["operational"]
    _response, _root, texts, _fills = read(client, "/status/badge.svg?component=website")
    assert texts == ["Website", "Partial outage"]


def test_it_answers_404_for_an_unknown_component(clock, client, website):
    response = client.get("/status/badge.svg?component=nope")

    assert response.status_code == 404
    assert client.get("/status/badge.svg?component=not%20a%20slug").status_code == 404


def test_it_follows_a_resolution_at_once(clock, client, published, lead):
    assert read(client)[2] == ["status", "Partial outage"]
    clock.shift(timedelta(minutes=1))

    services.incident_public_update(
        incident=published, actor=lead, status=PublicStatus.RESOLVED, message="Fixed."
    )

    assert read(client)[2] == ["status", "Operational"]


def test_it_speaks_chinese_when_asked(clock, client, website):
    _response, _root, texts, _fills = read(client, "/status/badge.svg?lang=zh-hans")

    assert texts[0] != "status"  # the label is translated (the catalogue has it)
    assert _response["Content-Language"] == "zh-hans"


def test_it_answers_304_and_a_cached_hit_costs_one_query(
    clock, client, website, django_assert_num_queries
):
    first = client.get("/status/badge.svg")

    with django_assert_num_queries(1):
        again = client.get("/status/badge.svg", headers={"if-none-match": first["ETag"]})

    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert first["Cache-Control"] == "public, max-age=30"


def test_it_widens_the_badge_for_longer_words_and_escapes_them():
    short = ET.fromstring(badge_svg("status", "ok", BADGE_COLOURS[Impact.DEGRADED]))
    long = ET.fromstring(badge_svg("a <b> & c", "Major outage", "#000"))

    assert int(long.get("width")) > int(short.get("width"))
    assert [t.text for t in long.iter(f"{SVG}text")] == ["a <b> & c", "Major outage"]
