"""What apps above incidents add to the dump.

incidents never imports those apps: each declares its parts in its own
`backup` module and registers them from its AppConfig.ready()
(escalation: deadlines and notices; knowledge: the post-mortem and the
articles). Two kinds of part:

- `Nested`: keys written in every incident, after the incident's own rows;
- `Section`: a top-level array, after the incidents.

Each carries an explicit `order`: the dump's order follows it, never the order
in which the apps happen to load. Within a chunk of incidents the nested parts
run in that order both ways, so a part may use what an earlier one wrote or
restored (escalation's notices point at knowledge's action items).
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from incidents.backup.format import INCIDENT, PARTS, Part

# The sections incidents writes itself, in this order, before any registered one.
CORE_SECTIONS = ("users", "teams", "integrations", "incidents")
HEADER = ("format", "version", "exported_at", "filters")


@dataclass(frozen=True)
class Nested:
    """Rows an app nests in every incident, under `keys`.

    `write(chunk)` answers one dict per incident of an `ExportChunk`, in the
    order of `chunk.ids`, holding exactly `keys`; `read(chunk)` restores them
    for an `ImportChunk`; `after(chunk)`, if given, runs once every nested
    part of the chunk is restored (derived data such as search documents).
    """

    order: int
    keys: tuple[str, ...]
    parts: tuple[Part, ...]  # every Part written, for the test that holds every field
    write: Callable[[Any], Iterable[dict]]
    read: Callable[[Any], None]
    after: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class Section:
    """A top-level array of the dump, written after the incidents.

    `write(exporter)` yields its rows; `read(importer, items)` restores them
    from an iterator of the dump's rows.
    """

    order: int
    key: str
    parts: tuple[Part, ...]
    write: Callable[[Any], Iterator[dict]]
    read: Callable[[Any, Iterator], None]


class Registry:
    """The registered parts; the dump uses `REGISTRY` (a test may build its own)."""

    def __init__(self):
        # By kind and key (a Nested by its first key).
        self.by_key: dict[tuple[type, str], Nested | Section] = {}

    def register(self, part: Nested | Section) -> None:
        """Add `part` to every dump written and read from now on.

        Registering the same part again changes nothing; a key or an order that
        another part of its kind already has is refused, so the dump's order can
        never depend on which app loaded first.
        """
        keys = part.keys if isinstance(part, Nested) else (part.key,)
        if self.by_key.get((type(part), keys[0])) == part:
            return
        same_kind = [p for p in self.by_key.values() if type(p) is type(part)]
        if isinstance(part, Nested):
            taken = set(INCIDENT.keys) | {key for p in same_kind for key in p.keys}
        else:
            taken = {*CORE_SECTIONS, *HEADER} | {p.key for p in same_kind}
        clash = taken.intersection(keys)
        if clash:
            raise ValueError(f"backup: {', '.join(sorted(clash))} already in the dump")
        if any(p.order == part.order for p in same_kind):
            raise ValueError(f"backup: two {type(part).__name__} parts with order {part.order}")
        self.by_key[(type(part), keys[0])] = part

    def nested(self) -> list[Nested]:
        return sorted(
            (p for p in self.by_key.values() if isinstance(p, Nested)), key=lambda p: p.order
        )

    def sections(self) -> list[Section]:
        return sorted(
            (p for p in self.by_key.values() if isinstance(p, Section)), key=lambda p: p.order
        )


REGISTRY = Registry()


def register(part: Nested | Section) -> None:
    """Add `part` to the dump (see Registry.register); call it from AppConfig.ready()."""
    REGISTRY.register(part)


def nested() -> list[Nested]:
    """The registered nested parts, in the dump's order."""
    return REGISTRY.nested()


def sections() -> list[Section]:
    """The registered sections, in the dump's order."""
    return REGISTRY.sections()


def section_keys() -> tuple[str, ...]:
    """Every top-level array of a dump, in the order it is written and read."""
    return CORE_SECTIONS + tuple(s.key for s in sections())


def nested_keys() -> tuple[str, ...]:
    """The keys registered parts add to each incident, in order."""
    return tuple(key for part in nested() for key in part.keys)


def parts() -> list[Part]:
    """Every Part a dump writes: incidents' own and the registered ones."""
    return [*PARTS, *(p for part in [*nested(), *sections()] for p in part.parts)]
