"""The import: checks every row, inserts what is missing, rebuilds derived data."""

import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import translation

from common import clock
from incidents import alerts, figures, tallies
from incidents.backup import registry
from incidents.backup.format import (
    ALERT,
    CHUNK,
    FORMAT,
    INCIDENT,
    INTEGRATION,
    LATER_CHILDREN,
    PROFILE,
    SERVICE,
    SIMPLE_CHILDREN,
    TEAM,
    USER,
    USERNAME,
    VERIFICATION,
    VERSION,
    BadDump,
    Part,
    User,
    _permission_names,
    chunks,
)
from incidents.backup.reader import Reader
from incidents.models import (
    AlertIntegration,
    Assignment,
    Incident,
    IncidentSequence,
    Service,
    Team,
    UserProfile,
)

NUMBER = re.compile(r"^INC-(\d{4})(\d{2})(\d{2})-(\d+)$")


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


class Importer:
    """One import; a registered part builds, checks and inserts its rows with `row`,
    `insert` and `link`, and finds people and teams with `user`, `users` and `team`."""

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
        self.numbers_seen: set[str] = set()
        # (incident id, number of the incident it repeats): linked once all are in.
        self.recurrences: list[tuple[int, str]] = []
        self.sequences: dict[date, int] = {}
        # The incident's own keys and those of the registered parts.
        self.incident_part = replace(INCIDENT, children=INCIDENT.children + registry.nested_keys())
        self._once: dict[str, Any] = {}

    def once(self, key: str, load: Callable[[], Any]) -> Any:
        """`load()`, run once per import (a lookup a part needs in every chunk)."""
        if key not in self._once:
            self._once[key] = load()
        return self._once[key]

    def note(self, text: str) -> None:
        """A line the command prints before the counts."""
        self.result.notes.append(text)

    def skip(self, model, count: int = 1) -> None:
        """Count rows of `model` left out because the database has them."""
        self.result.skipped[_label(model)] += count

    # -- rows

    def _check(self, part: Part, data, where: str) -> dict:
        if not isinstance(data, dict):
            raise BadDump(f"{where}: expected an object, found {type(data).__name__}")
        unknown = set(data) - part.keys
        if unknown:
            raise BadDump(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        return data

    def user(self, username, where: str, *, null: bool) -> int | None:
        """The id of the user named `username` (in the database or restored)."""
        if username is None:
            if null:
                return None
            raise BadDump(f"{where}: a user is required")
        try:
            return self.user_ids[username]
        except (KeyError, TypeError):
            raise BadDump(f"{where}: unknown user {username!r}") from None

    def users(self, usernames, where: str) -> list[int]:
        """The ids of a list of usernames."""
        if not isinstance(usernames, list):
            raise BadDump(f"{where}: expected a list of usernames")
        return [self.user(name, where, null=False) for name in usernames]

    def team(self, slug, where: str, *, null: bool = False) -> int | None:
        """The id of the team with `slug`."""
        if slug is None and null:
            return None
        try:
            return self.team_ids[slug]
        except (KeyError, TypeError):
            raise BadDump(f"{where}: unknown team {slug!r}") from None

    def row(self, part: Part, data, where: str, **values):
        """A model instance of `part` from its dict (checked), not saved."""
        data = self._check(part, data, where)
        kwargs = {f.attname: _load_value(f, choices, data, where) for f, choices in part.readers}
        for name in part.users:
            f = part.model._meta.get_field(name)
            kwargs[f.attname] = self.user(data.get(name), f"{where}.{name}", null=f.null)
        kwargs.update(values)
        return part.model(**kwargs)

    def insert(self, model, objs: list) -> list:
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

    def link(self, m2m_owner, name: str, pairs: list[tuple[int, int]]) -> None:
        """Insert the (row id, related id) pairs of the many-to-many field `name`."""
        m2m = m2m_owner._meta.get_field(name)
        through = m2m.remote_field.through
        source, target = m2m.m2m_column_name(), m2m.m2m_reverse_name()
        through.objects.bulk_create(
            [through(**{source: a, target: b}) for a, b in pairs],
            batch_size=CHUNK,
            ignore_conflicts=True,
        )

    # -- sections

    def read(self, key: str, items: Iterator) -> None:
        own = {
            "users": self._users,
            "teams": self._teams,
            "integrations": self._integrations,
            "incidents": self._incidents,
        }
        if key in own:
            own[key](items)
        else:
            next(s for s in registry.sections() if s.key == key).read(self, items)

    def _users(self, items: Iterator) -> None:
        groups = dict(Group.objects.values_list("name", "id"))
        permissions = {name: pk for pk, name in _permission_names().items()}
        seen: set[str] = set()
        for chunk in chunks(enumerate(items), CHUNK):
            fresh = []
            for i, data in chunk:
                user = self.row(USER, data, f"users[{i}]")
                name = getattr(user, USERNAME)
                if name in seen:
                    raise BadDump(f"users[{i}]: {name!r} appears twice")
                seen.add(name)
                if name in self.user_ids:
                    self.skip(User)
                    continue
                user.set_unusable_password()
                fresh.append((i, user, data))
            self.insert(User, [user for _i, user, _data in fresh])
            memberships, grants, profiles = [], [], []
            for i, user, data in fresh:
                self.user_ids[getattr(user, USERNAME)] = user.pk
                self.new_user_ids.add(user.pk)
                for name in _strings(data.get("groups"), f"users[{i}].groups"):
                    if name not in groups:
                        groups[name] = Group.objects.create(name=name).pk
                        self.note(f"created the missing group {name!r} (without permissions)")
                    memberships.append((user.pk, groups[name]))
                for codename in _strings(
                    data.get("user_permissions"), f"users[{i}].user_permissions"
                ):
                    if codename not in permissions:
                        raise BadDump(f"users[{i}]: unknown permission {codename!r}")
                    grants.append((user.pk, permissions[codename]))
                if data.get("profile") is not None:
                    profiles.append(
                        self.row(PROFILE, data["profile"], f"users[{i}].profile", user_id=user.pk)
                    )
            self.link(User, "groups", memberships)
            self.link(User, "user_permissions", grants)
            self.insert(UserProfile, profiles)

    def _teams(self, items: Iterator) -> None:
        fresh, all_teams = [], []
        for i, data in enumerate(items):
            team = self.row(TEAM, data, f"teams[{i}]")
            all_teams.append((i, team.slug, data))
            if team.slug in self.team_ids:
                self.skip(Team)
            else:
                fresh.append(team)
        self.insert(Team, fresh)
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
                    for user_id in self.users(data.get(relation, []), f"teams[{i}].{relation}")
                    if team_id in new_team_ids or user_id in self.new_user_ids
                ]
                self.link(Team, relation, pairs)
            for j, s in enumerate(data.get("services") or []):
                service = self.row(SERVICE, s, f"teams[{i}].services[{j}]", team_id=team_id)
                if (team_id, service.slug) not in known:
                    known.add((team_id, service.slug))
                    services.append(service)
        self.insert(Service, services)
        for service in services:
            self.service_ids[(service.team_id, service.slug)] = service.pk

    def _integrations(self, items: Iterator) -> None:
        fresh = []
        now = clock.now()
        for i, data in enumerate(items):
            where = f"integrations[{i}]"
            integration = self.row(
                INTEGRATION, data, where, team_id=self.team(data.get("team"), where)
            )
            if integration.name in self.integration_ids:
                self.skip(AlertIntegration)
                continue
            # The token cannot come back: a random one nobody knows, and revoked.
            integration.token_hash = alerts.hash_token(secrets.token_urlsafe(alerts.TOKEN_BYTES))
            if integration.revoked_at is None:
                integration.revoked_at = now
                self.note(
                    f"alert integration {integration.name!r} restored revoked: "
                    "create a new one with manage.py create_integration"
                )
            fresh.append(integration)
        self.insert(AlertIntegration, fresh)
        for integration in fresh:
            self.integration_ids[integration.name] = integration.pk

    def _incidents(self, items: Iterator) -> None:
        for chunk in chunks(enumerate(items), CHUNK):
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
            self.skip(Incident, len(existing))
            fresh = [(data["number"], data) for _i, data in chunk if data["number"] not in existing]
            if fresh:
                self._incident_chunk(fresh)

    def _incident_chunk(self, fresh: list[tuple[str, dict]]) -> None:
        incidents = []
        for number, data in fresh:
            where = f"incident {number}"
            team_id = self.team(data.get("team"), f"{where}.team")
            service_id = None
            if data.get("service") is not None:
                service_id = self.service_ids.get((team_id, data["service"]))
                if service_id is None:
                    raise BadDump(f"{where}.service: unknown service {data['service']!r}")
            incidents.append(
                self.row(self.incident_part, data, where, team_id=team_id, service_id=service_id)
            )
        self.insert(Incident, incidents)
        for incident, (number, data) in zip(incidents, fresh, strict=True):
            earlier = data.get("recurrence_of")
            if earlier is None:
                continue
            if not isinstance(earlier, str):
                raise BadDump(f"incident {number}.recurrence_of: not an incident number")
            self.recurrences.append((incident.pk, earlier))
        pairs = [
            (incident.pk, user_id)
            for incident, (number, data) in zip(incidents, fresh, strict=True)
            for user_id in self.users(data.get("helpers", []), f"incident {number}.helpers")
        ]
        self.link(Incident, "helpers", pairs)

        chunk = ImportChunk(self, incidents, fresh)
        for name, part in SIMPLE_CHILDREN.items():
            chunk.build(name, part)
        helper_pairs = []
        for assignments, (number, data) in zip(chunk.made["assignments"], fresh, strict=True):
            for j, (assignment, row) in enumerate(
                zip(assignments, data.get("assignments") or [], strict=True)
            ):
                where = f"incident {number}.assignments[{j}].helpers"
                helper_pairs += [
                    (assignment.pk, u) for u in self.users(row.get("helpers", []), where)
                ]
        self.link(Assignment, "helpers", helper_pairs)

        def resolution(incident, row, where):
            index = row.get("resolution")
            resolutions = chunk.made_for("resolutions", incident)
            if not isinstance(index, int) or not 0 <= index < len(resolutions):
                raise BadDump(f"{where}: no resolution at position {index!r}")
            return {"resolution_id": resolutions[index].pk}

        chunk.build("verifications", VERIFICATION, resolution)
        for name, part in LATER_CHILDREN.items():
            chunk.build(name, part)

        def integration(incident, row, where):
            name = row.get("integration")
            if name not in self.integration_ids:
                raise BadDump(f"{where}: unknown alert integration {name!r}")
            return {"integration_id": self.integration_ids[name]}

        chunk.build("alerts", ALERT, integration)
        # The registered parts, in their order, then what they derive.
        parts = registry.nested()
        for part in parts:
            part.read(chunk)
        for part in parts:
            if part.after is not None:
                part.after(chunk)

        for incident in incidents:
            match = NUMBER.match(incident.number)
            if match:
                year, month, day, n = (int(x) for x in match.groups())
                try:
                    key = date(year, month, day)
                except ValueError:
                    continue
                self.sequences[key] = max(self.sequences.get(key, 0), n)

    # -- derived data

    def finish(self) -> None:
        if not self.result.created[_label(Incident)]:
            return
        tallies.rebuild()
        figures.rebuild()
        self._link_recurrences()
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

    def _link_recurrences(self) -> None:
        """A recurrence names the incident it repeats by number; that one may come
        later in the dump, or be in the database already. A dump of recent incidents
        only (`--since`) may not hold it: the link then stays empty."""
        wanted = {number for _pk, number in self.recurrences}
        ids = dict(Incident.objects.filter(number__in=wanted).values_list("number", "pk"))
        for pk, number in self.recurrences:
            if number in ids:
                Incident.objects.filter(pk=pk).update(recurrence_of_id=ids[number])


class ImportChunk:
    """A chunk of new incidents being restored, as a registered `Nested` part sees it.

    `incidents` are the saved Incident rows and `data` their (number, dict) from
    the dump, in the same order; `made[key][i]` the rows restored under `key` for
    the i-th incident, in the dump's order: incidents' own and those a part
    before published.
    """

    def __init__(self, importer: Importer, incidents: list, data: list[tuple[str, dict]]):
        self.importer = importer
        self.incidents = incidents
        self.data = data
        self.made: dict[str, list[list]] = {}
        self._position = {incident.pk: i for i, incident in enumerate(incidents)}

    def made_for(self, key: str, incident) -> list | None:
        """The rows restored under `key` for `incident`, or None if nothing made any."""
        made = self.made.get(key)
        return None if made is None else made[self._position[incident.pk]]

    def build(self, name: str, part: Part, make: Callable | None = None) -> None:
        """Restore the list under `name` of every incident as rows of `part`, each
        pointing at its incident; `make(incident, row, where)` adds more values."""
        per_incident, flat = [], []
        for incident, (number, data) in zip(self.incidents, self.data, strict=True):
            rows = data.get(name) or []
            if not isinstance(rows, list):
                raise BadDump(f"incident {number}.{name}: expected a list")
            objs = []
            for j, row in enumerate(rows):
                where = f"incident {number}.{name}[{j}]"
                extra = make(incident, row, where) if make else {}
                objs.append(self.importer.row(part, row, where, incident_id=incident.pk, **extra))
            per_incident.append(objs)
            flat += objs
        self.importer.insert(part.model, flat)
        self.made[name] = per_incident


def import_(stream, *, dry_run: bool = False, read_size: int = 1 << 16) -> ImportResult:
    """Restore a dump from the text stream `stream` in one transaction.

    Raises BadDump (and writes nothing) for a file that is not a whole dump of
    this format version or refers to what it does not hold; the database's own
    refusals (IntegrityError, DataError) also roll everything back.
    """
    try:
        return _import(Reader(stream, read_size=read_size).entries(), dry_run=dry_run)
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
        importer = Importer()
        expected = list(registry.section_keys())
        for key, value in entries:
            if key in ("exported_at", "filters"):
                continue
            if not expected or key != expected[0]:
                # Each section only refers to the ones before it.
                order = ", ".join(registry.section_keys())
                raise BadDump(f"unexpected {key!r}: the sections are, once each, {order}")
            expected.pop(0)
            importer.read(key, value)
        if expected:
            raise BadDump(f"missing section(s): {', '.join(expected)}")
        importer.finish()
        if dry_run:
            transaction.set_rollback(True)
    return importer.result
