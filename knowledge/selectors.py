"""Reads of step 6: the post-mortem pre-fill, articles, overdue actions."""

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from common.clock import duration_text
from incidents import rules
from knowledge.models import ActionItem, KnowledgeArticle


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
        who = event.actor.username if event.actor else _("system")
        text = event.message.replace("\n", " ")[:300]
        entries.append(
            (
                event.created_at,
                f"{_at(event.created_at)}  {event.get_kind_display()} — {who}: {text}",
            )
        )
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


def overdue_action_items(*, user, now, limit: int = 20) -> list[ActionItem]:
    """Open improvement actions past due, of the teams the user leads (all: admins)."""
    ctx = rules.context(user)
    if not (ctx.is_admin or ctx.led_team_ids or rules.Role.MANAGER in ctx.roles):
        return []
    qs = ActionItem.objects.filter(done_at__isnull=True, due_date__lt=timezone.localdate(now))
    if not ctx.sees_all:
        qs = qs.filter(postmortem__incident__team_id__in=ctx.led_team_ids)
    return list(
        qs.select_related("owner", "postmortem__incident").order_by("due_date", "id")[:limit]
    )
