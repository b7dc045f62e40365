"""Per-request middleware that needs no app's models: the CSP header and the
request size limit. (The user's language and time zone: incidents.middleware.)"""

from django.conf import settings

from common import responses


class ContentSecurityPolicyMiddleware:
    """Sends settings.CONTENT_SECURITY_POLICY with every response (Django 5.2 has
    no built-in CSP)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if request.path.startswith("/api/docs/"):
            policy = getattr(settings, "CONTENT_SECURITY_POLICY_DOCS", policy)
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


class RequestSizeLimitMiddleware:
    """Refuses a body over settings.MAX_REQUEST_BYTES with 413 before anything
    reads it. Django's own DATA_UPLOAD_MAX_MEMORY_SIZE guards form posts only;
    DRF's JSON parser and the alert webhook read the stream directly."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body without a valid length
        if length > limit:
            return responses.request_too_large(request, limit)
        return self.get_response(request)
