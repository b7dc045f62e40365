"""The state machine of DESIGN.md as a table: which action is allowed in which state.

Services enforce it through check_state (incidents.services and
knowledge.services); pages and the API read it to offer only the actions that
make sense now. Roles are incidents.rules' business.
"""

from enum import StrEnum

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.errors import TransitionNotAllowed
from incidents.models import OPEN_STATES, UPDATE_CLOCK_STATES, State


class Action(StrEnum):
    """Everything a person can do; values are the API's action names."""

    FILE = "file"
    VIEW = "view"
    EDIT = "edit"
    ACKNOWLEDGE = "acknowledge"
    GRADE = "grade"
    ASSIGN = "assign"
    LOG = "log"
    RESOLVE = "resolve"
    VERIFY = "verify"
    NOTIFY_USERS = "notify-users"
    FEEDBACK = "feedback"
    ARCHIVE = "archive"
    REOPEN = "reopen"
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    POSTMORTEM = "postmortem"
    # Publish on the status page and post its public updates (not a process step:
    # it runs beside the process, from the first report to after the fix).
    PUBLISH = "publish"
    VIEW_ARCHIVE = "view-archive"
    VIEW_METRICS = "view-metrics"


# Actions on one incident and the states they are allowed in.
ALLOWED_IN = {
    Action.VIEW: frozenset(State),
    Action.EDIT: OPEN_STATES | {State.RESOLVED},
    Action.ACKNOWLEDGE: frozenset({State.NEW}),
    # "Grading may happen at any point before resolved."
    Action.GRADE: OPEN_STATES,
    Action.ASSIGN: frozenset(
        {State.ACKNOWLEDGED, State.ASSIGNED, State.IN_PROGRESS, State.VERIFYING}
    ),
    Action.LOG: OPEN_STATES,
    Action.RESOLVE: frozenset({State.ASSIGNED, State.IN_PROGRESS}),
    Action.VERIFY: frozenset({State.VERIFYING}),
    Action.NOTIFY_USERS: frozenset({State.RESOLVED}),
    Action.FEEDBACK: frozenset({State.RESOLVED, State.ARCHIVED}),
    Action.ARCHIVE: frozenset({State.RESOLVED}),
    Action.REOPEN: frozenset({State.RESOLVED, State.ARCHIVED}),
    Action.CANCEL: OPEN_STATES,
    # Waiting on someone outside the team, once the team has taken it (the
    # respond clock is never paused); whether it is paused now is the service's
    # check (409 either way).
    Action.PAUSE: UPDATE_CLOCK_STATES,
    Action.RESUME: OPEN_STATES,
    Action.POSTMORTEM: frozenset({State.RESOLVED, State.ARCHIVED}),
    Action.PUBLISH: OPEN_STATES | {State.RESOLVED, State.ARCHIVED},
}

# The actions that move an incident along the process, in process order (for
# messages and for ordering buttons).
PROCESS_ACTIONS = [
    Action.ACKNOWLEDGE,
    Action.GRADE,
    Action.ASSIGN,
    Action.LOG,
    Action.PAUSE,
    Action.RESUME,
    Action.RESOLVE,
    Action.VERIFY,
    Action.NOTIFY_USERS,
    Action.FEEDBACK,
    Action.ARCHIVE,
    Action.REOPEN,
    Action.CANCEL,
]


def allowed_in_state(action: Action, state: str) -> bool:
    return state in ALLOWED_IN[action]


def actions_allowed_in(state: str, paused: bool | None = None) -> list[Action]:
    """The process actions allowed in `state`; with `paused` known, only the one of
    pause and resume that fits."""
    hidden = {True: Action.PAUSE, False: Action.RESUME}.get(paused)
    return [a for a in PROCESS_ACTIONS if state in ALLOWED_IN[a] and a != hidden]


def action_label(action: Action) -> str:
    return str(ACTION_LABELS.get(action, action.value))


def check_state(incident, action: Action) -> None:
    """Raise TransitionNotAllowed, naming what is allowed, unless `action` fits the state."""
    if allowed_in_state(action, incident.state):
        return
    allowed_actions = actions_allowed_in(incident.state, getattr(incident, "paused", None))
    allowed = [a.value for a in allowed_actions]
    raise TransitionNotAllowed(
        _("Cannot %(action)s %(number)s while it is %(state)s. Allowed now: %(allowed)s.")
        % {
            "action": action_label(action),
            "number": incident.number,
            "state": State(incident.state).label,
            "allowed": ", ".join(action_label(a) for a in allowed_actions) or _("nothing"),
        },
        state=incident.state,
        allowed=allowed,
    )


ACTION_LABELS = {
    Action.VIEW: gettext_lazy("view"),
    Action.VIEW_ARCHIVE: gettext_lazy("open the archive"),
    Action.VIEW_METRICS: gettext_lazy("see the metrics"),
    Action.FILE: gettext_lazy("file an incident"),
    Action.EDIT: gettext_lazy("edit"),
    Action.ACKNOWLEDGE: gettext_lazy("acknowledge"),
    Action.GRADE: gettext_lazy("grade"),
    Action.ASSIGN: gettext_lazy("assign"),
    Action.LOG: gettext_lazy("add a log entry"),
    Action.RESOLVE: gettext_lazy("resolve"),
    Action.VERIFY: gettext_lazy("verify"),
    Action.NOTIFY_USERS: gettext_lazy("notify users"),
    Action.FEEDBACK: gettext_lazy("record feedback"),
    Action.ARCHIVE: gettext_lazy("archive"),
    Action.REOPEN: gettext_lazy("reopen"),
    Action.CANCEL: gettext_lazy("cancel"),
    Action.PAUSE: gettext_lazy("pause the SLA"),
    Action.RESUME: gettext_lazy("resume the SLA"),
    Action.POSTMORTEM: gettext_lazy("write the post-mortem"),
    Action.PUBLISH: gettext_lazy("publish on the status page"),
}
