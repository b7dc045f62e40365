"""What the public status page shows, built from published words only.

Nothing here reads an incident's own fields: a publication's public title, its
impact and public status, its components and its public updates, the
components, and the titles and times of *public* maintenance windows.

- A component's status is the worst impact of its open publications, else
  "under maintenance" while a public window affecting it runs, else operational.
  A window affects the components whose services it names, or every component
  of its team when it names no service.
- Scheduled maintenance: public windows running now or starting within 7 days.
- Open incidents: publications not resolved, newest first; past incidents:
  those resolved in the last 90 days, most recently resolved first. Each lists
  its updates newest first (everywhere: page, JSON, preview).
- The uptime bar covers the last 90 days in settings.TIME_ZONE, today included
  (up to now), one cell per local day showing the worst impact a component had
  that day. A publication's impact holds from each public update to the next
  (the update records the impact then); a `resolved` update ends it, a later
  update reopens it; it counts for the components it names now. Where two
  incidents overlap the worse counts. Uptime % = 100 × (1 − (major outage time +
  ½ partial outage time) / the bar's whole time); degraded performance and
  maintenance count as up. It is rounded down to two decimals, so any downtime
  shows below 100%.

The page is built with a fixed number of queries, however many components,
publications or windows there are.
"""

import math
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db.models import Prefetch, Q
from django.utils.translation import gettext as _

from common import clock
from escalation.status.models import (
    IMPACT_RANK,
    Component,
    ComponentStatus,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
    StatusPage,
)
from incidents.maintenance.schedule import occurrences
from incidents.models import MaintenanceWindow

HISTORY_DAYS = 90
MAINTENANCE_AHEAD = timedelta(days=7)
# Cached copies live at most this long (a window starting or the day rolling
# over shortens it; publishing invalidates at once through the version).
MAX_TTL = 60

STATUS_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.MAINTENANCE: 1,
    ComponentStatus.DEGRADED: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}
# The share of an impact's time that counts as down in the uptime figure.
DOWN_WEIGHT = {1: 0.0, 2: 0.5, 3: 1.0}
RANK_STATUS = {
    0: ComponentStatus.OPERATIONAL,
    1: ComponentStatus.DEGRADED,
    2: ComponentStatus.PARTIAL_OUTAGE,
    3: ComponentStatus.MAJOR_OUTAGE,
}


def site_zone():
    return clock.zone_named(settings.TIME_ZONE) or UTC


def _local(value: datetime | None) -> datetime | None:
    return value.astimezone(site_zone()) if value is not None else None


def overall_label(status: str) -> str:
    return {
        ComponentStatus.OPERATIONAL: _("All systems operational"),
        ComponentStatus.MAINTENANCE: _("Maintenance in progress"),
        ComponentStatus.DEGRADED: _("Some systems have degraded performance"),
        ComponentStatus.PARTIAL_OUTAGE: _("Partial outage"),
        ComponentStatus.MAJOR_OUTAGE: _("Major outage"),
    }[status]


def page_version() -> tuple[int, datetime | None]:
    """The page's version and when it last changed (one query)."""
    row = StatusPage.objects.filter(pk=1).values_list("version", "changed_at").first()
    return row or (0, None)


# ---------------------------------------------------------------- one incident


def _update_item(*, status: str, message: str, posted_at: datetime) -> dict:
    return {
        "status": status,
        "status_label": str(PublicStatus(status).label),
        "message": message,
        "posted_at": _local(posted_at),
    }


def incident_item(publication: Publication) -> dict:
    """One publication as the public sees it (for templates/status/_incident.html and
    index.json). Reads `publication.updates` and `.components`: prefetch them."""
    updates = sorted(publication.updates.all(), key=lambda u: (u.posted_at, u.pk), reverse=True)
    components = sorted(publication.components.all(), key=lambda c: (c.order, c.name, c.pk))
    return {
        "id": publication.pk,
        "title": publication.public_title,
        "impact": publication.impact,
        "impact_label": str(Impact(publication.impact).label),
        "status": publication.status,
        "status_label": str(PublicStatus(publication.status).label),
        "components": [c.name for c in components],
        "component_slugs": [c.slug for c in components],
        "updates": [
            _update_item(status=u.status, message=u.message, posted_at=u.posted_at) for u in updates
        ],
        "published_at": _local(publication.published_at),
        "resolved_at": _local(publication.resolved_at),
        "updated_at": _local(publication.updated_at),
    }


def incident_preview(
    *,
    public_title: str,
    impact: str,
    status: str,
    message: str,
    components,
    now: datetime,
    publication: Publication | None = None,
) -> dict:
    """What the public will see once this is published (no `publication`) or
    posted as its next update: the same dict as incident_item. Blank title or
    impact keep the publication's; nothing is written."""
    previous = []
    if publication is not None:
        previous = list(publication.updates.order_by("-posted_at", "-id"))
        public_title = public_title or publication.public_title
        impact = impact or publication.impact
    components = sorted(components, key=lambda c: (c.order, c.name, c.pk))
    if status == PublicStatus.RESOLVED:
        resolved_at = (publication.resolved_at if publication else None) or now
    else:
        resolved_at = None
    updates = [_update_item(status=status, message=message, posted_at=now)]
    updates += [
        _update_item(status=u.status, message=u.message, posted_at=u.posted_at) for u in previous
    ]
    return {
        "id": publication.pk if publication else None,
        "title": public_title,
        "impact": impact,
        "impact_label": str(Impact(impact).label) if impact in Impact.values else "",
        "status": status,
        "status_label": str(PublicStatus(status).label) if status in PublicStatus.values else "",
        "components": [c.name for c in components],
        "component_slugs": [c.slug for c in components],
        "updates": updates,
        "published_at": _local(publication.published_at if publication else now),
        "resolved_at": _local(resolved_at),
        "updated_at": _local(now),
    }


# ---------------------------------------------------------------- the reads


def _components() -> tuple[list[Component], dict[int, set[int]]]:
    """Every component in page order, and each one's service ids (two queries)."""
    components = list(Component.objects.all())
    services = defaultdict(set)
    links = Component.services.through.objects.values_list("component_id", "service_id")
    for component_id, service_id in links:
        services[component_id].add(service_id)
    return components, services


def _publications(now: datetime):
    """Open publications and those resolved in the bar's span, with their updates
    and components (three queries)."""
    since = now - timedelta(days=HISTORY_DAYS + 1)
    return list(
        Publication.objects.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=since))
        .only(
            "id",
            "public_title",
            "impact",
            "status",
            "published_at",
            "resolved_at",
            "updated_at",
        )
        .prefetch_related(
            Prefetch(
                "updates",
                queryset=PublicUpdate.objects.only(
                    "id", "publication_id", "status", "impact", "message", "posted_at"
                ),
            ),
            Prefetch("components", queryset=Component.objects.only("id", "slug", "name", "order")),
        )
        .order_by("-published_at", "-id")
    )


def _windows(now: datetime) -> list[tuple[MaintenanceWindow, datetime, datetime]]:
    """(window, start, end) of public windows' occurrences running now or starting
    within MAINTENANCE_AHEAD, in order of start (two queries)."""
    until = now + MAINTENANCE_AHEAD
    windows = (
        MaintenanceWindow.objects.filter(public=True, starts_at__lt=until)
        .filter(~Q(recurrence="") | Q(ends_at__gt=now))
        .select_related("team")
        .prefetch_related("services")
    )
    rows = []
    for window in windows:
        for start, end in occurrences(window, now, until):
            rows.append((window, start, end))
    rows.sort(key=lambda row: (row[1], row[0].pk))
    return rows


def _affected(window, components, services_of) -> list[Component]:
    named = {service.pk for service in window.services.all()}
    if named:
        return [c for c in components if services_of.get(c.pk, set()) & named]
    return [c for c in components if c.team_id == window.team_id]


def _statuses(now, components, services_of, publications, windows) -> dict[int, str]:
    worst = {}
    for publication in publications:
        if publication.resolved_at is not None:
            continue
        rank = IMPACT_RANK[publication.impact]
        for component in publication.components.all():
            worst[component.pk] = max(worst.get(component.pk, 0), rank)
    in_maintenance = set()
    for window, start, end in windows:
        if start <= now < end:
            in_maintenance.update(c.pk for c in _affected(window, components, services_of))
    statuses = {}
    for component in components:
        if component.pk in worst:
            statuses[component.pk] = ComponentStatus(RANK_STATUS[worst[component.pk]])
        elif component.pk in in_maintenance:
            statuses[component.pk] = ComponentStatus.MAINTENANCE
        else:
            statuses[component.pk] = ComponentStatus.OPERATIONAL
    return statuses


def component_statuses(now: datetime) -> dict[int, ComponentStatus]:
    """Each component's status now: worst open impact, else maintenance, else
    operational (a fixed number of queries)."""
    components, services_of = _components()
    open_publications = (
        Publication.objects.filter(resolved_at__isnull=True)
        .only("id", "impact", "resolved_at")
        .prefetch_related(Prefetch("components", queryset=Component.objects.only("id")))
    )
    return _statuses(now, components, services_of, list(open_publications), _windows(now))


def overall_status(statuses) -> ComponentStatus:
    worst = max(statuses, key=lambda s: STATUS_RANK[s], default=ComponentStatus.OPERATIONAL)
    return ComponentStatus(worst)


# ---------------------------------------------------------------- uptime


def _day_starts(now: datetime) -> list[datetime]:
    """The local midnights of the bar's days, plus the next one (UTC instants)."""
    zone = site_zone()
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1)]
    days.append(today + timedelta(days=1))
    return [clock.local_instant(day, time(0), zone) for day in days]


def _impact_spans(publication: Publication, now: datetime) -> list[tuple[datetime, datetime, int]]:
    """(start, end, impact rank) while the publication was open, from its updates."""
    updates = sorted(publication.updates.all(), key=lambda u: (u.posted_at, u.pk))
    spans = []
    for current, following in zip(updates, updates[1:] + [None], strict=True):
        if current.status == PublicStatus.RESOLVED:
            continue
        end = following.posted_at if following is not None else now
        if end > current.posted_at:
            spans.append((current.posted_at, end, IMPACT_RANK[current.impact]))
    return spans


def _uptime(spans, day_starts: list[datetime], now: datetime) -> dict:
    """The bar of one component from its (start, end, rank) spans."""
    first = day_starts[0]
    cuts = set(day_starts[:-1]) | {now}
    clipped = []
    for start, end, rank in spans:
        start, end = max(start, first), min(end, now)
        if end > start:
            clipped.append((start, end, rank))
            cuts.update((start, end))
    cuts = sorted(c for c in cuts if first <= c <= now)
    worst_of_day = [0] * HISTORY_DAYS
    down_seconds = 0.0
    day = 0
    for start, end in zip(cuts, cuts[1:], strict=False):
        while day + 1 < HISTORY_DAYS and start >= day_starts[day + 1]:
            day += 1
        rank = max((r for s, e, r in clipped if s <= start and end <= e), default=0)
        if rank:
            worst_of_day[day] = max(worst_of_day[day], rank)
            down_seconds += DOWN_WEIGHT[rank] * (end - start).total_seconds()
    total = (now - first).total_seconds()
    percent = 100.0 if total <= 0 else 100.0 * (1 - down_seconds / total)
    percent = math.floor(percent * 100) / 100
    zone = site_zone()
    days = []
    for index, rank in enumerate(worst_of_day):
        status = RANK_STATUS[rank]
        days.append(
            {
                "date": day_starts[index].astimezone(zone).date(),
                "status": str(status),
                "status_label": str(ComponentStatus(status).label),
            }
        )
    return {"percent": percent, "percent_text": f"{percent:.2f}%", "days": days}


# ---------------------------------------------------------------- the page


def _next_change(now: datetime, windows, day_starts) -> datetime:
    """When the page changes by itself: a window starting or ending, the day
    rolling over, at the latest MAX_TTL from now."""
    candidates = [now + timedelta(seconds=MAX_TTL), day_starts[-1]]
    for _window, start, end in windows:
        candidates.extend(t for t in (start, end) if t > now)
    return min(candidates)


def _last_change(now: datetime, changed_at, windows, day_starts) -> datetime:
    """The latest moment the page changed: a write, a window starting or ending,
    the day rolling over."""
    candidates = [day_starts[-2]]
    if changed_at is not None:
        candidates.append(changed_at)
    for _window, start, end in windows:
        candidates.extend(t for t in (start, end) if t <= now)
    return max(candidates)


def status_page(*, now: datetime, changed_at: datetime | None = None) -> dict:
    """Everything the public page and index.json show (a fixed number of queries):
    overall, components (status and uptime bar), open incidents, scheduled
    maintenance, past incidents; `expires_at` (when it changes by itself) and
    `last_modified` (when it last changed; `changed_at` is the page version's)."""
    components, services_of = _components()
    publications = _publications(now)
    windows = _windows(now)
    statuses = _statuses(now, components, services_of, publications, windows)
    day_starts = _day_starts(now)

    spans_of = defaultdict(list)
    for publication in publications:
        spans = _impact_spans(publication, now)
        for component in publication.components.all():
            spans_of[component.pk].extend(spans)

    component_rows = [
        {
            "id": c.pk,
            "slug": c.slug,
            "name": c.name,
            "description": c.description,
            "status": str(statuses[c.pk]),
            "status_label": str(statuses[c.pk].label),
            "uptime": _uptime(spans_of[c.pk], day_starts, now),
        }
        for c in components
    ]
    overall = overall_status(statuses.values())
    maintenance = [
        {
            "id": window.pk,
            "title": window.title,
            "starts_at": _local(start),
            "ends_at": _local(end),
            "in_progress": start <= now < end,
            "components": [c.name for c in _affected(window, components, services_of)],
            "component_slugs": [c.slug for c in _affected(window, components, services_of)],
        }
        for window, start, end in windows
    ]
    open_items = [incident_item(p) for p in publications if p.resolved_at is None]
    past = sorted(
        (p for p in publications if p.resolved_at is not None),
        key=lambda p: (p.resolved_at, p.pk),
        reverse=True,
    )
    since = now - timedelta(days=HISTORY_DAYS)
    past_items = [incident_item(p) for p in past if p.resolved_at >= since]
    return {
        "overall": {"status": str(overall), "label": overall_label(overall)},
        "components": component_rows,
        "open_incidents": open_items,
        "maintenance": maintenance,
        "past_incidents": past_items,
        "expires_at": _next_change(now, windows, day_starts),
        "last_modified": _last_change(now, changed_at, windows, day_starts),
    }


def feed_updates(*, limit: int = 50) -> list[PublicUpdate]:
    """The latest public updates with their publication, newest first (one query)."""
    return list(
        PublicUpdate.objects.select_related("publication")
        .only(
            "id",
            "status",
            "message",
            "posted_at",
            "publication__id",
            "publication__public_title",
            "publication__impact",
            "publication__published_at",
        )
        .order_by("-posted_at", "-id")[:limit]
    )
