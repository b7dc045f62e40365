"""The improvement-action clock: knowledge owns it, escalation's sweep runs it
(registered in KnowledgeConfig.ready through escalation.registry).

An action is due through the end of its due date in the site's time zone; past
that its owner gets one notice (clock `action`, cycle = the action's id).
"""

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.engine import late_grace
from escalation.models import Clock, Notice
from knowledge.models import ActionItem


def action_item_deadline(due_date) -> datetime:
    """An improvement action is due through the end of its due date (site's zone)."""
    return timezone.make_aware(datetime.combine(due_date + timedelta(days=1), datetime.min.time()))


def claim_overdue_actions(now: datetime, limit: int) -> list[Notice]:
    """Improvement actions past their due date: one notice to each owner, once.

    The conditional claim (overdue_notified_at still empty, rows locked and
    skipped by a concurrent sweep on PostgreSQL) keeps two sweeps from taking the
    same action.
    """
    today = timezone.localdate(now)
    due = ActionItem.objects.filter(
        done_at__isnull=True, overdue_notified_at__isnull=True, due_date__lt=today
    ).order_by("due_date", "id")
    if connection.vendor == "postgresql":
        due = due.select_for_update(skip_locked=True, of=("self",))
    claimed = list(due.values_list("pk", flat=True)[:limit])
    if not claimed:
        return []
    items = list(
        ActionItem.objects.filter(pk__in=claimed).select_related(
            "owner", "postmortem__incident__team"
        )
    )
    ActionItem.objects.filter(pk__in=claimed).update(overdue_notified_at=now)
    notices = []
    for item in items:
        deadline = action_item_deadline(item.due_date)
        late_by = now - deadline
        late = late_by > late_grace()
        notices.append(
            Notice(
                incident=item.postmortem.incident,
                clock=Clock.ACTION,
                cycle=item.pk,
                level=1,
                deadline=deadline,
                due_at=deadline,
                created_at=now,
                late=late,
                late_seconds=int(late_by.total_seconds()) if late else 0,
                recipients=[item.owner.username] if item.owner.is_active else [],
            )
        )
    return notices


def action_detail(notice: Notice) -> str | None:
    """The action's line in the notice's message (in the language being rendered)."""
    item = ActionItem.objects.filter(pk=notice.cycle).first()
    if item is None:
        return None
    return _("Action: %(text)s (due %(due)s)") % {
        "text": item.text,
        "due": item.due_date.isoformat(),
    }
