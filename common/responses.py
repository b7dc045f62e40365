"""Answers that pages and the API both give, built without the database or a
signed-in user: 503 when the database is unreachable, 413 for a body that is
too large. JSON under /api/ (clients parse it), a plain page elsewhere."""

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _


def unavailable(request):
    """503: the database cannot be reached. Touches no database itself."""
    response = _problem(
        request,
        503,
        code="unavailable",
        title=_("Responder is briefly unavailable"),
        message=_("The database is unavailable; retry later."),
        retry=True,
        again=request.get_full_path() if request.method == "GET" else "/",
    )
    response["Retry-After"] = "30"
    return response


def request_too_large(request, limit: int):
    """413: the body is over MAX_REQUEST_BYTES; refused before anything reads it."""
    message = _("The request is larger than %(limit)s KiB; nothing was saved.") % {
        "limit": limit // 1024
    }
    return _problem(
        request, 413, code="request_too_large", title=_("Too much text"), message=message
    )


def csrf_refused(request):
    """403: a form posted without its security token (a stale page, cookies
    blocked): say so and offer the form again, instead of Django's bare page."""
    return _problem(
        request,
        403,
        code="csrf_failed",
        title=_("The form has expired"),
        message=_(
            "This form was sent without its security token: the page was open too long, "
            "or the browser blocks cookies for this site. Nothing was saved. Open the form "
            "again and send it once more."
        ),
        again=request.path,
    )


def _problem(request, status, *, code, title, message, retry=False, again="/"):
    """JSON under /api/, else a plain page needing neither the database nor a
    signed-in user (these answers come before or instead of both)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": code}, status=status)
    page = render_to_string(
        "errors/standalone.html",
        {"title": title, "message": message, "retry": retry, "again": again},
    )
    return HttpResponse(page, status=status)
