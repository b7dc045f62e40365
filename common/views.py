"""Error answers for the whole site (handler404, handler500, CSRF_FAILURE_VIEW)."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

from common.responses import csrf_refused, unavailable


def not_found(request, exception=None):
    """JSON 404 under /api/ (clients parse it), the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """An unhandled error. When it is the database being unreachable (stopped,
    restarting, out of connections), 503 with Retry-After — a page for people,
    JSON under /api/ so monitoring senders retry — instead of a bare 500."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return unavailable(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Server error."), "code": "server_error"}, status=500)
    return defaults.server_error(request)


def csrf_failure(request, reason=""):
    """A page's form posted without a valid CSRF token: a clear 403 in the user's
    language (Django's own page is English and styled inline, which the CSP blocks)."""
    return csrf_refused(request)
