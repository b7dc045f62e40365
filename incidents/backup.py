"""A portable JSON dump of the incident history, and its restore.

`manage.py export_incidents` writes one JSON object; `manage.py
import_incidents` reads it back into any database with the same migrations.
The dump names people by username and teams by slug, never by primary key, so
it restores into a database whose ids differ. What it holds (see INCLUDED and
EXCLUDED for the words the commands print):

    {"format": "responder-incidents", "version": 1, "exported_at": ..., "filters": ...,
     "users": [...], "teams": [...], "integrations": [...],
     "incidents": [{..., "log_entries": [...], "events": [...], "notices": [...]}],
     "articles": [...]}

Every incident carries all of its rows nested inside it. Which model fields
go into a row is declared once below (`Part`); a test holds every model field
either written or named as left out, so a new field cannot be forgotten.

Import only inserts: an incident whose number exists is skipped with all of
its rows (the audit trail is append-only, and restoring twice must not
duplicate), existing users and teams are left exactly as they are. Derived
data is rebuilt afterwards: the tallies, the search documents, the per-day
number sequences. Both directions work in chunks, so a dump of 100k incidents
is never held in memory as model instances at once.
"""

import json
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import translation

from common import clock
from escalation.models import Clock, Deadline, Delivery, Notice, TeamChannel
from incidents import alerts, tallies
from incidents.models import (
    Alert,
    AlertIntegration,
    Assignment,
    ExternalContact,
    Grading,
    Incident,
    IncidentSequence,
    LogEntry,
    Resolution,
    Service,
    State,
    Team,
    TimelineEvent,
    UserFeedback,
    UserNotification,
    UserProfile,
    Verification,
)
from knowledge import search
from knowledge.models import ActionItem, KnowledgeArticle, PostMortem, SearchDocument
from knowledge.services import incident_document, index_article

FORMAT = "responder-incidents"
VERSION = 1
CHUNK = 500  # incidents per round of queries, both ways

INCLUDED = (
    "users (by username: names, email, active/staff/superuser flags, role groups, "
    "permissions, profile) - never their password hashes",
    "teams (by slug) with members, tech leads, manager and services",
    "alert integrations (name, team, rules, rate limit) - without token or signing secret",
    "incidents (by number) with gradings, assignments, external contacts, process log, "
    "resolutions, verifications, user notifications and feedback, the audit trail, "
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
    "SLA policies and the escalation ladder (configuration, seeded by the migrations)",
    "derived data, rebuilt on import: incident tallies, search documents, number sequences",
    "bookkeeping: heartbeats, alert rate windows, replay signatures",
)

User = get_user_model()
USERNAME = User.USERNAME_FIELD
NUMBER = re.compile(r"^INC-(\d{4})(\d{2})(\d{2})-(\d+)$")


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
    refs=("team", "service"),
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
        "alerts",
        "postmortem",
        "deadlines",
        "notices",
    ),
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
}
ALERT = Part(Alert, parent="incident", refs=("integration",))
POSTMORTEM = Part(
    PostMortem,
    parent="incident",
    users=("author",),
    many=("attendees",),
    children=("action_items",),
)
ACTION_ITEM = Part(ActionItem, parent="postmortem", users=("owner", "done_by"))
# A blocker's cycle is the id of its log entry, an overdue action's the id of
# the item: written as the position of that row, so it survives new ids.
DEADLINE = Part(Deadline, parent="incident", refs=("cycle", "cycle_ref"))
NOTICE = Part(Notice, parent="incident", refs=("cycle", "cycle_ref"), children=("deliveries",))
# A team channel's address is its webhook URL, a secret: only e-mail addresses are written.
DELIVERY = Part(Delivery, parent="notice", users=("user",), refs=("team_channel", "address"))
ARTICLE = Part(KnowledgeArticle, refs=("incident", "team"), users=("author",))

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
    POSTMORTEM,
    ACTION_ITEM,
    DEADLINE,
    NOTICE,
    DELIVERY,
    ARTICLE,
]
SECTIONS = ("users", "teams", "integrations", "incidents", "articles")


def _writer(f: models.Field) -> Callable | None:
    """How a field's value becomes JSON: times in UTC, ISO 8601; the rest as is."""
    if isinstance(f, models.DateTimeField):
        return lambda value: value.astimezone(UTC).isoformat()
    if isinstance(f, models.DateField):
        return date.isoformat
    return None


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _by(rows: Iterable[dict], key: str) -> dict[Any, list[dict]]:
    grouped: dict[Any, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def _links(m2m: models.ManyToManyField, ids: Iterable[int]) -> dict[int, list[int]]:
    """{row id: [related ids]} of a many-to-many field, for many rows in one query."""
    source, target = m2m.m2m_column_name(), m2m.m2m_reverse_name()
    grouped: dict[int, list[int]] = defaultdict(list)
    rows = m2m.remote_field.through.objects.filter(**{f"{source}__in": list(ids)})
    for a, b in rows.values_list(source, target):
        grouped[a].append(b)
    return grouped


# ---------------------------------------------------------------- export


@contextmanager
def _snapshot():
    """Every query of the export sees the same moment, without blocking writers."""
    if connection.in_atomic_block:  # the caller's transaction decides
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    elif connection.vendor == "sqlite":
        # Django's atomic() here is BEGIN IMMEDIATE (settings), which would hold
        # the write lock for the whole export; a deferred read transaction is a
        # snapshot in WAL mode and lets the web and worker go on writing.
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
            try:
                yield
            finally:
                cursor.execute("COMMIT")
    else:
        yield


class _Exporter:
    def __init__(self, out, *, teams: list[str] | None, since: datetime | None):
        self.out = out
        self.team_filter = teams
        self.since = since
        self.counts: Counter = Counter()

    def run(self) -> Counter:
        with _snapshot():
            self.usernames = dict(User.objects.values_list("id", USERNAME))
            self.team_slugs = dict(Team.objects.values_list("id", "slug"))
            self.service_slugs = dict(Service.objects.values_list("id", "slug"))
            self.integration_names = dict(AlertIntegration.objects.values_list("id", "name"))
            self.channel_names = dict(TeamChannel.objects.values_list("id", "name"))
            self.teams = Team.objects.all()
            if self.team_filter is not None:
                self.teams = self.teams.filter(slug__in=self.team_filter)
            self.team_ids = list(self.teams.values_list("id", flat=True))
            # Every write is whole lines, so Django's OutputWrapper adds no newline.
            self.out.write("{\n")
            header = {
                "format": FORMAT,
                "version": VERSION,
                "exported_at": clock.now().astimezone(UTC).isoformat(),
                "filters": {
                    "teams": self.team_filter,
                    "since": self.since.astimezone(UTC).isoformat() if self.since else None,
                },
            }
            for key, value in header.items():
                self.out.write(f"{json.dumps(key)}: {json.dumps(value)},\n")
            self._section("users", self._users())
            self._section("teams", self._teams())
            self._section("integrations", self._integrations())
            self._section("incidents", self._incidents())
            self._section("articles", self._articles(), last=True)
            self.out.write("}\n")
        return self.counts

    def _section(self, key: str, items: Iterable[dict], *, last: bool = False) -> None:
        self.out.write(f'"{key}": [\n')
        previous = None
        for item in items:
            if previous is not None:
                self.out.write(previous + ",\n")
            previous = json.dumps(item)  # ASCII: any encoding of the file reads it back
            self.counts[key] += 1
        if previous is not None:
            self.out.write(previous + "\n")
        self.out.write("]\n" if last else "],\n")

    def _row(self, part: Part, row: dict) -> dict:
        out = {}
        for key, attname, convert in part.writers:
            value = row[attname]
            out[key] = convert(value) if convert is not None and value is not None else value
        for name in part.users:
            out[name] = self.usernames.get(row[f"{name}_id"])
        return out

    def _names(self, user_ids: Iterable[int]) -> list[str]:
        return sorted(self.usernames[i] for i in user_ids)

    def _users(self) -> Iterator[dict]:
        groups = dict(Group.objects.values_list("id", "name"))
        permissions = {
            pk: f"{app}.{codename}"
            for pk, app, codename in Permission.objects.values_list(
                "id", "content_type__app_label", "codename"
            )
        }
        for chunk in _chunks(User.objects.order_by(USERNAME).values().iterator(), CHUNK):
            ids = [row["id"] for row in chunk]
            user_groups = _links(User._meta.get_field("groups"), ids)
            user_permissions = _links(User._meta.get_field("user_permissions"), ids)
            profiles = {
                p["user_id"]: p for p in UserProfile.objects.filter(user_id__in=ids).values()
            }
            for row in chunk:
                out = self._row(USER, row)
                out["groups"] = sorted(groups[g] for g in user_groups[row["id"]])
                out["user_permissions"] = sorted(
                    permissions[p] for p in user_permissions[row["id"]]
                )
                profile = profiles.get(row["id"])
                out["profile"] = self._row(PROFILE, profile) if profile else None
                yield out

    def _teams(self) -> Iterator[dict]:
        rows = list(self.teams.order_by("slug").values())
        ids = [row["id"] for row in rows]
        members = _links(Team._meta.get_field("members"), ids)
        leads = _links(Team._meta.get_field("tech_leads"), ids)
        services = _by(Service.objects.filter(team_id__in=ids).order_by("slug").values(), "team_id")
        for row in rows:
            out = self._row(TEAM, row)
            out["members"] = self._names(members[row["id"]])
            out["tech_leads"] = self._names(leads[row["id"]])
            out["services"] = [self._row(SERVICE, s) for s in services[row["id"]]]
            yield out

    def _integrations(self) -> Iterator[dict]:
        rows = AlertIntegration.objects.filter(team_id__in=self.team_ids).order_by("name")
        for row in rows.values():
            out = self._row(INTEGRATION, row)
            out["team"] = self.team_slugs[row["team_id"]]
            yield out

    def _incidents(self) -> Iterator[dict]:
        qs = Incident.objects.filter(team_id__in=self.team_ids)
        if self.since is not None:
            qs = qs.filter(received_at__gte=self.since)
        last = None
        while True:
            # Keyset pages by number: constant memory, and the order survives new ids.
            page = qs.filter(number__gt=last) if last is not None else qs
            chunk = list(page.order_by("number").values()[:CHUNK])
            if not chunk:
                return
            last = chunk[-1]["number"]
            yield from self._incident_chunk(chunk)

    def _incident_chunk(self, chunk: list[dict]) -> Iterator[dict]:
        ids = [row["id"] for row in chunk]

        def rows(model, order, key="incident_id", within=ids):
            qs = model.objects.filter(**{f"{key}__in": within}).order_by(*order)
            return _by(qs.values(), key)

        helpers = _links(Incident._meta.get_field("helpers"), ids)
        simple = {
            name: rows(part.model, part.model._meta.ordering)
            for name, part in {**SIMPLE_CHILDREN, **LATER_CHILDREN}.items()
        }
        assignment_ids = [a["id"] for group in simple["assignments"].values() for a in group]
        assignment_helpers = _links(Assignment._meta.get_field("helpers"), assignment_ids)
        verifications = rows(Verification, Verification._meta.ordering)
        alert_rows = rows(Alert, Alert._meta.ordering)
        postmortems = {
            p["incident_id"]: p for p in PostMortem.objects.filter(incident_id__in=ids).values()
        }
        pm_ids = [p["id"] for p in postmortems.values()]
        attendees = _links(PostMortem._meta.get_field("attendees"), pm_ids)
        items = rows(ActionItem, ActionItem._meta.ordering, "postmortem_id", pm_ids)
        deadlines = rows(Deadline, ["clock", "id"])
        notices = rows(Notice, Notice._meta.ordering)
        notice_ids = [n["id"] for group in notices.values() for n in group]
        deliveries = rows(Delivery, ["id"], "notice_id", notice_ids)

        for row in chunk:
            pk = row["id"]
            out = self._row(INCIDENT, row)
            out["team"] = self.team_slugs[row["team_id"]]
            out["service"] = self.service_slugs.get(row["service_id"])
            out["helpers"] = self._names(helpers[pk])
            for name, part in SIMPLE_CHILDREN.items():
                out[name] = [self._row(part, r) for r in simple[name][pk]]
            for a, assignment in zip(out["assignments"], simple["assignments"][pk], strict=True):
                a["helpers"] = self._names(assignment_helpers[assignment["id"]])
            position = {r["id"]: i for i, r in enumerate(simple["resolutions"][pk])}
            out["verifications"] = []
            for v in verifications[pk]:
                written = self._row(VERIFICATION, v)
                written["resolution"] = position[v["resolution_id"]]
                out["verifications"].append(written)
            for name, part in LATER_CHILDREN.items():
                out[name] = [self._row(part, r) for r in simple[name][pk]]
            out["alerts"] = []
            for a in alert_rows[pk]:
                written = self._row(ALERT, a)
                written["integration"] = self.integration_names[a["integration_id"]]
                out["alerts"].append(written)
            pm = postmortems.get(pk)
            pm_items = items[pm["id"]] if pm else []
            if pm:
                written = self._row(POSTMORTEM, pm)
                written["attendees"] = self._names(attendees[pm["id"]])
                written["action_items"] = [self._row(ACTION_ITEM, i) for i in pm_items]
                out["postmortem"] = written
            else:
                out["postmortem"] = None
            cycle_refs = {
                Clock.BLOCKER: {r["id"]: i for i, r in enumerate(simple["log_entries"][pk])},
                Clock.ACTION: {r["id"]: i for i, r in enumerate(pm_items)},
            }
            out["deadlines"] = [self._cycled(DEADLINE, d, cycle_refs) for d in deadlines[pk]]
            out["notices"] = []
            for n in notices[pk]:
                written = self._cycled(NOTICE, n, cycle_refs)
                written["deliveries"] = [self._delivery(d) for d in deliveries[n["id"]]]
                out["notices"].append(written)
            yield out

    def _cycled(self, part: Part, row: dict, refs: dict) -> dict:
        out = self._row(part, row)
        position = refs.get(row["clock"], {}).get(row["cycle"])
        if position is None:
            out["cycle"], out["cycle_ref"] = row["cycle"], None
        else:
            kind = "log_entry" if row["clock"] == Clock.BLOCKER else "action_item"
            out["cycle"], out["cycle_ref"] = None, {kind: position}
        return out

    def _delivery(self, row: dict) -> dict:
        out = self._row(DELIVERY, row)
        out["team_channel"] = self.channel_names.get(row["team_channel_id"])
        out["address"] = row["address"] if row["channel"] == "email" else ""
        return out

    def _articles(self) -> Iterator[dict]:
        qs = KnowledgeArticle.objects.all()
        if self.team_filter is not None:
            qs = qs.filter(team_id__in=self.team_ids)
        if self.since is not None:
            qs = qs.filter(created_at__gte=self.since)
        numbers = {}
        for chunk in _chunks(qs.order_by("created_at", "id").values().iterator(), CHUNK):
            wanted = {r["incident_id"] for r in chunk} - set(numbers) - {None}
            numbers.update(Incident.objects.filter(pk__in=wanted).values_list("id", "number"))
            for row in chunk:
                out = self._row(ARTICLE, row)
                out["incident"] = numbers.get(row["incident_id"])
                out["team"] = self.team_slugs.get(row["team_id"])
                yield out


def export(out, *, teams: list[str] | None = None, since: datetime | None = None) -> Counter:
    """Write the dump to the text stream `out`; returns how many rows of each section."""
    if teams is not None:
        unknown = set(teams) - set(
            Team.objects.filter(slug__in=teams).values_list("slug", flat=True)
        )
        if unknown:
            raise BackupError(f"no team with slug {', '.join(sorted(unknown))}")
    return _Exporter(out, teams=teams, since=since).run()


# ---------------------------------------------------------------- reading the file


class _Reader:
    """The dump's top-level object, one value at a time.

    json.load would hold every incident at once; this parses the object's keys
    and each element of its arrays with the standard decoder as the text
    arrives, so memory holds one incident (and its rows) at a time.
    """

    WHITESPACE = " \t\n\r"

    def __init__(self, stream, read_size: int = 1 << 16):
        self.stream = stream
        self.read_size = read_size
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()

    def _more(self) -> bool:
        if self.eof:
            return False
        # At least double what is held, so a long value is not re-parsed too often.
        chunk = self.stream.read(max(self.read_size, len(self.buffer) - self.pos))
        if not chunk:
            self.eof = True
            return False
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in self.WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ""

    def take(self, char: str, where: str) -> None:
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "the end of the file"
            raise BadDump(f"{where}: expected {char!r}, found {shown} (truncated or not a dump?)")
        self.pos += 1

    def value(self, where: str):
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                # Cut off by the end of what was read (or a string that goes on):
                # read more. An error well inside the buffer is a broken file.
                cut = exc.pos >= len(self.buffer) - 6 or exc.msg.startswith("Unterminated")
                if cut and self._more():
                    continue
                raise BadDump(f"{where}: not valid JSON ({exc.msg})") from None
            # A number at the very end of the buffer may go on in the next read.
            if end < len(self.buffer) or self.eof or not self._more():
                self.pos = end
                return value

    def items(self, where: str) -> Iterator:
        self.take("[", where)
        if self.peek() == "]":
            self.pos += 1
            return
        index = 0
        while True:
            yield self.value(f"{where}[{index}]")
            index += 1
            if self.peek() == ",":
                self.pos += 1
            else:
                self.take("]", f"{where}[{index}]")
                return

    def entries(self) -> Iterator[tuple[str, Any]]:
        """(key, value) of the top-level object; array values come as iterators,
        to be used up before the next entry is asked for."""
        self.take("{", "start of file")
        if self.peek() == "}":
            self.pos += 1
        else:
            while True:
                key = self.value("a key of the top-level object")
                if not isinstance(key, str):
                    raise BadDump("the top-level keys must be strings")
                self.take(":", f"after {key!r}")
                if key in SECTIONS:
                    items = self.items(key)
                    yield key, items
                    for _ in items:  # the caller stopped early: skip the rest
                        pass
                else:
                    yield key, self.value(key)
                if self.peek() == ",":
                    self.pos += 1
                else:
                    self.take("}", f"after {key!r}")
                    break
        if self.peek():
            raise BadDump("unexpected data after the end of the dump")


# ---------------------------------------------------------------- import


@dataclass
class ImportResult:
    created: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


def _load_value(f: models.Field, choices: frozenset | None, data: dict, where: str):
    if f.name not in data:
        if f.has_default():
            return f.get_default()
        if f.null:
            return None
        if f.blank:
            return ""
        raise BadDump(f"{where}: missing {f.name!r}")
    value = data[f.name]
    if value is None:
        if f.null:
            return None
        raise BadDump(f"{where}: {f.name!r} may not be null")
    try:
        value = f.to_python(value)
    except (ValidationError, TypeError, ValueError):
        raise BadDump(f"{where}: {f.name!r} has a bad value {value!r}") from None
    if isinstance(f, models.DateTimeField) and value.tzinfo is None:
        raise BadDump(f"{where}: {f.name!r} needs a time zone: {data[f.name]!r}")
    if choices is not None and value not in choices and not (f.blank and value == ""):
        raise BadDump(f"{where}: {f.name!r} is not one of the choices: {value!r}")
    return value


def _label(model) -> str:
    """What the report calls a model's rows: its plural name, in English."""
    with translation.override("en"):
        return str(model._meta.verbose_name_plural)


def _strings(value, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadDump(f"{where}: expected a list of names")
    return value


class _Importer:
    def __init__(self):
        self.result = ImportResult()
        self.user_ids = dict(User.objects.values_list(USERNAME, "id"))
        self.new_user_ids: set[int] = set()
        self.team_ids = dict(Team.objects.values_list("slug", "id"))
        self.service_ids = {
            (team_id, slug): pk
            for pk, team_id, slug in Service.objects.values_list("id", "team_id", "slug")
        }
        self.integration_ids = dict(AlertIntegration.objects.values_list("name", "id"))
        self.channels = {
            (c.team_id, c.name): c for c in TeamChannel.objects.only("id", "team_id", "name", "url")
        }
        self.numbers_seen: set[str] = set()
        self.sequences: dict[date, int] = {}

    # -- rows

    def _check(self, part: Part, data, where: str) -> dict:
        if not isinstance(data, dict):
            raise BadDump(f"{where}: expected an object, found {type(data).__name__}")
        unknown = set(data) - part.keys
        if unknown:
            raise BadDump(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        return data

    def _user(self, username, where: str, *, null: bool) -> int | None:
        if username is None:
            if null:
                return None
            raise BadDump(f"{where}: a user is required")
        try:
            return self.user_ids[username]
        except (KeyError, TypeError):
            raise BadDump(f"{where}: unknown user {username!r}") from None

    def _users(self, usernames, where: str) -> list[int]:
        if not isinstance(usernames, list):
            raise BadDump(f"{where}: expected a list of usernames")
        return [self._user(name, where, null=False) for name in usernames]

    def _team(self, slug, where: str, *, null: bool = False) -> int | None:
        if slug is None and null:
            return None
        try:
            return self.team_ids[slug]
        except (KeyError, TypeError):
            raise BadDump(f"{where}: unknown team {slug!r}") from None

    def _row(self, part: Part, data, where: str, **values):
        """A model instance of `part` from its dict (checked), not saved."""
        data = self._check(part, data, where)
        kwargs = {f.attname: _load_value(f, choices, data, where) for f, choices in part.readers}
        for name in part.users:
            f = part.model._meta.get_field(name)
            kwargs[f.attname] = self._user(data.get(name), f"{where}.{name}", null=f.null)
        kwargs.update(values)
        return part.model(**kwargs)

    def _insert(self, model, objs: list) -> list:
        """bulk_create that keeps the dump's created_at/updated_at (auto_now fields
        would overwrite them) and counts the rows."""
        if not objs:
            return objs
        stamped = [
            f.attname
            for f in model._meta.concrete_fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        kept = [[getattr(o, name) for name in stamped] for o in objs]
        model.objects.bulk_create(objs, batch_size=CHUNK)
        if stamped:
            for obj, values in zip(objs, kept, strict=True):
                for name, value in zip(stamped, values, strict=True):
                    setattr(obj, name, value)
            model.objects.bulk_update(objs, stamped, batch_size=CHUNK)
        self.result.created[_label(model)] += len(objs)
        return objs

    def _link(self, m2m_owner, name: str, pairs: list[tuple[int, int]]) -> None:
        m2m = m2m_owner._meta.get_field(name)
        through = m2m.remote_field.through
        source, target = m2m.m2m_column_name(), m2m.m2m_reverse_name()
        through.objects.bulk_create(
            [through(**{source: a, target: b}) for a, b in pairs],
            batch_size=CHUNK,
            ignore_conflicts=True,
        )

    # -- sections

    def users(self, items: Iterator) -> None:
        groups = dict(Group.objects.values_list("name", "id"))
        permissions = {
            f"{app}.{codename}": pk
            for pk, app, codename in Permission.objects.values_list(
                "id", "content_type__app_label", "codename"
            )
        }
        seen: set[str] = set()
        for chunk in _chunks(enumerate(items), CHUNK):
            fresh = []
            for i, data in chunk:
                user = self._row(USER, data, f"users[{i}]")
                name = getattr(user, USERNAME)
                if name in seen:
                    raise BadDump(f"users[{i}]: {name!r} appears twice")
                seen.add(name)
                if name in self.user_ids:
                    self.result.skipped[_label(User)] += 1
                    continue
                user.set_unusable_password()
                fresh.append((i, user, data))
            self._insert(User, [user for _i, user, _data in fresh])
            memberships, grants, profiles = [], [], []
            for i, user, data in fresh:
                self.user_ids[getattr(user, USERNAME)] = user.pk
                self.new_user_ids.add(user.pk)
                for name in _strings(data.get("groups"), f"users[{i}].groups"):
                    if name not in groups:
                        groups[name] = Group.objects.create(name=name).pk
                        self.result.notes.append(
                            f"created the missing group {name!r} (without permissions)"
                        )
                    memberships.append((user.pk, groups[name]))
                for codename in _strings(
                    data.get("user_permissions"), f"users[{i}].user_permissions"
                ):
                    if codename not in permissions:
                        raise BadDump(f"users[{i}]: unknown permission {codename!r}")
                    grants.append((user.pk, permissions[codename]))
                if data.get("profile") is not None:
                    profiles.append(
                        self._row(PROFILE, data["profile"], f"users[{i}].profile", user_id=user.pk)
                    )
            self._link(User, "groups", memberships)
            self._link(User, "user_permissions", grants)
            self._insert(UserProfile, profiles)

    def teams(self, items: Iterator) -> None:
        fresh, all_teams = [], []
        for i, data in enumerate(items):
            team = self._row(TEAM, data, f"teams[{i}]")
            all_teams.append((i, team.slug, data))
            if team.slug in self.team_ids:
                self.result.skipped[_label(Team)] += 1
            else:
                fresh.append(team)
        self._insert(Team, fresh)
        new_team_ids = set()
        for team in fresh:
            self.team_ids[team.slug] = team.pk
            new_team_ids.add(team.pk)
        services, known = [], set(self.service_ids)
        for i, slug, data in all_teams:
            team_id = self.team_ids[slug]
            for relation in TEAM.many:
                # Only rows this import created gain a membership; two rows that were
                # there before keep the relation they had.
                pairs = [
                    (team_id, user_id)
                    for user_id in self._users(data.get(relation, []), f"teams[{i}].{relation}")
                    if team_id in new_team_ids or user_id in self.new_user_ids
                ]
                self._link(Team, relation, pairs)
            for j, s in enumerate(data.get("services") or []):
                service = self._row(SERVICE, s, f"teams[{i}].services[{j}]", team_id=team_id)
                if (team_id, service.slug) not in known:
                    known.add((team_id, service.slug))
                    services.append(service)
        self._insert(Service, services)
        for service in services:
            self.service_ids[(service.team_id, service.slug)] = service.pk

    def integrations(self, items: Iterator) -> None:
        fresh = []
        now = clock.now()
        for i, data in enumerate(items):
            where = f"integrations[{i}]"
            integration = self._row(
                INTEGRATION, data, where, team_id=self._team(data.get("team"), where)
            )
            if integration.name in self.integration_ids:
                self.result.skipped[_label(AlertIntegration)] += 1
                continue
            # The token cannot come back: a random one nobody knows, and revoked.
            integration.token_hash = alerts.hash_token(secrets.token_urlsafe(alerts.TOKEN_BYTES))
            if integration.revoked_at is None:
                integration.revoked_at = now
                self.result.notes.append(
                    f"alert integration {integration.name!r} restored revoked: "
                    "create a new one with manage.py create_integration"
                )
            fresh.append(integration)
        self._insert(AlertIntegration, fresh)
        for integration in fresh:
            self.integration_ids[integration.name] = integration.pk

    def incidents(self, items: Iterator) -> None:
        for chunk in _chunks(enumerate(items), CHUNK):
            numbers = []
            for i, data in chunk:
                number = data.get("number") if isinstance(data, dict) else None
                if not isinstance(number, str) or not number:
                    raise BadDump(f"incidents[{i}]: no number")
                if number in self.numbers_seen:
                    raise BadDump(f"incidents[{i}]: {number} appears twice")
                self.numbers_seen.add(number)
                numbers.append(number)
            existing = set(
                Incident.objects.filter(number__in=numbers).values_list("number", flat=True)
            )
            self.result.skipped[_label(Incident)] += len(existing)
            fresh = [(data["number"], data) for _i, data in chunk if data["number"] not in existing]
            if fresh:
                self._incident_chunk(fresh)

    def _incident_chunk(self, fresh: list[tuple[str, dict]]) -> None:
        incidents = []
        for number, data in fresh:
            where = f"incident {number}"
            team_id = self._team(data.get("team"), f"{where}.team")
            service_id = None
            if data.get("service") is not None:
                service_id = self.service_ids.get((team_id, data["service"]))
                if service_id is None:
                    raise BadDump(f"{where}.service: unknown service {data['service']!r}")
            incidents.append(
                self._row(INCIDENT, data, where, team_id=team_id, service_id=service_id)
            )
        self._insert(Incident, incidents)
        pairs = [
            (incident.pk, user_id)
            for incident, (number, data) in zip(incidents, fresh, strict=True)
            for user_id in self._users(data.get("helpers", []), f"incident {number}.helpers")
        ]
        self._link(Incident, "helpers", pairs)

        # One list per kind of row for the whole chunk; `made[kind][i]` holds the
        # rows of the i-th incident, in the dump's order.
        made: dict[str, list[list]] = {}

        def build(name: str, part: Part, make: Callable | None = None) -> None:
            per_incident, flat = [], []
            for incident, (number, data) in zip(incidents, fresh, strict=True):
                rows = data.get(name) or []
                if not isinstance(rows, list):
                    raise BadDump(f"incident {number}.{name}: expected a list")
                objs = []
                for j, row in enumerate(rows):
                    where = f"incident {number}.{name}[{j}]"
                    extra = make(incident, row, where) if make else {}
                    objs.append(self._row(part, row, where, incident_id=incident.pk, **extra))
                per_incident.append(objs)
                flat += objs
            self._insert(part.model, flat)
            made[name] = per_incident

        for name, part in SIMPLE_CHILDREN.items():
            build(name, part)
        helper_pairs = []
        for assignments, (number, data) in zip(made["assignments"], fresh, strict=True):
            for j, (assignment, row) in enumerate(
                zip(assignments, data.get("assignments") or [], strict=True)
            ):
                where = f"incident {number}.assignments[{j}].helpers"
                helper_pairs += [
                    (assignment.pk, u) for u in self._users(row.get("helpers", []), where)
                ]
        self._link(Assignment, "helpers", helper_pairs)

        position = {incident.pk: i for i, incident in enumerate(incidents)}

        def resolution(incident, row, where):
            index = row.get("resolution")
            resolutions = made["resolutions"][position[incident.pk]]
            if not isinstance(index, int) or not 0 <= index < len(resolutions):
                raise BadDump(f"{where}: no resolution at position {index!r}")
            return {"resolution_id": resolutions[index].pk}

        build("verifications", VERIFICATION, resolution)
        for name, part in LATER_CHILDREN.items():
            build(name, part)

        def integration(incident, row, where):
            name = row.get("integration")
            if name not in self.integration_ids:
                raise BadDump(f"{where}: unknown alert integration {name!r}")
            return {"integration_id": self.integration_ids[name]}

        build("alerts", ALERT, integration)
        self._postmortems(incidents, fresh, made)

        def cycle(incident, row, where):
            ref = row.get("cycle_ref")
            if ref is None:
                if not isinstance(row.get("cycle"), int):
                    raise BadDump(f"{where}: no cycle")
                return {"cycle": row["cycle"]}
            kinds = {
                "log_entry": made["log_entries"][position[incident.pk]],
                "action_item": made["action_items"][position[incident.pk]],
            }
            if not isinstance(ref, dict) or len(ref) != 1:
                raise BadDump(f"{where}: bad cycle_ref {ref!r}")
            [(kind, index)] = ref.items()
            rows = kinds.get(kind)
            if rows is None or not isinstance(index, int) or not 0 <= index < len(rows):
                raise BadDump(f"{where}: bad cycle_ref {ref!r}")
            return {"cycle": rows[index].pk}

        build("deadlines", DEADLINE, cycle)
        build("notices", NOTICE, cycle)
        self._deliveries(incidents, fresh, made)

        self._index(incidents, made)
        for incident in incidents:
            match = NUMBER.match(incident.number)
            if match:
                year, month, day, n = (int(x) for x in match.groups())
                try:
                    key = date(year, month, day)
                except ValueError:
                    continue
                self.sequences[key] = max(self.sequences.get(key, 0), n)

    def _postmortems(self, incidents, fresh, made) -> None:
        postmortems, per_incident = [], []
        for incident, (number, data) in zip(incidents, fresh, strict=True):
            row = data.get("postmortem")
            pm = None
            if row is not None:
                where = f"incident {number}.postmortem"
                pm = self._row(POSTMORTEM, row, where, incident_id=incident.pk)
                postmortems.append(pm)
            per_incident.append((number, pm, row))
        self._insert(PostMortem, postmortems)
        attendees, items, made["action_items"] = [], [], []
        for number, pm, row in per_incident:
            pm_items = []
            if pm is not None:
                where = f"incident {number}.postmortem"
                attendees += [
                    (pm.pk, u) for u in self._users(row.get("attendees", []), f"{where}.attendees")
                ]
                for j, item in enumerate(row.get("action_items") or []):
                    pm_items.append(
                        self._row(
                            ACTION_ITEM, item, f"{where}.action_items[{j}]", postmortem_id=pm.pk
                        )
                    )
            made["action_items"].append(pm_items)
            items += pm_items
        self._link(PostMortem, "attendees", attendees)
        self._insert(ActionItem, items)
        made["postmortem"] = [pm for _number, pm, _row in per_incident]

    def _deliveries(self, incidents, fresh, made) -> None:
        deliveries = []
        for incident, notices, (number, data) in zip(
            incidents, made["notices"], fresh, strict=True
        ):
            for j, (notice, row) in enumerate(zip(notices, data.get("notices") or [], strict=True)):
                for k, d in enumerate(row.get("deliveries") or []):
                    where = f"incident {number}.notices[{j}].deliveries[{k}]"
                    channel = self.channels.get((incident.team_id, d.get("team_channel")))
                    delivery = self._row(
                        DELIVERY,
                        d,
                        where,
                        notice_id=notice.pk,
                        team_channel_id=channel.pk if channel else None,
                        address=str(d.get("address") or ""),
                    )
                    if channel is not None and delivery.channel != "email":
                        delivery.address = channel.url
                    deliveries.append(delivery)
        self._insert(Delivery, deliveries)

    def _index(self, incidents, made) -> None:
        """Search documents of the archived incidents, as index_incident writes them."""
        documents = []
        for i, incident in enumerate(incidents):
            if incident.state != State.ARCHIVED:
                continue
            document = incident_document(
                incident,
                diagnoses=[
                    g.diagnosis for g in sorted(made["gradings"][i], key=lambda g: g.graded_at)
                ],
                log=[e.text for e in sorted(made["log_entries"][i], key=lambda e: e.happened_at)],
                resolutions=sorted(made["resolutions"][i], key=lambda r: r.submitted_at),
                postmortem=made["postmortem"][i],
            )
            documents.append(
                SearchDocument(
                    kind=SearchDocument.Kind.INCIDENT,
                    object_id=incident.pk,
                    team_id=incident.team_id,
                    title=document["title"][:200],
                    body=document["body"][: search.MAX_INDEXED],
                    excerpt=document["excerpt"][:2000],
                    happened_at=document["at"],
                )
            )
        if documents:
            # Documents left behind by incidents that no longer exist would collide.
            SearchDocument.objects.filter(
                kind=SearchDocument.Kind.INCIDENT, object_id__in=[d.object_id for d in documents]
            ).delete()
            search.bulk_vectors(SearchDocument.objects.bulk_create(documents, batch_size=CHUNK))

    def articles(self, items: Iterator) -> None:
        for chunk in _chunks(enumerate(items), CHUNK):
            rows = []
            for i, data in chunk:
                where = f"articles[{i}]"
                team_id = self._team(
                    data.get("team") if isinstance(data, dict) else None, where, null=True
                )
                article = self._row(ARTICLE, data, where, team_id=team_id)
                rows.append((i, article, data.get("incident")))
            # An article has no number: the same title written at the same moment is the same one.
            existing = set(
                KnowledgeArticle.objects.filter(
                    created_at__in=[a.created_at for _i, a, _n in rows]
                ).values_list("title", "created_at")
            )
            numbers = {n for _i, _a, n in rows if n is not None}
            incident_ids = dict(
                Incident.objects.filter(number__in=numbers).values_list("number", "id")
            )
            fresh = []
            for i, article, number in rows:
                if (article.title, article.created_at) in existing:
                    self.result.skipped[_label(KnowledgeArticle)] += 1
                    continue
                existing.add((article.title, article.created_at))
                if number is not None:
                    article.incident_id = incident_ids.get(number)
                    if article.incident_id is None:
                        self.result.notes.append(
                            f"articles[{i}]: incident {number} is not in the database; "
                            "the article is kept without it"
                        )
                fresh.append(article)
            self._insert(KnowledgeArticle, fresh)
            for article in fresh:
                index_article(article)

    # -- derived data

    def finish(self) -> None:
        if not self.result.created[_label(Incident)]:
            return
        tallies.rebuild()
        # The next number of a day must follow the highest one restored.
        days = self.sequences
        IncidentSequence.objects.bulk_create(
            [IncidentSequence(day=day, last=0) for day in days], ignore_conflicts=True
        )
        stale = []
        for seq in IncidentSequence.objects.select_for_update().filter(day__in=list(days)):
            if seq.last < days[seq.day]:
                seq.last = days[seq.day]
                stale.append(seq)
        IncidentSequence.objects.bulk_update(stale, ["last"], batch_size=CHUNK)


def import_(stream, *, dry_run: bool = False, read_size: int = 1 << 16) -> ImportResult:
    """Restore a dump from the text stream `stream` in one transaction.

    Raises BadDump (and writes nothing) for a file that is not a whole dump of
    this format version or refers to what it does not hold; the database's own
    refusals (IntegrityError, DataError) also roll everything back.
    """
    try:
        return _import(_Reader(stream, read_size=read_size).entries(), dry_run=dry_run)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # A value of the wrong shape that no check above caught.
        raise BadDump(f"malformed data ({type(exc).__name__}: {exc})") from exc


def _import(entries: Iterator, *, dry_run: bool) -> ImportResult:
    with transaction.atomic():
        first = next(entries, (None, None))
        if first != ("format", FORMAT):
            raise BadDump(f'not a Responder incident export (no "format": "{FORMAT}" first)')
        key, version = next(entries, (None, None))
        if key != "version":
            raise BadDump('the "version" must follow the "format"')
        if version != VERSION:
            raise BadDump(f"unsupported format version {version!r}; this Responder reads {VERSION}")
        importer = _Importer()
        expected = list(SECTIONS)
        for key, value in entries:
            if key in ("exported_at", "filters"):
                continue
            if not expected or key != expected[0]:
                # Each section only refers to the ones before it.
                order = ", ".join(SECTIONS)
                raise BadDump(f"unexpected {key!r}: the sections are, once each, {order}")
            expected.pop(0)
            getattr(importer, key)(value)
        if expected:
            raise BadDump(f"missing section(s): {', '.join(expected)}")
        importer.finish()
        if dry_run:
            transaction.set_rollback(True)
    return importer.result
