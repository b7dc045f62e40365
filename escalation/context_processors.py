from escalation import selectors


def unread_notices(request):
    """The unread count shown in the header of every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notices": selectors.unread_count(user=user)}
