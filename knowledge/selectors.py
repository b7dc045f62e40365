"""Reads of step 6: the post-mortem pre-fill, articles, overdue actions, the metrics' scope."""

import re
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from common import sql
from common.clock import duration_text
from common.people import display_name, name_of
from incidents import rules, timeline
from incidents import selectors as incident_selectors
from incidents.models import Incident, Team
from incidents.workflow import Action
from knowledge import metrics
from knowledge.models import ActionItem, KnowledgeArticle, PostMortem

EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
MAX_RANGE_DAYS = 3 * 366
SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")


def _at(value) -> str:
    return timezone.localtime(value).strftime("%m-%d %H:%M") if value else "—"


def postmortem_prefill(incident) -> dict:
    """The editor's starting text: a summary line, and the timeline with durations,
    every audit event and every escalation notice, in time order."""
    received = incident.received_at
    steps = [
        (_("received"), incident.received_at),
        (_("acknowledged"), incident.acknowledged_at),
        (_("work started"), incident.started_at),
        (_("service restored"), incident.restored_at),
        (_("verified"), incident.resolved_at),
    ]
    durations = [
        f"{label} {_at(at)}" + (f" (+{duration_text(at - received)})" if at != received else "")
        for label, at in steps
        if at is not None
    ]
    lines = [" → ".join(durations), ""]
    entries = []
    for event in incident.events.select_related("actor").order_by("created_at", "id"):
        who = display_name(event.actor, _("system"))
        text = timeline.describe(event).replace("\n", " ")[:300]
        line = f"{_at(event.created_at)}  {event.get_kind_display()} — {who}"
        entries.append((event.created_at, f"{line}: {text}" if text else line))
    for notice in incident.notices.order_by("created_at", "id"):
        late = f" ({_('late')})" if notice.late else ""
        entries.append(
            (
                notice.created_at,
                f"{_at(notice.created_at)}  "
                + _("Escalation: %(clock)s, level %(level)s%(late)s")
                % {"clock": notice.get_clock_display(), "level": notice.level, "late": late},
            )
        )
    entries.sort(key=lambda e: e[0])
    lines += [text for _at_, text in entries]
    summary = _("%(level)s %(category)s: %(title)s. Impact: %(impact)s (%(users)s users).") % {
        "level": incident.severity,
        "category": incident.get_category_display(),
        "title": incident.title,
        "impact": incident.impact_scope,
        "users": incident.affected_users,
    }
    return {"summary": summary, "timeline": "\n".join(lines)}


def visible_articles(user) -> QuerySet[KnowledgeArticle]:
    ctx = rules.context(user)
    qs = KnowledgeArticle.objects.select_related("incident", "author", "team")
    if ctx.sees_all:
        return qs
    return qs.filter(Q(team_id__in=ctx.team_ids) | Q(team__isnull=True))


def overdue_action_items(*, user, now, limit: int = 20) -> list[SimpleNamespace]:
    """Open improvement actions past due, of the teams the user leads (all: admins
    and managers), oldest due first: pk, text, due_date, owner_name, incident_id and
    number (the incident's). Written out: every lead's dashboard asks."""
    ctx = rules.context(user)
    if not (ctx.is_admin or ctx.led_team_ids or rules.Role.MANAGER in ctx.roles):
        return []
    item, post, incident, users = ActionItem, PostMortem, Incident, get_user_model()
    query = (
        f"SELECT a.id, a.{sql.column(item, 'text')}, a.{sql.column(item, 'due_date')}, "  # nosec B608: names from the models
        f"u.{sql.column(users, 'username')}, u.{sql.column(users, 'first_name')}, "
        f"u.{sql.column(users, 'last_name')}, i.id, i.{sql.column(incident, 'number')} "
        f"FROM {sql.table(item)} a "
        f"JOIN {sql.table(post)} p ON p.id = a.{sql.column(item, 'postmortem')} "
        f"JOIN {sql.table(incident)} i ON i.id = p.{sql.column(post, 'incident')} "
        f"JOIN {sql.table(users)} u ON u.id = a.{sql.column(item, 'owner')} "
        f"WHERE a.{sql.column(item, 'done_at')} IS NULL AND a.{sql.column(item, 'due_date')} < %s"
    )
    params = [sql.day(timezone.localdate(now))]
    if not ctx.sees_all:
        if not ctx.led_team_ids:
            return []
        query += f" AND i.{sql.column(incident, 'team')} IN ({sql.among(ctx.led_team_ids)})"
        params += sorted(ctx.led_team_ids)
    query += f" ORDER BY a.{sql.column(item, 'due_date')}, a.id LIMIT %s"
    return [
        SimpleNamespace(
            pk=pk,
            text=text,
            due_date=due_date,
            owner_name=name_of(first_name, last_name, username),
            incident_id=incident_id,
            number=number,
        )
        for pk, text, due_date, username, first_name, last_name, incident_id, number in sql.rows(
            query, [*params, limit]
        )
    ]


@dataclass(frozen=True)
class MetricsScope:
    start: date
    end: date
    team: Team | None


def metrics_scope(
    *,
    user,
    now: datetime,
    start: date | None = None,
    end: date | None = None,
    team: str | None = None,
) -> MetricsScope:
    """What the metrics cover: incidents received from `start` to `end` (default:
    the last 180 days), of the team with slug `team` or of every team the user sees.

    Managers and tech leads only (PermissionDenied). Refused with a
    ValidationError naming each wrong field: a date outside 2000–2100, an end
    before the start, more than three years, a team the user does not see.
    The metrics page and GET /api/v1/metrics/ both parse their query into this.
    """
    rules.require(user, Action.VIEW_METRICS)
    errors: dict[str, str] = {}
    for name, value in (("start", start), ("end", end)):
        if value is not None and not (EARLIEST_DAY <= value <= LATEST_DAY):
            errors[name] = _("Choose a date between 2000 and 2100.")
    chosen = None
    if team:
        if SLUG.match(team):
            chosen = incident_selectors.visible_teams(user).filter(slug=team).first()
        if chosen is None:
            errors["team"] = _("Choose one of your teams.")
    default_start, default_end = metrics.default_range(now)
    start, end = start or default_start, end or default_end
    if "start" not in errors and "end" not in errors:
        if start > end:
            errors["end"] = _("The end date is before the start date.")
        elif (end - start).days > MAX_RANGE_DAYS:
            errors["end"] = _("Choose at most three years.")
    if errors:
        raise ValidationError(errors)
    return MetricsScope(start=start, end=end, team=chosen)
