"""Pages of step 6: post-mortem editor, knowledge base and search, metrics, exports."""

from html import escape

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import clock
from common.errors import StaleVersion, TransitionNotAllowed
from common.forms import add_errors
from incidents import fragments, rules
from incidents import selectors as incident_selectors
from incidents.models import State
from incidents.views import archive_query
from incidents.workflow import Action, allowed_in_state
from knowledge import charts, exports, metrics, metrics_tables, search, selectors, services
from knowledge.forms import ActionItemForm, ArticleForm, MetricsFilter, PostMortemForm, SearchForm
from knowledge.models import ActionItem, KnowledgeArticle, PostMortem, SearchDocument

SEARCH_PAGE_SIZE = 20


# ---------------------------------------------------------------- post-mortem


def _postmortem_page(request, incident, form, action_form, status=200, conflict=""):
    pm = PostMortem.objects.filter(incident=incident).first()
    items = list(pm.action_items.select_related("owner", "done_by")) if pm else []
    context = {
        "incident": incident,
        "postmortem": pm,
        "form": form,
        "action_form": action_form,
        "items": items,
        "missing": services.archive_missing(incident),
        "needs_postmortem": incident.severity in services.POSTMORTEM_LEVELS,
        "conflict": conflict,
        "now": clock.now(),
    }
    return render(request, "knowledge/postmortem.html", context, status=status)


@login_required
def postmortem(request, pk):
    """Write the post-mortem (复盘): pre-filled from the incident's timeline."""
    incident = incident_selectors.incident_or_404(request.user, pk)
    pm = PostMortem.objects.filter(incident=incident).first()
    if not rules.can(request.user, Action.POSTMORTEM, incident):
        # Everyone who sees the incident may read its post-mortem; only the
        # tech lead and the owner write it.
        if pm is None or request.method != "GET":
            rules.require(request.user, Action.POSTMORTEM, incident)
        return render(
            request,
            "knowledge/postmortem_read.html",
            {
                "incident": incident,
                "postmortem": pm,
                "items": list(pm.action_items.select_related("owner")),
                "attendees": list(pm.attendees.order_by("username")),
                "now": clock.now(),
            },
        )
    if not allowed_in_state(Action.POSTMORTEM, incident.state):
        messages.error(request, _("A post-mortem is written once the incident is resolved."))
        return redirect("incident", pk=incident.pk)
    action_form = ActionItemForm(incident=incident)
    if request.method == "POST":
        form = PostMortemForm(request.POST, incident=incident)
        if form.is_valid():
            try:
                services.postmortem_save(
                    incident=incident, actor=request.user, **form.service_kwargs()
                )
            except StaleVersion as e:
                data = request.POST.copy()
                data["version"] = str(e.current)
                form = PostMortemForm(data, incident=incident)
                form.is_valid()
                conflict = _(
                    "Someone saved this post-mortem while you were editing. Your text is "
                    "kept below: compare with theirs, then save again."
                )
                return _postmortem_page(request, incident, form, action_form, 409, conflict)
            except ValidationError as e:
                add_errors(form, e)
            else:
                messages.success(request, _("Post-mortem saved."))
                return redirect("postmortem", pk=incident.pk)
        return _postmortem_page(request, incident, form, action_form, 400)
    if pm is None:
        initial = selectors.postmortem_prefill(incident)
    else:
        initial = {
            "version": pm.version,
            "summary": pm.summary,
            "timeline": pm.timeline or selectors.postmortem_prefill(incident)["timeline"],
            "root_cause_category": pm.root_cause_category,
            "root_cause": pm.root_cause,
            "contributing_factors": pm.contributing_factors,
            "lessons": pm.lessons,
            "meeting_date": pm.meeting_date,
            "attendees": list(pm.attendees.values_list("pk", flat=True)),
            "other_attendees": pm.other_attendees,
        }
    form = PostMortemForm(initial=initial, incident=incident)
    return _postmortem_page(request, incident, form, action_form)


@login_required
@require_POST
def action_item_add(request, pk):
    incident = incident_selectors.incident_or_404(request.user, pk)
    rules.require(request.user, Action.POSTMORTEM, incident)
    action_form = ActionItemForm(request.POST, incident=incident)
    if action_form.is_valid():
        try:
            services.action_item_add(
                incident=incident, actor=request.user, **action_form.cleaned_data
            )
        except TransitionNotAllowed as e:
            messages.error(request, e.message)
            return redirect("incident", pk=incident.pk)
        except ValidationError as e:
            add_errors(action_form, e)
        else:
            messages.success(request, _("Improvement action added."))
            return redirect(reverse("postmortem", args=[incident.pk]) + "#actions")
    pm = PostMortem.objects.filter(incident=incident).first()
    form = PostMortemForm(
        initial={"version": pm.version} if pm else selectors.postmortem_prefill(incident),
        incident=incident,
    )
    return _postmortem_page(request, incident, form, action_form, 400)


@login_required
@require_POST
def action_item_done(request, item_id):
    item = get_object_or_404(ActionItem.objects.select_related("postmortem__incident"), pk=item_id)
    incident = item.postmortem.incident
    if not rules.can_see(request.user, incident):
        raise Http404(_("No such action item."))
    services.action_item_done(item=item, actor=request.user)
    messages.success(request, _("Improvement action marked done."))
    target = request.POST.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect("postmortem", pk=incident.pk)


# ---------------------------------------------------------------- knowledge base


@login_required
@require_GET
def knowledge_index(request):
    """Search articles and archived incidents; without a query, the latest articles."""
    form = SearchForm(request.GET or None)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    page = None
    if q:
        results = search.search(user=request.user, q=q, with_body=True)
        page = search.page(results, request.GET.get("page"), SEARCH_PAGE_SIZE)
        _attach_links(page.object_list)
        search.attach_passages(page.object_list, q)
        fix = escape(_("Fix:"))
        for doc in page.object_list:
            doc.html = _result_html(doc, fix)
    latest = [] if q else list(selectors.visible_articles(request.user)[:20])
    return render(
        request,
        "knowledge/index.html",
        {"form": form, "q": q, "page": page, "latest": latest},
    )


def _result_html(doc: SearchDocument, fix: str) -> SafeString:
    """One search result as the list shows it, every text escaped (`doc.passage` is
    HTML already). Written here, not in the template: the template spent more on
    the twenty results than on the rest of the page."""
    kind = "bg-success" if doc.kind == SearchDocument.Kind.ARTICLE else "bg-secondary"
    html = (
        f'<li class="mb-3"><span class="badge {kind}">{escape(doc.get_kind_display())}</span>\n'
        f'  <a class="fw-semibold" href="{escape(doc.url)}">{escape(doc.title)}</a> '
        f'<small class="text-muted">{timezone.localtime(doc.happened_at):%Y-%m-%d}</small>'
    )
    if doc.passage:
        html += f'\n  <div class="small passage">{doc.passage}</div>'
    if doc.excerpt:
        excerpt = escape(Truncator(doc.excerpt).chars(200))
        html += f'\n  <div class="small pre-line text-body-secondary">{fix} {excerpt}</div>'
    # Every text above is escaped.
    return mark_safe(html + "</li>\n")  # nosec B308 B703


def _attach_links(documents) -> None:
    # One reverse() per kind, not one per document.
    urls = {
        SearchDocument.Kind.INCIDENT: reverse("incident", args=[0]).removesuffix("0/"),
        SearchDocument.Kind.ARTICLE: reverse("article", args=[0]).removesuffix("0/"),
    }
    for doc in documents:
        kind = doc.kind if doc.kind == SearchDocument.Kind.INCIDENT else SearchDocument.Kind.ARTICLE
        doc.url = f"{urls[kind]}{doc.object_id}/"


@login_required
@require_http_methods(["GET", "POST"])
def similar_fragment(request):
    """Archived incidents like the title and symptoms being typed (htmx, intake form).

    The form POSTs them: in a URL, 450 Chinese characters (nine bytes each once
    percent-encoded) pass the request line gunicorn accepts and get "414 URI Too
    Long". Only the first 300 characters of each field are compared."""
    data = request.POST if request.method == "POST" else request.GET
    text = " ".join((data.get(name) or "")[:300] for name in ("title", "symptoms")).strip()
    results = search.similar(user=request.user, text=text) if len(text) >= 2 else []
    _attach_links(results)
    return render(request, "knowledge/_similar.html", {"similar": results, "asked": bool(text)})


@login_required
@require_GET
def incident_similar(request, pk):
    """The workspace's "similar past incidents", loaded after the page (htmx): the
    full-text ranking took a seventh of the workspace's time. Without htmx (the
    link in the workspace) it is a page of its own."""
    incident = incident_selectors.incident_or_404(request.user, pk)
    results = search.similar(
        user=request.user,
        text=f"{incident.title} {incident.symptoms}",
        exclude_incident=incident.pk,
    )
    _attach_links(results)
    context = {"incident": incident, "similar": results}
    if request.headers.get("HX-Request"):
        return render(request, "knowledge/_incident_similar.html", context)
    return render(request, "knowledge/incident_similar.html", context)


def _article_or_404(user, pk) -> KnowledgeArticle:
    try:
        return selectors.visible_articles(user).get(pk=pk)
    except KnowledgeArticle.DoesNotExist:
        raise Http404(_("No such article, or you cannot see it.")) from None


@login_required
@require_GET
def article(request, pk):
    item = _article_or_404(request.user, pk)
    may_edit = services.may_write_article(request.user, article=item)
    return render(request, "knowledge/article.html", {"article": item, "may_edit": may_edit})


def _article_page(request, *, incident, article, initial, done):
    """The article form (new or edit): the service decides who may and what is valid."""
    if not services.may_write_article(request.user, article=article, incident=incident):
        raise PermissionDenied(
            _("Only a tech lead of the team or the incident's owner may write its articles.")
        )
    form = ArticleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.article_save(
                actor=request.user, article=article, incident=incident, **form.cleaned_data
            )
        except ValidationError as e:
            add_errors(form, e)
        else:
            messages.success(request, done)
            return redirect("article", pk=saved.pk)
    return render(
        request,
        "knowledge/article_form.html",
        {"form": form, "incident": incident, "article": article},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def article_new(request, incident_pk):
    """A knowledge article from an archived incident, pre-filled from its record."""
    incident = incident_selectors.incident_or_404(request.user, incident_pk)
    if incident.state != State.ARCHIVED:
        messages.error(request, _("Articles are written from an archived incident."))
        return redirect("incident", pk=incident.pk)
    return _article_page(
        request,
        incident=incident,
        article=None,
        initial=services.article_draft(incident),
        done=_("Article published."),
    )


@login_required
def article_edit(request, pk):
    item = _article_or_404(request.user, pk)
    return _article_page(
        request,
        incident=item.incident,
        article=item,
        initial={f: getattr(item, f) for f in services.ARTICLE_FIELDS},
        done=_("Article saved."),
    )


# ---------------------------------------------------------------- metrics


def metrics_params(request):
    """(form, scope) from the query string; scope is None when the form has errors."""
    user = request.user
    rules.require(user, Action.VIEW_METRICS)
    form = MetricsFilter(request.GET or None, teams=incident_selectors.visible_teams(user))
    if form.is_bound and not form.is_valid():
        return form, None
    given = form.cleaned_data if form.is_bound else {}
    try:
        scope = selectors.metrics_scope(
            user=user,
            now=clock.now(),
            start=given.get("start"),
            end=given.get("end"),
            team=given.get("team") or None,
        )
    except ValidationError as e:
        add_errors(form, e)
        return form, None
    return form, scope


@login_required
@require_GET
def metrics_page(request):
    form, scope = metrics_params(request)
    if scope is None:
        return render(request, "knowledge/metrics.html", {"form": form}, status=400)
    result = metrics.compute(
        user=request.user, start=scope.start, end=scope.end, team=scope.team, now=clock.now()
    )
    feedback = result["affected_feedback"]
    count_chart = charts.grouped_bars(
        metrics.monthly_series(result, "count"), title=_("Incidents per month"), unit=_("count")
    )
    mttr_chart = charts.grouped_bars(
        metrics.monthly_series(result, "mttr_median_min"),
        title=_("MTTR median per month"),
        unit=_("min"),
    )
    return render(
        request,
        "knowledge/metrics.html",
        {
            "form": form,
            # The same for everyone asking this with these teams: drawn once (Django's
            # widgets were a tenth of the page).
            "fields_html": fragments.once(
                "metrics-filters",
                (
                    request.GET.urlencode(),
                    [(v, str(t)) for v, t in form.fields["team"].widget.choices],
                ),
                lambda: render_to_string("knowledge/_metrics_fields.html", {"form": form}),
            ),
            "m": result,
            "feedback": feedback,
            "count_chart": count_chart,
            "mttr_chart": mttr_chart,
            "tables": {
                "by_level": metrics_tables.level_rows(result),
                "sla": metrics_tables.sla_rows(result),
                "by_month": metrics_tables.month_rows(result),
                "feedback_by_level": metrics_tables.feedback_level_rows(feedback),
                "feedback_by_month": metrics_tables.feedback_month_rows(feedback),
            },
            "query": request.GET.urlencode(),
        },
    )


# ---------------------------------------------------------------- exports


@login_required
@require_GET
def archive_csv(request):
    """The archive list as the page filters it, as CSV (streamed)."""
    _filters, _given, incidents = archive_query(request)
    response = StreamingHttpResponse(
        exports.csv_lines(incidents), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{exports.filename("csv")}"'
    return response


@login_required
@require_GET
def archive_xlsx(request):
    """The archive list as the page filters it, as an XLSX workbook."""
    _filters, _given, incidents = archive_query(request)
    response = HttpResponse(
        exports.xlsx_bytes(incidents),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{exports.filename("xlsx")}"'
    return response
