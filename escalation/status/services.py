"""The status page's writes: components, publishing an incident, its public
updates. Each bumps the page's version in the same transaction, so every cached
copy of the public page is stale the moment the change commits, and hands the
update to the worker for the subscribers (escalation.jobs) on commit.

Publishing is deliberate: the public sees the words given here and nothing of
the incident itself (no title, symptoms, number or names)."""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from common import clock
from common.errors import DomainError
from escalation import jobs
from escalation.status.models import (
    Component,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
)
from escalation.status.version import bump_version
from incidents import rules
from incidents.models import Incident, Service, Team, TimelineEvent
from incidents.services.base import begin, required
from incidents.timeline import record_event
from incidents.workflow import Action

TITLE_MAX = 200


# ---------------------------------------------------------------- components


def check_may_edit(actor, team: Team) -> None:
    """PermissionDenied, saying who may, unless `actor` may change `team`'s components."""
    if not rules.edits_components(actor, team):
        raise PermissionDenied(
            _("Only a tech lead of %(team)s or an administrator may change its components.")
            % {"team": team.name}
        )


def _check_services(team: Team, services: Iterable[Service]) -> list[Service]:
    services = list(services)
    foreign = [s for s in services if s.team_id != team.pk]
    if foreign:
        raise ValidationError(
            {
                "services": _("%(services)s belong to another team.")
                % {"services": ", ".join(s.slug for s in foreign)}
            }
        )
    return services


@transaction.atomic
def component_create(
    *,
    actor,
    slug: str,
    name: str,
    team: Team,
    description: str = "",
    order: int = 0,
    services: Iterable[Service] = (),
) -> Component:
    """Add a component to the public page (the team's tech leads and admins)."""
    check_may_edit(actor, team)
    services = _check_services(team, services)
    if Component.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": _("A component with this slug exists already.")})
    component = Component(
        slug=slug, name=name.strip(), team=team, description=description.strip(), order=order
    )
    component.full_clean()
    component.save()
    component.services.set(services)
    bump_version()
    return component


COMPONENT_FIELDS = ("slug", "name", "team", "description", "order")


@transaction.atomic
def component_update(*, component: Component, actor, **changes) -> Component:
    """Change a component; moving it to another team needs the right to edit both."""
    component = Component.objects.select_for_update().get(pk=component.pk)
    check_may_edit(actor, component.team)
    services = changes.pop("services", None)
    unknown = set(changes) - set(COMPONENT_FIELDS)
    if unknown:
        raise ValueError(f"not component fields: {sorted(unknown)}")
    if "team" in changes and changes["team"].pk != component.team_id:
        check_may_edit(actor, changes["team"])
    new_slug = changes.get("slug", component.slug)
    if Component.objects.filter(slug=new_slug).exclude(pk=component.pk).exists():
        raise ValidationError({"slug": _("A component with this slug exists already.")})
    for field, value in changes.items():
        setattr(component, field, value.strip() if isinstance(value, str) else value)
    component.full_clean()
    team = changes.get("team", component.team)
    if services is not None:
        services = _check_services(team, services)
    elif "team" in changes:
        _check_services(team, component.services.all())
    component.save()
    if services is not None:
        component.services.set(services)
    bump_version()
    return component


@transaction.atomic
def component_delete(*, component: Component, actor) -> None:
    """Remove a component; its incidents stay published for the others they name."""
    check_may_edit(actor, component.team)
    component.delete()
    bump_version()


# ---------------------------------------------------------------- publishing


def _check_components(incident: Incident, components: Iterable[Component]) -> list[Component]:
    components = list(components)
    if not components:
        raise ValidationError({"components": _("Choose the components users see affected.")})
    return components


def _check_choice(value: str, choices, field: str, message: str) -> str:
    if value not in choices.values:
        raise ValidationError({field: message})
    return value


def _public_words(title: str | None, message: str) -> tuple[str | None, str]:
    if title is not None:
        title = required(title, "public_title", _("Write the title the public will see."))
        if len(title) > TITLE_MAX:
            too_long = _("Keep the title within %(max)s characters.") % {"max": TITLE_MAX}
            raise ValidationError({"public_title": too_long})
    message = required(message, "message", _("Write what the public will read."))
    return title, message


@transaction.atomic
def incident_publish(
    *,
    incident: Incident,
    actor,
    components: Iterable[Component],
    impact: str,
    public_title: str,
    message: str,
) -> Publication:
    """Publish `incident` on the status page as `investigating`, in the public words
    given (on-duty staff of its team, its tech leads, admins; once per incident —
    after that, public updates)."""
    incident = begin(incident, actor, Action.PUBLISH)
    if Publication.objects.filter(incident=incident).exists():
        raise DomainError(
            _("%(number)s is published already: post a public update instead.")
            % {"number": incident.number}
        )
    public_title, message = _public_words(public_title, message)
    impact = _check_choice(impact, Impact, "impact", _("Choose how badly users are affected."))
    components = _check_components(incident, components)
    now = clock.now()
    publication = Publication.objects.create(
        incident=incident,
        public_title=public_title,
        impact=impact,
        status=PublicStatus.INVESTIGATING,
        published_by=actor,
        published_at=now,
        updated_at=now,
    )
    publication.components.set(components)
    update = PublicUpdate.objects.create(
        publication=publication,
        status=PublicStatus.INVESTIGATING,
        impact=impact,
        message=message,
        posted_by=actor,
        posted_at=now,
    )
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.PUBLISHED,
        data={"title": public_title, "message": message, "impact": impact},
        at=now,
    )
    bump_version()
    transaction.on_commit(lambda: jobs.fan_out_update(update.pk))
    return publication


@transaction.atomic
def incident_public_update(
    *,
    incident: Incident,
    actor,
    status: str,
    message: str,
    impact: str | None = None,
    components: Iterable[Component] | None = None,
    public_title: str | None = None,
) -> PublicUpdate:
    """Post a public update of a published incident: its public status now (and, if
    given, a new impact, components or title). `resolved` closes it on the page
    and its mail asks each affected subscriber for feedback; a later update that
    is not `resolved` opens it again."""
    incident = begin(incident, actor, Action.PUBLISH)
    publication = Publication.objects.select_for_update().filter(incident=incident).first()
    if publication is None:
        raise DomainError(
            _("%(number)s is not on the status page: publish it first.")
            % {"number": incident.number}
        )
    status = _check_choice(
        status,
        PublicStatus,
        "status",
        _("Choose investigating, identified, monitoring or resolved."),
    )
    public_title, message = _public_words(public_title, message)
    if impact is not None:
        publication.impact = _check_choice(
            impact, Impact, "impact", _("Choose how badly users are affected.")
        )
    if public_title is not None:
        publication.public_title = public_title
    if components is not None:
        publication.components.set(_check_components(incident, components))
    now = clock.now()
    publication.status = status
    publication.updated_at = now
    if status == PublicStatus.RESOLVED:
        publication.resolved_at = publication.resolved_at or now
    else:
        publication.resolved_at = None
    publication.save()
    update = PublicUpdate.objects.create(
        publication=publication,
        status=status,
        impact=publication.impact,
        message=message,
        posted_by=actor,
        posted_at=now,
    )
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.PUBLIC_UPDATE,
        data={"status": status, "message": message},
        at=now,
    )
    bump_version()
    transaction.on_commit(lambda: jobs.fan_out_update(update.pk))
    return update
