"""Who may do what: the one permission rule module.

Web views, the API, the admin and services all ask this module. A user's
roles are Django groups (seeded: on-duty, engineer, tester, tech lead,
manager, admin). Visibility: a user sees the incidents of their teams and the
ones they own or help with; managers and admins see all.

A user is a tech lead *for an incident* when they are one of its team's
`tech_leads`, or hold the "tech lead" role and belong to the team.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.sql import json_rows
from incidents.models import Incident, Team
from incidents.workflow import Action, action_label


class Role(StrEnum):
    ON_DUTY = "on-duty"
    ENGINEER = "engineer"
    TESTER = "tester"
    TECH_LEAD = "tech lead"
    MANAGER = "manager"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.ON_DUTY: gettext_lazy("on-duty"),
    Role.ENGINEER: gettext_lazy("engineer"),
    Role.TESTER: gettext_lazy("tester"),
    Role.TECH_LEAD: gettext_lazy("tech lead"),
    Role.MANAGER: gettext_lazy("manager"),
    Role.ADMIN: gettext_lazy("admin"),
}


@dataclass(frozen=True)
class UserContext:
    roles: frozenset[str]
    team_ids: frozenset[int]
    led_team_ids: frozenset[int]
    is_admin: bool

    @property
    def sees_all(self) -> bool:
        return self.is_admin or Role.MANAGER in self.roles


_CACHE_ATTR = "_responder_rules_ctx"
_WORK_ATTR = "_responder_cross_team_work"


def context(user) -> UserContext:
    """Roles and teams of `user`, computed once per user object (one query, or none
    when the query that loaded the user brought them: `remember`)."""
    ctx = getattr(user, _CACHE_ATTR, None)
    if ctx is not None:
        return ctx
    if not user.is_authenticated or not user.is_active:
        ctx = UserContext(frozenset(), frozenset(), frozenset(), False)
        setattr(user, _CACHE_ATTR, ctx)
        return ctx
    return remember(user, _memberships(user))


def remember(user, rows) -> UserContext:
    """The context of an active user from their (kind, value) membership rows, kept
    on the user object: `_memberships`' rows, or `memberships_subquery`'s read in
    the query that loaded the user."""
    found: dict[str, set] = {k: set() for k in ("role", "member", "lead", "manager", "work")}
    for kind, value in rows:
        found[kind].add(value)
    setattr(user, _WORK_ATTR, sorted(int(v) for v in found["work"]))
    roles = frozenset(found["role"])
    member_of = {int(v) for v in found["member"]}
    explicitly_leads = {int(v) for v in found["lead"]}
    managed = {int(v) for v in found["manager"]}
    led = explicitly_leads | (member_of if Role.TECH_LEAD in roles else set())
    ctx = UserContext(
        roles=roles,
        team_ids=frozenset(member_of | explicitly_leads | managed),
        led_team_ids=frozenset(led),
        is_admin=user.is_superuser or Role.ADMIN in roles,
    )
    setattr(user, _CACHE_ATTR, ctx)
    return ctx


def _memberships(user) -> list[tuple[str, str]]:
    """(kind, value) rows, one round trip: the user's groups by name, teams by id,
    and the ids of other teams' incidents they own or help with."""
    with connection.cursor() as cursor:
        cursor.execute(_memberships_sql(), {"u": user.pk})
        return cursor.fetchall()


def memberships_subquery(user_id) -> tuple[str, list] | None:
    """`_memberships`' rows as one JSON text value (`[[kind, value], ...]`) for a
    column of another query: the one that loads each request's user
    (config.auth), so a page pays one round trip for both. SQL and its parameters;
    None on a database without these JSON functions (then context() asks)."""
    aggregate = json_rows("m.kind", "m.value")
    if aggregate is None:
        return None
    rows = _memberships_sql()
    return (
        f"SELECT {aggregate} FROM ({rows.replace('%(u)s', '%s')}) m",  # nosec B608: rules' own SQL
        [user_id] * rows.count("%(u)s"),
    )


def _memberships_sql() -> str:
    """The memberships query, the user's id as %(u)s; columns `kind` and `value`.

    Raw SQL on purpose: this runs on every request, and the ORM spent several
    times the database's own time composing the equivalent five queries
    (bench/api.py). Table names come from the models, values are parameters.
    """
    t = {
        "group": Group._meta.db_table,
        "user_groups": Group.user_set.through._meta.db_table,
        "members": Team.members.through._meta.db_table,
        "leads": Team.tech_leads.through._meta.db_table,
        "team": Team._meta.db_table,
        "incident": Incident._meta.db_table,
        "helpers": Incident.helpers.through._meta.db_table,
    }
    my_teams = (
        "SELECT team_id FROM {members} WHERE user_id = %(u)s "
        "UNION SELECT team_id FROM {leads} WHERE user_id = %(u)s "
        "UNION SELECT id FROM {team} WHERE manager_id = %(u)s"
    )
    sql = (
        "SELECT 'role' AS kind, g.name AS value "  # nosec B608: table names from the models
        "FROM {group} g JOIN {user_groups} ug ON ug.group_id = g.id "
        "WHERE ug.user_id = %(u)s "
        "UNION ALL SELECT 'member', CAST(team_id AS TEXT) FROM {members} WHERE user_id = %(u)s "
        "UNION ALL SELECT 'lead', CAST(team_id AS TEXT) FROM {leads} WHERE user_id = %(u)s "
        "UNION ALL SELECT 'manager', CAST(id AS TEXT) FROM {team} WHERE manager_id = %(u)s "
        # Other teams named first, so each is one probe of the (owner, team)
        # index: "team_id NOT IN (mine)" scanned every incident the user owns.
        "UNION ALL SELECT 'work', CAST(id AS TEXT) FROM {incident} "
        "WHERE owner_id = %(u)s AND team_id IN "
        "(SELECT id FROM {team} WHERE id NOT IN (" + my_teams + ")) "  # nosec B608
        "UNION ALL SELECT 'work', CAST(h.incident_id AS TEXT) FROM {helpers} h "
        "JOIN {incident} i ON i.id = h.incident_id "
        "WHERE h.user_id = %(u)s AND i.team_id NOT IN (" + my_teams + ")"
    ).format(**{k: connection.ops.quote_name(v) for k, v in t.items()})
    return sql


def forget(user) -> None:
    """Drop the cached context after changing a user's groups, teams or work."""
    for attr in (_CACHE_ATTR, _WORK_ATTR):
        if hasattr(user, attr):
            delattr(user, attr)


def has_role(user, role: Role) -> bool:
    ctx = context(user)
    return ctx.is_admin or role in ctx.roles


def uses_admin(user) -> bool:
    """Only administrators (superusers and the admin role) use /admin/: it lists
    every team's records, unfiltered by the visibility rules of the pages. Tech
    leads and managers do their work in the pages; `is_staff` opens nothing."""
    return context(user).is_admin


def visible_incidents(user, queryset: QuerySet | None = None) -> QuerySet:
    qs = Incident.objects.all() if queryset is None else queryset
    ctx = context(user)
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if ctx.sees_all:
        return qs
    # Incidents of other teams the user works on are few: fetch their ids first,
    # so the main filter stays a plain team_id IN (...) that PostgreSQL answers
    # (and counts) from the (team, state) index instead of scanning every row.
    elsewhere = cross_team_work(user)
    condition = Q(team_id__in=ctx.team_ids)
    if elsewhere:
        condition |= Q(pk__in=elsewhere)
    return qs.filter(condition)


def cross_team_work(user) -> list[int]:
    """Ids of incidents outside the user's teams that they own or help with
    (read with their roles and teams by context())."""
    context(user)
    return getattr(user, _WORK_ATTR, [])


def can_see(user, incident: Incident) -> bool:
    ctx = context(user)
    if not user.is_authenticated or not user.is_active:
        return False
    if ctx.sees_all or incident.team_id in ctx.team_ids or incident.owner_id == user.pk:
        return True
    return incident.pk in cross_team_work(user)


def is_lead_for(user, incident: Incident) -> bool:
    ctx = context(user)
    return ctx.is_admin or incident.team_id in ctx.led_team_ids


def _is_owner(user, incident: Incident) -> bool:
    return incident.owner_id is not None and incident.owner_id == user.pk


def _is_helper(user, incident: Incident) -> bool:
    return incident.helpers.filter(pk=user.pk).exists()


def _team_role(user, incident: Incident, role: Role) -> bool:
    """`role` held by a member of the incident's team."""
    ctx = context(user)
    return role in ctx.roles and incident.team_id in ctx.team_ids


def can(user, action: Action, incident: Incident | None = None) -> bool:
    """May `user` take `action` (on `incident`)? States are checked elsewhere."""
    ctx = context(user)
    if not user.is_authenticated or not user.is_active:
        return False
    if action == Action.FILE:
        return True
    if action in (Action.VIEW_ARCHIVE, Action.VIEW_METRICS):
        return ctx.sees_all or bool(ctx.led_team_ids) or Role.TECH_LEAD in ctx.roles
    if incident is None:
        raise ValueError(f"{action} needs an incident")
    if not can_see(user, incident):
        return False
    if ctx.is_admin:
        return True
    lead = is_lead_for(user, incident)
    match action:
        case Action.VIEW:
            return True
        case (
            Action.ACKNOWLEDGE
            | Action.GRADE
            | Action.ASSIGN
            | Action.REOPEN
            | Action.CANCEL
            | Action.ARCHIVE
        ):
            return lead
        case Action.EDIT:
            return lead or (incident.reporter_id is not None and incident.reporter_id == user.pk)
        case Action.LOG:
            return lead or _is_owner(user, incident) or _is_helper(user, incident)
        case Action.RESOLVE | Action.POSTMORTEM | Action.PAUSE | Action.RESUME:
            return lead or _is_owner(user, incident)
        case Action.VERIFY:
            return lead or _team_role(user, incident, Role.TESTER)
        case Action.NOTIFY_USERS | Action.FEEDBACK | Action.PUBLISH:
            return lead or _team_role(user, incident, Role.ON_DUTY)
    return False


_LEAD_ONLY = gettext_lazy("Only a tech lead of the incident's team may %(action)s.")
_REFUSALS = {
    Action.EDIT: gettext_lazy("Only the reporter or a tech lead may edit the incident's details."),
    Action.LOG: gettext_lazy("Only the owner, a helper or a tech lead may add to the process log."),
    Action.RESOLVE: gettext_lazy("Only the owner or a tech lead may submit a resolution."),
    Action.POSTMORTEM: gettext_lazy("Only the owner or a tech lead may write the post-mortem."),
    Action.PAUSE: gettext_lazy("Only the owner or a tech lead may pause the SLA."),
    Action.RESUME: gettext_lazy("Only the owner or a tech lead may resume the SLA."),
    Action.VERIFY: gettext_lazy("Only a tester of the incident's team or a tech lead may verify."),
    Action.NOTIFY_USERS: gettext_lazy(
        "Only on-duty staff of the incident's team or a tech lead may notify users."
    ),
    Action.FEEDBACK: gettext_lazy(
        "Only on-duty staff of the incident's team or a tech lead may record user feedback."
    ),
    Action.PUBLISH: gettext_lazy(
        "Only on-duty staff of the incident's team or a tech lead may publish it on the "
        "status page."
    ),
    Action.VIEW_ARCHIVE: gettext_lazy("Only managers and tech leads may open the archive."),
    Action.VIEW_METRICS: gettext_lazy("Only managers and tech leads may see the metrics."),
}


def require(user, action: Action, incident: Incident | None = None) -> None:
    """Raise PermissionDenied, saying who may, unless `user` may take `action`."""
    if can(user, action, incident):
        return
    if action in _REFUSALS:
        raise PermissionDenied(str(_REFUSALS[action]))
    if action == Action.VIEW:
        raise PermissionDenied(_("You cannot see this incident."))
    raise PermissionDenied(_LEAD_ONLY % {"action": action_label(action)})


# ---------------------------------------------------------------- duty rosters


def sees_roster(user, team: Team) -> bool:
    """Every member, tech lead and the manager of a team see its roster; managers
    and admins see every team's."""
    ctx = context(user)
    if not user.is_authenticated or not user.is_active:
        return False
    return ctx.sees_all or team.pk in ctx.team_ids


def edits_roster(user, team: Team) -> bool:
    """A team's tech leads (and admins) set up its rotations."""
    ctx = context(user)
    if not user.is_authenticated or not user.is_active:
        return False
    return ctx.is_admin or team.pk in ctx.led_team_ids


def manages_roster(user, team: Team) -> bool:
    """The team's tech leads, its manager (or a manager in the team) and admins make
    or remove anyone's override; everyone else only their own (escalation.roster.services).
    A manager of another team sees the roster but does not change it."""
    ctx = context(user)
    if not user.is_authenticated or not user.is_active:
        return False
    in_team_manager = Role.MANAGER in ctx.roles and team.pk in ctx.team_ids
    return edits_roster(user, team) or in_team_manager or team.manager_id == user.pk


# ---------------------------------------------------------------- maintenance windows


def sees_window(user, window) -> bool:
    """A team's maintenance windows are read by its members, tech leads and manager;
    managers and admins read every team's."""
    ctx = context(user)
    if not user.is_authenticated or not user.is_active:
        return False
    return ctx.sees_all or window.team_id in ctx.team_ids


def edits_windows(user, team: Team) -> bool:
    """A team's tech leads (and admins) plan, change, end and delete its windows."""
    ctx = context(user)
    if not user.is_authenticated or not user.is_active:
        return False
    return ctx.is_admin or team.pk in ctx.led_team_ids


# ---------------------------------------------------------------- status page


def edits_components(user, team: Team) -> bool:
    """A team's tech leads (and admins) add, change and remove its status page
    components."""
    ctx = context(user)
    if not user.is_authenticated or not user.is_active:
        return False
    return ctx.is_admin or team.pk in ctx.led_team_ids
