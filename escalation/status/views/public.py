"""The public page, index.json, the Atom and RSS feeds and the badge: no sign-in.

Each answer is built once per (page version, language, path) and kept in
Django's cache: publishing bumps the version (one cheap query per request), so
every process serves the new page at once; a copy also expires by itself
within a minute, or when a maintenance window starts or ends or the day rolls
over. Bodies are rendered without the request: no CSRF token, nothing of the
visitor. Each answer carries a strong ETag (from the body) and Last-Modified and
answers If-None-Match / If-Modified-Since with 304.
"""

import hashlib
import json
import math
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import feedgenerator, translation
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.html import escape
from django.utils.http import http_date
from django.utils.translation import gettext as _

from common import clock
from common.languages import pick_language, remember_language
from escalation.status import selectors
from escalation.status.models import ComponentStatus, PublicStatus

CACHE_CONTROL = "public, max-age=30"
FEED_ITEMS = 50
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")  # what a SlugField holds; keeps cache keys tame


def _serve(request, *, name: str, build, extra_key: str = ""):
    """The cached answer `build(now, changed_at) -> (body, content_type,
    last_modified, expires_at)` for this version, language and path."""
    chosen = pick_language(request)
    version, changed_at = selectors.page_version()
    language = translation.get_language()
    key = f"status-page:{version}:{language}:{name}:{extra_key}"
    now = clock.now()
    entry = cache.get(key)
    if entry is None or entry["expires_at"] <= now:
        body, content_type, last_modified, expires_at, *status = build(now, changed_at)
        if isinstance(body, str):
            body = body.encode()
        entry = {
            "body": body,
            "content_type": content_type,
            "etag": f'"{hashlib.sha256(body).hexdigest()[:40]}"',
            "last_modified": int(last_modified.timestamp()),
            "expires_at": expires_at,
            "status": status[0] if status else 200,
        }
        ttl = math.ceil((expires_at - now).total_seconds())
        cache.set(key, entry, max(1, min(ttl, selectors.MAX_TTL)))
    response = HttpResponse(
        entry["body"], content_type=entry["content_type"], status=entry["status"]
    )
    if entry["status"] != 200:
        return response
    response["ETag"] = entry["etag"]
    response["Last-Modified"] = http_date(entry["last_modified"])
    response["Cache-Control"] = CACHE_CONTROL
    response["Content-Language"] = language
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
    response = get_conditional_response(
        request, etag=entry["etag"], last_modified=entry["last_modified"], response=response
    )
    remember_language(response, chosen)
    return response


def _absolute(path: str) -> str:
    return settings.SITE_URL + path


# ---------------------------------------------------------------- page and JSON


def page(request):
    """/status/: overall, components with their uptime bars, current incidents,
    scheduled maintenance, past incidents."""

    def build(now, changed_at):
        data = selectors.status_page(now=now, changed_at=changed_at)
        body = render_to_string(
            "status/page.html",
            {
                **data,
                "history_days": selectors.HISTORY_DAYS,
                "last_modified_local": data["last_modified"].astimezone(selectors.site_zone()),
            },
        )
        return body, "text/html; charset=utf-8", data["last_modified"], data["expires_at"]

    return _serve(request, name="page", build=build)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json_incident(item: dict) -> dict:
    return {
        "id": item["id"],
        "title": item["title"],
        "impact": item["impact"],
        "impact_label": item["impact_label"],
        "status": item["status"],
        "status_label": item["status_label"],
        "components": item["component_slugs"],
        "published_at": _iso(item["published_at"]),
        "resolved_at": _iso(item["resolved_at"]),
        "updates": [
            {
                "status": u["status"],
                "status_label": u["status_label"],
                "message": u["message"],
                "posted_at": _iso(u["posted_at"]),
            }
            for u in item["updates"]
        ],
    }


def index_json(request):
    """/status/index.json: the page's data. `incidents` holds the open ones, then
    those resolved in the last 90 days; updates newest first."""

    def build(now, changed_at):
        data = selectors.status_page(now=now, changed_at=changed_at)
        document = {
            "page": {
                "url": _absolute(reverse("status")),
                "status": data["overall"]["status"],
                "description": data["overall"]["label"],
                "updated_at": _iso(data["last_modified"].astimezone(selectors.site_zone())),
                "time_zone": settings.TIME_ZONE,
                "language": translation.get_language(),
            },
            "components": [
                {
                    "slug": c["slug"],
                    "name": c["name"],
                    "status": c["status"],
                    "status_label": c["status_label"],
                    "uptime_90_days": c["uptime"]["percent"],
                }
                for c in data["components"]
            ],
            "incidents": [
                _json_incident(item) for item in data["open_incidents"] + data["past_incidents"]
            ],
            "maintenance": [
                {
                    "title": m["title"],
                    "status": "in_progress" if m["in_progress"] else "scheduled",
                    "starts_at": _iso(m["starts_at"]),
                    "ends_at": _iso(m["ends_at"]),
                    "components": m["component_slugs"],
                }
                for m in data["maintenance"]
            ],
        }
        body = json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False)
        return body, "application/json", data["last_modified"], data["expires_at"]

    return _serve(request, name="json", build=build)


# ---------------------------------------------------------------- feeds


class _LatestMixin:
    """A feed dated by its newest entry, or by the page's last change when it has
    none (feedgenerator would say "now", changing the body on every build)."""

    fallback_date: datetime

    def latest_post_date(self):
        if self.items:
            return super().latest_post_date()
        return self.fallback_date


class _Atom(_LatestMixin, feedgenerator.Atom1Feed):
    pass


class _Rss(_LatestMixin, feedgenerator.Rss201rev2Feed):
    pass


def _feed(request, feed_class, name: str):
    def build(now, changed_at):
        updates = selectors.feed_updates(limit=FEED_ITEMS)
        page_url = _absolute(reverse("status"))
        feed = feed_class(
            title=_("System status"),
            link=page_url,
            description=_("Public updates of incidents affecting our services."),
            language=translation.get_language(),
            feed_url=_absolute(request.path),
            feed_guid=_absolute(request.path),
        )
        feed.fallback_date = changed_at or datetime(2000, 1, 1, tzinfo=UTC)
        for update in updates:
            publication = update.publication
            feed.add_item(
                title=_("%(title)s: %(status)s")
                % {
                    "title": publication.public_title,
                    "status": PublicStatus(update.status).label,
                },
                link=f"{page_url}#incident-{publication.pk}",
                # The feed's description is HTML: the message is plain text.
                description=linebreaksbr(update.message, autoescape=True),
                unique_id=f"{page_url}#update-{update.pk}",
                unique_id_is_permalink=False,
                pubdate=update.posted_at,
                updateddate=update.posted_at,
            )
        latest = updates[0].posted_at if updates else feed.fallback_date
        last_modified = max(filter(None, (latest, changed_at)))
        expires_at = now + timedelta(seconds=selectors.MAX_TTL)
        return feed.writeString("utf-8"), feed.content_type, last_modified, expires_at

    return _serve(request, name=name, build=build)


def feed_atom(request):
    """/status/feed.atom: one entry per public update, newest first."""
    return _feed(request, _Atom, "atom")


def feed_rss(request):
    """/status/feed.rss: one item per public update, newest first."""
    return _feed(request, _Rss, "rss")


# ---------------------------------------------------------------- badge

# Shields-style colours that keep white text at 4.5:1 or better.
BADGE_COLOURS = {
    ComponentStatus.OPERATIONAL: "#1a7f37",
    ComponentStatus.MAINTENANCE: "#0a58ca",
    ComponentStatus.DEGRADED: "#9a6700",
    ComponentStatus.PARTIAL_OUTAGE: "#bc4c00",
    ComponentStatus.MAJOR_OUTAGE: "#cf222e",
}
BADGE_LABEL_COLOUR = "#555"


def _text_width(text: str) -> int:
    """Roughly how wide 11px Verdana sets `text` (wide glyphs count double)."""
    return sum(12 if ord(ch) > 0x2E7F else 7 for ch in text)


def badge_svg(label: str, message: str, colour: str) -> str:
    left = _text_width(label) + 10
    right = _text_width(message) + 10
    width = left + right
    title = escape(f"{label}: {message}")
    label, message = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="{BADGE_LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/></g>'
        f'<g fill="#fff" text-anchor="middle" '
        f'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14">{label}</text>'
        f'<text x="{left + right / 2}" y="14">{message}</text></g></svg>'
    )


def badge(request):
    """/status/badge.svg: the overall status, or one component's (`?component=slug`)."""
    slug = request.GET.get("component", "")
    if slug and not SLUG.fullmatch(slug):
        raise Http404

    def build(now, changed_at):
        data = selectors.status_page(now=now, changed_at=changed_at)
        if slug:
            row = next((c for c in data["components"] if c["slug"] == slug), None)
            if row is None:
                # Kept like any answer: an unknown slug costs one query too.
                missing = _("No such component.")
                return (
                    missing,
                    "text/plain; charset=utf-8",
                    data["last_modified"],
                    data["expires_at"],
                    404,
                )
            label, status = row["name"], ComponentStatus(row["status"])
        else:
            label, status = _("status"), ComponentStatus(data["overall"]["status"])
        body = badge_svg(label, str(status.label), BADGE_COLOURS[status])
        return body, "image/svg+xml", data["last_modified"], data["expires_at"]

    return _serve(request, name="badge", build=build, extra_key=slug)
