from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from common import clock
from escalation import selectors
from escalation.messages import WHAT, overdue_text
from escalation.models import Delivery
from incidents.models import UserProfile


@login_required
def notifications(request):
    """The in-app inbox: escalation notices sent to this user."""
    items = list(selectors.inbox(user=request.user)[:200])
    for item in items:
        notice = item.notice
        item.what = WHAT.get(notice.clock, notice.clock)
        item.overdue = overdue_text(notice.created_at - notice.deadline)
    profile, _created = UserProfile.objects.get_or_create(user=request.user)
    return render(request, "escalation/notifications.html", {"items": items, "profile": profile})


@login_required
@require_POST
def preferences(request):
    """Each user chooses how escalation notices reach them: email, in-app, or both."""
    profile, _created = UserProfile.objects.get_or_create(user=request.user)
    profile.email_notices = request.POST.get("email_notices") == "on"
    profile.inapp_notices = request.POST.get("inapp_notices") == "on"
    profile.save(update_fields=["email_notices", "inapp_notices"])
    messages.success(request, _("Notification preferences saved."))
    return redirect("notifications")


@login_required
@require_POST
def mark_read(request):
    """Mark one notice (`delivery` in the form) or all of this user's notices read."""
    unread = Delivery.objects.filter(user=request.user, channel="inapp", read_at__isnull=True)
    if request.POST.get("delivery"):
        delivery = request.POST["delivery"]
        if not (delivery.isascii() and delivery.isdigit()):
            return HttpResponseBadRequest(_("Unknown notice."))
        unread = unread.filter(pk=int(delivery))
    unread.update(read_at=clock.now())
    return redirect("notifications")
