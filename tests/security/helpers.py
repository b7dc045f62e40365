"""Readers shared by the security tests: the URL patterns of the project, a
snapshot of every stored row, and an HTML scanner for injected markup."""

from html.parser import HTMLParser

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

# Rows of these apps are what a refused request must leave alone.
SNAPSHOT_APPS = {"incidents", "knowledge", "escalation", "auth", "authtoken"}


# ---------------------------------------------------------------- URL patterns


def url_patterns() -> list[tuple[str, URLPattern]]:
    """(route, pattern) of every URL pattern of the project, as ResolverMatch.route
    spells the route, so a table row's path can be matched to its pattern."""
    found: list[tuple[str, URLPattern]] = []

    def walk(resolver: URLResolver, prefix: str) -> None:
        for entry in resolver.url_patterns:
            route = URLResolver._join_route(prefix, str(entry.pattern))
            if isinstance(entry, URLResolver):
                walk(entry, route)
            else:
                found.append((route, entry))

    walk(get_resolver(), "")
    return found


# ---------------------------------------------------------------- stored rows


def db_state(*, own_rows_of=None) -> dict[str, list[dict]]:
    """Every row of the project's tables (and users, groups, tokens), by model.

    `own_rows_of`: a user whose own rows (their user row, profile, API token
    and in-app deliveries) may change — visiting the inbox creates the visitor's profile,
    changing one's password rewrites one's own user row.
    """
    state = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label not in SNAPSHOT_APPS or model._meta.proxy:
            continue
        rows = [_plain(row) for row in model._base_manager.order_by("pk").values()]
        if own_rows_of is not None:
            rows = [row for row in rows if not _owned(model, row, own_rows_of.pk)]
        state[model._meta.label] = rows
    return state


def _plain(row: dict) -> dict:
    # PostgreSQL's search vector compares by its text; signing a test client in
    # (force_login) stamps last_login, which is not the request's doing.
    return {
        k: (v if isinstance(v, str | int | float | bool | type(None)) else str(v))
        for k, v in row.items()
        if k != "last_login"
    }


def _owned(model, row: dict, user_pk: int) -> bool:
    label = model._meta.label
    if label == "auth.User":
        return row["id"] == user_pk
    if label in ("incidents.UserProfile", "escalation.Delivery", "authtoken.Token"):
        return row.get("user_id") == user_pk
    return False


def state_changes(before: dict, after: dict) -> list[str]:
    """The models whose rows differ between two db_state() snapshots."""
    return [label for label in before if before[label] != after.get(label)]


# ---------------------------------------------------------------- HTML


class Page(HTMLParser):
    """Every start tag with its attributes, the text of each <script>, and the forms."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self.forms: list[dict] = []
        self._in_script = False
        self._form: dict | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = {name.lower(): (value or "") for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
        elif tag == "form":
            self._form = {"attrs": attributes, "inputs": []}
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select", "button") and self._form is not None:
            self._form["inputs"].append((tag, attributes))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        elif tag == "form":
            self._form = None

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data

    def post_forms(self) -> list[dict]:
        return [f for f in self.forms if f["attrs"].get("method", "get").lower() == "post"]


URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "xlink:href", "hx-get", "hx-post")


def injected_markup(html: str) -> list[str]:
    """What a stored or reflected payload would have added to the page, if anything:
    event-handler attributes, scripts that call alert, javascript: URLs, <img src=x>."""
    page = Page(html)
    found = []
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"<{tag} {name}={value!r}>")
            if name in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:"):
                found.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and attrs.get("src") == "x":
            found.append("<img src=x>")
    found += [f"<script>{text[:80]}</script>" for text in page.scripts if "alert(" in text]
    return found
