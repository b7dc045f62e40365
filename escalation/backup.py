"""Escalation's rows in the incident dump (incidents.backup): each incident's
running deadlines and its notices with their deliveries.

Registered from EscalationConfig.ready(). Team channels stay out of the dump
(their webhook URLs are secrets): a delivery keeps its channel's name, and on
import links to the channel of that name in the incident's team, if one exists.
"""

from escalation import unread
from escalation.models import Clock, Deadline, Delivery, Notice, TeamChannel
from incidents.backup import BadDump, Nested, Part

# A blocker's cycle is the id of its log entry, an overdue action's the id of
# the item: written as the position of that row, so it survives new ids.
DEADLINE = Part(Deadline, parent="incident", refs=("cycle", "cycle_ref"))
# `team` is set only on a roster notice (handover, coverage gap), which has no
# incident and so is not in an incident dump.
NOTICE = Part(
    Notice,
    parent="incident",
    refs=("cycle", "cycle_ref"),
    children=("deliveries",),
    omit=frozenset({"team"}),
)
# A team channel's address is its webhook URL, a secret: only e-mail addresses are written.
# A digest's carrier may be another incident's delivery: the link stays out (a held
# delivery comes back held and goes out in the next digest).
DELIVERY = Part(
    Delivery,
    parent="notice",
    users=("user",),
    refs=("team_channel", "address"),
    omit=frozenset({"digest"}),
)

# The rows a cycle points at, by the kind a `cycle_ref` names and the key the
# incident's rows are written under (action items: knowledge's post-mortem part).
CYCLES = {
    Clock.BLOCKER: ("log_entry", "log_entries"),
    Clock.ACTION: ("action_item", "action_items"),
}


def _cycled(chunk, part: Part, row: dict, positions: dict) -> dict:
    """The row, its cycle written as the position of the row it points at if that
    row is in the incident's dump."""
    out = chunk.row(part, row)
    position = positions.get(row["clock"], {}).get(row["cycle"])
    if position is None:
        out["cycle"], out["cycle_ref"] = row["cycle"], None
    else:
        out["cycle"], out["cycle_ref"] = None, {CYCLES[row["clock"]][0]: position}
    return out


def _write(chunk):
    deadlines = chunk.rows(Deadline, ["clock", "id"])
    notices = chunk.rows(Notice, Notice._meta.ordering)
    notice_ids = [n["id"] for group in notices.values() for n in group]
    deliveries = chunk.rows(Delivery, ["id"], "notice_id", notice_ids)
    channel_names = chunk.exporter.once(
        "escalation.team_channels", lambda: dict(TeamChannel.objects.values_list("id", "name"))
    )

    def delivery(row: dict) -> dict:
        out = chunk.row(DELIVERY, row)
        out["team_channel"] = channel_names.get(row["team_channel_id"])
        out["address"] = row["address"] if row["channel"] == "email" else ""
        return out

    for pk in chunk.ids:
        positions = {clock: chunk.positions(key, pk) for clock, (_kind, key) in CYCLES.items()}
        written_notices = []
        for n in notices[pk]:
            written = _cycled(chunk, NOTICE, n, positions)
            written["deliveries"] = [delivery(d) for d in deliveries[n["id"]]]
            written_notices.append(written)
        yield {
            "deadlines": [_cycled(chunk, DEADLINE, d, positions) for d in deadlines[pk]],
            "notices": written_notices,
        }


def _read(chunk):
    importer = chunk.importer

    def cycle(incident, row, where):
        ref = row.get("cycle_ref")
        if ref is None:
            if not isinstance(row.get("cycle"), int):
                raise BadDump(f"{where}: no cycle")
            return {"cycle": row["cycle"]}
        kinds = {kind: chunk.made_for(key, incident) for kind, key in CYCLES.values()}
        if not isinstance(ref, dict) or len(ref) != 1:
            raise BadDump(f"{where}: bad cycle_ref {ref!r}")
        [(kind, index)] = ref.items()
        rows = kinds.get(kind)
        if rows is None or not isinstance(index, int) or not 0 <= index < len(rows):
            raise BadDump(f"{where}: bad cycle_ref {ref!r}")
        return {"cycle": rows[index].pk}

    chunk.build("deadlines", DEADLINE, cycle)
    chunk.build("notices", NOTICE, cycle)

    channels = importer.once(
        "escalation.team_channels",
        lambda: {
            (c.team_id, c.name): c for c in TeamChannel.objects.only("id", "team_id", "name", "url")
        },
    )
    deliveries = []
    for incident, notices, (number, data) in zip(
        chunk.incidents, chunk.made["notices"], chunk.data, strict=True
    ):
        for j, (notice, row) in enumerate(zip(notices, data.get("notices") or [], strict=True)):
            for k, d in enumerate(row.get("deliveries") or []):
                where = f"incident {number}.notices[{j}].deliveries[{k}]"
                channel = channels.get((incident.team_id, d.get("team_channel")))
                delivery = importer.row(
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
    unread.added(importer.insert(Delivery, deliveries))


# After the post-mortem (knowledge, 100): a notice may point at an action item.
INCIDENT_ROWS = Nested(
    order=200,
    keys=("deadlines", "notices"),
    parts=(DEADLINE, NOTICE, DELIVERY),
    write=_write,
    read=_read,
)
