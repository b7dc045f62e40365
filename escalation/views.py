"""The in-app inbox of escalation notices and each user's notice preferences (the
duty roster's pages are escalation.roster.views)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from common import clock
from escalation import selectors
from escalation.messages import WHAT, oncall_lines, overdue_text, people_names
from escalation.messages import render as render_notice
from escalation.models import Delivery
from incidents.models import UserProfile


@login_required
def notifications(request):
    """The in-app inbox: escalation notices sent to this user."""
    items = list(selectors.inbox(user=request.user)[:200])
    tz_name = timezone.get_current_timezone_name()
    names = people_names([item.notice for item in items])  # one query for the page
    for item in items:
        notice = item.notice
        item.what = WHAT.get(notice.clock, notice.clock)
        item.overdue = overdue_text(notice.created_at - notice.deadline)
        item.oncall = oncall_lines(notice, names)
        if notice.incident_id is None:  # a handover or a gap: its text is the content
            item.body = render_notice(notice, language=get_language(), zone=tz_name, names=names)[1]
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
