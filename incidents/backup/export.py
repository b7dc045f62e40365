"""Writing the dump: one consistent snapshot, streamed out section by section."""

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.contrib.auth.models import Group
from django.db import connection, models, transaction

from common import clock
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
    BackupError,
    Part,
    User,
    _permission_names,
    chunks,
)
from incidents.models import (
    Alert,
    AlertIntegration,
    Assignment,
    Incident,
    Service,
    Team,
    UserProfile,
    Verification,
)


def by(rows: Iterable[dict], key: str) -> dict[Any, list[dict]]:
    """{row[key]: [rows]}, in the order of `rows`."""
    grouped: dict[Any, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def links(m2m: models.ManyToManyField, ids: Iterable[int]) -> dict[int, list[int]]:
    """{row id: [related ids]} of a many-to-many field, for many rows in one query."""
    source, target = m2m.m2m_column_name(), m2m.m2m_reverse_name()
    grouped: dict[int, list[int]] = defaultdict(list)
    rows = m2m.remote_field.through.objects.filter(**{f"{source}__in": list(ids)})
    for a, b in rows.values_list(source, target):
        grouped[a].append(b)
    return grouped


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


class Exporter:
    """One export; a registered `Section` reads the filters and the lookups here and
    writes its rows with `row` and `names`."""

    def __init__(self, out, *, teams: list[str] | None, since: datetime | None):
        self.out = out
        self.team_filter = teams
        self.since = since
        self.counts: Counter = Counter()
        self._once: dict[str, Any] = {}

    def run(self) -> Counter:
        with _snapshot():
            self.usernames = dict(User.objects.values_list("id", USERNAME))
            self.team_slugs = dict(Team.objects.values_list("id", "slug"))
            self.service_slugs = dict(Service.objects.values_list("id", "slug"))
            self.integration_names = dict(AlertIntegration.objects.values_list("id", "name"))
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
            own = {
                "users": self._users,
                "teams": self._teams,
                "integrations": self._integrations,
                "incidents": self._incidents,
            }
            written = [(key, own[key]) for key in registry.CORE_SECTIONS]
            written += [(s.key, partial(s.write, self)) for s in registry.sections()]
            for i, (key, rows) in enumerate(written):
                self._section(key, rows(), last=i == len(written) - 1)
            self.out.write("}\n")
        return self.counts

    def once(self, key: str, load: Callable[[], Any]) -> Any:
        """`load()`, run once per export (a lookup a part needs in every chunk)."""
        if key not in self._once:
            self._once[key] = load()
        return self._once[key]

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

    def row(self, part: Part, row: dict) -> dict:
        """The dump's dict of `row` (a `.values()` dict): its plain fields and users."""
        out = {}
        for key, attname, convert in part.writers:
            value = row[attname]
            out[key] = convert(value) if convert is not None and value is not None else value
        for name in part.users:
            out[name] = self.usernames.get(row[f"{name}_id"])
        return out

    def names(self, user_ids: Iterable[int]) -> list[str]:
        """The sorted usernames of `user_ids`."""
        return sorted(self.usernames[i] for i in user_ids)

    def _users(self) -> Iterator[dict]:
        groups = dict(Group.objects.values_list("id", "name"))
        permissions = _permission_names()
        for chunk in chunks(User.objects.order_by(USERNAME).values().iterator(), CHUNK):
            ids = [row["id"] for row in chunk]
            user_groups = links(User._meta.get_field("groups"), ids)
            user_permissions = links(User._meta.get_field("user_permissions"), ids)
            profiles = {
                p["user_id"]: p for p in UserProfile.objects.filter(user_id__in=ids).values()
            }
            for row in chunk:
                out = self.row(USER, row)
                out["groups"] = sorted(groups[g] for g in user_groups[row["id"]])
                out["user_permissions"] = sorted(
                    permissions[p] for p in user_permissions[row["id"]]
                )
                profile = profiles.get(row["id"])
                out["profile"] = self.row(PROFILE, profile) if profile else None
                yield out

    def _teams(self) -> Iterator[dict]:
        rows = list(self.teams.order_by("slug").values())
        ids = [row["id"] for row in rows]
        members = links(Team._meta.get_field("members"), ids)
        leads = links(Team._meta.get_field("tech_leads"), ids)
        services = by(Service.objects.filter(team_id__in=ids).order_by("slug").values(), "team_id")
        for row in rows:
            out = self.row(TEAM, row)
            out["members"] = self.names(members[row["id"]])
            out["tech_leads"] = self.names(leads[row["id"]])
            out["services"] = [self.row(SERVICE, s) for s in services[row["id"]]]
            yield out

    def _integrations(self) -> Iterator[dict]:
        rows = AlertIntegration.objects.filter(team_id__in=self.team_ids).order_by("name")
        for row in rows.values():
            out = self.row(INTEGRATION, row)
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

    def _incident_chunk(self, chunk: list[dict]) -> list[dict]:
        ids = [row["id"] for row in chunk]
        context = ExportChunk(self, ids)

        helpers = links(Incident._meta.get_field("helpers"), ids)
        simple = {
            name: context.rows(part.model, part.model._meta.ordering)
            for name, part in {**SIMPLE_CHILDREN, **LATER_CHILDREN}.items()
        }
        assignment_ids = [a["id"] for group in simple["assignments"].values() for a in group]
        assignment_helpers = links(Assignment._meta.get_field("helpers"), assignment_ids)
        verifications = context.rows(Verification, Verification._meta.ordering)
        alert_rows = context.rows(Alert, Alert._meta.ordering)
        repeated = {row["recurrence_of_id"] for row in chunk} - {None}
        numbers = dict(Incident.objects.filter(pk__in=repeated).values_list("pk", "number"))
        context.found.update(simple, verifications=verifications, alerts=alert_rows)

        written = []
        for row in chunk:
            pk = row["id"]
            out = self.row(INCIDENT, row)
            out["team"] = self.team_slugs[row["team_id"]]
            out["service"] = self.service_slugs.get(row["service_id"])
            out["recurrence_of"] = numbers.get(row["recurrence_of_id"])
            out["helpers"] = self.names(helpers[pk])
            for name, part in SIMPLE_CHILDREN.items():
                out[name] = [self.row(part, r) for r in simple[name][pk]]
            for a, assignment in zip(out["assignments"], simple["assignments"][pk], strict=True):
                a["helpers"] = self.names(assignment_helpers[assignment["id"]])
            position = {r["id"]: i for i, r in enumerate(simple["resolutions"][pk])}
            out["verifications"] = []
            for v in verifications[pk]:
                row_out = self.row(VERIFICATION, v)
                row_out["resolution"] = position[v["resolution_id"]]
                out["verifications"].append(row_out)
            for name, part in LATER_CHILDREN.items():
                out[name] = [self.row(part, r) for r in simple[name][pk]]
            out["alerts"] = []
            for a in alert_rows[pk]:
                row_out = self.row(ALERT, a)
                row_out["integration"] = self.integration_names[a["integration_id"]]
                out["alerts"].append(row_out)
            written.append(out)
        # The registered parts, in their order: each may read what an earlier one found.
        for part in registry.nested():
            for out, values in zip(written, part.write(context), strict=True):
                for key in part.keys:
                    out[key] = values[key]
        return written


class ExportChunk:
    """A chunk of incidents being written, as a registered `Nested` part sees it.

    `ids` are the incidents' ids in the dump's order; `found[key][incident id]`
    the rows (`.values()` dicts) written under `key`, in order: incidents' own
    and those a part before published (a position in such a list is how a row
    points at another row across a restore).
    """

    def __init__(self, exporter: Exporter, ids: list[int]):
        self.exporter = exporter
        self.ids = ids
        self.found: dict[str, dict[int, list[dict]]] = {}

    def rows(self, model, order, key: str = "incident_id", within=None) -> dict[Any, list[dict]]:
        """{key value: [rows]} of `model` for the chunk's incidents (or `within`), in
        one query."""
        within = self.ids if within is None else within
        qs = model.objects.filter(**{f"{key}__in": within}).order_by(*order)
        return by(qs.values(), key)

    def links(self, m2m: models.ManyToManyField, ids: Iterable[int]) -> dict[int, list[int]]:
        return links(m2m, ids)

    def row(self, part: Part, row: dict) -> dict:
        return self.exporter.row(part, row)

    def names(self, user_ids: Iterable[int]) -> list[str]:
        return self.exporter.names(user_ids)

    def positions(self, key: str, incident_id: int) -> dict[int, int]:
        """{row id: its position} of the rows found under `key` for one incident."""
        rows = self.found.get(key, {}).get(incident_id, [])
        return {r["id"]: i for i, r in enumerate(rows)}


def export(out, *, teams: list[str] | None = None, since: datetime | None = None) -> Counter:
    """Write the dump to the text stream `out`; returns how many rows of each section."""
    if teams is not None:
        unknown = set(teams) - set(
            Team.objects.filter(slug__in=teams).values_list("slug", flat=True)
        )
        if unknown:
            raise BackupError(f"no team with slug {', '.join(sorted(unknown))}")
    return Exporter(out, teams=teams, since=since).run()
