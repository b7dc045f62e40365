"""The browser pages: intake, dashboard, workspace, my work, archive, print.

Views parse forms and call incidents.services — the same functions the API
calls — then map the services' refusals to pages: bad input re-renders the
form with its messages (400), a stale copy shows a conflict and keeps what the
user typed (409), a refusal no field can fix (the state forbids the action, a
post-mortem is missing) goes back to the workspace with its reason and the
typed input (303), a role that may not act gets 403, and an incident the user
cannot see is 404. A done action comes back to its dashboard row or workspace
section.
"""

import hashlib
import json
from types import SimpleNamespace

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import IntegerField, Prefetch
from django.db.models.expressions import RawSQL
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from common import clock, tokens
from common.errors import DomainError, StaleVersion, TransitionNotAllowed
from common.forms import add_errors
from common.languages import remember_language
from common.sql import json_rows
from escalation.calendars import holiday_data_warnings
from escalation.messages import oncall_lines, people_names
from escalation.models import Delivery, Notice
from escalation.roster.selectors import viewer_on_call
from escalation.sla import business_hours_levels, windows_for
from escalation.status import feedback as status_feedback
from escalation.status import selectors as status_selectors
from escalation.status import services as status_services
from escalation.status.forms import PublicUpdateForm, PublishForm
from escalation.status.models import Publication
from incidents import forms, fragments, rules, selectors, services
from incidents.alerts import selectors as alert_selectors
from incidents.models import (
    OPEN_STATES,
    Assignment,
    ExternalContact,
    Grading,
    Incident,
    LogEntry,
    Resolution,
    Severity,
    Source,
    State,
    TimelineEvent,
    UserFeedback,
    UserNotification,
    UserProfile,
    overdue_clocks_of,
)
from incidents.workflow import Action, allowed_in_state, check_state
from knowledge import selectors as knowledge_selectors
from knowledge import services as knowledge_services
from knowledge.models import KnowledgeArticle, PostMortem
from knowledge.services import archive_missing

# The form and service behind each action a page can post.
ACTIONS = {
    Action.ACKNOWLEDGE: (forms.AcknowledgeForm, services.incident_acknowledge),
    Action.GRADE: (forms.GradeForm, services.incident_grade),
    Action.ASSIGN: (forms.AssignForm, services.incident_assign),
    Action.LOG: (forms.LogForm, services.incident_log),
    Action.RESOLVE: (forms.ResolveForm, services.incident_resolve),
    Action.VERIFY: (forms.VerifyForm, services.incident_verify),
    Action.NOTIFY_USERS: (forms.NotifyUsersForm, services.incident_notify_users),
    Action.FEEDBACK: (forms.FeedbackForm, services.incident_record_feedback),
    Action.ARCHIVE: (forms.ArchiveForm, knowledge_services.incident_archive),
    Action.REOPEN: (forms.ReasonForm, services.incident_reopen),
    Action.CANCEL: (forms.CancelForm, services.incident_cancel),
    Action.PAUSE: (forms.PauseForm, services.incident_pause),
    Action.RESUME: (forms.ResumeForm, services.incident_resume),
    # Publishing on the status page, then its public updates (_publish picks the
    # form and service the incident needs).
    Action.PUBLISH: (PublishForm, status_services.incident_publish),
}

SUCCESS = {
    Action.ACKNOWLEDGE: gettext_lazy("Acknowledged: the respond clock has stopped."),
    Action.GRADE: gettext_lazy("Grading saved."),
    Action.ASSIGN: gettext_lazy("Assignment saved."),
    Action.LOG: gettext_lazy("Log entry added."),
    Action.RESOLVE: gettext_lazy("Resolution submitted; the incident waits for verification."),
    Action.NOTIFY_USERS: gettext_lazy("User notification recorded."),
    Action.FEEDBACK: gettext_lazy("Feedback recorded."),
    Action.ARCHIVE: gettext_lazy("Incident archived."),
    Action.REOPEN: gettext_lazy("Incident reopened."),
    Action.CANCEL: gettext_lazy("Incident cancelled."),
    Action.PAUSE: gettext_lazy("Paused: the resolve and update clocks are held until you resume."),
    Action.RESUME: gettext_lazy("Resumed: the resolve deadline moved later by the time paused."),
    Action.EDIT: gettext_lazy("Details saved."),
    Action.PUBLISH: gettext_lazy("Published on the status page: subscribers are being told."),
}
PUBLIC_UPDATE_POSTED = gettext_lazy("Public update posted: subscribers are being told.")

# Where the workspace shows each action's result (and its form): the page comes
# back there, not at its top.
SECTION = {
    Action.ACKNOWLEDGE: "grading",
    Action.GRADE: "grading",
    Action.ASSIGN: "assignment",
    Action.LOG: "log",
    Action.PAUSE: "log",
    Action.RESUME: "log",
    Action.RESOLVE: "verification",
    Action.VERIFY: "verification",
    Action.NOTIFY_USERS: "verification",
    Action.FEEDBACK: "verification",
    Action.ARCHIVE: "archive-summary",
    Action.REOPEN: "archive-summary",
    Action.CANCEL: "archive-summary",
    Action.EDIT: "basic",
    Action.PUBLISH: "status-page",
}

# The session key of a refused form's typed input, shown again once on the workspace.
RETRY_KEY = "workspace_retry"

DASHBOARD_LIMIT = 100
PAGE_SIZE = 50


def _key(action: Action) -> str:
    """The action's name as a template can look it up (notify-users → notifyusers)."""
    return action.value.replace("-", "")


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


# ---------------------------------------------------------------- home


@login_required
def home(request):
    """Each role's first screen: leads and managers triage, engineers and testers
    see their work, on-duty staff file incidents."""
    user = request.user
    ctx = rules.context(user)
    if ctx.is_admin or ctx.led_team_ids or ctx.roles & {rules.Role.TECH_LEAD, rules.Role.MANAGER}:
        return redirect("dashboard")
    if ctx.roles & {rules.Role.ENGINEER, rules.Role.TESTER}:
        return redirect("my-work")
    if rules.Role.ON_DUTY in ctx.roles:
        return redirect("incident-new")
    return redirect("dashboard")


# ---------------------------------------------------------------- step 1


def _severity_guide():
    """PROCESS.md's level table with the live SLA figures beside the level."""
    definitions = {
        Severity.P0: _("Core business interrupted, whole system unavailable, many users affected."),
        Severity.P1: _(
            "Serious fault in non-core business, part of the functions unavailable, "
            "a moderate number of users."
        ),
        Severity.P2: _("Intermittent faults, degraded non-core module, few users."),
        Severity.P3: _("Cosmetic problems, flaws that do not stop use, single users."),
    }
    guide = []
    for level in Severity:
        w = windows_for(level)
        guide.append(
            {
                "level": level,
                "label": level.label,
                "definition": definitions[level],
                "respond": w.respond,
                "resolve": w.resolve,
                "update": w.update,
            }
        )
    return guide


@login_required
def intake(request):
    """Step 1: file an incident; on success, its workspace."""
    if request.method == "POST":
        form = forms.IntakeForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                incident = services.incident_create(actor=request.user, **form.service_kwargs())
            except ValidationError as e:
                add_errors(form, e)
            except PermissionDenied as e:
                raise PermissionDenied(str(e)) from e
            else:
                messages.success(
                    request,
                    _("Filed %(number)s. Deadlines are running.") % {"number": incident.number},
                )
                return redirect("incident", pk=incident.pk)
        status = 400
    else:
        form = forms.IntakeForm(user=request.user)
        status = 200
    return render(
        request,
        "incidents/intake.html",
        {"form": form, "guide": _severity_guide()},
        status=status,
    )


# ---------------------------------------------------------------- dashboard


def _filters_html(page: str, filters, query: str) -> str:
    """A list page's filter form (DashboardFilter, ArchiveFilter), drawn once for
    everyone asking with this query and these teams in this language: Django's
    widgets took 2-3 ms a page. Its messages follow from the same, so a refused
    filter is kept with them."""
    return fragments.once(
        f"{page}-filters",
        (query, filters.team_choices),
        lambda: render_to_string(
            "incidents/_list_filters.html", {"filters": filters, "clear": reverse(page)}
        ),
    )


@login_required
@require_GET
def dashboard(request):
    """Triage: open incidents by their most urgent deadline, with live countdowns."""
    user = request.user
    teams = selectors.visible_teams(user)
    open_states = [(s.value, s.label) for s in State if s in OPEN_STATES]
    filters = forms.DashboardFilter(request.GET or None, teams=teams, states=open_states)
    chosen = filters.filter_kwargs()
    now = clock.now()
    incidents = selectors.dashboard_incidents(user=user, now=now)
    qs = selectors.filter_incidents(incidents, now=now, **chosen)
    rows = selectors.dashboard_rows(qs, DASHBOARD_LIMIT + 1)
    more = len(rows) > DASHBOARD_LIMIT
    rows = rows[:DASHBOARD_LIMIT]
    # Rows carry links and the quick actions allowed; the grade and assign forms
    # themselves load when opened (quick_form), which kept 100 rows at a third
    # of a megabyte and built <option> lists nobody opened.
    base = reverse("incident", args=[0]).removesuffix("0/")
    for row in rows:
        row.late = overdue_clocks_of(row, now)
        row.quick = [
            a
            for a in (Action.ACKNOWLEDGE, Action.GRADE, Action.ASSIGN)
            if allowed_in_state(a, row.state) and rules.can(user, a, row)
        ]
        row.url = f"{base}{row.pk}/"
    # The filters, without the refresh's own marker: the refresh URL stays the
    # same from one refresh to the next (so the browser can revalidate it), and
    # an action taken on the rows comes back to the dashboard, not the fragment.
    params = request.GET.copy()
    params.pop("fragment", None)
    query = params.urlencode()
    back = reverse("dashboard") + (f"?{query}" if query else "")
    business = business_hours_levels()
    row_html = fragments.rows(
        "dashboard",
        "incidents/_dashboard_row.html",
        rows,
        now=now,
        depends=lambda row: (tuple(row.late), tuple(row.quick), row.severity in business),
        load=selectors.dashboard_incidents_by_pk,
        context={"business_levels": business},
    )
    context = {
        "rows": rows,
        # One string, not a template loop over 100 of them.
        "rows_html": mark_safe("\n".join(row_html)),  # nosec B308 B703: rendered rows
        "more": more,
        "limit": DASHBOARD_LIMIT,
        "now": now,
        "query": query,
        "back": back,
        "business_levels": business,
    }
    if request.headers.get("HX-Request") and request.GET.get("fragment") == "rows":
        # The 30-second refresh: the rows only, without the counts and panels; 304
        # when they would come out as last time (the browser's cache answers htmx).
        tag = _rows_etag(request, rows, more, business)
        unchanged = get_conditional_response(request, etag=tag)
        response = unchanged or render(request, "incidents/_dashboard_rows.html", context)
        response["ETag"] = tag
        response["Cache-Control"] = "private, no-cache"
        return response
    # The counts by level and state follow the team filter only.
    counts = selectors.open_counts(user=user, teams=chosen.get("teams", ()))
    context.update(
        filters_html=_filters_html("dashboard", filters, query),
        levels=[
            {"level": s, "n": sum(n for (sev, _st), n in counts.items() if sev == s)}
            for s in Severity
        ],
        states=[
            {
                "state": value,
                "label": label,
                "n": sum(n for (_sv, st), n in counts.items() if st == value),
            }
            for value, label in open_states
        ],
        total=sum(counts.values()),
        pending_alerts=alert_selectors.any_pending_alerts(user=user),
        overdue_actions=knowledge_selectors.overdue_action_items(user=user, now=now),
        on_call=viewer_on_call(user, now),
        # Administrators only: the check is theirs to act on, and nobody else pays its query.
        holiday_warnings=holiday_data_warnings() if rules.context(user).is_admin else [],
    )
    return render(request, "incidents/dashboard.html", context)


def _rows_etag(request, rows, more, business=frozenset()) -> str:
    """A validator of the dashboard's rows as this user would see them now.

    The rows change only through their incidents (every write bumps `version`)
    and through time, which turns a row red (`late`); the countdown text itself
    is redrawn by responder.js. Language, zone and filters change the text.
    """
    seen = [
        request.user.pk,
        translation.get_language(),
        timezone.get_current_timezone_name(),
        request.GET.urlencode(),  # the filters (and the refresh's marker)
        more,
        sorted(business),  # an administrator moved a level to or from business hours
        *((i.pk, i.version, *i.late, *i.quick) for i in rows),
    ]
    digest = hashlib.blake2b(repr(seen).encode(), digest_size=16).hexdigest()
    return f'"{digest}"'


# A constant, not user text: marks the chosen <option>.
_SELECTED = mark_safe(" selected")  # nosec B308 B703


def _option_tags(choices, selected):
    """<option> tags for `choices` ((value, label) pairs), escaped, one selected."""
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((value, _SELECTED if value == selected else "", label) for value, label in choices),
    )


@login_required
@require_GET
def quick_form(request, pk, action):
    """The dashboard's grade or assign form for one incident, loaded when its row's
    <details> opens; it posts to the same action as the workspace."""
    action = Action(action)
    incident = selectors.incident_or_404(request.user, pk)
    rules.require(request.user, action, incident)
    try:
        check_state(incident, action)
    except TransitionNotAllowed as e:  # changed since the dashboard was drawn
        return HttpResponse(
            format_html('<p class="small text-danger">{}</p>', e.message), status=409
        )
    target = request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("dashboard")
    context = {"incident": incident, "action": action.value, "next": target}
    if action == Action.GRADE:
        context["options"] = _option_tags(Severity.choices, incident.severity)
    else:
        people = selectors.team_people_by_team([incident.team_id])[incident.team_id]
        helpers = list(incident.helpers.order_by("username")) if incident.owner_id else []
        # A helper from another team who already helps stays on the list.
        listed = {p.pk for p in people}
        people = [*people, *(h for h in helpers if h.pk not in listed)]
        choices = [(p.pk, f"{p.get_full_name() or p.username} ({p.username})") for p in people]
        context["options"] = _option_tags(choices, incident.owner_id)
        helper_ids = {h.pk for h in helpers}
        context["helpers"] = [(pk, label, pk in helper_ids) for pk, label in choices]
        if incident.owner_id:
            # A reassignment from the dashboard keeps the goal and time limit.
            context["goal"] = incident.goal
            context["time_limit"] = (
                timezone.localtime(incident.time_limit).strftime(forms.DATETIME_FORMAT)
                if incident.time_limit
                else ""
            )
    return render(request, "incidents/_quick_form.html", context)


# ---------------------------------------------------------------- workspace


# The workspace shows the newest of its long lists; ?all=1 (and the print form)
# shows every entry. A busy incident (300 log entries, 60 notices) took 120 ms
# and 210 KB, most of it rendering the oldest entries nobody scrolls to.
WORKSPACE_NEWEST = {"log": 50, "events": 50, "notices": 20}


def _newest(queryset, limit: int | None) -> tuple[list, bool]:
    """(the `limit` newest rows in time order, whether there are older ones)."""
    if limit is None:
        return list(queryset), False
    rows = list(queryset.reverse()[: limit + 1])
    return rows[:limit][::-1], len(rows) > limit


# The workspace draws the forms of one-button actions with the page; every other
# action form is drawn when the user opens its box (action_form, workspace.js),
# or with the page when the page is asked for it (?open=grade: the way in
# without JavaScript) or shows it again after a refusal. The lead's page of a
# busy incident built and rendered nine forms (a third of its time) for the one
# a visit uses, if any.
DRAWN_WITH_THE_PAGE = frozenset({Action.ACKNOWLEDGE, Action.RESUME})


def _workspace_form(request, incident, action):
    """The unbound form of `action` as the workspace offers it."""
    if action == Action.EDIT:
        return forms.EditForm(
            incident=incident, may_move_received_at=rules.is_lead_for(request.user, incident)
        )
    return ACTIONS[action][0](incident=incident)


# The workspace's log entries, audit events and notices are each rendered once per
# language and time zone and then joined from the "fragments" cache (see
# incidents/fragments.py): a busy incident's page spent half its rendering on the
# same 120 rows. A row's key holds everything it shows (a delivery's status and
# attempts, the names), so a change makes a new key and nothing shown is stale.
# The page reads those facts as plain values (ROW_FACTS) and builds the models of
# the rows not cached yet only: building 400 of them (the rows, their people, the
# notices' deliveries) took the busy incident's page a fifth of its time.
ROW_TEMPLATES = {
    "log": ("incidents/_log_entry.html", "entry"),
    "event": ("incidents/_event.html", "e"),
    "notice": ("incidents/_notice.html", "n"),
    # The print form's rows: the same facts in the paper form's layout.
    "print-log": ("incidents/_print_log_row.html", "entry"),
    "print-notice": ("incidents/_print_notice_row.html", "n"),
}


def _person(field: str) -> tuple[str, ...]:
    """The columns of a person's name (common.people.display_name)."""
    return (f"{field}_id", f"{field}__first_name", f"{field}__last_name", f"{field}__username")


ROW_FACTS = {
    "log": ("pk", "happened_at", "kind", "text", *_person("author")),
    "event": (
        "pk",
        "created_at",
        "kind",
        "from_state",
        "to_state",
        "message",
        "data",
        "changes",
        *_person("actor"),
    ),
    # A notice's facts also hold its on-call lines and its deliveries' facts.
    "notice": ("pk", "clock", "level", "deadline", "created_at", "late"),
    "delivery": (
        "id",
        "channel",
        "status",
        "attempts",
        "last_error",
        "digest_id",
        "address",
        *_person("user"),
    ),
}


def _facts_of(model, names) -> tuple:
    """The facts `names` (ROW_FACTS paths) of a model read in full: the same tuple
    its values_list row gives."""
    values = []
    for name in names:
        value = model
        for part in name.split("__"):
            value = None if value is None else getattr(value, part)
        values.append(value)
    return tuple(values)


def _notice_facts(notice, deliveries: list[tuple]) -> tuple:
    return (*_facts_of(notice, ROW_FACTS["notice"]), tuple(notice.oncall), tuple(deliveries))


def _rows_html(kind, facts: list[tuple], load) -> str:
    """The HTML of the rows whose facts (pk first) are `facts`, one after the other
    (the page shows it as one piece): each from the cache, or rendered now from
    `load(pks)` ({pk: (model, its facts)}) and kept — unless the row changed between
    the two reads (it is then shown, not kept under the facts it no longer has)."""
    if not facts:
        return ""
    template, name = ROW_TEMPLATES[kind]
    where = (translation.get_language(), timezone.get_current_timezone_name())

    def key(row_facts):
        digest = hashlib.blake2b(repr((where, row_facts)).encode(), digest_size=16)
        return f"workspace-{kind}:{row_facts[0]}:{digest.hexdigest()}"

    keys = [key(f) for f in facts]
    cache = caches[fragments.CACHE]
    found = cache.get_many(keys)
    todo = {f[0]: k for f, k in zip(facts, keys, strict=True) if k not in found}
    if todo:
        compiled = get_template(template)
        missing = {}
        for pk, (model, model_facts) in load(list(todo)).items():
            html = mark_safe(compiled.render({name: model}).strip())  # nosec B308 B703
            found[todo[pk]] = html
            if key(model_facts) == todo[pk]:
                missing[todo[pk]] = html
        cache.set_many(missing, fragments.TIMEOUT)
    return mark_safe("".join(f"{found.get(k, '')}\n  " for k in keys))  # nosec B308 B703


def _newest_facts(queryset, names, limit):
    """_newest of `queryset` as ROW_FACTS tuples."""
    return _newest(queryset.values_list(*names), limit)


def _newest_notices(incident, limit) -> tuple[list, dict[int, list[tuple]], bool]:
    """(the `limit` newest notices in time order — their facts and what oncall_lines
    reads of them —, their deliveries' facts by notice, whether there are older
    ones), in one query."""
    newest = Notice.objects.filter(incident=incident).order_by("-created_at", "-id").values("pk")
    if limit is not None:
        newest = newest[: limit + 1]
    delivery = [f"deliveries__{name}" for name in ROW_FACTS["delivery"]]
    notices, deliveries = {}, {}
    for pk, clock_, level, deadline, created_at, late, details, *facts in (
        Notice.objects.filter(pk__in=newest)
        .order_by("created_at", "id", "deliveries__id")
        .values_list(*ROW_FACTS["notice"], "details", *delivery)
    ):
        if pk not in notices:
            notices[pk] = SimpleNamespace(
                pk=pk,
                incident_id=incident.pk,
                clock=clock_,
                level=level,
                deadline=deadline,
                created_at=created_at,
                late=late,
                details=details,
            )
            deliveries[pk] = []
        if facts[0] is not None:
            deliveries[pk].append(tuple(facts))
    notices = list(notices.values())
    if limit is not None and len(notices) > limit:
        return notices[1:], deliveries, True
    return notices, deliveries, False


def _read_log(pks) -> dict:
    """_rows_html's `load` of log entries."""
    entries = LogEntry.objects.filter(pk__in=pks).select_related("author")
    return {e.pk: (e, _facts_of(e, ROW_FACTS["log"])) for e in entries}


def _workspace_rows(incident, limits) -> dict:
    """The workspace's log, audit trail and notices as rows with their HTML, and
    whether each has older rows than it shows."""
    log, older_log = _newest_facts(
        LogEntry.objects.filter(incident=incident).order_by("happened_at", "id"),
        ROW_FACTS["log"],
        limits["log"],
    )
    events, older_events = _newest_facts(
        TimelineEvent.objects.filter(incident=incident).order_by("created_at", "id"),
        ROW_FACTS["event"],
        limits["events"],
    )
    notices, deliveries, older_notices = _newest_notices(incident, limits["notices"])
    names = people_names(notices)  # the people the notices name, in one query
    oncall = {n.pk: oncall_lines(n, names) for n in notices}  # who was on call, or the fallback

    def read_events(pks):
        events = TimelineEvent.objects.filter(pk__in=pks).select_related("actor")
        return {e.pk: (e, _facts_of(e, ROW_FACTS["event"])) for e in events}

    def read_notices(pks):
        read = {}
        for notice in Notice.objects.filter(pk__in=pks).prefetch_related(
            Prefetch("deliveries", queryset=Delivery.objects.select_related("user"))
        ):
            notice.oncall = oncall[notice.pk]
            mine = [_facts_of(d, ROW_FACTS["delivery"]) for d in notice.deliveries.all()]
            read[notice.pk] = (notice, _notice_facts(notice, mine))
        return read

    for notice in notices:
        notice.oncall = oncall[notice.pk]
    notices = [_notice_facts(n, deliveries.get(n.pk, [])) for n in notices]
    return {
        "log_html": _rows_html("log", log, _read_log),
        "older_log": older_log,
        "events_html": _rows_html("event", events, read_events),
        "older_events": older_events,
        "notices_html": _rows_html("notice", notices, read_notices),
        "older_notices": older_notices,
    }


def _printed_rows(incident) -> dict:
    """The whole process log and every escalation notice, as the print form lays
    them out: like the workspace's rows, read as facts and drawn from the cache
    (drawing the busy incident's 300 entries took half the form's time). The
    paper form prints neither the audit trail nor the notices' deliveries and
    on-call lines, so they are not read."""

    def read_notices(pks):
        notices = Notice.objects.filter(pk__in=pks)
        return {n.pk: (n, _facts_of(n, ROW_FACTS["notice"])) for n in notices}

    log = LogEntry.objects.filter(incident=incident).order_by("happened_at", "id")
    notices = Notice.objects.filter(incident=incident).order_by("created_at", "id")
    return {
        "log_html": _rows_html("print-log", list(log.values_list(*ROW_FACTS["log"])), _read_log),
        "notices_html": _rows_html(
            "print-notice", list(notices.values_list(*ROW_FACTS["notice"])), read_notices
        ),
    }


def _rows_sql(model, where: str = "x.incident_id = {incident}", join: str = "") -> str:
    """SQL counting the rows of `model` that belong to the incident the query reads."""
    return f"SELECT COUNT(*) FROM {model._meta.db_table} x {join} WHERE {where}"  # nosec B608: table names from the models


# The size of each of the workspace's smaller lists, read with the incident
# (n_<name>): the page skips the query of every empty one. Most incidents have most
# of them empty; the busy incident's page spent a dozen queries on them. Written
# as SQL: the same subqueries built with the ORM took 5 ms to compile, per page.
SECTION_SIZES = {
    "gradings": _rows_sql(Grading),
    "assignments": _rows_sql(Assignment),
    "contacts": _rows_sql(ExternalContact),
    "resolutions": _rows_sql(Resolution),
    "notifications": _rows_sql(UserNotification),
    "feedback": _rows_sql(UserFeedback, "x.incident_id = {incident} AND NOT x.by_affected_user"),
    "affected_feedback": _rows_sql(
        UserFeedback,
        "x.incident_id = {incident} AND x.by_affected_user AND x.rating IS NOT NULL",
    ),
    "postmortem": _rows_sql(PostMortem),
    "articles": _rows_sql(KnowledgeArticle),
    "publication": _rows_sql(Publication),
    "recurrences": _rows_sql(Incident, "x.recurrence_of_id = {incident}"),
    "failed_deliveries": _rows_sql(
        Delivery,
        "n.incident_id = {incident} AND x.status = %s",
        join=f"JOIN {Notice._meta.db_table} n ON n.id = x.notice_id",
    ),
}
SECTION_SIZE_PARAMS = {"failed_deliveries": (Delivery.Status.FAILED.value,)}


# The helpers' names, read with the incident too (helper_names, JSON text of
# [first name, last name, username] each): their own query was the page's last.
def _helper_names_sql(aggregate: str) -> str:
    user = Incident.helpers.field.related_model._meta.db_table
    return (
        f"SELECT {aggregate} "  # nosec B608: table names from the models
        f"FROM {Incident.helpers.through._meta.db_table} x JOIN {user} u ON u.id = x.user_id "
        "WHERE x.incident_id = {incident}"
    )


def _section_sizes() -> dict:
    incident = f"{Incident._meta.db_table}.id"  # the outer query's table is never aliased
    read = {
        f"n_{name}": RawSQL(  # nosec B611: SQL of SECTION_SIZES, from the models
            sql.format(incident=incident), SECTION_SIZE_PARAMS.get(name, ()), IntegerField()
        )
        for name, sql in SECTION_SIZES.items()
    }
    aggregate = json_rows("u.first_name", "u.last_name", "u.username")
    if aggregate is not None:
        helpers = _helper_names_sql(aggregate).format(incident=incident)
        read["helper_names"] = RawSQL(helpers, ())  # nosec B611: SQL from the models, as above
    return read


def _helpers(incident) -> list:
    """The incident's helpers by username: the names read with it (_section_sizes)
    as people to name, else (read without them) the users."""
    names = getattr(incident, "helper_names", None)
    if names is None:
        return list(incident.helpers.order_by("username"))
    people = [
        SimpleNamespace(first_name=first, last_name=last, username=username)
        for first, last, username in json.loads(names)
    ]
    return sorted(people, key=lambda person: person.username)


def _workspace_incident(user, pk) -> Incident:
    """incident_or_404, with its _section_sizes."""
    try:
        return selectors.incident_list(user=user).annotate(**_section_sizes()).get(pk=pk)
    except Incident.DoesNotExist:
        raise Http404(_("No such incident, or you cannot see it.")) from None


def _any(incident, name: str) -> bool:
    """Has the incident rows in its list `name`? True when it was read without
    _section_sizes (the print form, a form shown again): the list is then read."""
    return getattr(incident, f"n_{name}", None) != 0


def _workspace_context(request, incident, bound=None, everything=False):
    """Everything the workspace shows; `bound` is (action, form) to re-show.

    `everything`: every log entry, notice and audit event (the print form, ?all=1).
    The print form draws no forms at all.
    """
    user = request.user
    printing = everything  # the print form has no forms and no status page section
    everything = everything or request.GET.get("all") == "1"
    limits = dict.fromkeys(WORKSPACE_NEWEST) if everything else WORKSPACE_NEWEST
    now = clock.now()
    allowed = services.available_actions(user, incident)
    offered = [*allowed]
    if allowed_in_state(Action.EDIT, incident.state) and rules.can(user, Action.EDIT, incident):
        offered.append(Action.EDIT)
    opened = request.GET.get("open", "")
    action_forms = {}
    for action in [] if printing else offered:
        if bound and bound[0] == action:
            action_forms[_key(action)] = bound[1]
        elif action in DRAWN_WITH_THE_PAGE or _key(action) == opened:
            action_forms[_key(action)] = _workspace_form(request, incident, action)
    # The print form lays its rows out on its own.
    rows = _printed_rows(incident) if printing else _workspace_rows(incident, limits)
    postmortem = (
        PostMortem.objects.filter(incident=incident).prefetch_related("action_items__owner").first()
        if _any(incident, "postmortem")
        else None
    )
    # Failed deliveries are counted over every notice, shown or not.
    failed = getattr(incident, "n_failed_deliveries", None)
    if failed is None:
        failed = Delivery.objects.filter(
            notice__incident=incident, status=Delivery.Status.FAILED
        ).count()
    return {
        "incident": incident,
        "now": now,
        "late": incident.overdue_clocks(now),
        "actions": allowed,
        # The keys of the actions whose box the page shows, and the forms drawn.
        "offered": {_key(a) for a in offered},
        "forms": action_forms,
        "drawn_with_the_page": {_key(a) for a in DRAWN_WITH_THE_PAGE},
        "gradings": incident.gradings.select_related("graded_by").order_by("graded_at", "id")
        if _any(incident, "gradings")
        else [],
        # The workspace lists the assignments only when there is a history (two or more).
        "assignments": incident.assignments.select_related("owner", "assigned_by")
        .prefetch_related("helpers")
        .order_by("assigned_at", "id")
        if getattr(incident, "n_assignments", 2) > 1
        else [],
        "helpers": _helpers(incident),
        "contacts": incident.external_contacts.order_by("added_at", "id")
        if _any(incident, "contacts")
        else [],
        **rows,
        "resolutions": incident.resolutions.select_related("submitted_by")
        .prefetch_related("verifications__verifier")
        .order_by("submitted_at", "id")
        if _any(incident, "resolutions")
        else [],
        "notifications": incident.user_notifications.select_related("notified_by").order_by(
            "notified_at", "id"
        )
        if _any(incident, "notifications")
        else [],
        # The affected users' own answers show in their own list (affected_feedback).
        "feedback": incident.feedback.filter(by_affected_user=False)
        .select_related("recorded_by")
        .order_by("recorded_at", "id")
        if _any(incident, "feedback")
        else [],
        "affected_feedback": status_feedback.incident_affected_feedback(incident)
        if _any(incident, "affected_feedback")
        else {"count": 0, "average": None, "answers": []},
        "newest": WORKSPACE_NEWEST,
        "failed_deliveries": failed,
        "windows": windows_for(incident.severity),
        "postmortem": postmortem,
        "may_postmortem": allowed_in_state(Action.POSTMORTEM, incident.state)
        and rules.can(user, Action.POSTMORTEM, incident),
        "archive_missing": archive_missing(incident) if Action.ARCHIVE in allowed else [],
        "articles": KnowledgeArticle.objects.filter(incident=incident).order_by("-updated_at")
        if _any(incident, "articles")
        else [],
        **_monitoring_context(incident),
        "status_page": None if printing else _status_page_context(request, incident, bound),
    }


def _status_page_context(request, incident, bound=None) -> dict | None:
    """The workspace's status page section: the incident as the public sees it
    (everyone who sees a published incident), and the publish or public-update
    form with its preview (who may publish). One query before it is published,
    three after, and the form's component choices one more: none grows with rows."""
    may_publish = allowed_in_state(Action.PUBLISH, incident.state) and rules.can(
        request.user, Action.PUBLISH, incident
    )
    publication, updates, components = (
        _publication(incident) if _any(incident, "publication") else (None, [], [])
    )
    if publication is None and not may_publish:
        return None
    section = {
        "publication": publication,
        "item": status_selectors.incident_item(publication) if publication else None,
        "may_publish": may_publish,
    }
    if not may_publish:
        return section
    if bound and bound[0] == Action.PUBLISH:
        form, preview = bound[1], getattr(bound[1], "preview", None)
    elif request.GET.get("open") == "publish":
        form, preview = _status_form(incident, publication, updates, components), None
    else:  # drawn when its box opens (action_form), like the process's forms
        form, preview = None, None
    section.update(form=form, preview=preview, last_update=_last_update(updates))
    return section


def _publication(incident) -> tuple[Publication | None, list, list]:
    """(the incident's publication, its updates newest first, its components), in
    three queries (one when it is not published)."""
    publication = (
        Publication.objects.filter(incident=incident)
        .prefetch_related("updates", "components")
        .first()
    )
    if publication is None:
        return None, [], []
    updates = sorted(publication.updates.all(), key=lambda u: (u.posted_at, u.pk), reverse=True)
    return publication, updates, list(publication.components.all())


def _last_update(updates) -> int:
    return updates[0].pk if updates else 0


def _status_form(incident, publication, updates, components, data=None):
    """The form the incident needs now: publish it, or post a public update
    (shown with its current impact, components and title)."""
    last = _last_update(updates)
    if publication is None:
        return PublishForm(data, incident=incident, last_update=last)
    initial = {
        "impact": publication.impact,
        "components": [c.pk for c in components],
        "public_title": publication.public_title,
    }
    return PublicUpdateForm(
        data, incident=incident, publication=publication, last_update=last, initial=initial
    )


def _status_preview(form, components) -> dict:
    """What the public would see after this publish or update."""
    if isinstance(form, PublicUpdateForm):
        kwargs = form.preview_kwargs(components)
    else:
        kwargs = form.preview_kwargs()
    preview = status_selectors.incident_preview(now=clock.now(), **kwargs)
    # Beside the published copy on the workspace: its own element ids.
    return {**preview, "id": None}


def _publish(request, incident):
    """Publish the incident on the status page, or post a public update; with
    `preview`, only show what the public would see (the whole workspace, or with
    `format=html` the preview alone, for status-preview.js)."""
    rules.require(request.user, Action.PUBLISH, incident)
    publication, updates, components = _publication(incident)
    form = _status_form(incident, publication, updates, components, request.POST)
    try:
        check_state(incident, Action.PUBLISH)
    except TransitionNotAllowed as e:
        return _refuse(request, incident, Action.PUBLISH, form, e.message)
    previewing = bool(request.POST.get("preview"))
    seen = _int_or_none(request.POST.get("last_update"))
    if not previewing and seen is not None and seen != _last_update(updates):
        return _status_conflict(
            request, incident, form, seen == 0, publication, updates, components
        )
    valid = form.is_valid()
    if previewing:
        form.preview = _status_preview(form, components)
        if request.POST.get("format") == "html":
            return render(request, "incidents/_status_preview.html", {"preview": form.preview})
        context = _workspace_context(request, incident, bound=(Action.PUBLISH, form))
        if not valid:
            context["focus"] = _key(Action.PUBLISH)
        return render(request, "incidents/workspace.html", context, status=200 if valid else 400)
    if not valid:
        return _rerender(request, incident, Action.PUBLISH, form, 400)
    service = (
        status_services.incident_publish
        if publication is None
        else status_services.incident_public_update
    )
    try:
        service(incident=incident, actor=request.user, **form.service_kwargs())
    except TransitionNotAllowed as e:
        return _refuse(request, incident, Action.PUBLISH, form, e.message)
    except ValidationError as e:
        add_errors(form, e)
        return _rerender(request, incident, Action.PUBLISH, form, 400)
    except DomainError:
        # Published by someone else between our read and the write.
        first = publication is None
        publication, updates, components = _publication(incident)
        return _status_conflict(request, incident, form, first, publication, updates, components)
    messages.success(
        request, SUCCESS[Action.PUBLISH] if publication is None else PUBLIC_UPDATE_POSTED
    )
    url = reverse("incident", args=[incident.pk]) + f"#{SECTION[Action.PUBLISH]}"
    return HttpResponseRedirect(url)


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _status_conflict(request, incident, form, was_publish, publication, updates, components):
    """Someone published or posted a public update since the page was drawn: show
    what changed, and the user's words again in the form the incident needs now,
    marked as seeing the latest update, so a second submit applies them."""
    data = form.data.copy()
    data["last_update"] = str(_last_update(updates))
    fresh = _status_form(incident, publication, updates, components, data)
    fresh.is_valid()
    if was_publish and publication is not None:
        conflict = _(
            "Someone published this incident while you were writing. Your words are "
            "kept below as a public update: check the status page section, then submit "
            "again."
        )
    else:
        conflict = _(
            "Someone posted a public update while you were writing. Your words are kept "
            "below: check the updates, then submit again."
        )
    return _rerender(request, incident, Action.PUBLISH, fresh, 409, conflict)


ALERT_ROWS = 100  # the workspace's alerts table; the API lists them all


def _monitoring_context(incident) -> dict:
    """The alerts table and the recurrence links: no query for an incident
    without alerts, one for its first ALERT_ROWS alerts, one for its recurrences."""
    if incident.source != Source.MONITORING:
        return {}
    alerts = []
    if incident.alert_count:
        alerts = list(alert_selectors.incident_alerts(incident=incident)[:ALERT_ROWS])
    return {
        "alerts": alerts,
        "alerts_more": max(0, incident.alert_count - len(alerts)),
        "recurrence_of": Incident.objects.filter(pk=incident.recurrence_of_id)
        .only("pk", "number", "title")
        .first()
        if incident.recurrence_of_id
        else None,
        "recurrences": list(
            incident.recurrences.only("pk", "number", "title", "received_at").order_by(
                "received_at", "pk"
            )
        )
        if _any(incident, "recurrences")
        else [],
    }


@login_required
@require_GET
def pending_alerts(request):
    """Alerts waiting for their group's Nth firing (open after N), of the user's teams."""
    page = Paginator(alert_selectors.pending_alerts(user=request.user), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "incidents/pending_alerts.html", {"page": page})


@login_required
@require_GET
def workspace(request, pk):
    incident = _workspace_incident(request.user, pk)
    retry = _pop_retry(request, incident)
    context = _workspace_context(request, incident, bound=retry)
    if retry:
        context["focus"] = _key(retry[0])
        context["refused"] = True
    return render(request, "incidents/workspace.html", context)


@login_required
@require_GET
def action_form(request, pk, action):
    """One workspace action form, drawn when its box opens (workspace.js).

    `version` is the incident's version as the page showed it: the form carries
    it, so a change made since the page was drawn still comes back as a conflict
    that keeps the typed text, and the form says at once that the page is behind.
    """
    action = Action(action)
    incident = selectors.incident_or_404(request.user, pk)
    rules.require(request.user, action, incident)
    key = _key(action)
    reload_url = f"{reverse('incident', args=[incident.pk])}?open={key}#form-{key}"
    try:
        check_state(incident, action)
    except TransitionNotAllowed as e:  # changed since the page was drawn
        return HttpResponse(
            format_html(
                '<p class="small text-danger mb-0" role="alert">{} <a href="{}">{}</a></p>',
                e.message,
                reload_url,
                _("Reload the page"),
            ),
            status=409,
        )
    context = {"incident": incident, "key": key, "action": action.value, "reload_url": reload_url}
    if action == Action.PUBLISH:
        # The status page form carries the public update the page showed instead.
        publication, updates, components = _publication(incident)
        form = _status_form(incident, publication, updates, components)
        seen, current = _int_or_none(request.GET.get("last_update")), _last_update(updates)
        context["status_page"] = {"form": form, "item": publication, "preview": None}
    else:
        form = _workspace_form(request, incident, action)
        seen, current = _int_or_none(request.GET.get("version")), incident.version
    behind = seen is not None and seen != current
    if behind:
        form.initial["last_update" if action == Action.PUBLISH else "version"] = seen
    context.update(form=form, behind=behind)
    if action == Action.ARCHIVE:
        context["archive_missing"] = archive_missing(incident)
    return render(request, "incidents/_action_fragment.html", context)


def _pop_retry(request, incident):
    """(action, form) of a refused post on this incident, once: the user's input
    comes back in its form, carrying the current version."""
    saved = request.session.pop(RETRY_KEY, None)
    if not saved or saved.get("incident") != incident.pk:
        return None
    action = Action(saved["action"])
    data = QueryDict(mutable=True)
    for name, values in saved["data"].items():
        data.setlist(name, values)
    data["version"] = str(incident.version)
    if action == Action.EDIT:
        init_kwargs = {
            "incident": incident,
            "may_move_received_at": rules.is_lead_for(request.user, incident),
        }
        form = forms.EditForm(data, **init_kwargs)
    elif action == Action.PUBLISH:
        publication, updates, components = _publication(incident)
        data["last_update"] = str(_last_update(updates))
        form = _status_form(incident, publication, updates, components, data)
    else:
        form = ACTIONS[action][0](data, incident=incident)
    form.is_valid()
    return action, form


def _rerender(request, incident, action, form, status, conflict=""):
    context = _workspace_context(request, incident, bound=(action, form))
    context["conflict"] = conflict
    context["focus"] = _key(action)
    return render(request, "incidents/workspace.html", context, status=status)


def _stale_copy(form, incident):
    """The user's typed data, re-bound with the current version, so that a
    deliberate second submit applies it over what changed."""
    data = form.data.copy()
    data["version"] = str(incident.version)
    bound = form.__class__(data, **form.init_kwargs)
    bound.is_valid()
    return bound


@login_required
@require_POST
def act(request, pk, action):
    """One process action from a workspace or dashboard form."""
    incident = selectors.incident_or_404(request.user, pk)
    action = Action(action)
    if action == Action.PUBLISH:
        return _publish(request, incident)
    form_class, service = ACTIONS[action]
    init_kwargs = {"incident": incident}
    form = form_class(request.POST, **init_kwargs)
    form.init_kwargs = init_kwargs
    return _apply(request, incident, action, form, service)


@login_required
@require_POST
def edit(request, pk):
    """Correct the intake details (reporter or tech lead)."""
    incident = selectors.incident_or_404(request.user, pk)
    init_kwargs = {
        "incident": incident,
        "may_move_received_at": rules.is_lead_for(request.user, incident),
    }
    form = forms.EditForm(request.POST, **init_kwargs)
    form.init_kwargs = init_kwargs
    return _apply(request, incident, Action.EDIT, form, services.incident_update)


def _refuse(request, incident, action, form, message):
    """A refusal no field of the form can fix (the state forbids it, a post-mortem
    is missing): back to the workspace's section rather than staying on the
    action's URL (which answers only POST), the reason said once, the typed input
    kept for the form."""
    messages.error(request, message)
    request.session[RETRY_KEY] = {
        "incident": incident.pk,
        "action": action.value,
        "data": {
            name: values
            for name, values in form.data.lists()
            if name not in ("csrfmiddlewaretoken", "next")
        },
    }
    url = reverse("incident", args=[incident.pk]) + f"#{SECTION[action]}"
    return HttpResponseRedirect(url, status=303)


def _apply(request, incident, action, form, service):
    # Refuse a role that may not act before looking at its input.
    rules.require(request.user, action, incident)
    try:
        check_state(incident, action)
    except TransitionNotAllowed as e:
        return _refuse(request, incident, action, form, e.message)
    if not form.is_valid():
        return _rerender(request, incident, action, form, 400)
    acknowledges = action == Action.GRADE and incident.state == State.NEW
    try:
        service(incident=incident, actor=request.user, **form.service_kwargs())
    except StaleVersion as e:
        incident.refresh_from_db()
        conflict = _(
            "Someone changed this incident while you were editing (your copy: version "
            "%(expected)s, now: %(current)s). Your text is kept below: check the "
            "changes on the page, then submit again."
        ) % {"expected": e.expected, "current": e.current}
        return _rerender(request, incident, action, _stale_copy(form, incident), 409, conflict)
    except TransitionNotAllowed as e:
        return _refuse(request, incident, action, form, e.message)
    except ValidationError as e:
        if hasattr(e, "error_dict") and not set(e.error_dict) & set(form.fields):
            # Nothing in this form to correct. The archive section itself lists
            # what the post-mortem lacks: say it once, there.
            gate = action == Action.ARCHIVE and "postmortem" in e.error_dict
            message = _("The incident was not archived.") if gate else " ".join(e.messages)
            return _refuse(request, incident, action, form, message)
        add_errors(form, e)
        incident.refresh_from_db()
        return _rerender(request, incident, action, form, 400)
    if action == Action.VERIFY:
        incident.refresh_from_db()
        if incident.state == State.RESOLVED:
            messages.success(request, _("Verification passed: the incident is resolved."))
        else:
            messages.warning(
                request,
                _("Verification failed: the incident is back with its owner."),
            )
    elif acknowledges:
        messages.success(
            request,
            _("Grading saved, and the incident is acknowledged: the respond clock has stopped."),
        )
    else:
        messages.success(request, SUCCESS[action])
    # Back where the user acted: the dashboard's row (a quick form's `next`), or
    # the workspace's section of this action; responder.js focuses it.
    target = _safe_next(request)
    if target:
        if "#" not in target:
            target += f"#row-{incident.pk}"
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(reverse("incident", args=[incident.pk]) + f"#{SECTION[action]}")


@login_required
@require_GET
def print_form(request, pk):
    """The tracking form (问题处理跟踪表) laid out like the paper template."""
    incident = _workspace_incident(request.user, pk)  # with its lists' sizes
    context = _workspace_context(request, incident, everything=True)
    return render(request, "incidents/print.html", context)


# ---------------------------------------------------------------- my work


@login_required
@require_GET
def my_work(request):
    """What I own or help with, and what waits for me as a tester."""
    user = request.user
    now = clock.now()
    rows = list(selectors.my_work(user=user)[:DASHBOARD_LIMIT])
    for incident in rows:
        incident.late = incident.overdue_clocks(now)
        incident.role = _("owner") if incident.owner_id == user.pk else _("helper")
    to_verify = []
    if rules.has_role(user, rules.Role.TESTER):
        to_verify = list(
            selectors.incident_list(user=user)
            .filter(state=State.VERIFYING)
            .order_by("resolve_by")[:DASHBOARD_LIMIT]
        )
    reported = list(
        selectors.incident_list(user=user)
        .filter(reporter=user, state__in=OPEN_STATES)
        .order_by("-received_at")[:20]
    )
    next_update = min(
        (i.next_update_by for i in rows if i.update_clock_running and i.owner_id == user.pk),
        default=None,
    )
    return render(
        request,
        "incidents/my_work.html",
        {
            "rows": rows,
            "to_verify": to_verify,
            "reported": reported,
            "next_update": next_update,
            "now": now,
        },
    )


# ---------------------------------------------------------------- archive


def archive_query(request):
    """(filter form, the filters given, filtered queryset): the archive page and its exports."""
    user = request.user
    params = request.GET.copy()
    params.pop("page", None)
    filters = forms.ArchiveFilter(params or None, teams=selectors.visible_teams(user))
    if not filters.is_bound:
        return filters, {}, selectors.archive_search(user=user)
    if not filters.is_valid():
        return filters, {}, selectors.archive_search(user=user).none()
    given = filters.cleaned_data
    return filters, given, selectors.archive_search(user=user, **given)


@login_required
@require_GET
def archive(request):
    """Resolved and archived incidents for managers and tech leads."""
    filters, given, qs = archive_query(request)
    paginator = Paginator(qs, PAGE_SIZE)
    if not filters.is_bound or filters.is_valid():
        paginator.count = selectors.archive_total(user=request.user, queryset=qs, **given)
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    start = (page.number - 1) * PAGE_SIZE
    order = selectors.archive_order(user=request.user, queryset=qs, **given)
    items = selectors.archive_rows(order, start, start + PAGE_SIZE)
    row_html = fragments.rows(
        "archive",
        "incidents/_archive_row.html",
        items,
        now=clock.now(),
        depends=lambda row: (),
        load=selectors.archive_incidents_by_pk,
        # Row links from one reverse(), not two {% url %} per row.
        context={"base": reverse("incident", args=[0]).removesuffix("0/")},
    )
    query = params.urlencode()
    return render(
        request,
        "incidents/archive.html",
        {
            "page": page,
            "row_html": row_html,
            "filters_html": _filters_html("archive", filters, query),
            "query": query,
        },
        status=200 if not filters.is_bound or filters.is_valid() else 400,
    )


# ---------------------------------------------------------------- the user's settings


@login_required
def profile(request):
    """Language, time zone and how escalation notices reach me."""
    mine, _created = UserProfile.objects.get_or_create(user=request.user)
    form = forms.ProfileForm(request.POST or None, instance=mine)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            translation.activate(mine.language or translation.get_language())
            messages.success(request, _("Settings saved."))
            response = redirect("profile")
            remember_language(response, mine.language)
            return response
        return render(request, "incidents/profile.html", {"form": form}, status=400)
    return render(request, "incidents/profile.html", {"form": form})


@require_POST
def set_language(request):
    """The header's language switch: remembered in the profile and a cookie."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest(_("Unknown language."))
    if request.user.is_authenticated:
        UserProfile.objects.update_or_create(user=request.user, defaults={"language": language})
    target = _safe_next(request) or "/"
    response = HttpResponseRedirect(target)
    remember_language(response, language)
    return response


@login_required
def api_token(request):
    """My API token: create (shown once), replace or revoke it."""
    key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            key = tokens.api_token_create(user=request.user, actor=request.user)
        elif action == "revoke":
            if tokens.api_token_revoke(user=request.user, actor=request.user):
                messages.success(request, _("API token revoked: it no longer works."))
            return redirect("api-token")
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    current = Token.objects.filter(user=request.user).first()
    response = render(
        request,
        "incidents/api_token.html",
        {"token": current, "new_key": key, "hint": tokens.key_hint(current.key) if current else ""},
    )
    if key:
        response["Cache-Control"] = "no-store"  # the key appears only in this answer
    return response
