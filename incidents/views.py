from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from common import clock
from incidents import selectors


@login_required
def home(request):
    incidents = selectors.incident_list(user=request.user, open_only=True).order_by("respond_by")[
        :200
    ]
    return render(request, "incidents/home.html", {"incidents": incidents, "now": clock.now()})
