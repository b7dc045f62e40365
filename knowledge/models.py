"""Step 6 (归档总结): post-mortems, improvement actions, knowledge articles, search.

- PostMortem: the 复盘 of one incident, required before archiving P0/P1.
- ActionItem: an improvement action with owner and due date, tracked to done;
  the escalation sweep tells its owner once it is overdue.
- KnowledgeArticle: what was learned, made from an archived incident.
- SearchDocument: one row per searchable thing (archived incident, article),
  with the text and, on PostgreSQL, a weighted tsvector (knowledge.search).
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.models import Incident, Team


class RootCause(models.TextChoices):
    MONITORING_GAP = "monitoring_gap", _("Monitoring gap")
    CODE_DEFECT = "code_defect", _("Code defect")
    CHANGE_CONFIG = "change_config", _("Change or configuration")
    CAPACITY = "capacity", _("Capacity")
    THIRD_PARTY = "third_party", _("Third party")
    HARDWARE_NETWORK = "hardware_network", _("Hardware or network")
    HUMAN_ERROR = "human_error", _("Human error")
    UNKNOWN = "unknown", _("Unknown")


class PostMortem(models.Model):
    """The post-mortem (复盘) of one incident; required before archiving P0/P1."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="postmortem", verbose_name=_("incident")
    )
    summary = models.TextField(_("summary"), blank=True)
    timeline = models.TextField(_("timeline"), blank=True)
    root_cause_category = models.CharField(
        _("root-cause category"), max_length=20, choices=RootCause.choices, blank=True
    )
    root_cause = models.TextField(_("root cause"), blank=True)
    contributing_factors = models.TextField(_("contributing factors"), blank=True)
    lessons = models.TextField(_("lessons learned"), blank=True)
    meeting_date = models.DateField(_("meeting date"), null=True, blank=True)
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("attendees")
    )
    other_attendees = models.CharField(
        _("other attendees"), max_length=300, blank=True, help_text=_("People without an account.")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("post-mortem")
        verbose_name_plural = _("post-mortems")

    def __str__(self):
        return f"{self.incident.number}"


class ActionItem(models.Model):
    """An improvement action agreed in a post-mortem, tracked to done."""

    postmortem = models.ForeignKey(
        PostMortem, on_delete=models.CASCADE, related_name="action_items"
    )
    text = models.TextField(_("action"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="action_items",
        verbose_name=_("owner"),
    )
    due_date = models.DateField(_("due date"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )
    # Set when the sweep has told the owner it is overdue (once per item).
    overdue_notified_at = models.DateTimeField(_("overdue notice sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            # The sweep's question: open items past due and not yet notified.
            models.Index(
                fields=["due_date"],
                name="action_item_overdue_due",
                condition=models.Q(done_at__isnull=True, overdue_notified_at__isnull=True),
            ),
        ]
        verbose_name = _("action item")
        verbose_name_plural = _("action items")

    def __str__(self):
        return self.text[:60]


class KnowledgeArticle(models.Model):
    """What the team learned from an archived incident, findable next time."""

    incident = models.ForeignKey(
        Incident,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="articles",
        verbose_name=_("incident"),
    )
    title = models.CharField(_("title"), max_length=200)
    symptoms = models.TextField(_("symptoms"), blank=True)
    diagnosis = models.TextField(_("diagnosis"), blank=True)
    workaround = models.TextField(_("workaround"), blank=True)
    fix = models.TextField(_("fix"), blank=True)
    lessons = models.TextField(_("lessons"), blank=True)
    tags = models.CharField(
        _("tags"),
        max_length=200,
        blank=True,
        help_text=_("Comma-separated, e.g. “database, pool”."),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="articles",
        verbose_name=_("team"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("knowledge article")
        verbose_name_plural = _("knowledge articles")

    def __str__(self):
        return self.title

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.replace("，", ",").split(",") if t.strip()]


class SearchDocument(models.Model):
    """The searchable text of an archived incident or an article (knowledge.search)."""

    class Kind(models.TextChoices):
        INCIDENT = "incident", _("Archived incident")
        ARTICLE = "article", _("Knowledge article")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    object_id = models.PositiveBigIntegerField(_("object id"))
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    # What a result shows under its title: the fix, or the archive summary.
    excerpt = models.TextField(_("excerpt"), blank=True)
    # PostgreSQL only: title (A) and body (B), English stems plus CJK bigrams.
    vector = SearchVectorField(null=True, editable=False)
    happened_at = models.DateTimeField(_("date"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="search_document_unique")
        ]
        # Similar incidents read the newest matching documents first.
        indexes = [models.Index(fields=["kind", "-happened_at"], name="search_document_recent")]
        # The GIN index on `vector` is made on PostgreSQL only (migration 0003).

    def __str__(self):
        return f"{self.kind}:{self.object_id} {self.title}"


class SearchIndexVersion(models.Model):
    """One row whose `version` goes up in the transaction of every change to the
    search documents (knowledge.search): a ranked page kept in the cache is used
    only while the version it was ranked at is still the current one."""

    version = models.PositiveBigIntegerField(_("version"), default=0)

    def __str__(self):
        return f"search index v{self.version}"
