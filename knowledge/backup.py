"""Knowledge's rows in the incident dump (incidents.backup): each incident's
post-mortem with its attendees and action items, the "articles" section, and
the search documents, rebuilt on import (they are derived, never written).

Registered from KnowledgeConfig.ready().
"""

from incidents.backup import CHUNK, Nested, Part, Section, chunks
from incidents.models import Incident, State
from knowledge import search
from knowledge.models import ActionItem, KnowledgeArticle, PostMortem, SearchDocument
from knowledge.services import carry_root_causes, incident_document, index_article

POSTMORTEM = Part(
    PostMortem,
    parent="incident",
    users=("author",),
    many=("attendees",),
    children=("action_items",),
)
ACTION_ITEM = Part(ActionItem, parent="postmortem", users=("owner", "done_by"))
ARTICLE = Part(KnowledgeArticle, refs=("incident", "team"), users=("author",))


# ---------------------------------------------------------------- the post-mortem


def _write_postmortems(chunk):
    postmortems = {
        p["incident_id"]: p for p in PostMortem.objects.filter(incident_id__in=chunk.ids).values()
    }
    pm_ids = [p["id"] for p in postmortems.values()]
    attendees = chunk.links(PostMortem._meta.get_field("attendees"), pm_ids)
    items = chunk.rows(ActionItem, ActionItem._meta.ordering, "postmortem_id", pm_ids)
    # Published for the parts after this one (an overdue action's notice points at its item).
    chunk.found["action_items"] = {
        pk: items[pm["id"]] for pk, pm in postmortems.items() if pm["id"] in items
    }
    for pk in chunk.ids:
        pm = postmortems.get(pk)
        if pm is None:
            yield {"postmortem": None}
            continue
        written = chunk.row(POSTMORTEM, pm)
        written["attendees"] = chunk.names(attendees[pm["id"]])
        written["action_items"] = [chunk.row(ACTION_ITEM, i) for i in items[pm["id"]]]
        yield {"postmortem": written}


def _read_postmortems(chunk):
    importer = chunk.importer
    postmortems, per_incident = [], []
    for incident, (number, data) in zip(chunk.incidents, chunk.data, strict=True):
        row = data.get("postmortem")
        pm = None
        if row is not None:
            where = f"incident {number}.postmortem"
            pm = importer.row(POSTMORTEM, row, where, incident_id=incident.pk)
            postmortems.append(pm)
        per_incident.append((number, pm, row))
    importer.insert(PostMortem, postmortems)
    carry_root_causes(postmortems)  # before the figures are rebuilt from the incidents
    attendees, items, chunk.made["action_items"] = [], [], []
    for number, pm, row in per_incident:
        pm_items = []
        if pm is not None:
            where = f"incident {number}.postmortem"
            attendees += [
                (pm.pk, u) for u in importer.users(row.get("attendees", []), f"{where}.attendees")
            ]
            for j, item in enumerate(row.get("action_items") or []):
                pm_items.append(
                    importer.row(
                        ACTION_ITEM, item, f"{where}.action_items[{j}]", postmortem_id=pm.pk
                    )
                )
        chunk.made["action_items"].append(pm_items)
        items += pm_items
    importer.link(PostMortem, "attendees", attendees)
    importer.insert(ActionItem, items)
    chunk.made["postmortem"] = [pm for _number, pm, _row in per_incident]


def _index(chunk):
    """Search documents of the archived incidents, as index_incident writes them."""
    documents = []
    for incident in chunk.incidents:
        if incident.state != State.ARCHIVED:
            continue
        made = {
            key: chunk.made_for(key, incident)
            for key in ("gradings", "log_entries", "resolutions", "postmortem")
        }
        document = incident_document(
            incident,
            diagnoses=[g.diagnosis for g in sorted(made["gradings"], key=lambda g: g.graded_at)],
            log=[e.text for e in sorted(made["log_entries"], key=lambda e: e.happened_at)],
            resolutions=sorted(made["resolutions"], key=lambda r: r.submitted_at),
            postmortem=made["postmortem"],
        )
        documents.append(search.incident_row(incident, document))
    if documents:
        # Documents left behind by incidents that no longer exist would collide.
        SearchDocument.objects.filter(
            kind=SearchDocument.Kind.INCIDENT, object_id__in=[d.object_id for d in documents]
        ).delete()
        search.bulk_vectors(SearchDocument.objects.bulk_create(documents, batch_size=CHUNK))


# ---------------------------------------------------------------- the articles


def _write_articles(exporter):
    qs = KnowledgeArticle.objects.all()
    if exporter.team_filter is not None:
        qs = qs.filter(team_id__in=exporter.team_ids)
    if exporter.since is not None:
        qs = qs.filter(created_at__gte=exporter.since)
    numbers = {}
    for chunk in chunks(qs.order_by("created_at", "id").values().iterator(), CHUNK):
        wanted = {r["incident_id"] for r in chunk} - set(numbers) - {None}
        numbers.update(Incident.objects.filter(pk__in=wanted).values_list("id", "number"))
        for row in chunk:
            out = exporter.row(ARTICLE, row)
            out["incident"] = numbers.get(row["incident_id"])
            out["team"] = exporter.team_slugs.get(row["team_id"])
            yield out


def _read_articles(importer, items):
    for chunk in chunks(enumerate(items), CHUNK):
        rows = []
        for i, data in chunk:
            where = f"articles[{i}]"
            team_id = importer.team(
                data.get("team") if isinstance(data, dict) else None, where, null=True
            )
            article = importer.row(ARTICLE, data, where, team_id=team_id)
            rows.append((i, article, data.get("incident")))
        # An article has no number: the same title written at the same moment is the same one.
        existing = set(
            KnowledgeArticle.objects.filter(
                created_at__in=[a.created_at for _i, a, _n in rows]
            ).values_list("title", "created_at")
        )
        numbers = {n for _i, _a, n in rows if n is not None}
        incident_ids = dict(Incident.objects.filter(number__in=numbers).values_list("number", "id"))
        fresh = []
        for i, article, number in rows:
            if (article.title, article.created_at) in existing:
                importer.skip(KnowledgeArticle)
                continue
            existing.add((article.title, article.created_at))
            if number is not None:
                article.incident_id = incident_ids.get(number)
                if article.incident_id is None:
                    importer.note(
                        f"articles[{i}]: incident {number} is not in the database; "
                        "the article is kept without it"
                    )
            fresh.append(article)
        importer.insert(KnowledgeArticle, fresh)
        for article in fresh:
            index_article(article)


# Before escalation's deadlines and notices (200), which may point at an action item.
INCIDENT_ROWS = Nested(
    order=100,
    keys=("postmortem",),
    parts=(POSTMORTEM, ACTION_ITEM),
    write=_write_postmortems,
    read=_read_postmortems,
    after=_index,
)
ARTICLES = Section(
    order=100,
    key="articles",
    parts=(ARTICLE,),
    write=_write_articles,
    read=_read_articles,
)
