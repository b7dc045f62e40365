"""The public page /status/ and index.json: statuses, maintenance, uptime bars,
past incidents, languages, the cache and conditional GETs."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from common import clock as site_clock
from escalation.status import selectors, services
from escalation.status.models import ComponentStatus, Impact, PublicStatus
from incidents.models import MaintenanceWindow, Service
from tests.factories import in_progress_incident

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test's database starts at version 0 again: forget other tests' pages."""
    cache.clear()
    yield
    cache.clear()


def publish(lead, owner, components, impact, title="Slow pages", message="Looking into it."):
    incident = in_progress_incident(lead=lead, owner=owner)
    services.incident_publish(
        incident=incident,
        actor=lead,
        components=components,
        impact=impact,
        public_title=title,
        message=message,
    )
    return incident


def update(incident, lead, status, message="An update.", **kwargs):
    return services.incident_public_update(
        incident=incident, actor=lead, status=status, message=message, **kwargs
    )


def window(team, *, starts_in, hours=2, public=True, services_=(), title="Database upgrade"):
    start = site_clock.now() + starts_in
    row = MaintenanceWindow.objects.create(
        team=team,
        title=title,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        public=public,
    )
    row.services.set(services_)
    return row


def page_json(client, **headers):
    response = client.get("/status/index.json", headers=headers)
    assert response.status_code == 200
    return response.json()


def statuses(client):
    return {c["slug"]: c["status"] for c in page_json(client)["components"]}


# ---------------------------------------------------------------- statuses


def test_it_shows_every_component_operational_when_nothing_is_published(
    clock, client, website, api_component
):
    response = client.get("/status/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "All systems operational" in body
    assert body.count('class="status-chip status-operational">Operational<') == 2
    assert page_json(client)["page"]["status"] == "operational"


def test_it_shows_the_worst_open_impact_of_each_component(
    clock, client, lead, owner, website, api_component
):
    publish(lead, owner, [website], Impact.PARTIAL_OUTAGE)
    publish(lead, owner, [website, api_component], Impact.DEGRADED)

    assert statuses(client) == {"website": "partial_outage", "api": "degraded"}
    major = publish(lead, owner, [website], Impact.MAJOR_OUTAGE)
    assert statuses(client) == {"website": "major_outage", "api": "degraded"}
    assert page_json(client)["page"]["status"] == "major_outage"

    update(major, lead, PublicStatus.RESOLVED, "Fixed.")

    assert selectors.component_statuses(site_clock.now()) == {
        website.pk: ComponentStatus.PARTIAL_OUTAGE,
        api_component.pk: ComponentStatus.DEGRADED,
    }


def test_it_lists_open_incidents_with_their_updates_newest_first(
    clock, client, lead, owner, website
):
    incident = publish(lead, owner, [website], Impact.PARTIAL_OUTAGE, "Checkout fails")
    clock.shift(timedelta(minutes=20))
    update(incident, lead, PublicStatus.IDENTIFIED, "We found the cause.")

    document = page_json(client)

    (item,) = document["incidents"]
    assert item["title"] == "Checkout fails"
    assert item["components"] == ["website"]
    assert [u["status"] for u in item["updates"]] == ["identified", "investigating"]
    assert item["updates"][0]["posted_at"] == "2026-11-26T10:20:00+08:00"
    assert item["id"] == incident.publication.pk
    body = client.get("/status/").content.decode()
    assert body.index("We found the cause.") < body.index("Looking into it.")
    assert "2026-11-26 10:20 (UTC+0800)" in body


# ---------------------------------------------------------------- maintenance


def test_it_shows_a_running_public_window_as_maintenance_of_its_services_components(
    clock, client, platform, website, api_component
):
    web = Service.objects.get(slug="web")
    window(platform, starts_in=-timedelta(minutes=5), services_=[web])
    window(platform, starts_in=-timedelta(minutes=5), public=False, title="Secret work")

    assert statuses(client) == {"website": "maintenance", "api": "operational"}
    (row,) = page_json(client)["maintenance"]
    assert row == {
        "title": "Database upgrade",
        "status": "in_progress",
        "starts_at": "2026-11-26T09:55:00+08:00",
        "ends_at": "2026-11-26T11:55:00+08:00",
        "components": ["website"],
    }
    assert "Secret work" not in client.get("/status/").content.decode()


def test_it_puts_every_team_component_under_a_window_naming_no_service(
    clock, client, platform, payments, pay_lead, website, api_component
):
    services.component_create(actor=pay_lead, slug="pay", name="Payments", team=payments)
    window(platform, starts_in=-timedelta(minutes=1))

    assert statuses(client) == {
        "website": "maintenance",
        "api": "maintenance",
        "pay": "operational",
    }


def test_it_lets_an_open_incident_win_over_maintenance(
    clock, client, platform, lead, owner, website
):
    window(platform, starts_in=-timedelta(minutes=1))
    publish(lead, owner, [website], Impact.DEGRADED)

    assert statuses(client) == {"website": "degraded"}


def test_it_lists_windows_of_the_next_seven_days_as_scheduled(clock, client, platform, website):
    window(platform, starts_in=timedelta(days=3), title="Soon")
    window(platform, starts_in=timedelta(days=8), title="Later")

    document = page_json(client)

    assert [(m["title"], m["status"]) for m in document["maintenance"]] == [("Soon", "scheduled")]
    assert statuses(client) == {"website": "operational"}
    body = client.get("/status/").content.decode()
    assert "Scheduled maintenance" in body
    assert "Soon" in body
    assert "Later" not in body


def test_it_expires_the_cached_page_when_a_window_starts(clock, client, platform, website):
    window(platform, starts_in=timedelta(seconds=20))
    assert statuses(client) == {"website": "operational"}

    clock.shift(timedelta(seconds=21))

    assert statuses(client) == {"website": "maintenance"}


# ---------------------------------------------------------------- uptime bars


def bar(client, slug):
    (row,) = [
        c for c in selectors.status_page(now=site_clock.now())["components"] if c["slug"] == slug
    ]
    return row["uptime"]


def test_it_draws_ninety_local_days_with_the_worst_impact_of_each(
    clock, client, lead, owner, website, api_component
):
    clock.move_to(site_clock.now() - timedelta(days=3))  # 10:00 on 23 Nov, Shanghai
    incident = publish(lead, owner, [website], Impact.DEGRADED)
    clock.shift(timedelta(hours=1))
    update(incident, lead, PublicStatus.IDENTIFIED, impact=Impact.MAJOR_OUTAGE)
    clock.shift(timedelta(hours=2))
    update(incident, lead, PublicStatus.RESOLVED)
    clock.move_to(site_clock.now() + timedelta(days=3) - timedelta(hours=3))

    uptime = bar(client, "website")

    assert len(uptime["days"]) == 90
    assert str(uptime["days"][0]["date"]) == "2026-08-29"
    assert str(uptime["days"][-1]["date"]) == "2026-11-26"
    worst = {str(d["date"]): d["status"] for d in uptime["days"] if d["status"] != "operational"}
    assert worst == {"2026-11-23": "major_outage"}
    # 2 hours of major outage (the degraded hour counts as up) out of 89 days and 10 hours.
    total_hours = 89 * 24 + 10
    assert uptime["percent"] == pytest.approx(100 * (1 - 2 / total_hours), abs=0.01)
    assert uptime["percent"] < 100 * (1 - 2 / total_hours)  # rounded down
    assert bar(client, "api")["percent"] == 100.0
    body = client.get("/status/").content.decode()
    assert f'aria-label="Website: {uptime["percent_text"]} uptime over the last 90 days"' in body
    assert 'title="2026-11-23: Major outage"' in body


def test_it_counts_a_partial_outage_as_half_down_and_splits_it_at_midnight(
    clock, client, lead, owner, website
):
    clock.move_to("2026-11-24T15:00:00Z")  # 23:00 on 24 Nov, Shanghai
    incident = publish(lead, owner, [website], Impact.PARTIAL_OUTAGE)
    clock.shift(timedelta(hours=4))
    update(incident, lead, PublicStatus.RESOLVED)
    clock.move_to("2026-11-26T02:00:00Z")

    uptime = bar(client, "website")

    worst = {str(d["date"]): d["status"] for d in uptime["days"] if d["status"] != "operational"}
    assert worst == {"2026-11-24": "partial_outage", "2026-11-25": "partial_outage"}
    total_hours = 89 * 24 + 10
    assert uptime["percent"] == pytest.approx(100 * (1 - 2 / total_hours), abs=0.01)


def test_it_keeps_an_open_incident_counting_until_now(clock, client, lead, owner, website):
    clock.move_to("2026-11-26T00:00:00Z")  # 08:00 today
    publish(lead, owner, [website], Impact.MAJOR_OUTAGE)
    clock.shift(timedelta(hours=2))

    uptime = bar(client, "website")

    assert uptime["days"][-1]["status"] == "major_outage"
    assert uptime["percent"] == pytest.approx(100 * (1 - 2 / (89 * 24 + 10)), abs=0.01)


# ---------------------------------------------------------------- past incidents


def test_it_lists_incidents_resolved_in_the_last_ninety_days_as_past(
    clock, client, lead, owner, website
):
    clock.move_to(site_clock.now() - timedelta(days=100))
    old = publish(lead, owner, [website], Impact.DEGRADED, "Ancient trouble")
    update(old, lead, PublicStatus.RESOLVED)
    clock.move_to(site_clock.now() + timedelta(days=90))
    recent = publish(lead, owner, [website], Impact.DEGRADED, "Recent trouble")
    update(recent, lead, PublicStatus.RESOLVED, "All good again.")
    clock.move_to(site_clock.now() + timedelta(days=10))
    publish(lead, owner, [website], Impact.DEGRADED, "Open trouble")

    document = page_json(client)

    assert [(i["title"], i["resolved_at"] is None) for i in document["incidents"]] == [
        ("Open trouble", True),
        ("Recent trouble", False),
    ]
    body = client.get("/status/").content.decode()
    past = body[body.index('id="past-title"') :]
    assert "Recent trouble" in past
    assert "All good again." in past
    assert "Ancient trouble" not in body


def test_it_says_so_when_there_were_no_incidents(clock, client, website):
    assert "No incidents in the last 90 days." in client.get("/status/").content.decode()


# ---------------------------------------------------------------- languages


def test_it_speaks_the_browsers_language(clock, client, website):
    response = client.get("/status/", headers={"accept-language": "zh-hans"})

    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "跳到正文" in body
    assert response["Content-Language"] == "zh-hans"
    english = client.get("/status/", headers={"accept-language": "en"})
    assert '<html lang="en">' in english.content.decode()
    assert "Accept-Language" in english["Vary"]
    assert "Cookie" in english["Vary"]


def test_it_switches_language_with_lang_and_remembers_it(clock, client, website):
    response = client.get("/status/?lang=zh-hans", headers={"accept-language": "en"})

    assert '<html lang="zh-hans">' in response.content.decode()
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    later = client.get("/status/index.json", headers={"accept-language": "en"})
    assert later.json()["page"]["language"] == "zh-hans"
    back = client.get("/status/?lang=en")
    assert '<html lang="en">' in back.content.decode()
    assert 'href="?lang=zh-hans"' in back.content.decode()


def test_it_ignores_an_unknown_lang(clock, client, website):
    response = client.get("/status/?lang=xx", headers={"accept-language": "en"})

    assert '<html lang="en">' in response.content.decode()
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


# ---------------------------------------------------------------- cache and 304


def test_it_serves_a_cached_page_with_one_query(
    clock, client, lead, owner, website, django_assert_num_queries
):
    publish(lead, owner, [website], Impact.PARTIAL_OUTAGE)
    first = client.get("/status/")

    with django_assert_num_queries(1):
        again = client.get("/status/")
    client.get("/status/index.json")
    with django_assert_num_queries(1):
        client.get("/status/index.json")

    assert again.content == first.content


def test_it_builds_the_page_with_queries_that_do_not_grow_with_rows(
    clock, client, platform, lead, owner, website, api_component
):
    def queries():
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/status/").status_code == 200
        return len(captured)

    publish(lead, owner, [website], Impact.DEGRADED)
    window(platform, starts_in=timedelta(hours=1))
    few = queries()
    for n in range(4):
        component = services.component_create(
            actor=lead, slug=f"c{n}", name=f"Part {n}", team=platform
        )
        incident = publish(lead, owner, [component, website], Impact.MAJOR_OUTAGE)
        update(incident, lead, PublicStatus.RESOLVED)
        window(platform, starts_in=timedelta(days=n))

    assert queries() == few


def test_it_shows_a_publication_at_once_though_the_page_was_cached(
    clock, client, lead, owner, website
):
    assert "All systems operational" in client.get("/status/").content.decode()

    publish(lead, owner, [website], Impact.MAJOR_OUTAGE, "Nothing loads")

    body = client.get("/status/").content.decode()
    assert "Nothing loads" in body
    assert "Major outage" in body


def test_it_answers_304_to_a_matching_etag_or_date_and_200_after_a_change(
    clock, client, lead, owner, website
):
    publish(lead, owner, [website], Impact.DEGRADED)
    first = client.get("/status/")
    etag, modified = first["ETag"], first["Last-Modified"]
    assert etag.startswith('"')
    assert first["Cache-Control"] == "public, max-age=30"

    assert client.get("/status/", headers={"if-none-match": etag}).status_code == 304
    assert client.get("/status/", headers={"if-modified-since": modified}).status_code == 304
    json_etag = client.get("/status/index.json")["ETag"]
    assert client.get("/status/index.json", headers={"if-none-match": json_etag}).status_code == 304

    clock.shift(timedelta(minutes=1))
    services.component_update(component=website, actor=lead, name="Web shop")

    changed = client.get("/status/", headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert "Web shop" in changed.content.decode()
    assert client.get("/status/", headers={"if-modified-since": modified}).status_code == 200


def test_it_sends_no_csrf_token_and_nothing_of_a_signed_in_visitor(clock, client, admin, website):
    client.force_login(admin)

    response = client.get("/status/")

    body = response.content.decode()
    assert "csrfmiddlewaretoken" not in body
    assert "admin" not in body
    assert "csrftoken" not in response.cookies


# ---------------------------------------------------------------- the preview


def comparable(item):
    return {k: v for k, v in item.items() if k not in ("id", "updated_at")}


def test_it_previews_a_publication_exactly_as_the_public_will_see_it(
    clock, lead, owner, website, api_component
):
    incident = in_progress_incident(lead=lead, owner=owner)
    preview = selectors.incident_preview(
        public_title="Logins fail",
        impact=Impact.MAJOR_OUTAGE,
        status=PublicStatus.INVESTIGATING,
        message="Nobody can sign in.",
        components=[api_component, website],
        now=site_clock.now(),
    )

    services.incident_publish(
        incident=incident,
        actor=lead,
        components=[api_component, website],
        impact=Impact.MAJOR_OUTAGE,
        public_title="Logins fail",
        message="Nobody can sign in.",
    )

    (published,) = selectors.status_page(now=site_clock.now())["open_incidents"]
    assert comparable(preview) == comparable(published)
    assert preview["components"] == ["Website", "Public API"]
    html = render_to_string("status/_incident.html", {"item": preview})
    assert "Logins fail" in html
    assert "2026-11-26 10:00 (UTC+0800)" in html


def test_it_previews_an_update_on_top_of_the_earlier_ones(clock, lead, owner, website, published):
    clock.shift(timedelta(hours=1))
    publication = published.publication
    preview = selectors.incident_preview(
        public_title="",
        impact="",
        status=PublicStatus.RESOLVED,
        message="Fixed for everyone.",
        components=[website],
        now=site_clock.now(),
        publication=publication,
    )

    update(published, lead, PublicStatus.RESOLVED, "Fixed for everyone.")

    (past,) = selectors.status_page(now=site_clock.now())["past_incidents"]
    assert comparable(preview) == comparable(past)
    assert [u["status"] for u in preview["updates"]] == ["resolved", "investigating"]
    assert preview["resolved_at"] is not None
