"""The Atom and RSS feeds, parsed back with feedparser."""

import calendar
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from django.core.cache import cache
from django.test import override_settings

from escalation.status import services
from escalation.status.models import PublicStatus

pytestmark = pytest.mark.django_db

FEEDS = ["/status/feed.atom", "/status/feed.rss"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def resolved(clock, published, lead):
    """The published incident, identified 30 minutes later and resolved after an hour."""
    clock.shift(timedelta(minutes=30))
    services.incident_public_update(
        incident=published, actor=lead, status=PublicStatus.IDENTIFIED, message="A bad <deploy>."
    )
    clock.shift(timedelta(minutes=30))
    services.incident_public_update(
        incident=published, actor=lead, status=PublicStatus.RESOLVED, message="Rolled back."
    )
    return published


def parse(client, path, **headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return response, feedparser.parse(response.content)


def utc(struct) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)


@pytest.mark.parametrize("path", FEEDS)
@override_settings(SITE_URL="https://status.example.com")
def test_it_lists_one_entry_per_public_update_newest_first(clock, client, resolved, path):
    response, feed = parse(client, path)

    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "System status"
    assert feed.feed.link == "https://status.example.com/status/"
    publication = resolved.publication
    assert [e.title for e in feed.entries] == [
        "Checkout is slow: Resolved",
        "Checkout is slow: Identified",
        "Checkout is slow: Investigating",
    ]
    assert {e.link for e in feed.entries} == {
        f"https://status.example.com/status/#incident-{publication.pk}"
    }
    assert [utc(e.published_parsed) for e in feed.entries] == [
        datetime(2026, 11, 26, 3, 0, tzinfo=UTC),
        datetime(2026, 11, 26, 2, 30, tzinfo=UTC),
        datetime(2026, 11, 26, 2, 0, tzinfo=UTC),
    ]
    assert feed.entries[1].summary == "A bad &lt;deploy&gt;."
    ids = [e.id for e in feed.entries]
    assert len(set(ids)) == 3
    assert all(i.startswith("https://status.example.com/status/#update-") for i in ids)
    assert response["Last-Modified"] == "Thu, 26 Nov 2026 03:00:00 GMT"


def test_it_dates_the_atom_feed_by_its_newest_entry(clock, client, resolved):
    _response, feed = parse(client, "/status/feed.atom")

    assert utc(feed.feed.updated_parsed) == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    assert feed.feed.links[-1].href.endswith("/status/feed.atom")


@pytest.mark.parametrize("path", FEEDS)
def test_it_is_an_empty_valid_feed_before_anything_is_published(clock, client, website, path):
    _response, feed = parse(client, path)

    assert not feed.bozo
    assert feed.entries == []


@pytest.mark.parametrize("path", FEEDS)
def test_it_answers_304_until_the_next_update(clock, client, published, lead, path):
    first = client.get(path)
    etag, modified = first["ETag"], first["Last-Modified"]

    assert client.get(path, headers={"if-none-match": etag}).status_code == 304
    assert client.get(path, headers={"if-modified-since": modified}).status_code == 304

    clock.shift(timedelta(minutes=5))
    services.incident_public_update(
        incident=published, actor=lead, status=PublicStatus.MONITORING, message="Watching."
    )

    again = client.get(path, headers={"if-none-match": etag})
    assert again.status_code == 200
    assert feedparser.parse(again.content).entries[0].title == "Checkout is slow: Monitoring"
    assert client.get(path, headers={"if-modified-since": modified}).status_code == 200


def test_it_speaks_the_chosen_language(clock, client, published):
    _response, feed = parse(client, "/status/feed.rss?lang=zh-hans")

    assert feed.feed.language == "zh-hans"
    _response, feed = parse(client, "/status/feed.rss", **{"accept-language": "en"})
    assert feed.feed.language == "zh-hans"  # the switch is remembered in the cookie
