"""The duty roster's pages (/oncall/): the overview, a team's roster with its grid,
rotations, overrides, handover notes, timeline and calendar feeds; the feed itself."""

from datetime import timedelta
from functools import lru_cache

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import clock
from escalation.calendars import zone as team_zone
from escalation.roster import ical, selectors, services
from escalation.roster.arithmetic import Roster, midnight
from escalation.roster.forms import HandoverNoteForm, OverrideForm, RotationForm
from escalation.roster.grid import day_grid, rotations_html
from escalation.roster.models import (
    CalendarFeed,
    HandoverNote,
    Layer,
    Override,
    RosterEvent,
    Rotation,
)
from incidents import rules
from incidents.models import Team
from incidents.selectors import visible_teams as selectors_visible_teams

GRID_WEEKS = 4
MAX_GRID_WEEKS = 8


def _team_or_404(user, slug: str) -> Team:
    team = Team.objects.filter(slug=slug).first()
    if team is None or not rules.sees_roster(user, team):
        raise Http404(_("No such team."))
    return team


def _grid_until(roster: Roster, now, weeks: int):
    """The end of the team page's grid of `weeks` weeks (its warnings reach as far)."""
    first = now.astimezone(roster.zone).date()
    return midnight(first + timedelta(days=weeks * 7), roster.zone)


def _on_call_lines(roster: Roster, now) -> tuple[list, list]:
    """Each layer's stretch on call now, and each layer's next one (the template's
    "On call now" and "Next" lines)."""
    answer = roster.on_call(now).values()
    return [a.now for a in answer if a.now], [a.next for a in answer if a.next]


def _people(team: Team, ids: set[int] | None = None) -> list:
    """Who may be on call for the team (override and rotation choices), by username."""
    if ids is None:
        ids = selectors.people_ids([team.pk])[team.pk]
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


def _new_override_form(user, team: Team, zone, now) -> OverrideForm:
    """The empty "Add an override" form: the viewer, from the next full hour for 12 hours."""
    start = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    return OverrideForm(
        people=_people(team),
        initial={
            "user": user.username,
            "start": start + timedelta(hours=1),
            "end": start + timedelta(hours=13),
        },
    )


def _attach_users(known: list, slots: list[tuple]) -> list:
    """Give each (object, name) of `slots` its user `name` from the users `known`
    (loaded already), the others from one query, which it answers: joining the user
    table into the queries of the roster log, the notes and the overrides' makers
    cost more than their rows."""
    by_id = {u.pk: u for u in known}
    missing = {getattr(obj, f"{name}_id") for obj, name in slots} - by_id.keys() - {None}
    found = list(get_user_model().objects.filter(pk__in=missing)) if missing else []
    by_id.update((u.pk, u) for u in found)
    for obj, name in slots:
        person = by_id.get(getattr(obj, f"{name}_id"))
        if person is not None:
            setattr(obj, name, person)
    return found


def _csrf_input(request) -> SafeString:
    """What {% csrf_token %} writes, for the HTML written in Python (grid.py)."""
    return format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request)
    )


def _note_form_html(form: HandoverNoteForm) -> SafeString:
    """The handover-note form as crispy lays it out; the empty one once per language
    and layer (_blank_note_form)."""
    if form.is_bound:
        return as_crispy_form(form)
    return _blank_note_form(get_language(), form.initial.get("layer", Layer.PRIMARY))


@lru_cache(maxsize=64)
def _blank_note_form(language: str, layer: str) -> SafeString:
    # The same markup for every viewer (no value but the layer; the CSRF token is
    # outside it): laid out by crispy on each view it took a tenth of the page's time.
    return as_crispy_form(HandoverNoteForm(initial={"layer": layer}))


@login_required
@require_GET
def oncall_index(request):
    """Every team the user sees: who is on call now and next, and two weeks ahead."""
    teams = list(selectors_visible_teams(request.user))
    now = clock.now()
    rosters = selectors.rosters_for(teams)
    entries = []
    for team in teams:
        roster = rosters[team.pk]
        current, upcoming = _on_call_lines(roster, now)
        first = now.astimezone(roster.zone).date()
        has_roster = bool(roster.rotations or roster.overrides)
        entries.append(
            {
                "team": team,
                "roster": roster,
                "now": current,
                "next": upcoming,
                "has_roster": has_roster,
                "grid": day_grid(roster, first, 14, now) if has_roster else [],
                "warnings": [str(d) for d in roster.double_duty(now, now + timedelta(days=14))]
                if has_roster
                else [],
                "zone": roster.zone,
                "editable": rules.edits_roster(request.user, team),
            }
        )
    return render(request, "escalation/oncall.html", {"entries": entries, "now": now})


def _team_page(request, team: Team, *, override_form=None, note_form=None, status=200):
    now = clock.now()
    roster = selectors.roster_for(team, since=now - timedelta(days=1))
    try:
        weeks = min(MAX_GRID_WEEKS, max(1, int(request.GET.get("weeks", GRID_WEEKS))))
    except ValueError:
        weeks = GRID_WEEKS
    first = now.astimezone(roster.zone).date()
    current, upcoming = _on_call_lines(roster, now)
    user = request.user
    on_call_layers = [s.layer for s in current if s.user.pk == user.pk]
    editable = rules.edits_roster(user, team)
    may_note = bool(on_call_layers) or editable
    gap = (
        roster.first_gap(now, now + timedelta(hours=24))
        if any(r.layer == Layer.PRIMARY for r in roster.rotations)
        else None
    )
    if note_form is None:
        note_form = HandoverNoteForm(
            initial={"layer": on_call_layers[0] if on_call_layers else Layer.PRIMARY}
        )
    shows_notes = may_note or bool(note_form.errors)
    events = list(RosterEvent.objects.filter(team=team)[:50])
    notes = (
        list(HandoverNote.objects.filter(team=team, notice__isnull=True).order_by("created_at"))
        if shows_notes
        else []
    )
    # The people the roster loaded name most of them: a query only for the others.
    known = [u for users in roster.members.values() for u in users]
    known += [o.user for o in roster.overrides] + [user]
    overrides = [o for o in roster.overrides if o.end > now]
    slots = [(e, "actor") for e in events] + [(n, "author") for n in notes]
    known += _attach_users(known, slots + [(o, "created_by") for o in overrides])
    names = selectors.people_names(events, known=known)
    for event in events:
        event.text = selectors.describe(event, names)
    with timezone.override(roster.zone):
        feeds = selectors.feeds_of(user, team)
        context = {
            "team": team,
            "roster": roster,
            "zone": roster.zone,
            "now": now,
            "current": current,
            "upcoming": upcoming,
            "grid": day_grid(roster, first, weeks * 7, now),
            "weeks": weeks,
            "week_choices": [1, 2, 4, 8],
            "warnings": [str(w) for w in roster.warnings()]
            + [str(d) for d in roster.double_duty(now, _grid_until(roster, now, weeks))],
            "gap": gap,
            "rotations": roster.rotations,
            "rotations_html": rotations_html(
                roster.rotations,
                roster.members,
                slug=team.slug,
                csrf_input=_csrf_input(request) if editable else None,
            ),
            "members": roster.members,
            "overrides": overrides,
            "editable": editable,
            "manages": rules.manages_roster(user, team),
            # Rendered when "Add an override" is opened (override_add), unless given.
            "override_form": override_form,
            "note_form": note_form,
            "note_form_html": _note_form_html(note_form) if shows_notes else "",
            "may_note": may_note,
            "pending_notes": notes,
            "events": events,
            "team_feed": feeds.get(True),
            "my_feed": feeds.get(False),
            "site_url": request.build_absolute_uri("/").rstrip("/"),
        }
        return render(request, "escalation/oncall_team.html", context, status=status)


@login_required
@require_GET
def oncall_team(request, slug: str):
    """A team's roster: the day-by-day grid, rotations, overrides, notes, timeline, feeds."""
    return _team_page(request, _team_or_404(request.user, slug))


def _submit(form, write) -> int | None:
    """Run a roster service for a form of the team page: None when it wrote, else
    the status to re-render the page with, the reason on the form (400 for bad
    input, 403 for someone who may not)."""
    try:
        write()
    except ValidationError as error:
        _apply_errors(form, error)
        return 400
    except PermissionDenied as error:
        form.add_error(None, str(error))
        return 403
    return None


def _apply_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


@login_required
@require_http_methods(["GET", "POST"])
def rotation_edit(request, slug: str, pk: int | None = None):
    """A tech lead creates or changes a rotation (times in the team's zone)."""
    team = _team_or_404(request.user, slug)
    if not rules.edits_roster(request.user, team):
        raise PermissionDenied(services.not_lead(team))
    rotation = None
    if pk is not None:
        rotation = get_object_or_404(Rotation, pk=pk, team=team, ends_at__isnull=True)
    zone = team_zone(team.time_zone)
    status = 200
    if request.method == "POST":
        form = RotationForm(request.POST)
        status = 400
        if form.is_valid():
            f = form.cleaned_data
            spec = services.RotationSpec(
                name=f["name"],
                layer=f["layer"],
                participants=f["participants"],
                shift_days=f["shift_days"],
                handoff_time=f["handoff_time"],
                start_date=f["start_date"],
                weekdays="".join(f["weekdays"]),
                day_start=f["day_start"],
                day_end=f["day_end"],
            )
            status = _submit(
                form,
                lambda: services.rotation_save(
                    actor=request.user, team=team, spec=spec, rotation=rotation
                ),
            )
            if status is None:
                messages.success(
                    request, _("Rotation “%(name)s” saved.") % {"name": spec.name.strip()}
                )
                return redirect("oncall-team", slug=team.slug)
    else:
        initial = (
            RotationForm.initial_for(rotation)
            if rotation
            else {"start_date": clock.now().astimezone(zone).date()}
        )
        form = RotationForm(initial=initial)
    context = {
        "team": team,
        "form": form,
        "rotation": rotation,
        "people": _people(team),
        "zone": zone,
    }
    return render(request, "escalation/rotation_form.html", context, status=status)


@login_required
@require_POST
def rotation_delete(request, slug: str, pk: int):
    team = _team_or_404(request.user, slug)
    rotation = get_object_or_404(Rotation, pk=pk, team=team, ends_at__isnull=True)
    services.rotation_delete(actor=request.user, rotation=rotation)
    messages.success(request, _("Rotation “%(name)s” deleted.") % {"name": rotation.name})
    return redirect("oncall-team", slug=team.slug)


@login_required
@require_http_methods(["GET", "POST"])
def override_add(request, slug: str):
    """Someone covers a stretch: the person, the one covered, a tech lead or a manager.

    GET is the team page's "Add an override" form, loaded when it is opened (htmx):
    built and rendered on every view of the page it took an eighth of its time.
    Without htmx, the team page with the form open."""
    team = _team_or_404(request.user, slug)
    zone = team_zone(team.time_zone)
    if request.method == "GET":
        form = _new_override_form(request.user, team, zone, clock.now())
        if not request.headers.get("HX-Request"):
            return _team_page(request, team, override_form=form)
        context = {"team": team, "zone": zone, "override_form": form}
        with timezone.override(zone):
            return render(request, "escalation/_oncall_override_form.html", context)
    status = 400
    with timezone.override(zone):
        form = OverrideForm(request.POST, people=_people(team))
        if form.is_valid():
            f = form.cleaned_data
            status = _submit(
                form,
                lambda: services.override_create(
                    actor=request.user,
                    team=team,
                    layer=f["layer"],
                    user=f["user"],
                    start=f["start"],
                    end=f["end"],
                    note=f["note"],
                ),
            )
            if status is None:
                messages.success(request, _("Override added."))
                for text in form.adjustments():
                    messages.info(request, text)
                # Allowed, but worth a second look: nobody backs them up then. The
                # team page (where this leads) warns of it within its grid; said here
                # only beyond it, so it is said once.
                saved = selectors.roster_for(team, since=f["start"])
                beyond = max(f["start"], _grid_until(saved, clock.now(), GRID_WEEKS))
                for double in saved.double_duty(beyond, f["end"], user=f["user"]):
                    messages.warning(request, str(double))
                return redirect("oncall-team", slug=team.slug)
    return _team_page(request, team, override_form=form, status=status)


@login_required
@require_POST
def override_delete(request, slug: str, pk: int):
    team = _team_or_404(request.user, slug)
    override = get_object_or_404(Override, pk=pk, team=team)
    services.override_delete(actor=request.user, override=override)
    messages.success(request, _("Override removed."))
    return redirect("oncall-team", slug=team.slug)


@login_required
@require_POST
def handover_note(request, slug: str):
    """Whoever is on call leaves a note for the next person."""
    team = _team_or_404(request.user, slug)
    form = HandoverNoteForm(request.POST)
    status = 400
    if form.is_valid():
        f = form.cleaned_data
        status = _submit(
            form,
            lambda: services.handover_note_add(
                actor=request.user, team=team, layer=f["layer"], text=f["text"]
            ),
        )
        if status is None:
            messages.success(request, _("Handover note saved: it goes out with the next handover."))
            return redirect("oncall-team", slug=team.slug)
    return _team_page(request, team, note_form=form, status=status)


@login_required
@require_POST
def feed_create(request):
    """A new private calendar address (the previous one of its kind stops working)."""
    slug = request.POST.get("team", "")
    team = _team_or_404(request.user, slug) if slug else None
    replaces = CalendarFeed.objects.filter(
        user=request.user, team=team, revoked_at__isnull=True
    ).exists()
    services.feed_create(user=request.user, team=team)
    if replaces:
        messages.success(request, _("New calendar address made; the previous one no longer works."))
    else:
        messages.success(request, _("Calendar address made."))
    return redirect(_feed_back(request, team))


@login_required
@require_POST
def feed_revoke(request, pk: int):
    feed = get_object_or_404(CalendarFeed, pk=pk, user=request.user)
    services.feed_revoke(user=request.user, feed=feed)
    messages.success(request, _("Calendar address revoked: it answers “not found” from now on."))
    return redirect(_feed_back(request, feed.team))


def _feed_back(request, team):
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return reverse("oncall-team", args=[team.slug]) if team else reverse("oncall")


@require_GET
def feed_ics(request, token: str):
    """The calendar feed itself: no sign-in (calendar programs cannot), the address is
    the secret; a revoked or unknown one is 404."""
    feed = selectors.feed_by_token(token)
    if feed is None:
        raise Http404(_("No such calendar."))
    body = ical.render(feed, clock.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="oncall.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
