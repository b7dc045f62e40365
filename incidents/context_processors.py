from incidents import rules
from incidents.workflow import Action


def navigation(request):
    """The header's links and the user's roles (from the one cached rules query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    ctx = rules.context(user)
    labels = dict(rules.ROLE_LABELS)
    roles = [str(labels[r]) for r in rules.Role if r in ctx.roles]
    if ctx.led_team_ids and rules.Role.TECH_LEAD not in ctx.roles:
        roles.append(str(labels[rules.Role.TECH_LEAD]))
    return {
        "nav_roles": roles,
        "nav_archive": rules.can(user, Action.VIEW_ARCHIVE),
        "nav_metrics": rules.can(user, Action.VIEW_METRICS),
    }
