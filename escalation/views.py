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
from escalation import selectors, unread
from escalation.messages import WHAT, oncall_lines, overdue_text, people_names
from escalation.messages import render as render_notice
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
    profile = _profile(request.user)
    return render(request, "escalation/notifications.html", {"items": items, "profile": profile})


def _profile(user) -> UserProfile:
    """The user's profile: loaded with the user for every request (config.auth), made
    on first use."""
    try:
        return user.profile
    except UserProfile.DoesNotExist:
        return UserProfile.objects.get_or_create(user=user)[0]


@login_required
@require_POST
def preferences(request):
    """Each user chooses how escalation notices reach them: email, in-app, or both."""
    profile = _profile(request.user)
    profile.email_notices = request.POST.get("email_notices") == "on"
    profile.inapp_notices = request.POST.get("inapp_notices") == "on"
    profile.save(update_fields=["email_notices", "inapp_notices"])
    messages.success(request, _("Notification preferences saved."))
    return redirect("notifications")


@login_required
@require_POST
def mark_read(request):
    """Mark one notice (`delivery` in the form) or all of this user's notices read."""
    delivery = request.POST.get("delivery") or None
    if delivery is not None and not (delivery.isascii() and delivery.isdigit()):
        return HttpResponseBadRequest(_("Unknown notice."))
    unread.mark_read(
        user=request.user, now=clock.now(), delivery_id=None if delivery is None else int(delivery)
    )
    return redirect("notifications")
