"""Subscribing to the status page (no sign-in): the form, the confirmation link,
the unsubscribe link.

The answer to a subscription is the same for every address ("check your inbox"),
so the page never tells whether an address is known. Unsubscribing takes a POST
without a CSRF token: mail providers post `List-Unsubscribe=One-Click` to the
link themselves (RFC 8058), and the signed link is the only credential.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from common.languages import language_switch
from common.security import client_ip
from escalation.status import subscriptions
from escalation.status.models import Component


class SubscribeForm(forms.Form):
    # Kept beside its only view: escalation.status.forms holds the workspace's.
    email = forms.CharField(
        label=_("Email address"),
        max_length=subscriptions.EMAIL_MAX,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    components = forms.ModelMultipleChoiceField(
        label=_("Components"),
        queryset=Component.objects.order_by("order", "name", "id"),
        # By slug, as the API and index.json name them (a script can post them too).
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        help_text=_("Choose none to hear about every component."),
    )


@never_cache
@language_switch
@require_http_methods(["GET", "POST"])
def subscribe(request):
    form = SubscribeForm(request.POST if request.method == "POST" else None)
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "status/subscribe.html", {"form": form}, status=status)
    try:
        subscriptions.subscribe(
            email=form.cleaned_data["email"],
            components=list(form.cleaned_data["components"]),
            language=translation.get_language(),
            ip=client_ip(request),
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return render(request, "status/subscribe.html", {"form": form}, status=400)
    except subscriptions.SubscribeThrottled as exc:
        response = render(
            request,
            "status/subscribe.html",
            {"form": form, "throttled": exc.message},
            status=429,
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    return render(request, "status/subscribe.html", {"sent": True})


@never_cache
@language_switch
@require_http_methods(["GET"])
def confirm(request, token):
    try:
        subscriptions.confirm(token)
    except subscriptions.ExpiredLink as exc:
        return render(
            request, "status/confirmed.html", {"problem": exc.message, "expired": True}, status=400
        )
    except subscriptions.InvalidLink as exc:
        return render(request, "status/confirmed.html", {"problem": exc.message}, status=404)
    return render(request, "status/confirmed.html", {})


@csrf_exempt  # RFC 8058: the mail provider posts it, with no token; the link is signed
@never_cache
@language_switch
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    try:
        if request.method == "POST":
            subscriptions.unsubscribe(token)
            return render(request, "status/unsubscribe.html", {"done": True})
        known = subscriptions.subscriber_for_unsubscribe(token) is not None
    except subscriptions.InvalidLink as exc:
        return render(request, "status/unsubscribe.html", {"problem": exc.message}, status=404)
    # A link already used shows the same page: unsubscribing again changes nothing.
    return render(request, "status/unsubscribe.html", {"done": not known})
