"""Clocks that apps above escalation own and the sweep runs.

escalation never imports those apps: each registers its clock from its
AppConfig.ready() (knowledge: the improvement-action clock, knowledge.clocks).
At every sweep `claim(now, limit)` takes what fell due — once: it marks what it
took in the same transaction — and answers the notices to write (unsaved); the
sweep writes them (unique on incident, clock, cycle, level) and delivers them
like its own. `detail(notice)` gives the line a message adds about it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from escalation.models import Notice


@dataclass(frozen=True)
class OwnedClock:
    clock: str
    claim: Callable[[datetime, int], list[Notice]]
    detail: Callable[[Notice], str | None]


_OWNED: dict[str, OwnedClock] = {}


def register(clock: str, *, claim, detail) -> None:
    """Run `clock` in the sweep (registering it again replaces it)."""
    _OWNED[clock] = OwnedClock(clock=clock, claim=claim, detail=detail)


def owned() -> list[OwnedClock]:
    return list(_OWNED.values())


def detail(notice: Notice) -> str | None:
    """The owner's line about `notice`, or None for escalation's own clocks."""
    owner = _OWNED.get(notice.clock)
    return owner.detail(notice) if owner else None
