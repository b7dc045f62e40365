"""Writes of step 6: archiving, post-mortems, improvement actions, knowledge
articles, the index.

Same habits as incidents.services, whose prologue (begin) and save they use:
keyword-only, atomic, the role checked by incidents.rules first, an audit event
on the incident in the same transaction. knowledge follows a reopen through the
incident_reopened signal (connected in KnowledgeConfig.ready).
"""

from collections import defaultdict
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common import clock
from common.errors import StaleVersion
from incidents import rules
from incidents import services as incident_services
from incidents.models import Incident, Resolution, Severity, State, TimelineEvent
from incidents.timeline import record_event
from incidents.workflow import Action
from knowledge import search
from knowledge.models import ActionItem, KnowledgeArticle, PostMortem, RootCause, SearchDocument

# Levels whose archive needs a post-mortem meeting (PROCESS.md step 6).
POSTMORTEM_LEVELS = frozenset({Severity.P0, Severity.P1})


def _event(incident, actor, kind, message="", data=None):
    return record_event(incident, actor, kind, message=message, data=data)


# ---------------------------------------------------------------- the archive gate


def archive_missing(incident: Incident) -> list[str]:
    """What the incident still lacks before it may be archived (empty: nothing).

    P0/P1: a post-mortem with root cause (and its category), contributing
    factors, lessons, meeting date, attendees and at least one improvement
    action. The archive summary itself is checked by incident_archive.
    """
    if incident.severity not in POSTMORTEM_LEVELS:
        return []
    pm = PostMortem.objects.filter(incident=incident).first()
    if pm is None:
        return [_("a post-mortem (required for %(level)s)") % {"level": incident.severity}]
    missing = []
    checks = [
        (pm.root_cause_category, _("the root-cause category")),
        (pm.root_cause.strip(), _("the root cause")),
        (pm.contributing_factors.strip(), _("the contributing factors")),
        (pm.lessons.strip(), _("the lessons learned")),
        (pm.meeting_date, _("the meeting date")),
        (pm.attendees.exists() or pm.other_attendees.strip(), _("the attendees")),
        (pm.action_items.exists(), _("at least one improvement action")),
    ]
    for present, label in checks:
        if not present:
            missing.append(str(label))
    return missing


@transaction.atomic
def incident_archive(
    *, incident: Incident, actor, summary: str, expected_version: int | None = None
) -> Incident:
    """Close the record of a resolved incident with its summary (step 6): a tech
    lead, once its post-mortem is complete where the level needs one
    (archive_missing); the incident's whole record goes into the search index."""
    incident = incident_services.begin(incident, actor, Action.ARCHIVE, expected_version)
    summary = incident_services.required(
        summary,
        "summary",
        _("Write the archive summary: symptoms, diagnosis, solution and lessons."),
    )
    missing = archive_missing(incident)
    if missing:
        raise ValidationError(
            {
                "postmortem": _(
                    "A %(level)s incident is archived after its post-mortem. Missing: %(missing)s."
                )
                % {"level": incident.severity, "missing": "; ".join(missing)}
            }
        )
    incident.state = State.ARCHIVED
    now = clock.now()
    incident.archived_at = now
    incident.archive_summary = summary
    incident_services.save(incident, ["state", "archived_at", "archive_summary"], now)
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.ARCHIVED,
        from_state=State.RESOLVED,
        to_state=State.ARCHIVED,
        message=summary,
    )
    index_incident(incident)
    return incident


# ---------------------------------------------------------------- post-mortem


POSTMORTEM_TEXT_FIELDS = (
    "summary",
    "timeline",
    "root_cause",
    "contributing_factors",
    "lessons",
    "other_attendees",
)


@transaction.atomic
def postmortem_save(
    *,
    incident: Incident,
    actor,
    expected_version: int | None = None,
    summary: str = "",
    timeline: str = "",
    root_cause_category: str = "",
    root_cause: str = "",
    contributing_factors: str = "",
    lessons: str = "",
    meeting_date: date | None = None,
    attendees=(),
    other_attendees: str = "",
) -> PostMortem:
    """Write the incident's post-mortem (tech lead or owner, once resolved)."""
    incident = incident_services.begin(incident, actor, Action.POSTMORTEM)
    pm = PostMortem.objects.select_for_update().filter(incident=incident).first()
    if pm is not None and expected_version is not None and pm.version != expected_version:
        raise StaleVersion(
            _("The post-mortem was changed by someone else (version %(current)s).")
            % {"current": pm.version},
            expected=expected_version,
            current=pm.version,
        )
    if root_cause_category and root_cause_category not in RootCause.values:
        raise ValidationError({"root_cause_category": _("Unknown root-cause category.")})
    if meeting_date is not None and meeting_date > timezone.localdate(clock.now()):
        raise ValidationError({"meeting_date": _("The meeting cannot be in the future.")})
    created = pm is None
    pm = pm or PostMortem(incident=incident, author=actor)
    values = {
        "summary": summary,
        "timeline": timeline,
        "root_cause": root_cause,
        "contributing_factors": contributing_factors,
        "lessons": lessons,
        "other_attendees": other_attendees,
    }
    for field, value in values.items():
        setattr(pm, field, (value or "").strip())
    pm.root_cause_category = root_cause_category
    pm.meeting_date = meeting_date
    if not created:
        pm.version += 1
    pm.full_clean(exclude=["incident", "author"])
    pm.save()
    pm.attendees.set(list(attendees))
    _event(
        incident,
        actor,
        TimelineEvent.Kind.POSTMORTEM_SAVED,
        message=pm.root_cause[:500],
    )
    if incident.state == State.ARCHIVED:
        index_incident(incident)
    return pm


@transaction.atomic
def action_item_add(*, incident: Incident, actor, text: str, owner, due_date: date) -> ActionItem:
    """Agree an improvement action with an owner and a due date."""
    incident = incident_services.begin(incident, actor, Action.POSTMORTEM)
    text = (text or "").strip()
    errors = {}
    if not text:
        errors["text"] = [_("Describe the action.")]
    if owner is None or not owner.is_active:
        errors["owner"] = [_("Name an active owner.")]
    if due_date is None:
        errors["due_date"] = [_("Give a due date.")]
    if errors:
        raise ValidationError(errors)
    pm, _created = PostMortem.objects.get_or_create(incident=incident, defaults={"author": actor})
    item = ActionItem.objects.create(postmortem=pm, text=text, owner=owner, due_date=due_date)
    _event(
        incident,
        actor,
        TimelineEvent.Kind.ACTION_ITEM_ADDED,
        data={"text": text, "owner": owner.username, "due": due_date.isoformat()},
    )
    return item


@transaction.atomic
def action_item_done(*, item: ActionItem, actor) -> ActionItem:
    """Mark an improvement action done (its owner, or a tech lead of the incident)."""
    item = (
        ActionItem.objects.select_for_update()
        .select_related("postmortem__incident")
        .get(pk=item.pk)
    )
    incident = item.postmortem.incident
    if not rules.can_see(actor, incident) or not (
        item.owner_id == actor.pk or rules.is_lead_for(actor, incident)
    ):
        raise PermissionDenied(_("Only the action's owner or a tech lead may mark it done."))
    if item.done_at is not None:
        return item
    item.done_at = clock.now()
    item.done_by = actor
    item.save(update_fields=["done_at", "done_by"])
    _event(incident, actor, TimelineEvent.Kind.ACTION_ITEM_DONE, message=item.text[:500])
    return item


# ---------------------------------------------------------------- articles


ARTICLE_FIELDS = ("title", "symptoms", "diagnosis", "workaround", "fix", "lessons", "tags")


def article_draft(incident: Incident) -> dict:
    """An article pre-filled from an archived incident's record."""
    grading = incident.gradings.order_by("-graded_at", "-id").first()
    resolution = (
        incident.resolutions.filter(outcome=Resolution.Outcome.PASSED)
        .order_by("-submitted_at")
        .first()
        or incident.resolutions.order_by("-submitted_at").first()
    )
    pm = PostMortem.objects.filter(incident=incident).first()
    return {
        "title": incident.title,
        "symptoms": incident.symptoms,
        "diagnosis": grading.diagnosis if grading else "",
        "workaround": resolution.workaround if resolution else "",
        "fix": resolution.fix if resolution else "",
        "lessons": (pm.lessons if pm else "") or incident.archive_summary,
        "tags": incident.get_category_display(),
    }


def may_write_article(user, *, article: KnowledgeArticle | None = None, incident=None) -> bool:
    """The incident's tech lead or owner writes its articles; an article without
    an incident, a tech lead of its team (admins: any)."""
    incident = article.incident if article is not None else incident
    if incident is not None:
        return rules.can(user, Action.POSTMORTEM, incident)
    ctx = rules.context(user)
    return ctx.is_admin or (article is not None and article.team_id in ctx.led_team_ids)


@transaction.atomic
def article_save(
    *, actor, article: KnowledgeArticle | None = None, incident: Incident | None = None, **values
) -> KnowledgeArticle:
    """Create (from an archived incident) or edit a knowledge article."""
    if article is None:
        if incident is None or incident.state != State.ARCHIVED:
            raise ValidationError(
                {"incident": _("Articles are written from an archived incident.")}
            )
        article = KnowledgeArticle(incident=incident, team_id=incident.team_id, author=actor)
    if not may_write_article(actor, article=article):
        raise PermissionDenied(
            _("Only a tech lead of the team or the incident's owner may write its articles.")
        )
    unknown = set(values) - set(ARTICLE_FIELDS)
    if unknown:
        raise ValidationError({f: _("Unknown field.") for f in sorted(unknown)})
    for field, value in values.items():
        setattr(article, field, (value or "").strip())
    if not article.title:
        raise ValidationError({"title": _("Give the article a title.")})
    article.full_clean(exclude=["incident", "team", "author"])
    article.save()
    index_article(article)
    return article


# ---------------------------------------------------------------- the search index


def incident_document(incident: Incident, *, diagnoses, log, resolutions, postmortem=None) -> dict:
    """The searchable text of an archived incident's record (title, body, excerpt)."""
    fixes = [part for r in resolutions for part in (r.workaround, r.fix) if part]
    body = "\n".join(
        part
        for part in (
            incident.symptoms,
            incident.impact_scope,
            *diagnoses,
            *log,
            *fixes,
            incident.archive_summary,
            postmortem.root_cause if postmortem else "",
            postmortem.lessons if postmortem else "",
        )
        if part
    )
    passed = [r for r in resolutions if r.outcome == Resolution.Outcome.PASSED]
    best = (passed or resolutions or [None])[-1]
    excerpt = (best.fix or best.workaround) if best is not None else ""
    return {
        "title": f"{incident.number} {incident.title}",
        "body": body,
        "excerpt": excerpt or incident.archive_summary,
        "at": incident.archived_at or incident.received_at,
    }


def index_incident(incident: Incident) -> None:
    """Put an archived incident's whole record into the search index."""
    document = incident_document(
        incident,
        diagnoses=[g.diagnosis for g in incident.gradings.order_by("graded_at")],
        log=[e.text for e in incident.log_entries.order_by("happened_at")],
        resolutions=list(incident.resolutions.order_by("submitted_at")),
        postmortem=PostMortem.objects.filter(incident=incident).first(),
    )
    search.upsert(
        kind=SearchDocument.Kind.INCIDENT,
        object_id=incident.pk,
        team_id=incident.team_id,
        **document,
    )


def unindex_incident(incident: Incident) -> None:
    search.remove(kind=SearchDocument.Kind.INCIDENT, object_id=incident.pk)


def follow_postmortem_saved(sender, instance: PostMortem, **kwargs) -> None:
    """The incident carries its post-mortem's root-cause category: the metrics count
    root causes from the figures kept with the incidents (incidents.figures). Any
    write counts, the services' and the admin's alike."""
    incident_services.set_root_cause(instance.incident_id, instance.root_cause_category)


def carry_root_causes(postmortems) -> None:
    """What follow_postmortem_saved does, after a bulk insert of post-mortems (which
    sends no signals): their incidents carry their root-cause categories. The
    caller rebuilds the kept figures from the incidents afterwards."""
    by_category = defaultdict(list)
    for pm in postmortems:
        if pm.root_cause_category:
            by_category[pm.root_cause_category].append(pm.incident_id)
    for category, incident_ids in by_category.items():
        Incident.objects.filter(pk__in=incident_ids).update(root_cause_category=category)


def follow_postmortem_deleted(sender, instance: PostMortem, **kwargs) -> None:
    incident_services.set_root_cause(instance.incident_id, "")


def follow_reopen(sender, *, incident: Incident, from_state: str, **kwargs) -> None:
    """A reopened archived incident leaves the archive's search index."""
    if from_state == State.ARCHIVED:
        unindex_incident(incident)


def index_article(article: KnowledgeArticle) -> None:
    body = "\n".join(
        p
        for p in (
            article.symptoms,
            article.diagnosis,
            article.workaround,
            article.fix,
            article.lessons,
            article.tags,
        )
        if p
    )
    search.upsert(
        kind=SearchDocument.Kind.ARTICLE,
        object_id=article.pk,
        team_id=article.team_id,
        title=article.title,
        body=body,
        excerpt=article.fix or article.workaround,
        at=article.updated_at or clock.now(),
    )
