from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from common import clock
from escalation import selectors
from escalation.messages import WHAT, overdue_text
from escalation.models import Delivery


@login_required
def notifications(request):
    """The in-app inbox: escalation notices sent to this user."""
    items = list(selectors.inbox(user=request.user)[:200])
    for item in items:
        notice = item.notice
        item.what = WHAT.get(notice.clock, notice.clock)
        item.overdue = overdue_text(notice.created_at - notice.deadline)
    return render(request, "escalation/notifications.html", {"items": items})


@login_required
@require_POST
def mark_read(request):
    """Mark one notice (`delivery` in the form) or all of this user's notices read."""
    unread = Delivery.objects.filter(user=request.user, channel="inapp", read_at__isnull=True)
    if request.POST.get("delivery"):
        unread = unread.filter(pk=request.POST["delivery"])
    unread.update(read_at=clock.now())
    return redirect("notifications")
