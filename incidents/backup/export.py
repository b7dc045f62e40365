"""Writing the dump: one consistent snapshot, streamed out section by section."""

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import Group
from django.db import connection, models, transaction

from common import clock
from escalation.models import Clock, Deadline, Delivery, Notice, TeamChannel
from incidents.backup.format import (
    ACTION_ITEM,
    ALERT,
    ARTICLE,
    CHUNK,
    DEADLINE,
    DELIVERY,
    FORMAT,
    INCIDENT,
    INTEGRATION,
    LATER_CHILDREN,
    NOTICE,
    POSTMORTEM,
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
    _chunks,
    _permission_names,
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
from knowledge.models import ActionItem, KnowledgeArticle, PostMortem


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
        permissions = _permission_names()
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
