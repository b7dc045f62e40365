"""List rows rendered once: each row's HTML kept until its incident changes.

A 100-row dashboard spent most of its time rendering the same rows again (the
clock cells alone: time zones and date formats, 300 times a page). A row's HTML
depends on the incident (its `version` moves with every write), on what the
viewer may do with it, on the language and time zone, on the names it shows
(owner, team) and on which of its clocks are late — all of which are in the
row's cache key — and on the time, through one thing only: the countdown text
of each running deadline. That text is left out of the cached HTML and filled
in for each page from the deadline (responder.js redraws it every minute;
without JS the page still shows it as of when it was drawn).

Rows live in the "fragments" cache (this process's memory): no invalidation is
needed, a change makes a new key, and the old entry ages out.
"""

import hashlib
from datetime import datetime

from django.core.cache import caches
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.timesince import timeuntil

CACHE = "fragments"
# Kept a day past their last use at most; a row whose incident moved on is never
# asked for again.
TIMEOUT = 24 * 3600

# Marks a countdown in a row rendered for the cache: \x00ISO\x00\x00 where the
# text goes (the deadline tag writes it when `now` is a CountdownLater).
MARK = "\x00"


class CountdownLater(datetime):
    """`now`, telling the deadline tag to leave each countdown's text to `rows()`."""

    @classmethod
    def of(cls, now: datetime) -> "CountdownLater":
        return cls.combine(now.date(), now.timetz())


def _key(kind: str, row, depends) -> str:
    parts = (
        kind,
        row.pk,
        row.version,
        row.updated_at,  # with the version: a database restored under a running process
        translation.get_language(),
        timezone.get_current_timezone_name(),
        row.team_name,
        row.owner_id,
        row.owner_name,
        depends,
    )
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"{kind}:{digest}"


def _split(html: str) -> tuple | None:
    """Rendered HTML → (text, deadline, text, deadline, …, text): every countdown's
    place holds its deadline instead of its text. None if the row holds a MARK
    of its own (a NUL in a title): such a row is not cached."""
    pieces = html.split(MARK)  # text, iso, "", text, iso, "", …, text
    if len(pieces) % 3 != 1:
        return None
    parts = []
    for n in range(0, len(pieces) - 1, 3):
        if pieces[n + 2]:
            return None
        try:
            at = datetime.fromisoformat(pieces[n + 1])
        except ValueError:
            return None
        parts += [pieces[n], at]
    parts.append(pieces[-1])
    return tuple(parts)


def _join(parts: tuple, now) -> str:
    out = []
    for n, part in enumerate(parts):
        out.append(part if n % 2 == 0 else timeuntil(part, now))
    return "".join(out)


def rows(kind: str, template: str, items, *, now, depends, load, context=None) -> list[str]:
    """The HTML of each of `items` (selectors.Row) rendered by `template` with
    `row`, its `incident` and `now` in its context (and `context`), from the
    cache when its key is there. `depends(row)` gives what else the row depends
    on (what the viewer may do, which clocks are late, …): it goes into the key.
    `load(pks)` reads the incidents of the rows not cached ({pk: Incident})."""
    cache = caches[CACHE]
    keys = [_key(kind, row, depends(row)) for row in items]
    found = cache.get_many(keys)
    todo = [(key, row) for key, row in zip(keys, items, strict=True) if key not in found]
    if todo:
        incidents = load([row.pk for _k, row in todo])
        compiled = get_template(template)
        missing = {}
        for key, row in todo:
            incident = incidents.get(row.pk)
            if incident is None:  # deleted since its row was read
                found[key] = ("",)
                continue
            values = {**(context or {}), "row": row, "incident": incident}
            parts = _split(compiled.render({**values, "now": CountdownLater.of(now)}))
            if parts is None:
                found[key] = (compiled.render({**values, "now": now}),)
                continue
            found[key] = parts
            # Written between the row's read and this one: shown, not kept under
            # the older version's key.
            if (incident.version, incident.updated_at) == (row.version, row.updated_at):
                missing[key] = parts
        if missing:
            cache.set_many(missing, TIMEOUT)
    return [mark_safe(_join(found[key], now)) for key in keys]  # nosec B308 B703: rendered HTML


def once(kind: str, depends, render) -> str:
    """HTML that is the same for every page showing it (a filter form): kept under
    `depends` (everything it is drawn from) and the language, drawn by `render()`
    when it is not there yet."""
    parts = (kind, translation.get_language(), timezone.get_current_timezone_name(), depends)
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    key = f"{kind}:{digest}"
    cache = caches[CACHE]
    html = cache.get(key)
    if html is None:
        html = str(render())
        cache.set(key, html, TIMEOUT)
    return mark_safe(html)  # nosec B308 B703: rendered HTML
