"""Search over archived incidents and knowledge articles, in Chinese and English.

Chinese has no spaces: a tsvector of `数据库连接池耗尽导致超时` holds one
"word", so a plain full-text search misses `连接池耗尽` inside it. Every run of
CJK characters is therefore indexed as overlapping bigrams (连接 接池 池耗 …,
plus the run's last character alone, so every character starts a lexeme),
and a Chinese query word becomes a phrase of its bigrams (`连接 <-> 接池 <->
池耗 <-> 耗尽`), which matches exactly where the word appears. Other text goes
through PostgreSQL's English configuration (stems: "timeouts" finds
"timeout"). The CJK lexemes are written as tsvector/tsquery literals, so the
result does not depend on the database's locale.

On PostgreSQL the weighted tsvector (title A, body B) lives in
SearchDocument.vector under a GIN index, ranked with ts_rank; a title match
always ranks first. On SQLite the same questions are answered with LIKE: every
query word must appear in the title or body, title matches first.
"""

import hashlib
import re
from dataclasses import dataclass

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Case, F, FloatField, Q, QuerySet, Value, When
from django.utils.html import format_html, format_html_join

from incidents import rules
from knowledge.models import SearchDocument, SearchIndexVersion

CJK = re.compile(
    "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]+"  # CJK ideographs
)
WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Long texts: index their start; a tsvector holds positions up to 16383.
MAX_INDEXED = 20_000
# Similar incidents: at most this many query terms.
MAX_SIMILAR_TERMS = 32
# Similar incidents are ranked among the newest archived incidents sharing a term.
SIMILAR_CANDIDATES = 500
STOPWORDS = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has"),
        *("have", "in", "into", "is", "it", "its", "no", "not", "of", "on", "or", "that"),
        *("the", "their", "then", "there", "these", "they", "this", "to", "was", "were"),
        *("will", "with"),
    }
)


# ---------------------------------------------------------------- tokens


def cjk_runs(text: str) -> list[str]:
    return CJK.findall(text or "")


def without_cjk(text: str) -> str:
    return CJK.sub(" ", text or "")


def cjk_lexemes(text: str) -> list[str]:
    """The lexemes of `text`'s CJK runs in order: bigrams, then each run's last char."""
    out: list[str] = []
    for run in cjk_runs(text):
        out += [run[i : i + 2] for i in range(len(run) - 1)]
        out.append(run[-1])
    return out


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(text: str, weight: str) -> str:
    """A tsvector literal of `text`'s CJK lexemes with their positions and `weight`."""
    positions: dict[str, list[int]] = {}
    for i, lexeme in enumerate(cjk_lexemes(text[:MAX_INDEXED]), start=1):
        positions.setdefault(lexeme, []).append(min(i, 16383))
    return " ".join(
        f"{_quote(lex)}:{','.join(f'{p}{weight}' for p in pos[:256])}"
        for lex, pos in positions.items()
    )


def phrase_tsquery(run: str) -> str:
    """A tsquery literal matching the CJK `run` wherever it appears."""
    if len(run) == 1:
        return _quote(run) + ":*"  # any lexeme starting with it
    return " <-> ".join(_quote(run[i : i + 2]) for i in range(len(run) - 1))


@dataclass(frozen=True)
class Query:
    """A search phrase split into its CJK runs and its other words."""

    text: str
    runs: tuple[str, ...]
    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "Query":
        text = (text or "").strip()[:200]
        words = tuple(w.lower() for w in WORD.findall(without_cjk(text)))
        return cls(text=text, runs=tuple(cjk_runs(text)), words=words)

    @property
    def empty(self) -> bool:
        return not self.runs and not self.words

    def terms(self) -> list[str]:
        return [*self.runs, *self.words]


# ---------------------------------------------------------------- indexing


def index_changed() -> None:
    """Make every ranked page kept in a cache stale (PgResults), in the caller's
    transaction: every write to the search documents calls it."""
    updated = SearchIndexVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        SearchIndexVersion.objects.bulk_create(
            [SearchIndexVersion(pk=1, version=0)], ignore_conflicts=True
        )
        SearchIndexVersion.objects.filter(pk=1).update(version=F("version") + 1)


def upsert(*, kind: str, object_id: int, team_id, title: str, body: str, excerpt: str, at):
    """Write the searchable text of one object, and its vector on PostgreSQL."""
    doc, _created = SearchDocument.objects.update_or_create(
        kind=kind,
        object_id=object_id,
        defaults={
            "team_id": team_id,
            "title": title[:200],
            "body": body[:MAX_INDEXED],
            "excerpt": excerpt[:2000],
            "happened_at": at,
        },
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(VECTOR_SQL + " WHERE id = %s", [*vector_params(title, body), doc.pk])
    index_changed()
    return doc


def incident_row(incident, document: dict) -> SearchDocument:
    """An incident's search document (unsaved), cut as upsert() cuts: for the bulk
    writers (restore, the bench data), which then call bulk_vectors()."""
    return SearchDocument(
        kind=SearchDocument.Kind.INCIDENT,
        object_id=incident.pk,
        team_id=incident.team_id,
        title=document["title"][:200],
        body=document["body"][:MAX_INDEXED],
        excerpt=document["excerpt"][:2000],
        happened_at=document["at"],
    )


def bulk_vectors(documents: list[SearchDocument]) -> None:
    """Compute the vectors of many saved documents in one statement (PostgreSQL)."""
    if connection.vendor != "postgresql" or not documents:
        return
    from psycopg2.extras import execute_values

    rows = [(d.pk, *vector_params(d.title, d.body)) for d in documents]
    with connection.cursor() as cursor:
        execute_values(
            cursor.cursor if hasattr(cursor, "cursor") else cursor,
            "UPDATE knowledge_searchdocument AS d SET vector = "
            "setweight(to_tsvector('english', v.t), 'A') || v.tc::tsvector || "
            "setweight(to_tsvector('english', v.b), 'B') || v.bc::tsvector "
            "FROM (VALUES %s) AS v(id, t, tc, b, bc) WHERE d.id = v.id",
            rows,
            page_size=1000,
        )
    index_changed()


def remove(*, kind: str, object_id: int) -> None:
    SearchDocument.objects.filter(kind=kind, object_id=object_id).delete()
    index_changed()


VECTOR_SQL = (
    "UPDATE knowledge_searchdocument SET vector = "
    "setweight(to_tsvector('english', %s), 'A') || %s::tsvector || "
    "setweight(to_tsvector('english', %s), 'B') || %s::tsvector"
)


def vector_params(title: str, body: str) -> list[str]:
    body = body[:MAX_INDEXED]
    return [
        without_cjk(title),
        tsvector_literal(title, "A"),
        without_cjk(body),
        tsvector_literal(body, "B"),
    ]


# ---------------------------------------------------------------- reading


def visible_documents(user) -> QuerySet[SearchDocument]:
    """Documents of the user's teams (managers and admins: all)."""
    ctx = rules.context(user)
    qs = SearchDocument.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if ctx.sees_all:
        return qs
    return qs.filter(Q(team_id__in=ctx.team_ids) | Q(team__isnull=True))


def _pg_tsquery(query: Query, *, any_term: bool) -> tuple[str, list]:
    """SQL for the tsquery of `query`: every word and phrase (or any term)."""
    parts, params = [], []
    if query.words and any_term:
        parts.append("websearch_to_tsquery('english', %s)")
        params.append(" or ".join(query.words))
    elif query.words:
        # Parsed like the documents ("db-17" → db, -17), operators taken as text.
        parts.append("plainto_tsquery('english', %s)")
        params.append(without_cjk(query.text))
    if query.runs:
        if any_term:
            lexemes = dict.fromkeys(lx for run in query.runs for lx in cjk_lexemes(run))
            literal = " | ".join(_quote(lx) for lx in list(lexemes)[:MAX_SIMILAR_TERMS])
        else:
            literal = " & ".join(f"({phrase_tsquery(run)})" for run in query.runs)
        parts.append("%s::tsquery")
        params.append(literal)
    return "(" + (" || " if any_term else " && ").join(parts) + ")", params


# A page's ranking is kept at most this long (and only while the index is unchanged).
RANKED_SECONDS = 600
# The search index's version, read in the statement that reads the documents.
VERSION_SQL = "(SELECT version FROM knowledge_searchindexversion WHERE id = 1)"


class PgResults:
    """The matches of one query on PostgreSQL, as a Paginator pages them.

    Hand-written SQL so the tsquery is built once per statement (in the FROM
    clause) rather than once per matching row. A page is one statement: the
    matches are ranked as narrow rows (id, date, rank) and counted in the same
    pass (a window count), and only the page's rows are read whole; the count
    was a second pass over every match, about a quarter of the search page's time.
    `with_body` reads the page's bodies too (the search page's passages).

    Ranking reads every match (4,600 for "database" in 100k incidents: 10-30 ms),
    so a page's ranking (ids, ranks, count) is kept in the cache, keyed by the
    query, the viewer's scope and the page; it is used only while the search
    index's version (SearchIndexVersion, raised by every write) is the one it was
    ranked at, checked in the statement that reads the page's documents afresh.
    """

    COLUMNS = "d.id, d.kind, d.object_id, d.team_id, d.title, d.excerpt, d.happened_at"

    # Column names of the ranking (inner) and the page (outer) select alike.
    BEST_FIRST = "title_hit DESC, rank DESC, happened_at DESC, id DESC"
    MOST_ALIKE = "rank DESC, happened_at DESC, id DESC"

    def __init__(
        self,
        tsq: str,
        tsq_params: list,
        where: str,
        where_params: list,
        order: str = BEST_FIRST,
        newest: int | None = None,
        with_body: bool = False,
    ):
        self.source = (
            f"FROM knowledge_searchdocument d, (SELECT {tsq} AS q) s WHERE d.vector @@ s.q{where}"
        )
        self.params = [*tsq_params, *where_params]
        if newest is not None:
            # Rank only the `newest` matching documents: a list of alike words
            # can match most of the archive, and ranking all of it cost 0.3-0.9 s
            # on 100k incidents; the newest matches come off the date index.
            self.source = (
                f"FROM (SELECT d.* {self.source} ORDER BY d.happened_at DESC LIMIT %s) d, "
                f"(SELECT {tsq} AS q) s"
            )
            self.params = [*self.params, newest, *tsq_params]
        self.order = order
        self.with_body = with_body
        self._count = None
        self._page = None  # (offset, limit, rows) of the last fetch

    def count(self) -> int:
        if self._count is None:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) {self.source}", self.params)
                self._count = cursor.fetchone()[0]
        return self._count

    def _fetch(self, limit: int | None, offset: int) -> list[SearchDocument]:
        if self._page is not None:
            start, size, rows = self._page
            # The same page again, or its start (Paginator cuts the last page at the count).
            if start == offset and (size is None or (limit is not None and limit <= size)):
                return rows[:limit]
        key = None
        if limit is not None:
            # The SQL is this module's; the words, scope and kinds are its parameters.
            what = repr((self.source, self.params, self.order, limit, offset))
            key = "search-ranked:" + hashlib.sha256(what.encode()).hexdigest()
        kept = cache.get(key) if key else None
        rows = self._read(limit, offset, kept)
        if kept is not None and (not rows or rows[0].kept):
            rows = self._from_kept(rows, kept)
            if rows is None:  # a document it names is gone (or none is left): rank again
                rows = self._read(limit, offset, None)
        if key and rows and not rows[0].kept and rows[0].index_version is not None:
            ranking = [(d.pk, d.rank, d.title_hit) for d in rows]
            cache.set(key, (rows[0].index_version, ranking, rows[0].total), RANKED_SECONDS)
        if rows:
            self._count = rows[0].total
        self._page = (offset, limit, rows)
        return rows

    @staticmethod
    def _from_kept(rows, kept) -> list[SearchDocument] | None:
        """The documents of a kept ranking in its order, with its ranks and count."""
        _version, ranking, total = kept
        found = {d.pk: d for d in rows}
        if len(found) != len(ranking):
            return None
        for pk, rank, title_hit in ranking:
            found[pk].rank, found[pk].title_hit, found[pk].total = rank, title_hit, total
        return [found[pk] for pk, *_ in ranking]

    def _read(self, limit: int | None, offset: int, kept) -> list[SearchDocument]:
        """The page ranked now; with a `kept` ranking, its documents instead while the
        index is still at its version, in the same one statement."""
        # Ranked as narrow rows first (MATERIALIZED: else the planner carries every
        # match's vector through the window count and spills it to disk).
        # The SQL is this module's (source, order); the words are parameters.
        ranked = (
            "WITH m AS MATERIALIZED (SELECT d.id, d.happened_at, "  # nosec B608
            "ts_rank(d.vector, s.q) AS rank, "
            f"ts_rank('{{0,0,0,1}}', d.vector, s.q) > 0 AS title_hit {self.source}) "
            f"SELECT m.*, count(*) OVER () AS total FROM m ORDER BY {self.order}"
        )
        params = list(self.params)
        if limit is not None:
            ranked += " LIMIT %s"
            params.append(limit)
        if offset:
            ranked += " OFFSET %s"
            params.append(offset)
        body = ", d.body" if self.with_body else ""
        sql = (
            f"SELECT {self.COLUMNS}{body}, r.rank, r.title_hit, r.total, "  # nosec B608
            f"{VERSION_SQL} AS index_version, false AS kept "
            f"FROM ({ranked}) r JOIN knowledge_searchdocument d ON d.id = r.id"
        )
        if kept is not None:
            # The ranking's part runs only when the version moved (a one-time filter).
            version, ranking, _total = kept
            sql = (
                f"SELECT {self.COLUMNS}{body}, NULL::real AS rank, "  # nosec B608
                "NULL::boolean AS title_hit, NULL::bigint AS total, "
                "v.version AS index_version, true AS kept "
                "FROM knowledge_searchdocument d, knowledge_searchindexversion v "
                "WHERE v.id = 1 AND v.version = %s AND d.id = ANY(%s) "
                f"UNION ALL {sql} WHERE NOT EXISTS (SELECT FROM knowledge_searchindexversion "
                "WHERE id = 1 AND version = %s)"
            )
            params = [version, [pk for pk, *_ in ranking], *params, version]
        return list(SearchDocument.objects.raw(f"{sql} ORDER BY {self.order}", params))

    def prefetch(self, start: int, stop: int) -> None:
        """Read [start:stop] now, and with it the count (Paginator asks the count first)."""
        self._fetch(stop - start, start)

    def __getitem__(self, item):
        if isinstance(item, slice):
            start, stop = item.start or 0, item.stop
            return self._fetch(None if stop is None else max(0, stop - start), start)
        return self._fetch(1, item)[0]

    def __iter__(self):
        return iter(self._fetch(None, 0))

    def __len__(self):
        return self.count()


def _visibility_sql(user, kinds) -> tuple[str, list]:
    """The WHERE part of visible_documents (and the kinds), for PgResults."""
    ctx = rules.context(user)
    if not user.is_authenticated or not user.is_active:
        return " AND false", []
    where, params = "", []
    if not ctx.sees_all:
        where += " AND (d.team_id = ANY(%s) OR d.team_id IS NULL)"
        params.append(sorted(ctx.team_ids) or [0])
    if kinds and len(kinds) == 1:
        # Equality, not ANY(): the planner walks the (kind, date) index only then.
        where += " AND d.kind = %s"
        params.append(kinds[0])
    elif kinds:
        where += " AND d.kind = ANY(%s)"
        params.append(list(kinds))
    return where, params


def search(*, user, q: str, kinds: tuple[str, ...] | None = None, with_body: bool = False):
    """Documents matching every word of `q` (Chinese words anywhere inside the
    text), best first: title matches, then rank, then the most recent.

    The answer can be paged by a Paginator: it has `count()` and slices (see
    page()). `with_body`: each document's body is read too (for passages()).
    """
    query = Query.parse(q)
    if connection.vendor == "postgresql":
        if query.empty:
            return SearchDocument.objects.none()
        # An English query of stop words only ("the") is an empty tsquery: matches nothing.
        tsq, params = _pg_tsquery(query, any_term=False)
        where, where_params = _visibility_sql(user, kinds)
        return PgResults(tsq, params, where, where_params, with_body=with_body)
    qs = visible_documents(user)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    if query.empty:
        return qs.none()
    for term in query.terms():
        qs = qs.filter(Q(title__icontains=term) | Q(body__icontains=term))
    title_hits = sum(
        (Case(When(title__icontains=t, then=Value(1)), default=Value(0)) for t in query.terms()),
        Value(0),
    )
    return qs.annotate(
        rank=Value(1.0, output_field=FloatField()),
        title_hits=title_hits,
        title_hit=Case(When(title_hits__gt=0, then=Value(True)), default=Value(False)),
    ).order_by("-title_hits", "-happened_at", "-id")


def page(results, number, per_page: int) -> Page:
    """Page `number` of search() `results`, as Paginator.get_page gives it (a bad
    number: the first page; beyond the end: the last). On PostgreSQL the page and
    the count come from one statement."""
    if isinstance(results, PgResults):
        try:
            first = max(1, int(number))
        except (TypeError, ValueError):
            first = 1
        results.prefetch((first - 1) * per_page, first * per_page)
    return Paginator(results, per_page).get_page(number)


# ---------------------------------------------------------------- passages

# A passage: this many characters before the first match, and in all at most PASSAGE.
PASSAGE_BEFORE = 60
PASSAGE = 220
# English endings PostgreSQL's stemmer drops: "timeouts" also finds "timeout".
_ENDINGS = re.compile(r"(?:ing|ed|es|s)$")


def _matcher(query: Query) -> re.Pattern | None:
    """One case-insensitive pattern for every term of `query` (longest first), each
    English word also by its stem, so the passage marks what the search matched."""
    terms = set(query.runs)
    for word in query.words:
        terms.add(word)
        stem = _ENDINGS.sub("", word)
        if len(stem) >= 3:
            terms.add(stem)
    if not terms:
        return None
    return re.compile(
        "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE
    )


def passage(text: str, query: Query) -> str:
    """The part of `text` around the first match of `query`, as HTML: escaped, every
    match inside it in <mark>, cut at the lines (the record's parts: symptoms, log
    entries, cause, fix …) and with "…" where shortened; "" when nothing matches.

    Substrings, not words: Chinese has no spaces, so 连接池耗尽 inside a sentence is
    found the same on SQLite and PostgreSQL."""
    pattern = _matcher(query)
    first = pattern.search(text or "") if pattern else None
    if first is None:
        return ""
    line_start = text.rfind("\n", 0, first.start()) + 1
    line_end = text.find("\n", first.end())
    line_end = len(text) if line_end < 0 else line_end
    start = max(line_start, first.start() - PASSAGE_BEFORE)
    end = min(line_end, start + PASSAGE)
    piece = text[start:end]
    marked, at = [], 0
    for match in pattern.finditer(piece):
        marked.append((piece[at : match.start()], match.group()))
        at = match.end()
    return format_html(
        "{}{}{}{}",
        "…" if start > line_start else "",
        format_html_join("", "{}<mark>{}</mark>", marked),  # escapes every piece
        piece[at:],
        "…" if end < line_end else "",
    )


def attach_passages(documents, q: str) -> None:
    """Give each result its `passage` (see passage()) of the body, else of the title.

    The bodies not read with the documents (search(with_body=True)) are read here,
    for one page of results in one query: the ranking itself reads none (a body may
    hold 20,000 characters)."""
    query = Query.parse(q)
    missing = [d.pk for d in documents if "body" in d.get_deferred_fields()]
    bodies = dict(
        SearchDocument.objects.filter(pk__in=missing).values_list("pk", "body") if missing else ()
    )
    for doc in documents:
        text = bodies[doc.pk] if doc.pk in bodies else doc.__dict__.get("body", "")
        doc.passage = passage(text, query)


def similar(*, user, text: str, exclude_incident: int | None = None, limit: int = 5):
    """The archived incidents most like `text` (a title and symptoms), best first."""
    query = Query.parse(text[:400])
    words = tuple(w for w in query.words if len(w) > 2 and w not in STOPWORDS)
    query = Query(text=query.text, runs=query.runs, words=words[:MAX_SIMILAR_TERMS])
    qs = visible_documents(user).filter(kind=SearchDocument.Kind.INCIDENT)
    if exclude_incident is not None:
        qs = qs.exclude(object_id=exclude_incident)
    if query.empty:
        return []
    if connection.vendor == "postgresql":
        tsq, params = _pg_tsquery(query, any_term=True)
        where, where_params = _visibility_sql(user, (SearchDocument.Kind.INCIDENT,))
        if exclude_incident is not None:
            where += " AND d.object_id <> %s"
            where_params.append(exclude_incident)
        return PgResults(
            tsq, params, where, where_params, order=PgResults.MOST_ALIKE, newest=SIMILAR_CANDIDATES
        )[:limit]
    # SQLite: candidates sharing any term, scored by how many terms they share.
    terms = list(dict.fromkeys([*(lx for lx in cjk_lexemes(text) if len(lx) == 2), *words]))
    terms = terms[:MAX_SIMILAR_TERMS]
    condition = Q()
    for term in terms:
        condition |= Q(title__icontains=term) | Q(body__icontains=term)
    candidates = list(qs.filter(condition).order_by("-happened_at")[:SIMILAR_CANDIDATES])

    def score(doc):
        title, body = doc.title.lower(), doc.body.lower()
        return sum(2 if t in title else 1 for t in terms if t in title or t in body)

    for doc in candidates:
        doc.rank = float(score(doc))
    candidates.sort(key=lambda d: (-d.rank, -d.happened_at.timestamp()))
    return candidates[:limit]
