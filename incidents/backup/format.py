"""What a dump is: its name and version, what it holds and leaves out, which
fields each row carries (`Part`), and the helpers export and import share.

The rows of incidents' own models are declared here; escalation and knowledge
declare theirs in their `backup` modules (see `registry`)."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date
from functools import cached_property
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import models
from django.utils.duration import duration_iso_string

from incidents.models import (
    Alert,
    AlertIntegration,
    Assignment,
    ExternalContact,
    Grading,
    Incident,
    LogEntry,
    Pause,
    Resolution,
    Service,
    Team,
    TimelineEvent,
    UserFeedback,
    UserNotification,
    UserProfile,
    Verification,
)

FORMAT = "responder-incidents"
VERSION = 1
CHUNK = 500  # incidents per round of queries, both ways

INCLUDED = (
    "users (by username: names, email, active/staff/superuser flags, role groups, "
    "permissions, profile) - never their password hashes",
    "teams (by slug) with members, tech leads, manager and services",
    "alert integrations (name, team, rules, rate limit) - without token or signing secret",
    "incidents (by number) with gradings, assignments, external contacts, process log, "
    "resolutions, verifications, user notifications and feedback, the audit trail, SLA pauses, "
    "alerts, running deadlines, escalation notices and their deliveries, "
    "post-mortem with attendees and action items",
    "knowledge articles",
)
EXCLUDED = (
    "password hashes: restored users get an unusable password and must set one "
    "(manage.py changepassword, or the password reset)",
    "API tokens, sessions, login-attempt records",
    "alert integration tokens and signing secrets: restored integrations come back "
    "revoked; issue new ones with manage.py create_integration",
    "team channels (their webhook URLs and secrets): set them up again in the admin; "
    "deliveries to them keep the channel's name and link to a channel of that name "
    "if one exists when importing",
    "SLA policies, business calendars and the escalation ladder (configuration, seeded "
    "by the migrations and edited in the admin)",
    "duty rosters (rotations, overrides, handover notes, the roster timeline, calendar "
    "feeds) and their handover and coverage-gap notices: team set-up, not incident "
    "history; set them up again on the /oncall/ pages",
    "maintenance windows and the team timeline of their starts and ends: team set-up, "
    "not incident history; the alerts waiting without an incident (pending, or held by a "
    "window) and the link of an incident to the window it opened under",
    "the status page (components, what was published and its public updates, subscribers "
    "and the messages sent to them, feedback links): the public record of an outage, and "
    "subscribers' addresses are personal data; the incident keeps its timeline entries of "
    "what was published and the affected users' answers as its user feedback",
    "derived data, rebuilt on import: incident tallies, metrics figures, search documents, "
    "the archive's search rows (written by the database as the incidents are), "
    "number sequences",
    "bookkeeping: heartbeats, alert rate windows, replay signatures, chat robots' message counts",
)

User = get_user_model()
USERNAME = User.USERNAME_FIELD


class BackupError(Exception):
    """Export or import refused, with a message for the operator."""


class BadDump(BackupError):
    """The file is not a dump this version can restore; nothing was written."""


# ---------------------------------------------------------------- what a row holds


@dataclass(frozen=True)
class Part:
    """How the rows of one model are written.

    Fields not named here are written as they are (dates in ISO 8601, UTC).
    """

    model: Any
    parent: str = ""  # FK to the row this one is nested in
    users: tuple[str, ...] = ()  # FKs to a user, written as the username
    many: tuple[str, ...] = ()  # many-to-many to users, written as sorted usernames
    refs: tuple[str, ...] = ()  # keys written by hand (slug, name, position in a list)
    children: tuple[str, ...] = ()  # nested rows
    omit: frozenset[str] = field(default_factory=frozenset)  # never written

    @cached_property
    def plain(self) -> list[models.Field]:
        by_hand = {self.parent, *self.users, *self.refs, *self.omit}
        return [
            f
            for f in self.model._meta.concrete_fields
            if not f.primary_key and not f.is_relation and f.name not in by_hand
        ]

    @cached_property
    def writers(self) -> list[tuple[str, str, Callable | None]]:
        """(key, attname, converter or None) of the plain fields, worked out once."""
        return [(f.name, f.attname, _writer(f)) for f in self.plain]

    @cached_property
    def readers(self) -> list[tuple[models.Field, frozenset | None]]:
        """(field, its allowed values or None) of the plain fields, worked out once."""
        return [
            (f, frozenset(value for value, _label in f.flatchoices) if f.choices else None)
            for f in self.plain
        ]

    @cached_property
    def keys(self) -> frozenset[str]:
        return frozenset(
            [f.name for f in self.plain] + [*self.users, *self.many, *self.refs, *self.children]
        )


USER = Part(User, refs=("groups", "user_permissions", "profile"), omit=frozenset({"password"}))
PROFILE = Part(UserProfile, parent="user")
TEAM = Part(Team, users=("manager",), many=("members", "tech_leads"), children=("services",))
SERVICE = Part(Service, parent="team")
INTEGRATION = Part(
    AlertIntegration,
    refs=("team",),
    omit=frozenset({"token_hash", "token_hint", "signing_secret"}),
)
INCIDENT = Part(
    Incident,
    refs=("team", "service", "recurrence_of"),
    # Maintenance windows are team set-up, not incident history (EXCLUDED says so);
    # the earliest deadline is worked out by the database from the deadlines, the
    # root-cause category copied from the post-mortem (knowledge.backup).
    omit=frozenset({"maintenance_window", "earliest_due", "root_cause_category"}),
    users=("reporter", "owner"),
    many=("helpers",),
    children=(
        "gradings",
        "assignments",
        "external_contacts",
        "log_entries",
        "resolutions",
        "verifications",
        "user_notifications",
        "feedback",
        "events",
        "pauses",
        "alerts",
    ),  # then the keys of the registered parts (registry.Nested)
)
# Rows nested in an incident, in the order they are written (a row only points back).
SIMPLE_CHILDREN = {
    "gradings": Part(Grading, parent="incident", users=("graded_by",)),
    "assignments": Part(
        Assignment, parent="incident", users=("owner", "assigned_by"), many=("helpers",)
    ),
    "external_contacts": Part(ExternalContact, parent="incident", users=("added_by",)),
    "log_entries": Part(LogEntry, parent="incident", users=("author",)),
    "resolutions": Part(Resolution, parent="incident", users=("submitted_by",)),
}
VERIFICATION = Part(Verification, parent="incident", users=("verifier",), refs=("resolution",))
LATER_CHILDREN = {
    "user_notifications": Part(UserNotification, parent="incident", users=("notified_by",)),
    "feedback": Part(UserFeedback, parent="incident", users=("recorded_by",)),
    "events": Part(TimelineEvent, parent="incident", users=("actor",)),
    "pauses": Part(Pause, parent="incident", users=("paused_by", "resumed_by")),
}
ALERT = Part(Alert, parent="incident", refs=("integration",), omit=frozenset({"held_by"}))

# incidents' own parts; registry.parts() adds the registered ones.
PARTS = [
    USER,
    PROFILE,
    TEAM,
    SERVICE,
    INTEGRATION,
    INCIDENT,
    *SIMPLE_CHILDREN.values(),
    VERIFICATION,
    *LATER_CHILDREN.values(),
    ALERT,
]


def _writer(f: models.Field) -> Callable | None:
    """How a field's value becomes JSON: times in UTC and durations in ISO 8601; the
    rest as is."""
    if isinstance(f, models.DurationField):
        return duration_iso_string
    if isinstance(f, models.DateTimeField):
        return lambda value: value.astimezone(UTC).isoformat()
    if isinstance(f, models.DateField):
        return date.isoformat
    return None


def chunks(items: Iterable, size: int) -> Iterator[list]:
    """Lists of at most `size` items, read from `items` as they are needed."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _permission_names() -> dict[int, str]:
    """{permission id: "app_label.codename"}, the name a dump gives a permission."""
    return {
        pk: f"{app}.{codename}"
        for pk, app, codename in Permission.objects.values_list(
            "id", "content_type__app_label", "codename"
        )
    }
