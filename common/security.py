"""Request facts that security decisions rest on."""

from django.conf import settings


def client_ip(request) -> str | None:
    """The address the request came from, as login lockout counts it.

    Behind a reverse proxy (BEHIND_PROXY=true) REMOTE_ADDR is the proxy, so the
    client is the last address in X-Forwarded-For: the one our proxy appended.
    Earlier entries come from the client itself and could be forged.
    """
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")
