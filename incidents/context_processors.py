from functools import cache

from django.conf import settings
from django.utils import translation

from incidents import rules
from incidents.workflow import Action


@cache
def _spellings(role: str) -> frozenset[str]:
    """A role's label in every language the site speaks, case-folded."""
    spelled = set()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            spelled.add(str(rules.ROLE_LABELS[role]).casefold())
    return frozenset(spelled)


def navigation(request):
    """The header's links, the user's display name and roles (from the one cached
    rules query). A role the display name already states ("技术负责人 Chen Jie"),
    in any of the site's languages, is not repeated after it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    ctx = rules.context(user)
    wanted = [r for r in rules.Role if r in ctx.roles]
    if ctx.led_team_ids and rules.Role.TECH_LEAD not in ctx.roles:
        wanted.append(rules.Role.TECH_LEAD)
    name = (user.get_full_name() or user.username).strip()
    folded = name.casefold()
    roles = [
        str(rules.ROLE_LABELS[role])
        for role in wanted
        if not any(spelling in folded for spelling in _spellings(role))
    ]
    return {
        "nav_name": name,
        "nav_roles": roles,
        "nav_archive": rules.can(user, Action.VIEW_ARCHIVE),
        "nav_metrics": rules.can(user, Action.VIEW_METRICS),
    }
